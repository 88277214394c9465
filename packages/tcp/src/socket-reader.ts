/**
 * The read side of a channel: the queue of bytes that arrived while nobody
 * was asking, the one read that may wait (with its timer and its signal), and
 * pausing the socket when the queue reaches its bound.
 *
 * A read that the queue can answer copies and returns at once, with no timer.
 * A chunk that arrives for a waiting read is copied straight into the caller's
 * buffer (for a `recvn`, after the bytes the queue held when it began, which
 * join them when it completes). The reader is the sink its socket's events go
 * to (socket-events.ts), so a chunk reaches it in one call; the events that
 * end the connection go on to the channel.
 * @internal
 */
import type * as net from 'node:net';
import { ByteQueue, copyBytes } from './byte-queue';
import { TcpError, TcpErrorCode, abortError, noDelimiterError } from './errors';
import type { SocketSink } from './socket-events';
import { type Timer, startTimer, stopTimer } from './timers';

/** What a waiting read wants: some bytes (`recv`), exactly `n` (`recvn`), up to a delimiter (`recvUntil`). @internal */
export const RECV_SOME = 0;
/** @internal */
export const RECV_EXACT = 1;
/** @internal */
export const RECV_UNTIL = 2;
/** `waitReadable`: any byte; takes none. @internal */
export const RECV_READABLE = 3;
/** What each mode is called in errors. @internal */
export const RECV_NAMES = ['recv', 'recvn', 'recvUntil', 'waitReadable'] as const;

/** The buffer of a waiting `waitReadable`: none of its own, so this one, empty and shared. */
const NO_BUFFER = new Uint8Array(0);

/**
 * How far recvUntil looks for its delimiter while it copies, in one pass,
 * before it asks `indexOf` (a native search that costs more to call but less
 * per byte). Lines of line-based protocols mostly end within it.
 */
const SHORT_LINE = 64;

/** What the reader needs of its channel. @internal */
export interface ReaderOwner {
  lastError: TcpError | null;
  /** Where the peer is, for errors. */
  _where(): { address?: string; port?: number };
  /** The socket failed, or closed: the channel settles what waits. */
  _onError(err: Error): void;
  _onClose(sock: net.Socket): void;
  /** Stops (or resumes) reading from the socket, if it is still there. */
  _pauseSocket(): void;
  _resumeSocket(): void;
}

// `new Promise(executor)` runs the executor at once, so one shared executor
// can hand the resolver to the reader that is waiting: no closure per call.
let executorTarget: SocketReader | null = null;
function recvExecutor(resolve: (n: number) => void): void {
  executorTarget!._recvResolve = resolve;
}

function onRecvTimeout(reader: SocketReader, ms: number): void {
  reader._timeoutRecv(ms);
}

function copyOut(src: Uint8Array, start: number, end: number): Buffer {
  const chunk = Buffer.allocUnsafe(end - start);
  copyBytes(src, start, chunk, 0, end - start);
  return chunk;
}

/** The read side of one channel, over each socket the channel attaches in turn. @internal */
export class SocketReader implements SocketSink {
  /** The waiting read's resolver; `null` when no read waits. */
  _recvResolve: ((n: number) => void) | null = null;
  /** Bytes received on the current socket (TLS: after decryption). */
  bytesRead = 0;
  private readonly _queue = new ByteQueue();
  /** The peer sent FIN: once the queue is empty, reads return 0. */
  private _eof = false;
  private _paused = false;
  private _recvBuf: Uint8Array | null = null;
  private _recvN = 0;
  private _recvMode = RECV_SOME;
  /**
   * recvn waiting: the bytes copied into `_recvBuf` so far, after the ones the
   * queue holds. Nothing enters or leaves the queue while a recvn waits, so
   * those are the ones it held when it began, and the first of its `n`.
   */
  private _recvGot = 0;
  /**
   * recvUntil waiting, or tryRecvUntil that found no line: the delimiter, and
   * the first offset in the queue where it may still start. For tryRecvUntil
   * also the queue's `taken` then: the bytes searched are still held while it
   * stays the same.
   */
  private _untilDelim: Uint8Array | null = null;
  private _untilFrom = 0;
  private _untilTaken = 0;
  /** recvUntil: the last line was longer than SHORT_LINE, so the next search starts with indexOf. */
  private _longLines = false;
  private _recvTimer: Timer | null = null;
  private _recvSignal: AbortSignal | null = null;
  /**
   * The queue's `taken` and `length` when a tryRecvUntil/tryRecvn last found
   * too few bytes: while both stay the same, those bytes are no news for
   * waitReadable, which waits for more rather than answer at once again (a
   * loop of waitReadable and tryRecvUntil would spin on half a line).
   */
  private _triedTaken = -1;
  private _triedLength = 0;

  constructor(
    private readonly _owner: ReaderOwner,
    private readonly _maxReadBufferBytes: number,
  ) {}

  /** A new socket: nothing queued or read yet, reading on. */
  attach(): void {
    this._eof = false;
    this._paused = false;
    this.bytesRead = 0;
    this._queue.clear();
  }

  /** The socket is gone: what was queued goes with it. */
  clear(): void {
    this._queue.clear();
  }

  /** Bytes received and not yet read. */
  get length(): number {
    return this._queue.length;
  }

  /** Bytes received and not yet read, a waiting recvn's gathered ones included. */
  get unread(): number {
    return this._queue.length + this._recvGot;
  }

  /** A tryRecvUntil/tryRecvn found the queued bytes too few: they are no news for {@link SocketReader.fresh}. */
  markTried(): void {
    this._triedTaken = this._queue.taken;
    this._triedLength = this._queue.length;
  }

  /** waitReadable: the bytes queued, unless a try found them too few and nothing has come or gone since (then 0). */
  fresh(): number {
    const queue = this._queue;
    if (queue.length === 0 || (queue.taken === this._triedTaken && queue.length === this._triedLength)) return 0;
    return queue.length;
  }

  /** The size of the caller's buffer a waiting read holds (0: none waits, or a waitReadable). */
  get heldBytes(): number {
    return this._recvBuf === null ? 0 : this._recvBuf.length;
  }

  /** Whether the peer's FIN has come. */
  get eof(): boolean {
    return this._eof;
  }

  /** Whether reading is paused for the queue's bound. */
  get paused(): boolean {
    return this._paused;
  }

  /**
   * recv: up to `n` queued bytes into `buf`, at once; `0` when none is queued.
   * (A channel closed here has cleared its queue, so queued bytes mean it is open.)
   */
  takeSome(buf: Uint8Array, n: number): number {
    const queue = this._queue;
    if (queue.length === 0) return 0;
    const got = queue.read(buf, n < queue.length ? n : queue.length);
    if (this._paused) this._resumeIfRoom();
    return got;
  }

  /** recvn: whether `n` bytes were queued, now taken into `buf`. */
  takeExact(buf: Uint8Array, n: number): boolean {
    const queue = this._queue;
    if (queue.length < n) return false;
    queue.read(buf, n);
    if (this._paused) this._resumeIfRoom();
    return true;
  }

  /**
   * recvUntil: takes the first line the queue holds into `buf`. Returns its
   * length; `0` when none is there yet, with `_untilFrom` the first offset
   * where `delim` may still start; `-1` when the queued bytes fill `buf`
   * without one. Consumes nothing unless it returns a line.
   */
  takeLine(buf: Uint8Array, delim: Uint8Array): number {
    const queue = this._queue;
    // Bytes an earlier tryRecvUntil searched for the same delimiter, all still held.
    let searched = this._untilDelim === delim && this._untilTaken === queue.taken ? this._untilFrom : 0;
    this._untilDelim = null;
    this._untilFrom = 0;
    if (queue.length === 0) return 0;
    const end = queue.length < buf.length ? queue.length : buf.length;
    if (searched === 0 && !this._longLines) {
      const took = queue.takeThrough(buf, delim, end < SHORT_LINE ? end : SHORT_LINE);
      if (took > 0) {
        if (this._paused) this._resumeIfRoom();
        return took;
      }
      // No delimiter ends within the first -took bytes.
      searched = -took - delim.length + 1;
      this._longLines = -took === SHORT_LINE;
    }
    const at = queue.indexOf(delim, searched > 0 ? searched : 0, end);
    if (at >= 0) {
      const n = queue.read(buf, at + delim.length);
      if (n <= SHORT_LINE) this._longLines = false;
      if (this._paused) this._resumeIfRoom();
      return n;
    }
    if (queue.length >= buf.length) return -1;
    const from = end - delim.length + 1;
    this._untilFrom = from > 0 ? from : 0;
    return 0;
  }

  /**
   * tryRecvUntil: {@link SocketReader.takeLine}; when no line is there yet
   * and `delim` is bytes of our own (`own`: not a caller's Uint8Array, which
   * may change), the next search of the same bytes skips what this one searched.
   */
  tryLine(buf: Uint8Array, delim: Uint8Array, own: boolean): number {
    const took = this.takeLine(buf, delim);
    if (took === 0 && this._queue.length > 0) {
      this.markTried();
      if (own) {
        this._untilDelim = delim;
        this._untilTaken = this._queue.taken;
      }
    }
    return took;
  }

  /** waitReadable: waits for any byte, and takes none; holds no buffer meanwhile. */
  waitAny(ms: number, signal: AbortSignal | null): Promise<number> {
    return this.wait(NO_BUFFER, 0, RECV_READABLE, null, ms, signal);
  }

  /**
   * Waits for the bytes a read wants (the channel has checked it may wait).
   * `delim`: recvUntil's delimiter, `null` for the other modes.
   */
  wait(
    buf: Uint8Array,
    n: number,
    mode: number,
    delim: Uint8Array | null,
    ms: number,
    signal: AbortSignal | null,
  ): Promise<number> {
    this._recvBuf = buf;
    this._recvN = n;
    this._recvMode = mode;
    this._untilDelim = delim;
    if (this._paused) this._resume();
    executorTarget = this;
    const pending = new Promise(recvExecutor);
    if (ms >= 0) this._recvTimer = startTimer(onRecvTimeout, ms, this, ms);
    if (signal !== null) {
      this._recvSignal = signal;
      signal.addEventListener('abort', this);
    }
    return pending;
  }

  /**
   * Bytes arrived: `src[0..len)`. `owned` chunks (from `'data'`) may be kept
   * as they are; the shared read buffer must be copied out before returning.
   */
  _onBytes(src: Buffer, len: number, owned: boolean): void {
    this.bytesRead += len;
    const queue = this._queue;
    const buf = this._recvBuf;
    if (buf !== null) {
      const n = this._recvN;
      const mode = this._recvMode;
      if (mode === RECV_SOME) {
        // A waiting recv means the queue was empty: copy straight across.
        if (len <= n) {
          copyBytes(src, 0, buf, 0, len);
          this.settle(len);
          return;
        }
        copyBytes(src, 0, buf, 0, n);
        queue.push(owned ? src.subarray(n, len) : copyOut(src, n, len));
        this.settle(n);
        return;
      }
      if (mode >= RECV_UNTIL) {
        // A waiting recvUntil may fill its whole buffer whatever the bound; a
        // waitReadable had an empty queue, and now has its answer.
        queue.push(owned ? src : copyOut(src, 0, len));
        if (mode === RECV_UNTIL) this._searchUntil();
        else this.settle(queue.length);
        return;
      }
      // A waiting recvn: straight into its buffer, after what the queue holds.
      const at = queue.length + this._recvGot;
      const want = n - at;
      if (len < want) {
        copyBytes(src, 0, buf, at, len);
        this._recvGot += len;
        return;
      }
      copyBytes(src, 0, buf, at, want);
      if (queue.length > 0) queue.read(buf, queue.length);
      this._recvGot = 0;
      if (len > want) queue.push(owned ? src.subarray(want, len) : copyOut(src, want, len));
      this.settle(n);
      return;
    }
    queue.push(owned ? src : copyOut(src, 0, len));
    if (queue.length >= this._maxReadBufferBytes && !this._paused) {
      this._paused = true;
      this._owner._pauseSocket();
    }
  }

  /** The peer's FIN. */
  _onEnd(): void {
    this._eof = true;
    // Whatever is waiting cannot be satisfied by the bytes queued (else it would not wait).
    if (this._recvResolve !== null) this.settle(0);
  }

  _onError(err: Error): void {
    this._owner._onError(err);
  }

  _onClose(sock: net.Socket): void {
    this._owner._onClose(sock);
  }

  /** The waiting read's timer ran out. */
  _timeoutRecv(ms: number): void {
    this._recvTimer = null;
    if (this._recvResolve === null) return;
    this._owner.lastError = new TcpError(
      TcpErrorCode.ETIMEDOUT,
      this._recvMode === RECV_READABLE
        ? `waitReadable timed out after ${ms} ms with nothing received; call it again or close the connection`
        : `recv timed out after ${ms} ms; nothing was consumed, so call recv again or close the connection`,
      this._owner._where(),
    );
    this.settle(-1);
  }

  /** The waiting read's signal was aborted (the reader listens for it itself: no listener object per channel). */
  handleEvent(): void {
    const signal = this._recvSignal;
    if (signal === null || this._recvResolve === null) return;
    const what = this._recvMode === RECV_READABLE ? 'waitReadable' : 'recv';
    this._owner.lastError = abortError(what, signal, 'nothing was consumed', this._owner._where());
    this.settle(-1);
  }

  /** Ends the waiting read, if any, with `result`. */
  settle(result: number): void {
    const resolve = this._recvResolve;
    if (resolve === null) return;
    const got = this._recvGot;
    if (got > 0) {
      // A recvn that ends short consumes nothing: what it took goes back after the queue's bytes.
      this._recvGot = 0;
      const at = this._queue.length;
      this._queue.push(copyOut(this._recvBuf!, at, at + got));
    }
    this._recvResolve = null;
    this._recvBuf = null;
    this._untilDelim = null;
    if (this._recvTimer !== null) {
      stopTimer(this._recvTimer);
      this._recvTimer = null;
    }
    if (this._recvSignal !== null) {
      this._recvSignal.removeEventListener('abort', this);
      this._recvSignal = null;
    }
    resolve(result);
  }

  /** recvUntil: looks for the delimiter in what came since the last look. */
  private _searchUntil(): void {
    const queue = this._queue;
    const buf = this._recvBuf!;
    const delim = this._untilDelim!;
    const end = queue.length < buf.length ? queue.length : buf.length;
    const at = queue.indexOf(delim, this._untilFrom, end);
    if (at >= 0) {
      const n = queue.read(buf, at + delim.length);
      this._longLines = n > SHORT_LINE;
      this.settle(n);
      return;
    }
    if (queue.length >= buf.length) {
      this._owner.lastError = noDelimiterError(buf.length, this._owner._where());
      this.settle(-1);
      return;
    }
    const from = end - delim.length + 1;
    if (from > this._untilFrom) this._untilFrom = from;
  }

  private _resumeIfRoom(): void {
    if (this._queue.length < this._maxReadBufferBytes) this._resume();
  }

  private _resume(): void {
    this._paused = false;
    this._owner._resumeSocket();
  }
}
