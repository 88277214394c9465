/**
 * How a socket's events reach the channel that owns it: shared listener
 * functions (no closure per socket or per chunk), and the `onread` fast path
 * into one read buffer shared by every socket.
 * @internal
 */
import type * as net from 'node:net';

/** What a socket's listeners call: its channel, or {@link RELEASED} once the channel let go. @internal */
export interface SocketSink {
  /**
   * Bytes arrived: `src[0..len)`. `owned` chunks (from `'data'`) may be kept
   * as they are; the shared read buffer must be copied out before returning.
   */
  _onBytes(src: Buffer, len: number, owned: boolean): void;
  _onEnd(): void;
  _onError(err: Error): void;
  _onClose(sock: net.Socket): void;
}

const kSink = Symbol('sink');
type SinkSocket = net.Socket & { [kSink]: SocketSink };

/** The sink of a socket its channel has let go of: what still arrives is dropped. */
const RELEASED: SocketSink = {
  _onBytes() {},
  _onEnd() {},
  _onError() {},
  _onClose() {},
};

// `this` is the socket, which points at its sink.
function onData(this: SinkSocket, chunk: Buffer): void {
  this[kSink]._onBytes(chunk, chunk.length, true);
}
function onEnd(this: SinkSocket): void {
  this[kSink]._onEnd();
}
function onError(this: SinkSocket, err: Error): void {
  this[kSink]._onError(err);
}
function onClose(this: SinkSocket): void {
  this[kSink]._onClose(this);
}

/**
 * Plain TCP sockets read through `onread` into this one buffer, shared by
 * every socket of the process: the kernel writes into it, and the callback
 * copies the bytes out (into the waiting caller's buffer, or the queue) before
 * it returns, so the next read, whichever socket it is for, finds it free.
 * This skips the readable-stream machinery and the allocation of a chunk per
 * read that `'data'` events cost, and an idle connection holds no read buffer.
 */
const SHARED_READ_BUFFER = Buffer.allocUnsafe(64 * 1024);
function onRead(this: SinkSocket, nread: number, buf: Buffer): boolean {
  this[kSink]._onBytes(buf, nread, false);
  // Pausing goes through socket.pause() in the sink, the same for both paths.
  return true;
}

/** `onread` option for `net.Socket`/`net.connect` whose socket is then {@link bindSocket bound} with `viaOnread`. @internal */
export const CHANNEL_ONREAD: net.OnReadOpts = {
  buffer: SHARED_READ_BUFFER,
  callback: onRead,
};

/**
 * Sends the events of `sock` to `sink`. A socket made with {@link CHANNEL_ONREAD}
 * (`viaOnread`) delivers its bytes through it; any other through `'data'`.
 * @internal
 */
export function bindSocket(sock: net.Socket, sink: SocketSink, viaOnread: boolean): void {
  (sock as SinkSocket)[kSink] = sink;
  if (!viaOnread) sock.on('data', onData);
  sock.on('end', onEnd);
  sock.on('error', onError);
  sock.on('close', onClose);
}

/** From now on, what `sock` delivers is dropped: its sink has let go of it. @internal */
export function unbindSocket(sock: net.Socket): void {
  (sock as SinkSocket)[kSink] = RELEASED;
}

/**
 * Binds `sock`, which no channel takes, so that what it still delivers is
 * dropped (a socket made with {@link CHANNEL_ONREAD}, `viaOnread`, needs a sink
 * for its reads).
 * @internal
 */
export function discardSocket(sock: net.Socket, viaOnread: boolean): void {
  bindSocket(sock, RELEASED, viaOnread);
}
