import { type WaitOptions, describe, waitMs, waitSignal } from './args';
import { Channel } from './channel';
import type { Client } from './client';
import type { Connection } from './connection';
import { TcpAbortError, TcpError, TcpErrorCode } from './errors';
import { Ring } from './ring';

/** What {@link Pipeline.request} sends: bytes, a string (UTF-8), or several of them in order. */
export type PipelineRequest = Uint8Array | string | readonly (Uint8Array | string)[];

/** Options of a {@link Pipeline}. */
export interface PipelineOptions<T = unknown> {
  /**
   * Says which replies are the server's "error" answers (a RESP `-ERR`, an
   * SMTP 5xx): such a reply rejects its own request, with the reply itself as
   * the reason, and the pipeline goes on. Without it every reply resolves.
   */
  isError?: (reply: T) => boolean;
  /**
   * The most requests sent and not yet answered (default 4096). A request
   * past it waits, unsent, for room, within its own timeout and signal.
   */
  maxInFlight?: number;
}

/** The default of {@link PipelineOptions.maxInFlight}. */
export const DEFAULT_MAX_IN_FLIGHT = 4096;

// Node's timers take at most 2^31 - 1 ms; a longer timeout is re-armed until its deadline.
const MAX_TIMER_MS = 2 ** 31 - 1;
// Requests up to this size are copied into the pipeline's write buffer when
// they are made; larger ones go out as they are, in the same sendv.
const COPY_MAX_BYTES = 16 * 1024;
const INITIAL_BUFFER_BYTES = 16 * 1024;

const QUEUED = 0;
const SENT = 1;
const DONE = 2;

/** What a request's timer and abort listener call. */
interface RequestOwner {
  _timedOut(req: Request): void;
  _aborted(req: Request): void;
}

/** One request: its bytes until written, how to settle it, and what may end it early. */
class Request {
  /** The request's bytes when they were too large to copy at once; else null, and they are `start..end` of the pipeline's buffer. */
  bytes: PipelineRequest | null = null;
  start = 0;
  end = 0;
  state = QUEUED;
  resolve!: (value: unknown) => void;
  reject!: (err: unknown) => void;
  timer: NodeJS.Timeout | null = null;
  /** What `request` was given for readReply. */
  context: unknown = undefined;
  deadline = 0;
  ms = -1;
  signal: AbortSignal | null = null;

  constructor(readonly pipe: RequestOwner) {}

  /** The signal's abort listener: an object, not a closure per request. */
  handleEvent(): void {
    this.pipe._aborted(this);
  }
}

// `new Promise(executor)` runs the executor at once: one shared executor hands
// the resolvers to the request being made, with no closure per request.
let executorTarget: Request | null = null;
function requestExecutor(resolve: (v: unknown) => void, reject: (err: unknown) => void): void {
  executorTarget!.resolve = resolve;
  executorTarget!.reject = reject;
}

function onRequestTimer(req: Request): void {
  req.timer = null;
  const left = req.deadline - performance.now();
  if (req.deadline > 0 && left > 0) {
    req.timer = setTimeout(onRequestTimer, Math.min(left, MAX_TIMER_MS), req);
    return;
  }
  req.pipe._timedOut(req);
}

function flushTick(pipe: Pipeline<unknown, Client | Connection>): void {
  pipe._flush();
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    v !== null &&
    (typeof v === 'object' || typeof v === 'function') &&
    typeof (v as PromiseLike<unknown>).then === 'function'
  );
}

const OPTION_KEYS = new Set(['maxInFlight', 'isError']);
const WAIT_KEYS = new Set(['ms', 'signal']);

function checkKeys(opts: object, known: Set<string>, what: string): void {
  for (const key of Object.keys(opts)) {
    if (!known.has(key)) throw new TypeError(`unknown ${what} option '${key}' (known: ${[...known].join(', ')})`);
  }
}

/**
 * Pipelined request/reply on one connection, for protocols that answer in
 * order without request ids (RESP, memcached, SMTP pipelining, HTTP/1.1).
 *
 * Every request made in the same turn of the event loop goes out in one
 * write; one reader calls `readReply` once per request, in order, and settles
 * each request with what it returned. Many concurrent callers then share one
 * connection at the cost of one write and, for replies that arrived together,
 * one read.
 *
 * A failed write, a `readReply` that throws (the peer closed, a timeout of the
 * connection, bytes that are not a reply), or a request that times out or is
 * aborted after it was sent fails every request in flight with that error and
 * closes the pipeline ({@link Pipeline.closed}) and its connection: a pool
 * replaces it. A request that times out or is aborted before it was sent is
 * only removed.
 *
 * The pipeline owns the connection: nothing else may read from or write to it.
 *
 * @typeParam T - what `readReply` returns for one reply.
 * @typeParam C - the connection's type, as `readReply` receives it.
 * @typeParam X - what a request may hand to `readReply` for its reply (its
 *   `context`): how many replies a batch expects, what kind of reply to parse.
 *
 * @example
 * ```ts
 * const c = new Client('127.0.0.1', port);
 * if (!(await c.connect(3000))) throw c.lastError;
 * const line = Buffer.alloc(1024);
 * await using pipe = new Pipeline(c, async (conn) => {
 *   const n = await conn.recvUntil(line, '\n');
 *   if (n <= 0) throw conn.lastError ?? new Error('the server closed the connection');
 *   return line.toString('utf8', 0, n - 1);
 * });
 * // Both go out in one write; the replies come back to the right callers.
 * const [a, b] = await Promise.all([pipe.request('GET a\n'), pipe.request('GET b\n', 500)]);
 * ```
 */
export class Pipeline<
  T,
  C extends Client | Connection = Client | Connection,
  X = undefined,
> implements AsyncDisposable {
  /**
   * The error that failed the pipeline, or `null`: a failed read or write, or
   * a request that timed out or was aborted after it was sent.
   */
  lastError: unknown = null;

  private readonly _conn: C;
  private readonly _readReply: (conn: C, context: X | undefined) => T | PromiseLike<T>;
  private readonly _isError: ((reply: T) => boolean) | null;
  private readonly _maxInFlight: number;
  /** Requests not sent yet, in order; some may be done already (timed out, aborted) and are skipped. */
  private readonly _queued = new Ring<Request>();
  /** Requests sent (or being sent) and not yet answered, in order: the replies are theirs. */
  private readonly _inFlight = new Ring<Request>();
  private _waiting = 0;
  private _flushScheduled = false;
  private _sending = false;
  private _reading = false;
  private _closed = false;
  private _failed = false;
  private _drained: (() => void) | null = null;
  private _whenDrained: Promise<void> | null = null;
  /** The requests copied when they were made, back to back; `_bufEnd` is where the next one goes. */
  private _buf = Buffer.allocUnsafe(INITIAL_BUFFER_BYTES);
  private _bufEnd = 0;
  private readonly _chunks: Uint8Array[] = [];
  private readonly _onSent = (n: number): void => this._sent(n);

  /**
   * @param conn - a connected {@link Client}, or a server's {@link Connection}.
   * @param readReply - reads one reply from `conn` and returns it (or a promise
   *   of it; returning the value itself when the reply is already here saves an
   *   `await`). It is called once per request, in order, never twice at once,
   *   with the `context` that request was given. It
   *   throws only when the connection can no longer be trusted (closed, timed
   *   out, bytes that are not a reply); a reply that says "error" is a value to
   *   return, not a reason to throw.
   * @param opts - {@link PipelineOptions}.
   * @throws TypeError/RangeError for a bad argument or an unknown option.
   */
  constructor(
    conn: C,
    readReply: (conn: C, context: X | undefined) => T | PromiseLike<T>,
    opts: PipelineOptions<T> = {},
  ) {
    if (!(conn instanceof Channel)) throw new TypeError(`conn must be a Client or Connection, got ${describe(conn)}`);
    if (typeof readReply !== 'function')
      throw new TypeError(`readReply must be a function, got ${describe(readReply)}`);
    if (opts === null || typeof opts !== 'object') throw new TypeError(`opts must be an object, got ${describe(opts)}`);
    checkKeys(opts, OPTION_KEYS, 'Pipeline');
    const max = opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    if (!Number.isSafeInteger(max) || max < 1)
      throw new RangeError(`maxInFlight must be an integer >= 1, got ${String(max)}`);
    this._conn = conn;
    if (opts.isError !== undefined && typeof opts.isError !== 'function')
      throw new TypeError(`isError must be a function, got ${describe(opts.isError)}`);
    this._readReply = readReply;
    this._isError = opts.isError ?? null;
    this._maxInFlight = max;
  }

  /** `true` once {@link Pipeline.close} was called or the pipeline failed: requests are refused. */
  get closed(): boolean {
    return this._closed;
  }

  /** Requests sent and not yet answered. */
  get inFlight(): number {
    return this._inFlight.length;
  }

  /** Requests made and not yet sent (waiting for this turn's write, or for room under `maxInFlight`). */
  get waiting(): number {
    return this._waiting;
  }

  /** The connection the pipeline owns. */
  get connection(): C {
    return this._conn;
  }

  /**
   * Queues a request and resolves with its reply, as `readReply` returned it.
   *
   * @param bytes - the request: bytes, a string (sent as UTF-8), or several
   *   of them in order. A request of up to 16 KiB is copied at once: the
   *   caller may reuse its buffer as soon as this returns. The byte arrays of
   *   a larger one are sent as they are: leave them unchanged until it settles.
   * @param opts - timeout in milliseconds for the reply (negative or absent:
   *   forever), or `{ ms, signal }`.
   * @returns the reply. Rejects with a {@link TcpError} `ETIMEDOUT`, a
   *   {@link TcpAbortError}, the error that failed the pipeline, or
   *   `ERR_PIPELINE_CLOSED` once it is closed. A request that times out or is
   *   aborted before it was sent was not sent; one that did after it was sent
   *   fails the pipeline, with every other request in flight.
   * @param context - handed to `readReply` with this request's reply.
   * @throws TypeError/RangeError for bad arguments.
   */
  request(bytes: PipelineRequest, opts?: number | WaitOptions, context?: X): Promise<T> {
    checkRequest(bytes);
    if (typeof opts === 'object' && opts !== null) checkKeys(opts, WAIT_KEYS, 'request');
    const ms = waitMs(opts);
    const signal = waitSignal(opts);
    if (this._closed) return Promise.reject(this._closedError());
    if (signal !== null && signal.aborted) {
      return Promise.reject(new TcpAbortError('the request was aborted before it was made', signal.reason));
    }
    const req = new Request(this);
    this._take(req, bytes);
    req.context = context;
    executorTarget = req;
    const promise = new Promise(requestExecutor) as Promise<T>;
    executorTarget = null;
    if (ms >= 0 && ms !== Infinity) {
      req.ms = ms;
      if (ms > MAX_TIMER_MS) req.deadline = performance.now() + ms;
      req.timer = setTimeout(onRequestTimer, Math.min(ms, MAX_TIMER_MS), req);
    }
    if (signal !== null) {
      req.signal = signal;
      signal.addEventListener('abort', req);
    }
    this._queued.push(req);
    this._waiting++;
    if (!this._flushScheduled && !this._sending) {
      this._flushScheduled = true;
      process.nextTick(flushTick, this);
    }
    return promise;
  }

  /**
   * Refuses new requests, lets those already made be sent and answered, then
   * closes the connection. Resolves once it is closed. Safe to call many times.
   */
  async close(): Promise<void> {
    this._closed = true;
    if (!this._failed && (this._waiting > 0 || this._inFlight.length > 0)) {
      this._whenDrained ??= new Promise<void>((resolve) => (this._drained = resolve));
      await this._whenDrained;
    }
    await this._closeConn(false);
  }

  /** {@link Pipeline.close}: `await using pipe = new Pipeline(...)` calls it. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Copies a small request into the write buffer now; keeps a large one's pieces to send as they are. */
  private _take(req: Request, bytes: PipelineRequest): void {
    let most = 0;
    if (typeof bytes === 'string') most = bytes.length * 3;
    else if (bytes instanceof Uint8Array) most = bytes.length;
    else
      for (let i = 0; i < bytes.length; i++)
        most += typeof bytes[i] === 'string' ? (bytes[i] as string).length * 3 : bytes[i].length;
    if (most > COPY_MAX_BYTES) {
      req.bytes = bytes;
      return;
    }
    let buf = this._buf;
    let at = this._bufEnd;
    if (at + most > buf.length) {
      // The old buffer may be in a write still: the new one gets a copy, at the same offsets.
      const grown = Buffer.allocUnsafe(Math.max(buf.length * 2, at + most));
      buf.copy(grown, 0, 0, at);
      buf = this._buf = grown;
    }
    req.start = at;
    if (typeof bytes === 'string') at += buf.write(bytes, at);
    else if (bytes instanceof Uint8Array) {
      buf.set(bytes, at);
      at += bytes.length;
    } else {
      for (let i = 0; i < bytes.length; i++) {
        const piece = bytes[i];
        if (typeof piece === 'string') at += buf.write(piece, at);
        else {
          buf.set(piece, at);
          at += piece.length;
        }
      }
    }
    req.end = this._bufEnd = at;
  }

  /** Writes the requests queued this turn, as many as `maxInFlight` lets, in one write. @internal */
  _flush(): void {
    this._flushScheduled = false;
    if (this._sending || this._failed) return;
    const queued = this._queued;
    const inFlight = this._inFlight;
    const max = this._maxInFlight;
    const chunks = this._chunks;
    const buf = this._buf;
    let from = -1; // the run of copied requests not yet in `chunks`: from..to of buf
    let to = -1;
    let total = 0;
    while (queued.length > 0 && inFlight.length < max) {
      const req = queued.shift()!;
      if (req.state !== QUEUED) continue;
      req.state = SENT;
      this._waiting--;
      inFlight.push(req);
      const bytes = req.bytes;
      if (bytes === null) {
        total += req.end - req.start;
        if (req.start !== to) {
          if (to > from) chunks.push(buf.subarray(from, to));
          from = req.start;
        }
        to = req.end;
        continue;
      }
      req.bytes = null;
      if (to > from) chunks.push(buf.subarray(from, to));
      from = to = -1;
      if (typeof bytes === 'string' || bytes instanceof Uint8Array) {
        const b = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
        chunks.push(b);
        total += b.length;
      } else {
        for (let i = 0; i < bytes.length; i++) {
          const piece = bytes[i];
          const b = typeof piece === 'string' ? Buffer.from(piece) : piece;
          chunks.push(b);
          total += b.length;
        }
      }
    }
    if (to > from) chunks.push(buf.subarray(from, to));
    if (total === 0) {
      chunks.length = 0;
      this._compact();
      // Requests of no bytes still get a reply read for them (a greeting, say).
      if (inFlight.length > 0 && !this._reading) void this._read();
      this._checkDrained();
      return;
    }
    this._sending = true;
    const sending = chunks.length === 1 ? this._conn.send(chunks[0]) : this._conn.sendv(chunks);
    chunks.length = 0;
    void sending.then(this._onSent);
    if (!this._reading) void this._read();
  }

  /**
   * Once no write holds the buffer: the bytes of the requests still queued
   * move to its front, so that it holds at most what waits to be sent.
   */
  private _compact(): void {
    const queued = this._queued;
    let first = -1;
    for (let i = 0; i < queued.length; i++) {
      const req = queued.at(i);
      if (req.state === QUEUED && req.bytes === null) {
        first = req.start;
        break;
      }
    }
    if (first < 0) {
      this._bufEnd = 0;
      return;
    }
    if (first === 0) return;
    this._buf.copyWithin(0, first, this._bufEnd);
    this._bufEnd -= first;
    for (let i = 0; i < queued.length; i++) {
      const req = queued.at(i);
      if (req.state === QUEUED && req.bytes === null) {
        req.start -= first;
        req.end -= first;
      }
    }
  }

  private _sent(n: number): void {
    this._sending = false;
    if (this._failed) return;
    this._compact();
    if (n <= 0) {
      this._fail(
        this._conn.lastError ??
          new TcpError(TcpErrorCode.ENOTCONN, 'the pipeline could not send: the connection is closed'),
      );
      return;
    }
    if (this._waiting > 0 && !this._flushScheduled) {
      this._flushScheduled = true;
      process.nextTick(flushTick, this);
    }
  }

  /** The one reader: a reply per request in flight, in order. */
  private async _read(): Promise<void> {
    this._reading = true;
    const conn = this._conn;
    const readReply = this._readReply;
    const isError = this._isError;
    const inFlight = this._inFlight;
    try {
      while (inFlight.length > 0 && !this._failed) {
        let reply = readReply(conn, inFlight.peek()!.context as X | undefined);
        if (isThenable(reply)) reply = await reply;
        if (this._failed) return; // the reply belongs to a request that already failed
        const req = inFlight.shift()!;
        req.state = DONE;
        req.context = undefined;
        this._unlink(req);
        if (isError !== null && isError(reply)) req.reject(reply);
        else req.resolve(reply);
        if (this._waiting > 0 && !this._flushScheduled && !this._sending) {
          this._flushScheduled = true;
          process.nextTick(flushTick, this);
        }
      }
    } catch (err) {
      this._fail(err);
    } finally {
      this._reading = false;
    }
    this._checkDrained();
  }

  /** A request's timer fired. @internal */
  _timedOut(req: Request): void {
    if (req.state === DONE) return;
    if (req.state === QUEUED) {
      this._remove(
        req,
        new TcpError(
          TcpErrorCode.ETIMEDOUT,
          `the request timed out after ${req.ms} ms before it was sent (${this._inFlight.length} requests in flight, maxInFlight ${this._maxInFlight}); it was not sent`,
        ),
      );
      return;
    }
    this._fail(
      new TcpError(
        TcpErrorCode.ETIMEDOUT,
        `a request timed out after ${req.ms} ms waiting for its reply; the pipeline is closed, since that reply would be taken for the next request's: make a new one on a new connection`,
      ),
    );
  }

  /** A request's signal was aborted. @internal */
  _aborted(req: Request): void {
    if (req.state === DONE) return;
    const reason = req.signal!.reason as unknown;
    if (req.state === QUEUED) {
      this._remove(req, new TcpAbortError('the request was aborted before it was sent; it was not sent', reason));
      return;
    }
    this._fail(
      new TcpAbortError(
        "a request was aborted after it was sent; the pipeline is closed, since its reply would be taken for the next request's: make a new one on a new connection",
        reason,
      ),
    );
  }

  /** Takes a request that was not sent out of the queue (it is skipped when the turn's write is made). */
  private _remove(req: Request, err: unknown): void {
    req.state = DONE;
    req.bytes = null;
    this._waiting--;
    this._unlink(req);
    req.reject(err);
    this._checkDrained();
  }

  /** Fails every request not yet answered with `err`, closes the pipeline and its connection. */
  private _fail(err: unknown): void {
    if (this._failed) return;
    this._failed = true;
    this._closed = true;
    this.lastError = err;
    for (const ring of [this._inFlight, this._queued]) {
      for (let req = ring.shift(); req !== undefined; req = ring.shift()) {
        if (req.state === DONE) continue;
        req.state = DONE;
        req.bytes = null;
        this._unlink(req);
        req.reject(err);
      }
    }
    this._waiting = 0;
    void this._closeConn(true);
    this._checkDrained();
  }

  private _unlink(req: Request): void {
    if (req.timer !== null) {
      clearTimeout(req.timer);
      req.timer = null;
    }
    if (req.signal !== null) {
      req.signal.removeEventListener('abort', req);
      req.signal = null;
    }
  }

  private _checkDrained(): void {
    if (this._drained !== null && (this._failed || (this._waiting === 0 && this._inFlight.length === 0))) {
      const drained = this._drained;
      this._drained = null;
      drained();
    }
  }

  private async _closeConn(reset: boolean): Promise<void> {
    const conn = this._conn;
    if ('reset' in conn && reset) await conn.reset();
    else await conn.close();
  }

  private _closedError(): TcpError {
    const why = this._failed ? 'it failed' : 'close() was called';
    return new TcpError(
      TcpErrorCode.ERR_PIPELINE_CLOSED,
      `the pipeline is closed (${why}): make a new one on a new connection`,
      this._failed ? { cause: this.lastError } : {},
    );
  }
}

function checkRequest(bytes: PipelineRequest): void {
  if (typeof bytes === 'string' || bytes instanceof Uint8Array) return;
  if (!Array.isArray(bytes))
    throw new TypeError(`a request must be a Uint8Array, a string or an array of them, got ${describe(bytes)}`);
  for (let i = 0; i < bytes.length; i++) {
    const piece: unknown = bytes[i];
    if (typeof piece !== 'string' && !(piece instanceof Uint8Array)) {
      throw new TypeError(`request[${i}] must be a Uint8Array, Buffer or string, got ${describe(piece)}`);
    }
  }
}
