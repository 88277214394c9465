/**
 * `@proj/tcp`: the TCP layer of the C++ coroutine library co (`tcp::Server`,
 * `tcp::Connection`, `tcp::Client`) for Node.js, where an `async` function
 * plays the coroutine: `await conn.recv(buf, n, ms)` instead of callbacks.
 *
 * @example
 * ```ts
 * import { Client, Server } from '@proj/tcp';
 *
 * const server = new Server().onConnection(async (conn) => {
 *   const buf = Buffer.alloc(8);
 *   for (let n; (n = await conn.recv(buf, 8)) > 0; ) await conn.send('pong');
 * });
 * await server.start('127.0.0.1', 0);
 *
 * const c = new Client('127.0.0.1', server.address()!.port);
 * if (await c.connect(3000)) {
 *   await c.send('ping');
 *   const buf = Buffer.alloc(8);
 *   const n = await c.recv(buf, 8, 3000); // 4: "pong"
 * }
 * c.close();
 * await server.shutdown();
 * ```
 * @packageDocumentation
 */
export type { WaitOptions } from './args';
export { Channel, DEFAULT_MAX_READ_BUFFER_BYTES } from './channel';
export { Client, type ClientTlsOptions } from './client';
export { Connection } from './connection';
export {
  TcpChannels,
  type ClientConnectMessage,
  type CloseHow,
  type ConnectionCloseMessage,
  type ConnectionOpenMessage,
  type ConnectionSide,
  type ServerListenMessage,
} from './diagnostics';
export { TcpAbortError, TcpError, TcpErrorCode, type TcpErrorOptions } from './errors';
export { fastPaths, NO_INTERNALS_ENV, type FastPaths } from './node-internals';
export {
  encodeProxyHeader,
  type ProxyAddress,
  type ProxyHeaderInit,
  type ProxyInfo,
  type ProxyProtocolVersion,
  type ProxyTlv,
} from './proxy-protocol';
export { DEFAULT_MAX_IN_FLIGHT, Pipeline, type PipelineOptions, type PipelineRequest } from './pipeline';
export { Server, type ConnectionHandler } from './server';
export type { ServerOptions } from './server-options';
export { type Distribution, workerDistributions } from './workers/support';
export { workerHandlerData } from './workers/handler-data';
