import type * as net from 'node:net';
import { type WaitOptions, checkRecvArgs, describe, sendvChunks, untilDelimiter, waitMs, waitSignal } from './args';
import { copyBytes } from './byte-queue';
import { type CloseHow, type ConnectionSide, connectionClose, connectionOpen } from './diagnostics';
import { TcpError, TcpErrorCode, abortError, fromNodeError, noDelimiterError } from './errors';
import { type FastPaths, fdOf, readTlsThroughOnread, writableHandleOf } from './node-internals';
import { closeGracefully, resetSocket } from './socket-close';
import { CHANNEL_ONREAD, bindSocket, unbindSocket } from './socket-events';
import { makeReadable, makeWritable } from './web-streams';
import type { ReadableStream, WritableStream } from 'node:stream/web';
import { FAILED, PENDING, SocketWriter, WRITTEN } from './socket-writer';
import { type Timer, startTimer, stopTimer } from './timers';
import { RESOLVED_0, RESOLVED_MINUS_1, resolvedWith } from './resolved';
import { RECV_EXACT, RECV_NAMES, RECV_SOME, RECV_UNTIL, SocketReader } from './socket-reader';

/**
 * Bytes received that nobody has asked for yet are kept up to this many; past
 * it the socket stops reading until the application catches up.
 */
export const DEFAULT_MAX_READ_BUFFER_BYTES = 256 * 1024;

// `new Promise(executor)` runs the executor at once, so one shared executor
// can hand the resolver to the channel that is waiting: no closure per call on
// the hot path. (The read side has its own, in socket-reader.ts.)
let executorTarget: Channel | null = null;
function sendExecutor(resolve: (n: number) => void): void {
  executorTarget!._sendResolve = resolve;
}

/**
 * Set (non-enumerable, `true`) by `@proj/pool` on an item each time a
 * `PoolGuard` releases it: a concurrent call on such a connection most likely
 * comes from a holder that returned without awaiting its call. A registered
 * symbol, so this package needs nothing of the pool's.
 */
const RELEASED_BY_GUARD = Symbol.for('@proj/pool.releasedByGuard');

function endSocket(sock: net.Socket): void {
  sock.end();
}

function onSendTimeout(ch: Channel, ms: number): void {
  ch._timeoutSend(ms);
}

/**
 * Listens for the abort of the signal given to the pending send of one
 * channel: an object, not a closure, made once per channel on first use.
 */
class SendAborter {
  constructor(private readonly _channel: Channel) {}

  handleEvent(): void {
    this._channel._abortSend();
  }
}

/**
 * `sendv` copies frames of at most this many bytes into one buffer and writes
 * that: measured, below about 1 KiB the copy is cheaper than a writev.
 */
const SENDV_COPY_MAX_BYTES = 1024;
/** Shared by every channel: free again as soon as a write took it at once. */
let sendvScratch = Buffer.allocUnsafe(SENDV_COPY_MAX_BYTES);

// This class holds the API, the socket's lifecycle and the send side's
// waiting; the read side is socket-reader.ts, the writes socket-writer.ts.
/**
 * What `Connection` and `Client` share: co's `recv`, `recvn`, `send`,
 * `socket`, `strerror`, over a `net.Socket` or a `tls.TLSSocket`.
 *
 * Reading keeps at most one pending `recv` and a queue of chunks that arrived
 * while nobody was asking. Writing hands the caller's bytes to the socket (on
 * plain TCP straight to its handle); the call resolves once the socket has let
 * go of them.
 */
export abstract class Channel implements AsyncDisposable {
  /**
   * The last failure, with a stable `code` (`ETIMEDOUT`, `ECONNRESET`,
   * `ENOTCONN`, ...), or `null` when nothing has failed yet.
   */
  lastError: TcpError | null = null;

  /** @internal */ _sendResolve: ((n: number) => void) | null = null;

  /** The socket, or `null` before a connection and after close. @internal */
  protected _sock: net.Socket | null = null;
  /** The TCP socket under `_sock`: `_sock` itself, or the socket a TLS socket is layered on. */
  private _raw: net.Socket | null = null;
  /** The read side: its queue, the read that waits, pausing at the bound. @internal */
  protected readonly _reader: SocketReader;
  /** The socket can no longer move bytes (error, or closed here). */
  private _dead = true;
  private _sendN = 0;
  private _sendTimer: Timer | null = null;
  private _sendSignal: AbortSignal | null = null;
  private _sendAborter: SendAborter | null = null;
  private _bytesWritten = 0;
  /** The view the last `send(buf, n < buf.length)` wrote from, and the buffer it is of (see {@link Channel._prefixView}). */
  private _prefix: Uint8Array | null = null;
  private _prefixOf: Uint8Array | null = null;
  /** When the current socket was attached (for tracing), and whether its close was traced. */
  private _openedAt = 0;
  private _closeTraced = true;
  /** Which end this is, for tracing. */
  private readonly _side: ConnectionSide;
  /** The WHATWG streams, made on first access. */
  private _readable: ReadableStream<Uint8Array> | null = null;
  private _writable: WritableStream<Uint8Array> | null = null;
  /** A call made by those streams themselves, which their lock does not refuse. */
  private _fromStream = false;
  /** Writes to the current socket; `null` with no socket. */
  private _writer: SocketWriter | null = null;
  /** The current socket has reported an error (its code is in lastError). */
  private _sockFailed = false;
  /** The socket reads through `onread` into the shared buffer, not through `'data'`. */
  private _viaOnread = false;

  protected constructor(side: ConnectionSide, maxReadBufferBytes = DEFAULT_MAX_READ_BUFFER_BYTES) {
    this._side = side;
    this._reader = new SocketReader(this, maxReadBufferBytes);
  }

  /**
   * Receives up to `n` bytes into `buf[0..]`.
   *
   * @param buf - where the bytes go.
   * @param n - the most bytes wanted, `1 <= n <= buf.length`; default `buf.length`.
   * @param opts - timeout in milliseconds (negative, the default, or
   *   `Infinity` waits forever), or `{ ms, signal }`.
   * @returns `> 0` bytes received; `0` the peer closed the connection; `< 0`
   *   timeout, abort (`ABORT_ERR`) or error (see {@link Channel.lastError}). A
   *   call that times out or is aborted consumes nothing: the bytes arrive in
   *   the next call.
   * @throws TypeError/RangeError for bad arguments.
   * @throws TcpError `ERR_CONCURRENT_RECV` (as a rejection) when another
   *   `recv`/`recvn`/`recvUntil` is still pending on this object.
   */
  recv(buf: Uint8Array, n: number = buf?.length, opts: number | WaitOptions = -1): Promise<number> {
    checkRecvArgs(buf, n);
    const ms = waitMs(opts);
    const signal = waitSignal(opts);
    const reader = this._reader;
    if (reader._recvResolve !== null || this._readerHolds()) return this._concurrent('recv');
    if (signal !== null && signal.aborted) return this._abortedAtOnce('recv', signal);
    const got = reader.takeSome(buf, n);
    if (got > 0) return resolvedWith(got);
    return this._waitRecv(buf, n, RECV_SOME, null, ms, signal);
  }

  /**
   * Receives exactly `n` bytes into `buf[0..n)`.
   *
   * @param buf - where the bytes go.
   * @param n - how many bytes, `1 <= n <= buf.length`; default `buf.length`.
   * @param opts - timeout in milliseconds (negative, the default, or
   *   `Infinity` waits forever), or `{ ms, signal }`.
   * @returns `n`; `0` the peer closed before `n` bytes came; `< 0` timeout,
   *   abort or error. A call that times out or is aborted consumes nothing,
   *   not even part of the `n`. `buf` is scratch space until the call
   *   succeeds: after a result `<= 0` it may hold the bytes gathered so far,
   *   which the next call receives again.
   */
  recvn(buf: Uint8Array, n: number = buf?.length, opts: number | WaitOptions = -1): Promise<number> {
    checkRecvArgs(buf, n);
    const ms = waitMs(opts);
    const signal = waitSignal(opts);
    const reader = this._reader;
    if (reader._recvResolve !== null || this._readerHolds()) return this._concurrent('recvn');
    if (signal !== null && signal.aborted) return this._abortedAtOnce('recvn', signal);
    if (reader.takeExact(buf, n)) return resolvedWith(n);
    return this._waitRecv(buf, n, RECV_EXACT, null, ms, signal);
  }

  /**
   * Receives the bytes up to and including the first `delim` into `buf[0..]`:
   * what line-, RESP- and HTTP/1-style protocols read. Bytes already searched
   * are not searched again as more arrive.
   *
   * @param buf - where the bytes go; its length is the most this reads.
   * @param delim - a byte value, or a sequence of 1 to 16 bytes (a string as UTF-8).
   * @param opts - timeout in milliseconds (negative, the default, or
   *   `Infinity` waits forever), or `{ ms, signal }`.
   * @returns the count of bytes copied, delimiter included; `0` the peer
   *   closed before a delimiter came (what did come is left for `recv`); `< 0`
   *   timeout, abort, error, or `buf` filled without a delimiter (code
   *   `ERR_NO_DELIMITER`): in each case nothing was consumed. `buf` is scratch
   *   space until the call succeeds: after a result `<= 0` its first bytes may
   *   have been written over.
   *
   * @example
   * ```ts
   * const line = Buffer.alloc(1024);
   * const n = await conn.recvUntil(line, '\r\n', 5000); // "PING\r\n" -> 6
   * ```
   */
  recvUntil(buf: Uint8Array, delim: number | Uint8Array | string, opts: number | WaitOptions = -1): Promise<number> {
    const bytes = untilDelimiter(buf, delim);
    const ms = waitMs(opts);
    const signal = waitSignal(opts);
    const reader = this._reader;
    if (reader._recvResolve !== null || this._readerHolds()) return this._concurrent('recvUntil');
    if (signal !== null && signal.aborted) return this._abortedAtOnce('recvUntil', signal);
    const took = reader.takeLine(buf, bytes);
    if (took > 0) return resolvedWith(took);
    if (took < 0) return this._noDelimiter(buf.length);
    return this._waitRecv(buf, buf.length, RECV_UNTIL, bytes, ms, signal);
  }

  /**
   * `recvUntil` for a line that has already arrived, without waiting: copies
   * the bytes up to and including the first `delim` into `buf[0..]` when they
   * are all queued, and returns their count at once. When they are not, it
   * consumes nothing and returns `0`; the `recvUntil` that follows waits for
   * the rest, reports the peer's close, a timeout or an error, and does not
   * search again the bytes this call searched.
   *
   * A parser that drains every complete line with this before it awaits pays
   * for one `await` per batch of lines that arrived together instead of one per
   * line.
   *
   * @param buf - where the bytes go; its length is the most this reads.
   * @param delim - a byte value, or a sequence of 1 to 16 bytes (a string as UTF-8).
   * @returns the count of bytes copied, delimiter included; `0` no complete
   *   line is queued yet; `-1` the queued bytes fill `buf` without a
   *   delimiter (code `ERR_NO_DELIMITER`, nothing consumed).
   * @throws TypeError/RangeError for bad arguments.
   * @throws TcpError `ERR_CONCURRENT_RECV` when a `recv`/`recvn`/`recvUntil`
   *   is pending on this object, or a reader holds {@link Channel.readable}.
   *
   * @example
   * ```ts
   * const line = Buffer.alloc(1024);
   * for (;;) {
   *   let n = conn.tryRecvUntil(line, '\n');
   *   if (n === 0) n = await conn.recvUntil(line, '\n', 5000);
   *   if (n <= 0) break; // closed, timed out, or a line longer than 1 KiB
   *   handle(line.subarray(0, n));
   * }
   * ```
   */
  tryRecvUntil(buf: Uint8Array, delim: number | Uint8Array | string): number {
    const bytes = untilDelimiter(buf, delim);
    const reader = this._reader;
    if (reader._recvResolve !== null || this._readerHolds()) throw this._concurrentError('tryRecvUntil');
    // What this call searched, the next search of the same bytes for the same
    // delimiter skips: not for a caller's Uint8Array, which may change; a byte
    // value or a string maps to bytes of our own.
    const took = reader.tryLine(buf, bytes, typeof delim !== 'object');
    if (took < 0) {
      this.lastError = noDelimiterError(buf.length, this._where());
      return -1;
    }
    return took;
  }

  /**
   * `recvn` for bytes that have already arrived, without waiting: when `n`
   * bytes are queued, copies them into `buf[0..n)` and returns `n` at once;
   * when fewer are, consumes nothing and returns `0` (a `recvn` or
   * {@link Channel.waitReadable} then waits for the rest, and reports the
   * peer's close, a timeout or an error).
   *
   * It never takes bytes from under a pending read: while a
   * `recv`/`recvn`/`recvUntil`/`waitReadable` is pending (or a reader holds
   * {@link Channel.readable}) it throws, as a second `recvn` would reject.
   *
   * @param buf - where the bytes go.
   * @param n - how many bytes, `1 <= n <= buf.length`; default `buf.length`.
   * @returns `n`, or `0` when fewer than `n` bytes are here (also once the
   *   connection is closed).
   * @throws TypeError/RangeError for bad arguments.
   * @throws TcpError `ERR_CONCURRENT_RECV` when a read is pending on this object.
   *
   * @example
   * ```ts
   * const header = Buffer.alloc(4);
   * let n = conn.tryRecvn(header, 4);
   * if (n === 0) n = await conn.recvn(header, 4, 5000);
   * ```
   */
  tryRecvn(buf: Uint8Array, n: number = buf?.length): number {
    checkRecvArgs(buf, n);
    const reader = this._reader;
    if (reader._recvResolve !== null || this._readerHolds()) throw this._concurrentError('tryRecvn');
    if (reader.takeExact(buf, n)) return n;
    if (reader.length > 0) reader.markTried();
    return 0;
  }

  /**
   * Bytes received from the peer and not yet read: what `tryRecvn`,
   * `tryRecvUntil` and `recv` can take now without waiting (at most the
   * read bound, 256 KiB by default; past it the socket stops reading).
   */
  get readableLength(): number {
    return this._reader.unread;
  }

  /**
   * Waits until there is something to read, and reads nothing: resolves with
   * {@link Channel.readableLength} as soon as it is above 0 (at once when it
   * is already). Meanwhile the connection holds no read buffer of its own, so
   * many idle connections can wait here and then read with
   * {@link Channel.tryRecvUntil} / {@link Channel.tryRecvn} into one buffer
   * shared by all of them.
   *
   * Bytes that the last `tryRecvUntil`/`tryRecvn` found too few (half a line)
   * do not count until more arrive or some are read: then it waits for more
   * instead of answering at once again, so a loop of `waitReadable` and
   * `tryRecvUntil` never spins on a partial line.
   *
   * It counts as the pending read: a `recv`/`recvn`/`recvUntil`/`tryRecv*`
   * meanwhile throws or rejects with `ERR_CONCURRENT_RECV`.
   *
   * @param opts - timeout in milliseconds (negative, the default, or
   *   `Infinity` waits forever), or `{ ms, signal }`.
   * @returns the count of bytes ready (`> 0`); `0` the peer closed and no
   *   more will come (what the last try found too few is still there for
   *   `recv`); `< 0` timeout, abort (`ABORT_ERR`) or error (see
   *   {@link Channel.lastError}).
   * @throws TypeError/RangeError for bad options.
   *
   * @example
   * ```ts
   * const shared = Buffer.alloc(64 * 1024); // one for every connection
   * while ((await conn.waitReadable(30_000)) > 0) {
   *   let n;
   *   while ((n = conn.tryRecvUntil(shared, '\n')) > 0) handle(shared.subarray(0, n));
   *   if (n < 0) break; // a line longer than the buffer
   * }
   * ```
   */
  waitReadable(opts: number | WaitOptions = -1): Promise<number> {
    const ms = waitMs(opts);
    const signal = waitSignal(opts);
    const reader = this._reader;
    if (reader._recvResolve !== null || this._readerHolds()) return this._concurrent('waitReadable');
    if (signal !== null && signal.aborted) return this._abortedAtOnce('waitReadable', signal);
    const ready = reader.fresh();
    if (ready > 0) return resolvedWith(ready);
    const cannot = this._cannotWait('waitReadable');
    if (cannot !== null) return cannot;
    return reader.waitAny(ms, signal);
  }

  /**
   * Sends the first `n` bytes of `data` (a string is sent as UTF-8).
   *
   * Resolves once the socket has taken the bytes: when the peer does not read,
   * this waits (backpressure). Once it resolves the caller may overwrite `data`
   * at once. A `send` that times out resets the connection, since part of the
   * bytes may have left and the stream cannot be trusted any more.
   *
   * @param data - the bytes, or a string sent as UTF-8.
   * @param n - how many bytes, `0 <= n <= length`; default all of them.
   * @param opts - timeout in milliseconds (negative, the default, or
   *   `Infinity` waits forever), or `{ ms, signal }`; an abort resets the connection as a
   *   timeout does (code `ABORT_ERR`).
   * @returns `n`; `<= 0` timeout, abort or error (see {@link Channel.lastError}).
   */
  send(data: Uint8Array | string, n?: number, opts: number | WaitOptions = -1): Promise<number> {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError(`data must be a Uint8Array, Buffer or string, got ${describe(data)}`);
    }
    if (n === undefined) n = bytes.length;
    else if (!Number.isInteger(n) || n < 0 || n > bytes.length) {
      throw new RangeError(`n must be an integer from 0 to the data's length (${bytes.length}), got ${n}`);
    }
    const ms = waitMs(opts);
    const signal = waitSignal(opts);
    if (this._sendResolve !== null || this._writerHolds()) return this._concurrent('send');
    if (signal !== null && signal.aborted) return this._abortedAtOnce('send', signal);
    const sock = this._sock;
    if (sock === null || this._dead || !sock.writable || this._writer!.ending) return this._notConnected('send');
    if (n === 0) return RESOLVED_0;
    return this._sent(this._writer!.write(n === bytes.length ? bytes : this._prefixView(bytes, n)), n, ms, signal);
  }

  /**
   * `bytes.subarray(0, n)`, made once for a loop that sends the first `n`
   * bytes of the same buffer again and again (an echo, a fixed-size frame):
   * a new view per send was about a tenth of a small message's user-space
   * work on Node 20, a twentieth on Node 24.
   */
  private _prefixView(bytes: Uint8Array, n: number): Uint8Array {
    const view = this._prefix;
    if (view !== null && this._prefixOf === bytes && view.length === n) return view;
    this._prefixOf = bytes;
    return (this._prefix = bytes.subarray(0, n));
  }

  /**
   * Sends `chunks` in order as one write (writev on plain TCP), with `send`'s
   * guarantees: every chunk may be reused once it resolves; backpressure,
   * timeout and abort as for `send`. A length prefix and its body, a header
   * and a payload, go out without being copied into one buffer first.
   *
   * @param chunks - the bytes, in order; strings are sent as UTF-8.
   * @param opts - timeout in milliseconds (negative, the default, or
   *   `Infinity` waits forever), or `{ ms, signal }`.
   * @returns the total byte count; `<= 0` timeout, abort or error.
   */
  sendv(chunks: readonly (Uint8Array | string)[], opts: number | WaitOptions = -1): Promise<number> {
    const bytes = sendvChunks(chunks);
    const ms = waitMs(opts);
    const signal = waitSignal(opts);
    if (this._sendResolve !== null || this._writerHolds()) return this._concurrent('sendv');
    if (signal !== null && signal.aborted) return this._abortedAtOnce('sendv', signal);
    const sock = this._sock;
    if (sock === null || this._dead || !sock.writable || this._writer!.ending) return this._notConnected('sendv');
    let total = 0;
    for (let i = 0; i < bytes.length; i++) total += bytes[i].length;
    if (total === 0) return RESOLVED_0;
    if (total > SENDV_COPY_MAX_BYTES || bytes.length === 1)
      return this._sent(this._writer!.writev(bytes, total), total, ms, signal);
    // Small frames: copying them into one buffer costs less than a writev's gather list.
    const scratch = sendvScratch;
    for (let i = 0, at = 0; i < bytes.length; at += bytes[i].length, i++)
      copyBytes(bytes[i], 0, scratch, at, bytes[i].length);
    const written = this._writer!.write(scratch.subarray(0, total));
    // A write still in flight holds the scratch: the next sendv gets a new one.
    if (written === PENDING) sendvScratch = Buffer.allocUnsafe(SENDV_COPY_MAX_BYTES);
    return this._sent(written, total, ms, signal);
  }

  /**
   * The bytes from the peer as a WHATWG byte stream (BYOB readers read straight
   * into their buffers), made on first access on the same read queue as
   * `recv`. While a reader holds it, `recv`/`recvn`/`recvUntil` reject with
   * `ERR_CONCURRENT_RECV`. Cancelling it stops reading: bytes not yet read
   * stay for `recv`.
   *
   * @example
   * ```ts
   * for await (const chunk of conn.readable) process(chunk);
   * ```
   */
  get readable(): ReadableStream<Uint8Array> {
    return (this._readable ??= makeReadable(this));
  }

  /**
   * A WHATWG writable whose writes are `send`s (each resolves when the send
   * does: backpressure), made on first access. While a writer holds it,
   * `send`/`sendv` reject with `ERR_CONCURRENT_SEND`. Closing it sends FIN
   * (reading goes on); aborting it resets the connection.
   */
  get writable(): WritableStream<Uint8Array> {
    return (this._writable ??= makeWritable(this));
  }

  /** @internal */
  _streamRecv(view: Uint8Array, signal: AbortSignal): Promise<number> {
    this._fromStream = true;
    try {
      return this.recv(view, view.length, { signal });
    } finally {
      this._fromStream = false;
    }
  }

  /** @internal */
  _streamSend(chunk: Uint8Array): Promise<number> {
    this._fromStream = true;
    try {
      return this.send(chunk);
    } finally {
      this._fromStream = false;
    }
  }

  /** @internal */
  _streamEnd(): void {
    const sock = this._sock;
    if (sock !== null && !this._dead && !sock.writableEnded) this._writer!.end(endSocket);
  }

  /** @internal */
  _streamReset(): void {
    if (this._sock !== null && !this._dead) {
      this._failSend(
        new TcpError(TcpErrorCode.ABORT_ERR, 'the writable was aborted: the connection was reset', this._where()),
      );
    }
  }

  private _readerHolds(): boolean {
    return this._readable !== null && this._readable.locked && !this._fromStream;
  }

  private _writerHolds(): boolean {
    return this._writable !== null && this._writable.locked && !this._fromStream;
  }

  /** Bytes received from the peer on this connection (TLS: after decryption). */
  get bytesRead(): number {
    return this._reader.bytesRead;
  }

  /** Bytes sent on this connection, counted as each `send`/`sendv` resolves them (TLS: before encryption). */
  get bytesWritten(): number {
    return this._bytesWritten;
  }

  /** What a send returns once its write is issued: at once, or once it completes. */
  private _sent(written: number, n: number, ms: number, signal: AbortSignal | null): Promise<number> {
    if (written === WRITTEN) {
      this._bytesWritten += n;
      return resolvedWith(n);
    }
    if (written === FAILED) return RESOLVED_MINUS_1;
    this._sendN = n;
    executorTarget = this;
    const pending = new Promise(sendExecutor);
    if (ms >= 0) this._sendTimer = startTimer(onSendTimeout, ms, this, ms);
    if (signal !== null) {
      this._sendSignal = signal;
      signal.addEventListener('abort', (this._sendAborter ??= new SendAborter(this)));
    }
    return pending;
  }

  /** The pending write finished. @internal */
  _written(writer: SocketWriter): void {
    if (writer !== this._writer || this._sendResolve === null) return;
    this._bytesWritten += this._sendN;
    this._settleSend(this._sendN);
  }

  /** A write failed, or found its socket gone (`err` null). @internal */
  _writeFailed(writer: SocketWriter, err: Error | null): void {
    if (writer !== this._writer) return;
    if (err !== null && !this._sockFailed) this._onError(err);
    else this._settleSend(-1);
  }

  /** The operating system's file descriptor, or `-1` when not connected or closed. */
  socket(): number {
    const raw = this._raw;
    return raw === null || this._dead ? -1 : fdOf(raw);
  }

  /** Message of the last failure, `''` when nothing has failed. */
  strerror(): string {
    return this.lastError === null ? '' : this.lastError.message;
  }

  /** Bytes queued unread, whether reading is paused for them, and whether the peer's FIN has come (for tests). @internal */
  _readState(): { queued: number; paused: boolean; eof: boolean; heldBytes: number } {
    const reader = this._reader;
    return { queued: reader.length, paused: reader.paused, eof: reader.eof, heldBytes: reader.heldBytes };
  }

  /** Which fast paths this channel's socket uses (for tests). @internal */
  _fastPathsInUse(): { directWrite: boolean; onread: boolean } {
    return { directWrite: this._writer?.direct ?? false, onread: this._viaOnread };
  }

  /** {@link fastPaths} of this channel, from the process's `status`. @internal */
  _fastPaths(status: FastPaths): FastPaths {
    const sock = this._sock;
    if (sock === null || this._dead) {
      return {
        directWrite: false,
        onreadAccept: false,
        tlsOnread: false,
        tlsWriteAtOnce: false,
        reason: 'not connected',
      };
    }
    const tls = sock !== this._raw;
    const writer = this._writer!;
    const reason =
      status.reason !== ''
        ? status.reason
        : !this._viaOnread
          ? "plaintext was waiting in this TLS socket's stream when it was taken over: it reads through 'data' events and writes through socket.write"
          : writer.indirectWhy;
    return {
      directWrite: writer.direct,
      onreadAccept: !tls && this._viaOnread,
      tlsOnread: tls && this._viaOnread,
      tlsWriteAtOnce: tls && status.tlsWriteAtOnce,
      reason,
    };
  }

  /** The socket is open, not failed, and the peer has not closed its side. @internal */
  protected _usable(): boolean {
    return this._sock !== null && !this._dead && !this._reader.eof && !this._sock.destroyed;
  }

  /** Closes the connection; `await using` calls this. */
  abstract [Symbol.asyncDispose](): Promise<void>;

  /**
   * Takes over `sock`, which is connected (TLS: handshake done); `raw` is the
   * TCP socket under it (`sock` itself when plain). A socket made with
   * {@link CHANNEL_ONREAD} delivers its bytes through it; any other through
   * `'data'`. @internal
   */
  protected _attach(sock: net.Socket, raw: net.Socket, viaOnread: boolean): void {
    this._sock = sock;
    this._raw = raw;
    this._dead = false;
    this._sockFailed = false;
    // A TLS socket reads through the same onread callback where Node allows it.
    if (!viaOnread && sock !== raw) viaOnread = readTlsThroughOnread(sock, CHANNEL_ONREAD);
    this._viaOnread = viaOnread;
    this._bytesWritten = 0;
    this._writer = new SocketWriter(sock, this, viaOnread ? writableHandleOf(sock) : null);
    this._reader.attach();
    // The reader takes the socket's events: a chunk reaches it in one call.
    bindSocket(sock, this._reader, viaOnread);
    this._openedAt = performance.now();
    this._closeTraced = false;
    if (connectionOpen.hasSubscribers)
      connectionOpen.publish({ connection: this, side: this._side, ...this._peerOf(), tls: sock !== raw });
  }

  /** Where the peer is, for errors. @internal */
  abstract _where(): { address?: string; port?: number };

  /** Whether close()/disconnect() was called on this object. @internal */
  protected abstract _closedHere(): boolean;

  /**
   * Stops all I/O and lets the socket go, closing it gracefully or with an
   * RST: a pending `recv`/`send` resolves `-1` with `why` as its error. @internal
   */
  protected _detach(why: TcpError, reset: boolean, failure: TcpError | null = null): void {
    this._dead = true;
    if (this._reader._recvResolve !== null || this._sendResolve !== null) {
      this.lastError = why;
      this._reader.settle(-1);
      this._settleSend(-1);
    }
    this._reader.clear();
    this._release(reset, failure);
  }

  /**
   * Lets go of the socket, which then closes by itself: gracefully (every byte
   * sent reaches the peer, then FIN) or with an RST. Reads and events of the
   * socket no longer reach this channel. @internal
   */
  private _release(reset: boolean, failure: TcpError | null): void {
    const sock = this._sock;
    const raw = this._raw;
    if (sock === null || raw === null) return;
    this._dead = true;
    this._prefix = this._prefixOf = null;
    unbindSocket(sock);
    this._traceClose(failure !== null ? 'error' : reset ? 'reset' : 'closed', failure);
    if (reset) {
      this._writer!.cancel();
      resetSocket(sock, raw);
    } else {
      this._writer!.end(closeGracefully);
    }
  }

  /** Publishes the close of the current socket, once. */
  private _traceClose(how: CloseHow, error: TcpError | null): void {
    if (this._closeTraced) return;
    this._closeTraced = true;
    if (!connectionClose.hasSubscribers) return;
    connectionClose.publish({
      connection: this,
      side: this._side,
      ...this._peerOf(),
      tls: this._sock !== this._raw,
      bytesRead: this._reader.bytesRead,
      bytesWritten: this._bytesWritten,
      durationMs: performance.now() - this._openedAt,
      how,
      error,
    });
  }

  private _peerOf(): { address: string; port: number } {
    const where = this._where();
    return { address: where.address ?? '', port: where.port ?? 0 };
  }

  /** @internal */
  _onError(err: Error): void {
    this.lastError = fromNodeError(err, 'connection failed', this._where());
    this._sockFailed = true;
    this._dead = true;
    this._reader.settle(-1);
    this._settleSend(-1);
  }

  /** @internal */
  _onClose(sock: net.Socket): void {
    if (sock !== this._sock) return;
    this._dead = true;
    if (this._sockFailed) this._traceClose('error', this.lastError);
    else this._traceClose('peer', null);
    const reader = this._reader;
    if (reader._recvResolve !== null || this._sendResolve !== null) {
      if (!this._sockFailed) {
        this.lastError = new TcpError(TcpErrorCode.ENOTCONN, 'the connection is closed', this._where());
      }
      // A recv waiting when the peer closed cleanly has seen EOF already.
      reader.settle(reader.eof ? 0 : -1);
      this._settleSend(-1);
    }
  }

  /** @internal */
  _timeoutSend(ms: number): void {
    this._sendTimer = null;
    if (this._sendResolve === null) return;
    this._failSend(
      new TcpError(
        TcpErrorCode.ETIMEDOUT,
        `send timed out after ${ms} ms (the peer is not reading); the connection was reset because part of the bytes may have left`,
        this._where(),
      ),
    );
  }

  /** The pending send's signal was aborted. @internal */
  _abortSend(): void {
    const signal = this._sendSignal;
    if (signal === null || this._sendResolve === null) return;
    this._failSend(
      abortError('send', signal, 'the connection was reset because part of the bytes may have left', this._where()),
    );
  }

  /** A send gave up while its write may be half done: the stream cannot be trusted, so reset. */
  private _failSend(err: TcpError): void {
    this.lastError = err;
    this._dead = true;
    this._settleSend(-1);
    this._reader.settle(-1);
    if (this._sock !== null) this._release(true, err);
  }

  /** A read the queue could not answer: waits, unless the connection cannot deliver any more. */
  private _waitRecv(
    buf: Uint8Array,
    n: number,
    mode: number,
    delim: Uint8Array | null,
    ms: number,
    signal: AbortSignal | null,
  ): Promise<number> {
    const cannot = this._cannotWait(RECV_NAMES[mode]);
    if (cannot !== null) return cannot;
    return this._reader.wait(buf, n, mode, delim, ms, signal);
  }

  /** What a read that found nothing queued returns at once when it cannot wait (closed, EOF, failed); `null`: it may wait. */
  private _cannotWait(what: string): Promise<number> | null {
    if (this._closedHere() || this._sock === null) return this._notConnected(what);
    if (this._reader.eof) return RESOLVED_0;
    if (this._dead) {
      if (this.lastError === null) {
        this.lastError = new TcpError(TcpErrorCode.ENOTCONN, 'the connection is closed', this._where());
      }
      return RESOLVED_MINUS_1;
    }
    return null;
  }

  private _settleSend(result: number): void {
    const resolve = this._sendResolve;
    if (resolve === null) return;
    this._sendResolve = null;
    if (this._sendTimer !== null) {
      stopTimer(this._sendTimer);
      this._sendTimer = null;
    }
    if (this._sendSignal !== null) {
      this._sendSignal.removeEventListener('abort', this._sendAborter!);
      this._sendSignal = null;
    }
    resolve(result);
  }

  /** The read queue reached its bound: the socket stops reading. @internal */
  _pauseSocket(): void {
    this._sock!.pause();
  }

  /** The read queue has room again, or a read waits. @internal */
  _resumeSocket(): void {
    if (this._sock !== null && !this._dead) this._sock.resume();
  }

  private _concurrent(what: 'recv' | 'recvn' | 'recvUntil' | 'waitReadable' | 'send' | 'sendv'): Promise<number> {
    return Promise.reject(this._concurrentError(what));
  }

  private _concurrentError(
    what: 'recv' | 'recvn' | 'recvUntil' | 'tryRecvUntil' | 'tryRecvn' | 'waitReadable' | 'send' | 'sendv',
  ): TcpError {
    const sending = what === 'send' || what === 'sendv';
    const code = sending ? TcpErrorCode.ERR_CONCURRENT_SEND : TcpErrorCode.ERR_CONCURRENT_RECV;
    if (sending ? this._writerHolds() : this._readerHolds()) {
      const holder = sending ? 'writer holds conn.writable' : 'reader holds conn.readable';
      return new TcpError(code, `${what} called while a ${holder}; release its lock first`);
    }
    const pending = sending ? 'another send/sendv' : 'a recv/recvn/recvUntil/waitReadable';
    const fix =
      'inside `await using`, return calls awaited (`return await conn.recvn(...)`, not `return conn.recvn(...)`) so that the guard releases the connection only once its call has finished';
    if ((this as { [RELEASED_BY_GUARD]?: unknown })[RELEASED_BY_GUARD] === true) {
      return new TcpError(
        code,
        `${what} called while ${pending} is pending on this pooled connection: it was started by a previous holder, whose PoolGuard released the connection before that call finished; ${fix}`,
      );
    }
    return new TcpError(
      code,
      `${what} called while ${pending} is pending on the same connection; await it first. A likely cause: the connection came from a pool and a previous holder's guard released it before its call finished (${fix})`,
    );
  }

  /** A call whose signal was aborted before it started: fails with no side effect. */
  private _abortedAtOnce(what: string, signal: AbortSignal): Promise<number> {
    this.lastError = abortError(what, signal, 'nothing was done', this._where());
    return RESOLVED_MINUS_1;
  }

  private _noDelimiter(size: number): Promise<number> {
    this.lastError = noDelimiterError(size, this._where());
    return RESOLVED_MINUS_1;
  }

  private _notConnected(what: string): Promise<number> {
    // A socket that failed keeps the failure (ECONNRESET, ...) as the reason.
    if (!this._sockFailed || this._sock === null) {
      const why =
        this._sock === null
          ? `${what} on a connection that is not open; connect first`
          : `${what} on a connection that is closed`;
      this.lastError = new TcpError(TcpErrorCode.ENOTCONN, why, this._where());
    }
    return RESOLVED_MINUS_1;
  }
}
