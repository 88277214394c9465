import type { Connection } from '@proj/tcp';
import { toWireError, type MessageCodec } from './codec';
import { BadMessageError, RpcError, RpcErrorCode } from './errors';
import { FrameReader } from './frame-reader';
import { FrameWriter } from './frame-writer';
import { MessageType } from './message';
import type { SlabPool } from './slab-pool';

/** What a handler learns about the message it serves. */
export interface RpcContext {
  /** The method called. */
  readonly method: string;
  /** The request's msgid, or `null` for a notification (nobody awaits an answer). */
  readonly msgid: number | null;
  /** `"ip:port"` of the client (`"[ip]:port"` for IPv6). */
  readonly peer: string;
  /**
   * Aborted when the client closes its side or the connection is gone: the
   * answer is most likely unwanted, so long work may stop. One per request,
   * made only when a handler reads it.
   */
  readonly signal: AbortSignal;
}

/** A method's implementation: what it returns (or resolves to) is the result; what it throws is the error. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- public API: params are what the peer sent; a handler annotates them
export type RpcHandler<P = any, R = unknown> = (params: P, ctx: RpcContext) => R | Promise<R>;

/** What a session needs of its server. @internal */
export interface SessionHost {
  readonly codec: MessageCodec;
  /** Memory for request frames, shared by the connections. */
  readonly slabs: SlabPool;
  readonly maxFrameBytes: number;
  readonly maxInFlight: number;
  readonly maxQueuedBytes: number;
  lookup(method: string): RpcHandler | undefined;
  /** What a bad client did (a bad frame, a notification for no method): for `onError` only. */
  report(err: RpcError, peer: string): void;
  /** A failure of the application nobody else hears of (a failed notification handler): `onError`, else a warning. */
  warn(err: RpcError, peer: string): void;
}

class RequestContext implements RpcContext {
  /** @internal Made when a handler first reads `signal`. */
  _abort: AbortController | null = null;
  constructor(
    private readonly _session: ServerSession,
    readonly method: string,
    readonly msgid: number | null,
  ) {}
  get peer(): string {
    return this._session.peer;
  }
  get signal(): AbortSignal {
    if (this._abort === null) {
      this._abort = new AbortController();
      this._session._watch(this);
    }
    return this._abort.signal;
  }
}

/**
 * One client connection on the server: the reader loop (the shared
 * {@link FrameReader}), the dispatch of each message to
 * its handler, and the writer that merges the responses. Requests run
 * concurrently; each response is queued as soon as its handler finishes.
 * @internal
 */
export class ServerSession {
  readonly peer: string;
  private readonly _reader: FrameReader;
  private readonly _writer: FrameWriter;
  private _inFlight = 0;
  /** Wakes the reader when it waits for room (in-flight or write backlog). */
  private _wakeReader: (() => void) | null = null;
  /** Wakes `drain()` once nothing is in flight. */
  private _idleWaiters: Array<() => void> = [];
  private _closed = false;
  private _draining = false;
  /** The client closed its side: answers may still go out, but ctx.signal is aborted. */
  private _peerClosed = false;
  /** Contexts of requests in flight whose handler reads ctx.signal. */
  private readonly _watchers = new Set<RequestContext>();

  constructor(
    private readonly _conn: Connection,
    private readonly _host: SessionHost,
  ) {
    this.peer = _conn.peer();
    this._reader = new FrameReader(_host.maxFrameBytes, _host.slabs, 'header');
    this._writer = new FrameWriter(_conn, () => this._onWriteFailed());
  }

  /** A handler reads ctx.signal: abort it if the client is gone, else when it goes. */
  _watch(ctx: RequestContext): void {
    if (this._closed || this._peerClosed) ctx._abort!.abort(this._closedError());
    else this._watchers.add(ctx);
  }

  /**
   * Reads and serves messages until the peer closes, the connection fails or
   * a frame cannot be trusted. When the peer merely closed its side, the
   * answers still in flight are sent before this returns.
   */
  async run(): Promise<void> {
    const host = this._host;
    const reader = this._reader;
    let peerClosed = false;
    let protocolError = false;
    try {
      while (!this._closed) {
        if (this._inFlight >= host.maxInFlight || this._writer.queuedBytes > host.maxQueuedBytes) {
          await this._roomToRead();
          continue;
        }
        if (reader.next()) {
          if (this._dispatch(reader.bytes, reader.start, reader.end)) continue;
          protocolError = true;
          break;
        }
        const n = await reader.fill(this._conn);
        if (n <= 0) {
          peerClosed = this._peerClosed = n === 0;
          break;
        }
      }
    } catch (err) {
      // A length out of range: the length is the framing, past a bad one nothing can be trusted.
      if (!(err instanceof RpcError)) throw err;
      this._protocolError(err);
      protocolError = true;
    } finally {
      reader.close();
    }
    if (peerClosed && !this._closed) {
      // A client may send its requests and then close its side (half-close):
      // it still gets the answers. Most clients that close are gone, though,
      // so handlers watching ctx.signal are told to stop.
      this._abortHandlers();
      await this._idle();
      await this._writer.drained();
    } else if (protocolError && !this._closed) {
      // Answers already queued (those of the frames before the bad one) still go out.
      await this._writer.drained();
    }
    this._markClosed();
  }

  /**
   * Stops serving new requests, waits for those in flight to be answered and
   * sent, then closes the connection gracefully.
   */
  async drain(): Promise<void> {
    this._draining = true;
    await this._idle();
    await this._writer.drained();
    this._markClosed();
    await this._conn.close();
  }

  /** Serves one frame; `false` when the connection must be closed. */
  private _dispatch(bytes: Uint8Array, start: number, end: number): boolean {
    const host = this._host;
    let message;
    try {
      message = host.codec.decode(bytes, start, end);
    } catch (err) {
      const bad = err as BadMessageError;
      this._protocolError(bad);
      // Without a msgid nobody can be told; a server answers no response, even a malformed one.
      if (bad.msgid === undefined || bad.type === MessageType.RESPONSE) return false;
      this._respondError(bad.msgid, RpcErrorCode.BAD_MESSAGE, bad.message);
      return true;
    }
    if (this._draining) return true; // not served: the client sees CONNECTION_CLOSED and may retry
    switch (message[0]) {
      case MessageType.REQUEST:
        this._serveRequest(message[1], message[2], message[3]);
        return true;
      case MessageType.NOTIFICATION:
        this._serveNotification(message[1], message[2]);
        return true;
      default:
        // A server takes no responses; answering one could echo forever between two peers.
        this._protocolError(new BadMessageError(`unexpected response (msgid ${message[1]}) sent to a server`, undefined));
        return false;
    }
  }

  private _serveRequest(msgid: number, method: string, params: unknown): void {
    const fn = this._host.lookup(method);
    if (fn === undefined) {
      this._respondError(msgid, RpcErrorCode.METHOD_NOT_FOUND, `no handler for method "${method}"`);
      return;
    }
    const ctx = new RequestContext(this, method, msgid);
    let result: unknown;
    try {
      result = fn(params, ctx);
    } catch (err) {
      this._done(ctx);
      this._respondThrown(msgid, err);
      return;
    }
    if (isThenable(result)) {
      this._inFlight++;
      result.then(
        (value) => {
          this._settled(ctx);
          this._respond(msgid, value);
        },
        (err: unknown) => {
          this._settled(ctx);
          this._respondThrown(msgid, err);
        },
      );
    } else {
      this._done(ctx);
      this._respond(msgid, result);
    }
  }

  private _serveNotification(method: string, params: unknown): void {
    const fn = this._host.lookup(method);
    if (fn === undefined) {
      this._host.report(
        new RpcError(RpcErrorCode.METHOD_NOT_FOUND, `notification for method "${method}", which has no handler`, { method }),
        this.peer,
      );
      return;
    }
    const failed = (err: unknown): void => {
      const wire = toWireError(err);
      this._host.warn(
        new RpcError(wire.code, `notification handler for "${method}" failed: ${wire.message}`, { method, cause: err }),
        this.peer,
      );
    };
    const ctx = new RequestContext(this, method, null);
    let result: unknown;
    try {
      result = fn(params, ctx);
    } catch (err) {
      this._done(ctx);
      failed(err);
      return;
    }
    if (isThenable(result)) {
      this._inFlight++;
      result.then(
        () => this._settled(ctx),
        (err: unknown) => {
          this._settled(ctx);
          failed(err);
        },
      );
    } else {
      this._done(ctx);
    }
  }

  private _respond(msgid: number, result: unknown): void {
    if (this._closed) return;
    let bytes: Uint8Array;
    try {
      bytes = this._host.codec.encode([MessageType.RESPONSE, msgid, null, result]);
    } catch (err) {
      this._respondError(msgid, RpcErrorCode.HANDLER_ERROR, `the result cannot be encoded as MessagePack: ${(err as Error)?.message ?? err}`);
      return;
    }
    if (bytes.length > this._host.maxFrameBytes) {
      this._respondError(
        msgid,
        RpcErrorCode.FRAME_TOO_LARGE,
        `the response of ${bytes.length} bytes is larger than the server's maxFrameBytes (${this._host.maxFrameBytes})`,
      );
      return;
    }
    this._writer.write(bytes);
  }

  private _respondThrown(msgid: number, err: unknown): void {
    const wire = toWireError(err);
    this._respondError(msgid, wire.code, wire.message);
  }

  private _respondError(msgid: number, code: string, message: string): void {
    if (this._closed) return;
    const max = this._host.maxFrameBytes;
    const codec = this._host.codec;
    let bytes = codec.encode([MessageType.RESPONSE, msgid, { code, message }, null]);
    if (bytes.length > max) {
      // A handler's message too long for a frame: keep the code, shorten the message.
      bytes = codec.encode([MessageType.RESPONSE, msgid, { code, message: 'error message too long for a frame' }, null]);
      if (bytes.length > max) bytes = codec.encode([MessageType.RESPONSE, msgid, { code: RpcErrorCode.HANDLER_ERROR, message: '' }, null]);
    }
    this._writer.write(bytes);
  }

  private _protocolError(err: RpcError): void {
    this._host.report(err, this.peer);
  }

  /** A handler has finished: its signal is no longer watched. */
  private _done(ctx: RequestContext): void {
    if (ctx._abort !== null) this._watchers.delete(ctx);
  }

  /** An async handler has settled. */
  private _settled(ctx: RequestContext): void {
    if (ctx._abort !== null) this._watchers.delete(ctx);
    this._inFlight--;
    const wake = this._wakeReader;
    if (wake !== null) {
      this._wakeReader = null;
      wake();
    }
    if (this._inFlight === 0 && this._idleWaiters.length > 0) {
      const waiters = this._idleWaiters;
      this._idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Waits until a handler finishes and the write backlog is under its bound. */
  private async _roomToRead(): Promise<void> {
    const host = this._host;
    while (!this._closed) {
      if (this._writer.queuedBytes > host.maxQueuedBytes) {
        await this._writer.drained();
      } else if (this._inFlight >= host.maxInFlight) {
        await new Promise<void>((resolve) => (this._wakeReader = resolve));
      } else {
        return;
      }
    }
  }

  private _idle(): Promise<void> {
    if (this._inFlight === 0 || this._closed) return Promise.resolve();
    return new Promise((resolve) => this._idleWaiters.push(resolve));
  }

  private _onWriteFailed(): void {
    // The peer is gone: stop reading too; the server then closes the connection.
    this._markClosed();
    void this._conn.reset();
  }

  private _markClosed(): void {
    if (this._closed) return;
    this._closed = true;
    this._writer.discard();
    this._abortHandlers();
    const wake = this._wakeReader;
    this._wakeReader = null;
    if (wake !== null) wake();
    const waiters = this._idleWaiters;
    this._idleWaiters = [];
    for (const w of waiters) w();
  }

  private _abortHandlers(): void {
    if (this._watchers.size === 0) return;
    const err = this._closedError();
    for (const ctx of this._watchers) ctx._abort!.abort(err);
    this._watchers.clear();
  }

  private _closedError(): RpcError {
    return new RpcError(RpcErrorCode.CONNECTION_CLOSED, `connection from ${this.peer} closed`);
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && typeof v === 'object' && typeof (v as { then?: unknown }).then === 'function';
}
