/**
 * How a channel's bytes reach its socket. On plain TCP they go straight to
 * the socket's handle, as `net.Socket` itself does underneath (see
 * node-internals.ts): a channel has at most one write in flight and waits for
 * it, so the writable stream's queue, bookkeeping and callback tick would be
 * pure overhead. Otherwise (TLS, a socket with an idle timeout, or the fast
 * paths off) through `socket.write`; over TLS a write that reached the handle
 * at once is done then, since the handle has encrypted it.
 * @internal
 */
import type * as net from 'node:net';
import { getSystemErrorName } from 'node:util';
import { type WritableHandle, type WriteReq, newWriteReq, tlsWriteDoneOnReturn, writeInFlight } from './node-internals';

/** {@link SocketWriter.write}: the socket took the bytes at once; the caller's buffer is free. @internal */
export const WRITTEN = 0;
/** {@link SocketWriter.write}: the write goes on; the owner hears of its end. @internal */
export const PENDING = 1;
/** {@link SocketWriter.write}: the write failed; the owner has heard why. @internal */
export const FAILED = 2;

/** Who hears how a write ended. @internal */
export interface WriterOwner {
  /** The pending write of `writer` finished: the bytes are the kernel's (or, for TLS, encrypted). */
  _written(writer: SocketWriter): void;
  /** A write of `writer` failed with `err`, or (`null`) its socket was gone already. */
  _writeFailed(writer: SocketWriter, err: Error | null): void;
}

function onDirectWriteComplete(this: WriteReq, status: number): void {
  const writer = this.owner as SocketWriter | null;
  this.owner = null;
  this.buffer = null;
  if (writer !== null) writer._directWritten(status);
}

/** Writes to one socket for one owner; a new socket gets a new writer, so late completions of an old one are told apart. @internal */
export class SocketWriter {
  /** Write callbacks of `socket.write` come a tick later, even for writes that finished at once: counting tells which one a pending write waits for. */
  private _issued = 0;
  private _done = 0;
  private _waitingFor = 0;
  private readonly _onStreamWritten: (err?: Error | null) => void;

  /** `handle`: the socket's TCP handle for direct writes, or `null` for `socket.write`. */
  constructor(
    readonly sock: net.Socket,
    private readonly _owner: WriterOwner,
    private readonly _directTo: WritableHandle | null,
  ) {
    // One callback per socket, not per write.
    this._onStreamWritten = (err?: Error | null): void => this._streamWritten(err);
  }

  /** Whether writes go straight to the handle. */
  get direct(): boolean {
    return this._directTo !== null;
  }

  /**
   * Writes `chunk`. Returns {@link WRITTEN}, {@link PENDING} (until then
   * `chunk` must not change; the writer keeps it alive) or {@link FAILED}.
   */
  write(chunk: Uint8Array): number {
    const handle = this._directHandle();
    if (handle !== null) {
      const req = newWriteReq(handle, onDirectWriteComplete);
      return this._directIssued(req, handle.writeBuffer(req, chunk), chunk);
    }
    const atOnce = this._doneOnReturn(chunk.length);
    this.sock.write(chunk, this._onStreamWritten);
    return this._streamIssued(atOnce);
  }

  /** Writes `chunks` (`bytes` in all) in order as one write (writev); returns as {@link SocketWriter.write} does. */
  writev(chunks: readonly Uint8Array[], bytes: number): number {
    const handle = this._directHandle();
    if (handle !== null) {
      const req = newWriteReq(handle, onDirectWriteComplete);
      return this._directIssued(req, handle.writev(req, chunks, true), chunks);
    }
    // Corked, the stream hands the chunks to the socket as one writev.
    const sock = this.sock;
    const atOnce = this._doneOnReturn(bytes);
    sock.cork();
    const last = chunks.length - 1;
    for (let i = 0; i < last; i++) sock.write(chunks[i]);
    sock.write(chunks[last], this._onStreamWritten);
    sock.uncork();
    return this._streamIssued(atOnce);
  }

  /** The handle to write to directly now, or `null` to go through `socket.write`. */
  private _directHandle(): WritableHandle | null {
    const sock = this.sock;
    // Not while the stream still holds writes of its own; and a socket with an
    // idle timeout goes through socket.write, which refreshes it.
    return this._directTo !== null && sock.writableLength === 0 && sock.timeout === undefined ? this._directTo : null;
  }

  /** How a direct write issued with `req` went (`status` from the handle); `data` is what it writes from. */
  private _directIssued(req: WriteReq, status: number, data: Uint8Array | readonly Uint8Array[]): number {
    if (status !== 0) {
      this._directFailed(status);
      return FAILED;
    }
    // Written at once, the usual case: the kernel has the bytes.
    if (!writeInFlight(req)) return WRITTEN;
    // The kernel took part of it; the rest is written from `data` itself, kept alive until then.
    req.async = true;
    req.buffer = data;
    req.owner = this;
    return PENDING;
  }

  /**
   * Whether a `socket.write` of `bytes` now counts as written when it returns:
   * the handle is done with the bytes by then (TLS, see node-internals.ts),
   * and what it holds until the peer reads stays within the socket's
   * high-water mark, as `send` promises.
   */
  private _doneOnReturn(bytes: number): boolean {
    return bytes <= this.sock.writableHighWaterMark && tlsWriteDoneOnReturn(this.sock);
  }

  /** How a write handed to `socket.write` went; `atOnce`: it counts as written on return (see {@link SocketWriter._doneOnReturn}). */
  private _streamIssued(atOnce: boolean): number {
    const sock = this.sock;
    this._issued++;
    // Finished inside write(): the bytes are in the kernel, or (TLS, atOnce)
    // encrypted into the socket's memory, and its completion is still to come.
    if ((atOnce || sock.writableLength === 0) && !sock.destroyed && sock.errored === null) return WRITTEN;
    this._waitingFor = this._issued;
    return PENDING;
  }

  /** A direct write completed (`status` 0) or failed (a negative errno). */
  _directWritten(status: number): void {
    if (status === 0) this._owner._written(this);
    else this._directFailed(status);
  }

  private _directFailed(status: number): void {
    const sock = this.sock;
    if (sock.destroyed) {
      this._owner._writeFailed(this, null);
      return;
    }
    const code = getSystemErrorName(status);
    this._owner._writeFailed(this, Object.assign(new Error(`write ${code}`), { code, errno: status }));
    sock.destroy();
  }

  private _streamWritten(err?: Error | null): void {
    this._done++;
    if (err) this._owner._writeFailed(this, err);
    else if (this._done === this._waitingFor) this._owner._written(this);
  }
}
