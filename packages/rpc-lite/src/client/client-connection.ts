import { Client, type ClientTlsOptions } from '@proj/tcp';
import { fromWireError, messageOf, type MessageCodec, type PeerAddress } from '../wire/codec';
import { RpcError, RpcErrorCode, type BadMessageError } from '../errors';
import { FrameReader } from '../wire/frame-reader';
import { FrameWriter } from '../wire/frame-writer';
import { MessageType } from '../wire/message';
import type { CallHolder, PendingCall } from './pending-call';
import { QueuedSend, type QueuedSendTarget, type SendBudget } from './send-budget';
import type { SlabPool } from '../wire/slab-pool';

/** Where and how a {@link ClientConnection} connects; shared by the connections of one client. @internal */
export interface ClientConnectionConfig {
  ip: string;
  port: number;
  ssl: boolean;
  tls: ClientTlsOptions;
  /** Encodes within the client's `maxFrameBytes`. */
  codec: MessageCodec;
  /** Memory for response frames. */
  slabs: SlabPool;
  /** `{ address: ip, port }`, for the errors. */
  where: PeerAddress;
  /** The client's bound on bytes queued for sending (`maxQueuedBytes`), shared by its connections. */
  budget: SendBudget;
  /** Sends a call that was never written on another connection (this one closed or is going away). */
  resend(call: PendingCall, params: unknown): void;
  /** The server said it is going away: take the connection out of turn (it closes once its calls are answered). */
  goneAway(conn: ClientConnection): void;
  /** A connection that went away has closed. */
  retired(conn: ClientConnection): void;
}

/** The notification a server sends before it shuts down: `[2, "rpc.goaway", []]`. */
const GOAWAY_METHOD = 'rpc.goaway';

/**
 * One connection of an {@link RpcClient}: a `@proj/tcp` `Client`, the calls
 * waiting for their answer on it (matched by msgid), the writer that merges
 * the requests of a tick into one `send`, and the frame reader that hands the
 * answers to their calls. Time limits and aborts are the calls' own business
 * ({@link PendingCall}); a call that gives up is forgotten here.
 * @internal
 */
export class ClientConnection implements CallHolder, QueuedSendTarget {
  private readonly _tcp: Client;
  private readonly _cfg: ClientConnectionConfig;
  private readonly _budget: SendBudget;
  private readonly _writer: FrameWriter;
  private readonly _reader: FrameReader;
  private readonly _pending = new Map<number, PendingCall>();
  private _nextMsgid = 0;
  private _msgidWrapped = false;
  private _closed: RpcError | null = null;
  private _connected = false;
  /** The server said it is going away: no new call goes here; it closes once the calls here are answered. */
  private _goingAway = false;

  constructor(cfg: ClientConnectionConfig) {
    this._cfg = cfg;
    this._budget = cfg.budget;
    this._tcp = new Client(cfg.ip, cfg.port, cfg.ssl, cfg.tls);
    this._writer = new FrameWriter(this._tcp, () => this._fail(this._transportError('sending failed')), cfg.budget);
    this._reader = new FrameReader(cfg.codec.maxFrameBytes, cfg.slabs, 'slab');
  }

  /** Calls awaiting their response. */
  get pendingCalls(): number {
    return this._pending.size;
  }

  /**
   * Connects within `ms` and starts reading.
   * @throws RpcError `CONNECT_FAILED`, with the `TcpError` as `cause`.
   */
  async connect(ms: number): Promise<void> {
    const ok = await this._tcp.connect(ms);
    if (!ok || this._closed !== null) {
      const cause = this._tcp.lastError ?? this._closed;
      this._tcp.close();
      throw new RpcError(
        RpcErrorCode.CONNECT_FAILED,
        `cannot connect to ${this._target()}: ${this._closed?.message ?? this._tcp.strerror()}`,
        { cause, ...this._cfg.where },
      );
    }
    this._connected = true;
    this._readLoop().catch((err: unknown) =>
      this._fail(
        new RpcError(RpcErrorCode.CONNECTION_CLOSED, `reading failed: ${messageOf(err)}`, {
          cause: err,
          ...this._cfg.where,
        }),
      ),
    );
  }

  /** Connected and not failed: new calls may go on it. */
  usable(): boolean {
    return this._connected && this._closed === null && !this._goingAway && this._tcp.connected();
  }

  /** The server said it is going away. */
  get goingAway(): boolean {
    return this._goingAway;
  }

  /**
   * Sends the request of `call` (queued at once, merged with the others of
   * this tick; or, when the client's send queue is full, once there is room);
   * its answer settles it.
   */
  send(call: PendingCall, params: unknown): void {
    if (this._closed !== null || this._goingAway) {
      // Never written here: it goes on another connection.
      this._cfg.resend(call, params);
      return;
    }
    const msgid = this._allocMsgid();
    const bytes = this._cfg.codec.encodeCall(msgid, call.method, params);
    if (bytes instanceof RpcError) {
      call.fail(bytes);
      return;
    }
    if (this._budget.mustWait(bytes.length)) {
      this._budget.enqueue(new QueuedSend(this._budget, this, bytes.slice(), call.method, msgid, call, null, params));
      return;
    }
    this._writer.write(bytes);
    call.sentOn(this, msgid);
    this._pending.set(msgid, call);
  }

  /**
   * Queues a notification: `null` when it is queued at once, else a promise
   * that resolves once it is (the client's send queue was full).
   * @throws RpcError `FRAME_TOO_LARGE`, `BAD_MESSAGE`, `CONNECTION_CLOSED`
   *   (the promise rejects with `CONNECTION_CLOSED` when the connection closes first).
   */
  notify(method: string, params: unknown): Promise<void> | null {
    if (this._closed !== null) throw this._closedError(method);
    const bytes = this._cfg.codec.encodeCall(null, method, params);
    if (bytes instanceof RpcError) throw bytes;
    if (this._budget.mustWait(bytes.length)) {
      const copy = bytes.slice();
      return new Promise((resolve, reject) => {
        const done = (err: RpcError | null): void => (err === null ? resolve() : reject(err));
        this._budget.enqueue(new QueuedSend(this._budget, this, copy, method, 0, null, done));
      });
    }
    this._writer.write(bytes);
    return null;
  }

  /** A request or notification that waited for room in the send queue: written now (or failed, the connection being gone). */
  sendQueued(entry: QueuedSend): void {
    const call = entry.call;
    if (call !== null && call.settled) return;
    if (this._closed !== null || this._writer.failed) {
      this._unsent(entry);
      return;
    }
    this._writer.write(entry.bytes);
    if (call === null) {
      entry.done!(null);
      return;
    }
    call.sentOn(this, entry.msgid);
    this._pending.set(entry.msgid, call);
  }

  /**
   * Closes the connection; every pending call rejects with `CONNECTION_CLOSED`
   * (`reason` as its cause). Safe to call many times.
   */
  close(reason?: RpcError): void {
    this._fail(reason ?? new RpcError(RpcErrorCode.CONNECTION_CLOSED, 'the client was closed', this._cfg.where));
  }

  /** `call` timed out or was aborted: a late answer to it is dropped. */
  forget(call: PendingCall): void {
    if (this._pending.get(call.msgid) === call) this._pending.delete(call.msgid);
    if (this._goingAway) this._closeIfDone();
  }

  /** A frame that waited for room and was never written here: a call goes on another connection, a notification fails. */
  private _unsent(entry: QueuedSend): void {
    if (entry.call !== null) this._cfg.resend(entry.call, entry.params);
    else entry.fail(this._closedError(entry.method));
  }

  /** The server is going away: out of turn now, closed once nothing of ours is left on it. */
  private _goAway(): void {
    if (this._goingAway || this._closed !== null) return;
    this._goingAway = true;
    this._cfg.goneAway(this);
    this._closeIfDone();
  }

  /** Going away: closes once every call here is answered and nothing waits to be written here. */
  private _closeIfDone(): void {
    if (this._pending.size > 0 || this._closed !== null || this._budget.hasWaitingFor(this)) return;
    this._fail(
      new RpcError(
        RpcErrorCode.CONNECTION_CLOSED,
        `the server ${this._target()} went away (rpc.goaway)`,
        this._cfg.where,
      ),
    );
  }

  timeoutMessage(method: string, timeoutMs: number): string {
    return `call of "${method}" got no response within ${timeoutMs} ms`;
  }

  private _allocMsgid(): number {
    let id = this._nextMsgid;
    if (this._msgidWrapped) {
      // After 2^32 calls, skip the msgids of calls still waiting (practically never any).
      while (this._pending.has(id)) id = (id + 1) >>> 0;
    }
    const next = (id + 1) >>> 0;
    if (next === 0) this._msgidWrapped = true;
    this._nextMsgid = next;
    return id;
  }

  private async _readLoop(): Promise<void> {
    const reader = this._reader;
    try {
      while (this._closed === null) {
        if (reader.next()) {
          this._frame(reader.bytes, reader.start, reader.end);
          continue;
        }
        const n = await reader.fill(this._tcp);
        if (n <= 0) {
          this._fail(
            n === 0
              ? new RpcError(
                  RpcErrorCode.CONNECTION_CLOSED,
                  `the server ${this._target()} closed the connection`,
                  this._cfg.where,
                )
              : this._transportError('receiving failed'),
          );
        }
      }
    } catch (err) {
      if (!(err instanceof RpcError)) throw err;
      this._fail(
        new RpcError(RpcErrorCode.CONNECTION_CLOSED, `the server ${this._target()} sent a bad frame: ${err.message}`, {
          cause: err,
          ...this._cfg.where,
        }),
      );
    } finally {
      reader.close();
    }
  }

  private _frame(bytes: Uint8Array, start: number, end: number): void {
    const codec = this._cfg.codec;
    let message;
    try {
      message = codec.decode(bytes, start, end);
    } catch (err) {
      this._badMessage(err as BadMessageError);
      return;
    }
    switch (message[0]) {
      case MessageType.RESPONSE: {
        const call = this._pending.get(message[1]);
        // A response nobody waits for (timed out, aborted): dropped quietly.
        if (call === undefined) return;
        this._pending.delete(message[1]);
        const error = message[2];
        if (error === null) call.resolve(message[3]);
        else call.fail(fromWireError(error, call.method, this._cfg.where));
        if (this._goingAway) this._closeIfDone();
        return;
      }
      case MessageType.REQUEST:
        // A client serves no methods; say so, as msgpack-rpc expects an answer.
        this._writer.write(
          codec.encodeError(message[1], RpcErrorCode.METHOD_NOT_FOUND, 'this client serves no methods'),
        );
        return;
      default:
        // Notifications from the server: only rpc.goaway means anything to a client.
        if (message[1] === GOAWAY_METHOD) this._goAway();
        return;
    }
  }

  private _badMessage(bad: BadMessageError): void {
    if (bad.msgid !== undefined && bad.type === MessageType.RESPONSE) {
      // The answer to a known call is malformed: that call fails, the others go on.
      const call = this._pending.get(bad.msgid);
      if (call !== undefined) {
        this._pending.delete(bad.msgid);
        call.fail(
          new RpcError(RpcErrorCode.BAD_MESSAGE, `bad response to "${call.method}": ${bad.message}`, {
            method: call.method,
            cause: bad,
            ...this._cfg.where,
          }),
        );
      }
    } else if (bad.msgid !== undefined) {
      // A malformed request from the server: answered, as the server answers one.
      this._writer.write(this._cfg.codec.encodeError(bad.msgid, RpcErrorCode.BAD_MESSAGE, bad.message));
    } else {
      this._fail(
        new RpcError(
          RpcErrorCode.CONNECTION_CLOSED,
          `the server ${this._target()} sent a bad message: ${bad.message}`,
          {
            cause: bad,
            ...this._cfg.where,
          },
        ),
      );
    }
  }

  private _fail(reason: RpcError): void {
    if (this._closed !== null) return;
    this._closed = reason;
    // Before the writer lets go of its bytes: the room they free goes to other connections' waiting frames.
    const unsent = this._budget.waiting > 0 ? this._budget.takeAll(this) : null;
    this._writer.discard();
    this._tcp.close();
    if (this._goingAway) this._cfg.retired(this);
    // Never written here: calls go on another connection (after this one is out of turn).
    if (unsent !== null) for (const entry of unsent) this._unsent(entry);
    if (this._pending.size === 0) return;
    const calls = [...this._pending.values()];
    this._pending.clear();
    for (const call of calls) call.fail(this._closedError(call.method));
  }

  private _closedError(method: string): RpcError {
    // Not closed yet only in the moment a failed send drops its bytes, before the failure is handled.
    const reason = this._closed ?? this._transportError('sending failed');
    return new RpcError(RpcErrorCode.CONNECTION_CLOSED, `call of "${method}" failed: ${reason.message}`, {
      method,
      cause: reason,
      ...this._cfg.where,
    });
  }

  private _transportError(doing: string): RpcError {
    const cause = this._tcp.lastError;
    return new RpcError(
      RpcErrorCode.CONNECTION_CLOSED,
      `${doing} on the connection to ${this._target()}: ${cause?.message ?? 'connection lost'}`,
      { cause, ...this._cfg.where },
    );
  }

  private _target(): string {
    const ip = this._cfg.ip;
    return `${ip.includes(':') ? `[${ip}]` : ip}:${this._cfg.port}`;
  }
}
