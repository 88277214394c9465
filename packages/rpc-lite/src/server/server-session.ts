import type { Connection } from '@proj/tcp';
import { toWireError, type MessageCodec } from '../wire/codec';
import { requestEnd, requestStart, requestsTraced } from '../diagnostics';
import { BadMessageError, RpcError, RpcErrorCode } from '../errors';
import { FrameReader } from '../wire/frame-reader';
import { FrameWriter } from '../wire/frame-writer';
import { InFlight } from './in-flight';
import { MessageType } from '../wire/message';
import type { RpcHandler } from '../context';
import { RequestContext, type SignalWatch } from './request-context';
import type { SlabPool } from '../wire/slab-pool';

/** What a session needs of its server. @internal */
export interface SessionHost {
  readonly codec: MessageCodec;
  /** Memory for request frames, shared by the connections. */
  readonly slabs: SlabPool;
  readonly maxInFlight: number;
  readonly maxQueuedBytes: number;
  lookup(method: string): RpcHandler | undefined;
  /** What a bad client did (a bad frame, a notification for no method): for `onError` only. */
  report(err: RpcError, peer: string): void;
  /** A failure of the application nobody else hears of (a failed notification handler): `onError`, else a warning. */
  warn(err: RpcError, peer: string): void;
}

/** The notification `shutdown` sends every client first: `[2, "rpc.goaway", []]`. @internal */
export const GOAWAY_METHOD = 'rpc.goaway';

/** The signal watch of a traced request that is not run: its signal, if read, is aborted at once. */
const NOT_RUN: SignalWatch = {
  watch: (ctx) =>
    ctx.abort(new RpcError(RpcErrorCode.CONNECTION_CLOSED, `"${ctx.method}" was not run`, { method: ctx.method })),
};

/**
 * One client connection on the server: reads its frames (the shared
 * {@link FrameReader}), hands each message to its handler, and sends the
 * answers through a {@link FrameWriter} that merges those of a tick. Requests
 * run concurrently; each answer is queued as soon as its handler finishes.
 * Reading stops while `maxInFlight` handlers run or `maxQueuedBytes` of
 * answers wait to be sent (backpressure).
 * @internal
 */
export class ServerSession {
  readonly peer: string;
  private readonly _reader: FrameReader;
  private readonly _writer: FrameWriter;
  private readonly _inFlight: InFlight;
  private _closed = false;
  private _draining = false;
  private _goneAway = false;
  /** Resolves when run() has returned. */
  private readonly _ran: Promise<void>;
  private _ranResolve!: () => void;
  /** See {@link ServerSession._startBatch}. */
  private _inBatch = false;

  constructor(
    private readonly _conn: Connection,
    private readonly _host: SessionHost,
  ) {
    this.peer = _conn.peer();
    this._reader = new FrameReader(_host.codec.maxFrameBytes, _host.slabs, 'header');
    this._writer = new FrameWriter(_conn, () => this._onWriteFailed());
    this._inFlight = new InFlight(_host.maxInFlight, (ctx, ok, value) => this._answer(ctx, ok, value));
    this._ran = new Promise((resolve) => (this._ranResolve = resolve));
  }

  /**
   * Reads and serves messages until the peer closes, the connection fails or
   * a frame cannot be trusted. When the peer merely closed its side, the
   * answers still in flight are sent before this returns.
   */
  async run(): Promise<void> {
    try {
      await this._run();
    } finally {
      this._ranResolve();
    }
  }

  private async _run(): Promise<void> {
    const reader = this._reader;
    let peerClosed = false;
    let protocolError = false;
    try {
      while (!this._closed) {
        if (this._inFlight.full || this._writer.queuedBytes > this._host.maxQueuedBytes) {
          this._endBatch();
          await this._roomToRead();
          continue;
        }
        if (reader.next()) {
          this._startBatch();
          if (this._dispatch(reader.bytes, reader.start, reader.end)) continue;
          protocolError = true;
          break;
        }
        this._endBatch();
        const n = await reader.fill(this._conn);
        if (n <= 0) {
          peerClosed = n === 0;
          break;
        }
      }
    } catch (err) {
      // A length out of range: the length is the framing, past a bad one nothing can be trusted.
      if (!(err instanceof RpcError)) throw err;
      this._host.report(err, this.peer);
      protocolError = true;
    } finally {
      this._endBatch();
      reader.close();
    }
    if (peerClosed && !this._closed) {
      // A client may send its requests and then close its side (half-close):
      // it still gets the answers. Most clients that close are gone, though,
      // so handlers watching ctx.signal are told to stop.
      this._inFlight.abortSignals(this._closedError());
      await this._inFlight.idle();
      await this._writer.drained();
    } else if (protocolError && !this._closed) {
      // Answers already queued (those of the frames before the bad one) still go out.
      await this._writer.drained();
    }
    this._markClosed();
  }

  /**
   * With `goAway`: tells the client the server is going away (the
   * `rpc.goaway` notification) and serves what it sends until it closes the
   * connection, which it does once its calls here are answered (a request it
   * wrote before it read the notification is served, not lost). Without:
   * stops serving new requests at once. Either way, waits for the requests
   * in flight to be answered and sent, then closes the connection gracefully.
   * Safe to call more than once.
   */
  async drain(goAway = true): Promise<void> {
    if (goAway && !this._draining) {
      if (!this._goneAway && !this._closed) {
        this._goneAway = true;
        this._writer.write(this._host.codec.encodeCall(null, GOAWAY_METHOD, []) as Uint8Array);
      }
      await this._ran;
    }
    this._draining = true;
    await this._inFlight.idle();
    await this._writer.drained();
    this._markClosed();
    await this._conn.close();
  }

  /**
   * While the frames already received are served (a batch), the answers that
   * handlers give at once are held, and leave together in one send when the
   * batch ends, before the next wait: no tick is queued for them. Answers
   * that come later, from handlers that await, go out on the writer's tick.
   */
  private _startBatch(): void {
    if (this._inBatch) return;
    this._inBatch = true;
    this._writer.cork();
  }

  /** Ends the batch, if one is open: its answers leave now. */
  private _endBatch(): void {
    if (!this._inBatch) return;
    this._inBatch = false;
    this._writer.uncork();
  }

  /** Serves one frame; `false` when the connection must be closed. */
  private _dispatch(bytes: Uint8Array, start: number, end: number): boolean {
    let message;
    try {
      message = this._host.codec.decode(bytes, start, end);
    } catch (err) {
      const bad = err as BadMessageError;
      this._host.report(bad, this.peer);
      // Without a msgid nobody can be told; a server answers no response, even a malformed one.
      if (bad.msgid === undefined || bad.type === MessageType.RESPONSE) return false;
      this._writer.write(this._host.codec.encodeError(bad.msgid, RpcErrorCode.BAD_MESSAGE, bad.message));
      return true;
    }
    if (this._draining) {
      // Not served: the client sees CONNECTION_CLOSED and may retry.
      if (requestsTraced()) {
        if (message[0] === MessageType.REQUEST)
          this._traceNotRun(message[1], message[2], RpcErrorCode.CONNECTION_CLOSED);
        else if (message[0] === MessageType.NOTIFICATION)
          this._traceNotRun(null, message[1], RpcErrorCode.CONNECTION_CLOSED);
      }
      return true;
    }
    switch (message[0]) {
      case MessageType.REQUEST:
        this._serve(message[1], message[2], message[3]);
        return true;
      case MessageType.NOTIFICATION:
        this._serve(null, message[1], message[2]);
        return true;
      default:
        // A server takes no responses; answering one could echo forever between two peers.
        this._host.report(
          new BadMessageError(`unexpected response (msgid ${message[1]}) sent to a server`, undefined),
          this.peer,
        );
        return false;
    }
  }

  /** Runs the handler of a request (`msgid` a number) or a notification (`msgid` `null`). */
  private _serve(msgid: number | null, method: string, params: unknown): void {
    const fn = this._host.lookup(method);
    if (fn !== undefined) {
      const ctx = new RequestContext(this._inFlight, method, msgid, this.peer);
      if (requestsTraced()) this._traceStart(ctx);
      this._inFlight.run(fn, params, ctx);
      return;
    }
    if (requestsTraced()) this._traceNotRun(msgid, method, RpcErrorCode.METHOD_NOT_FOUND);
    if (msgid !== null) {
      this._writer.write(
        this._host.codec.encodeError(msgid, RpcErrorCode.METHOD_NOT_FOUND, `no handler for method "${method}"`),
      );
    } else {
      const err = new RpcError(
        RpcErrorCode.METHOD_NOT_FOUND,
        `notification for method "${method}", which has no handler`,
        { method },
      );
      this._host.report(err, this.peer);
    }
  }

  /** A handler is done: a request's answer is queued; a notification's failure is told. */
  private _answer(ctx: RequestContext, ok: boolean, value: unknown): void {
    if (ctx.trace !== null) {
      this._answerTraced(ctx, ok, value);
      return;
    }
    const msgid = ctx.msgid;
    if (msgid === null) {
      if (ok) return;
      const wire = toWireError(value);
      const method = ctx.method;
      this._host.warn(
        new RpcError(wire.code, `notification handler for "${method}" failed: ${wire.message}`, {
          method,
          cause: value,
        }),
        this.peer,
      );
      return;
    }
    if (this._closed) return;
    const codec = this._host.codec;
    this._writer.write(ok ? codec.encodeResult(msgid, value) : codec.encodeThrown(msgid, value));
  }

  /** {@link ServerSession._answer} for a traced request: the same, and its end published with the code the caller is sent. */
  private _answerTraced(ctx: RequestContext, ok: boolean, value: unknown): void {
    const trace = ctx.trace!;
    ctx.trace = null;
    let code = ok ? null : toWireError(value).code;
    const codec = this._host.codec;
    if (ok && ctx.msgid !== null && !this._closed) {
      codec.resultFailure = null;
      this._writer.write(codec.encodeResult(ctx.msgid, value));
      code = codec.resultFailure;
    } else {
      this._answer(ctx, ok, value);
    }
    if (requestEnd.hasSubscribers) {
      requestEnd.publish({
        request: ctx,
        method: ctx.method,
        peer: this.peer,
        durationMs: performance.now() - trace.startedAt,
        ok: code === null,
        code,
      });
    }
  }

  private _traceStart(ctx: RequestContext): void {
    ctx.trace = { startedAt: performance.now() };
    if (requestStart.hasSubscribers) requestStart.publish({ request: ctx, method: ctx.method, peer: this.peer });
  }

  /** A request (`msgid` a number) or notification that is not run (`code`: why): its start and end, traced together. */
  private _traceNotRun(msgid: number | null, method: string, code: string): void {
    const ctx = new RequestContext(NOT_RUN, method, msgid, this.peer);
    this._traceStart(ctx);
    const startedAt = ctx.trace!.startedAt;
    ctx.trace = null;
    if (requestEnd.hasSubscribers) {
      requestEnd.publish({
        request: ctx,
        method: ctx.method,
        peer: this.peer,
        durationMs: performance.now() - startedAt,
        ok: false,
        code,
      });
    }
  }

  /** Waits until a handler finishes and the write backlog is under its bound. */
  private async _roomToRead(): Promise<void> {
    while (!this._closed) {
      if (this._writer.queuedBytes > this._host.maxQueuedBytes) {
        await this._writer.drained();
      } else if (this._inFlight.full) {
        await this._inFlight.room();
      } else {
        return;
      }
    }
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
    this._inFlight.close(this._closedError());
  }

  private _closedError(): RpcError {
    return new RpcError(RpcErrorCode.CONNECTION_CLOSED, `connection from ${this.peer} closed`);
  }
}
