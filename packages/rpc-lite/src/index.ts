export { RpcError, RpcErrorCode, type RpcErrorCodeName, type RpcErrorOptions } from './errors';
export { RpcServer, type RpcServerOptions } from './server';
export { type RpcContext, type RpcHandler } from './server-session';
export {
  DEFAULT_MAX_FRAME_BYTES,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  readFrameLength,
  writeFrameLength,
  type FrameHandler,
} from './frame';
export { MessageCodec, MessageType, type Message, type NotificationMessage, type RequestMessage, type ResponseMessage } from './codec';
export { RpcClient, type RpcCallOptions, type RpcClientOptions } from './client';
