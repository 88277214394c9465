/**
 * How a channel's bytes reach its socket. They go straight to the socket's
 * handle, as `net.Socket` itself does underneath (see node-internals.ts): a
 * channel has at most one send pending and waits for it, so the writable
 * stream's queue, bookkeeping and callback tick would be pure overhead.
 * Otherwise (while the stream holds writes of its own, a TLS write above the
 * high-water mark, the fast paths off) through `socket.write`. A direct write
 * refreshes the socket's idle timer, as `socket.write` would.
 *
 * Over TLS the handle encrypts a write inside the call, so the send is done
 * then, but the handle reports the write complete only in a later turn of the
 * event loop, and until then it must not be given another write (Node aborts
 * the process) nor be shut down (the socket then failed with EPIPE). So a
 * write or an end that comes while one is in flight is held here, and issued
 * when it completes.
 * @internal
 */
import type * as net from 'node:net';
import { getSystemErrorName } from 'node:util';
import {
  type WritableHandle,
  type WriteReq,
  lastWriteAsync,
  makeWriteReq,
  newWriteReq,
  refreshIdleTimer,
  refreshesIdleTimer,
  tlsWriteDoneOnReturn,
  writeInFlight,
} from './node-internals';

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

function onTlsWriteComplete(this: WriteReq, status: number): void {
  (this.owner as SocketWriter)._tlsWritten(status);
}

/** Writes to one socket for one owner; a new socket gets a new writer, so late completions of an old one are told apart. @internal */
export class SocketWriter {
  /** Write callbacks of `socket.write` come a tick later, even for writes that finished at once: counting tells which one a pending write waits for. */
  private _issued = 0;
  private _done = 0;
  private _waitingFor = 0;
  private readonly _onStreamWritten: (err?: Error | null) => void;
  /** Writes go to a TLS handle, which completes each one later (see the top of this file). */
  private readonly _tls: boolean;
  /** The largest write that goes to the handle: over TLS the socket's high-water mark (see {@link SocketWriter._directHandle}). */
  private readonly _directMax: number;
  /** TLS: the handle holds a write of ours, until it completes. */
  private _tlsInFlight = false;
  /** TLS: a write that came while one was in flight, issued when that completes; the owner waits for it. */
  private _held: Uint8Array | readonly Uint8Array[] | null = null;
  private _heldBytes = 0;
  /** TLS: what to do once nothing is in flight or held (the socket's end). */
  private _whenFlushed: ((sock: net.Socket) => void) | null = null;
  /**
   * TLS: the requests of the last write and of the one before it; the next
   * write uses the older. Node lets go of a request only after its completion
   * callback has returned and the promise reactions it set off have run, and
   * a held write is issued inside that callback: so the last write's request
   * may not be free yet, but the one before it is (its completion came before
   * the last write was issued).
   */
  private _lastReq: WriteReq | null = null;
  private _olderReq: WriteReq | null = null;
  /** {@link SocketWriter.end} or {@link SocketWriter.cancel} was called: no more writes. */
  private _ending = false;
  /** Direct writes can refresh the socket's idle timer, so a socket with one may have them. */
  private readonly _refreshesTimer: boolean;

  /** `handle`: the socket's handle (TCP or TLS) for direct writes, or `null` for `socket.write`. */
  constructor(
    readonly sock: net.Socket,
    private readonly _owner: WriterOwner,
    private readonly _directTo: WritableHandle | null,
  ) {
    // One callback per socket, not per write.
    this._onStreamWritten = (err?: Error | null): void => this._streamWritten(err);
    this._tls = _directTo !== null && (sock as { encrypted?: boolean }).encrypted === true;
    this._directMax = this._tls ? sock.writableHighWaterMark : Infinity;
    this._refreshesTimer = _directTo !== null && refreshesIdleTimer(sock);
  }

  /** Whether writes go straight to the handle, except while the stream holds some and (TLS) for those above the high-water mark. */
  get direct(): boolean {
    return this._directTo !== null && (!this.sock.timeout || this._refreshesTimer);
  }

  /** Why writes do not go straight to the handle ({@link SocketWriter.direct} false), for fastPaths. */
  get indirectWhy(): string {
    if (this._directTo === null) return 'this socket is written through socket.write (no handle to write to)';
    return this.direct
      ? ''
      : 'the socket has an idle timer and no _unrefTimer() to refresh it: written through socket.write';
  }

  /**
   * Writes `chunk`. Returns {@link WRITTEN}, {@link PENDING} (until then
   * `chunk` must not change; the writer keeps it alive) or {@link FAILED}.
   */
  write(chunk: Uint8Array): number {
    if (this._tlsInFlight) return this._hold(chunk, chunk.length);
    const handle = this._directHandle(chunk.length);
    if (handle !== null) {
      if (this._tls) return this._tlsIssued(handle.writeBuffer(this._tlsReq(handle), chunk));
      const req = newWriteReq(handle, onDirectWriteComplete);
      return this._directIssued(req, handle.writeBuffer(req, chunk), chunk);
    }
    const atOnce = this._doneOnReturn(chunk.length);
    this.sock.write(chunk, this._onStreamWritten);
    return this._streamIssued(atOnce);
  }

  /** Writes `chunks` (`bytes` in all) in order as one write (writev); returns as {@link SocketWriter.write} does. */
  writev(chunks: readonly Uint8Array[], bytes: number): number {
    if (this._tlsInFlight) return this._hold(chunks, bytes);
    const handle = this._directHandle(bytes);
    if (handle !== null) {
      if (this._tls) return this._tlsIssued(handle.writev(this._tlsReq(handle), chunks, true));
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

  /** Whether {@link SocketWriter.end} was called: the socket's end is under way. */
  get ending(): boolean {
    return this._ending;
  }

  /**
   * Ends the socket with `end` (say, `socket.end()`) once every write issued
   * or held has reached the handle's transport: at once on a plain socket or
   * with none in flight, else when the TLS write in flight completes. A later
   * end while one waits replaces it (each ends the socket; the later, a close
   * after a half-close, does more).
   */
  end(end: (sock: net.Socket) => void): void {
    this._ending = true;
    if (this._tlsInFlight) this._whenFlushed = end;
    else end(this.sock);
  }

  /** The socket is being reset: a held write is dropped, and nothing more is issued. */
  cancel(): void {
    this._ending = true;
    this._held = null;
    this._whenFlushed = null;
  }

  /** The handle to write `bytes` to directly now, or `null` to go through `socket.write`. */
  private _directHandle(bytes: number): WritableHandle | null {
    const sock = this.sock;
    // Not while the stream still holds writes of its own. Over TLS, a write
    // above the high-water mark is left to the stream, which holds its send
    // until the handle completes it: the handle keeps what the peer has not
    // read, and that is what send's backpressure bounds.
    if (this._directTo === null || sock.writableLength !== 0 || bytes > this._directMax) return null;
    // A socket with an idle timer: the write refreshes it, as socket.write
    // would (a TLS server socket's handshake timeout is left at 0, none).
    if (sock.timeout) {
      if (!this._refreshesTimer) return null;
      refreshIdleTimer(sock);
    }
    return this._directTo;
  }

  /** TLS: the request for the next direct write (see {@link SocketWriter._lastReq}). */
  private _tlsReq(handle: WritableHandle): WriteReq {
    const req = this._olderReq ?? makeWriteReq(handle, onTlsWriteComplete, this);
    this._olderReq = this._lastReq;
    this._lastReq = req;
    return req;
  }

  /** TLS: how the direct write just issued went (`status` from the handle). Encrypted inside the call, it is done for the sender. */
  private _tlsIssued(status: number): number {
    if (status !== 0) {
      this._directFailed(status);
      return FAILED;
    }
    this._tlsInFlight = lastWriteAsync();
    return WRITTEN;
  }

  /** TLS: keeps a write that came while one is in flight; the owner waits for it. */
  private _hold(data: Uint8Array | readonly Uint8Array[], bytes: number): number {
    this._held = data;
    this._heldBytes = bytes;
    return PENDING;
  }

  /** TLS: the write in flight completed (`status` 0) or failed; issues what waited for it. */
  _tlsWritten(status: number): void {
    this._tlsInFlight = false;
    if (this.sock.timeout) refreshIdleTimer(this.sock);
    const held = this._held;
    this._held = null;
    const end = this._whenFlushed;
    this._whenFlushed = null;
    if (status !== 0) {
      this._directFailed(status);
      return;
    }
    if (this.sock.destroyed) {
      if (held !== null) this._owner._writeFailed(this, null);
      return;
    }
    if (held !== null) {
      const result = Array.isArray(held) ? this.writev(held, this._heldBytes) : this.write(held as Uint8Array);
      if (result === WRITTEN) this._owner._written(this);
      // Issued to the handle, it is in flight again: the end waits for it.
      if (this._tlsInFlight) {
        this._whenFlushed = end;
        return;
      }
    }
    if (end !== null) end(this.sock);
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
    // As Node's own completion does: the bytes moving is activity.
    if (this.sock.timeout) refreshIdleTimer(this.sock);
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
