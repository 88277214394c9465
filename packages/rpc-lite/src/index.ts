/**
 * `@proj/rpc-lite`: a small RPC over `@proj/tcp`. Each frame is a 4-byte
 * big-endian length and one MessagePack value; the values are msgpack-rpc's
 * request, response and notification arrays. Many calls share a connection,
 * matched by msgid; the server answers each request as soon as its handler
 * finishes. The wire format is in the package README.
 *
 * @example
 * ```ts
 * import { RpcClient, RpcError, RpcServer } from '@proj/rpc-lite';
 *
 * const server = new RpcServer()
 *   .handle('add', ([a, b]: [number, number]) => a + b)
 *   .handle('user', async ([id]: [number]) => {
 *     throw Object.assign(new Error(`no user ${id}`), { code: 'E_NO_USER' });
 *   });
 * await server.start('127.0.0.1', 7788);
 *
 * await using client = new RpcClient('127.0.0.1', 7788, { timeoutMs: 5000 });
 * await client.call('add', [2, 3]); // 5
 * try {
 *   await client.call('user', [7]);
 * } catch (err) {
 *   // remote: the server's handler threw it (a local failure, e.g. TIMEOUT, has remote false)
 *   if (err instanceof RpcError && err.remote && err.code === 'E_NO_USER') console.log(err.message); // "no user 7"
 * }
 * await server.shutdown();
 * ```
 * @packageDocumentation
 */
export { RpcClient } from './client/client';
export { type RpcCallOptions, type RpcClientOptions } from './client/client-options';
export {
  RpcChannels,
  type CallEndMessage,
  type CallErrorMessage,
  type CallStartMessage,
  type RequestEndMessage,
  type RequestStartMessage,
} from './diagnostics';
export { RpcError, RpcErrorCode, type RpcErrorCodeName, type RpcErrorOptions } from './errors';
export { FrameDecoder, type FrameHandler } from './wire/frame-decoder';
export { DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES, readFrameLength, writeFrameLength } from './wire/frame-header';
export {
  MessageType,
  type Message,
  type NotificationMessage,
  type RequestMessage,
  type ResponseMessage,
} from './wire/message';
export { type RpcContext, type RpcHandler } from './context';
export { RpcServer } from './server/server';
export { type RpcServerOptions } from './server/server-options';
export {
  type RpcImplementation,
  type RpcImplementationMethod,
  type RpcProxy,
  type RpcProxyMethod,
  type RpcProxyOptions,
  type RpcProxyReservedName,
} from './typed';
