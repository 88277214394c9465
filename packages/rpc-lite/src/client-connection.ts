import { Client, type ClientTlsOptions } from '@proj/tcp';
import { fromWireError, messageOf, type MessageCodec } from './codec';
import { RpcError, RpcErrorCode, type BadMessageError } from './errors';
import { FrameReader } from './frame-reader';
import { FrameWriter } from './frame-writer';
import { MessageType } from './message';
import type { SlabPool } from './slab-pool';

/** Where and how a {@link ClientConnection} connects. @internal */
export interface ClientConnectionConfig {
  ip: string;
  port: number;
  ssl: boolean;
  tls: ClientTlsOptions;
  maxFrameBytes: number;
  codec: MessageCodec;
  /** Memory for response frames, shared by the connections of a client. */
  slabs: SlabPool;
}

/** One call awaiting its response. */
class PendingCall {
  resolve: (value: unknown) => void = noop;
  reject: (err: RpcError) => void = noop;
  timer: NodeJS.Timeout | null = null;
  signal: AbortSignal | null = null;
  onAbort: (() => void) | null = null;
  constructor(
    readonly conn: ClientConnection,
    readonly msgid: number,
    readonly method: string,
  ) {}
}

function noop(): void {}

// One shared executor hands each call's resolvers over: no closure per call.
let executorTarget: PendingCall | null = null;
function callExecutor(resolve: (value: unknown) => void, reject: (err: RpcError) => void): void {
  executorTarget!.resolve = resolve;
  executorTarget!.reject = reject;
}
function onCallTimeout(call: PendingCall, ms: number): void {
  call.timer = null;
  call.conn._expire(call, ms);
}

/**
 * One connection of an {@link RpcClient}: a `@proj/tcp` `Client`, the calls
 * pending on it (matched by msgid), the writer that merges the requests of a
 * tick into one `send`, and the frame reader that hands the responses over in place.
 * @internal
 */
export class ClientConnection {
  private readonly _tcp: Client;
  private readonly _cfg: ClientConnectionConfig;
  private readonly _writer: FrameWriter;
  private readonly _reader: FrameReader;
  private readonly _pending = new Map<number, PendingCall>();
  private _nextMsgid = 0;
  private _msgidWrapped = false;
  private _closed: RpcError | null = null;
  private _connected = false;

  constructor(cfg: ClientConnectionConfig) {
    this._cfg = cfg;
    this._tcp = new Client(cfg.ip, cfg.port, cfg.ssl, cfg.tls);
    this._writer = new FrameWriter(this._tcp, () => this._fail(this._transportError('sending failed')));
    this._reader = new FrameReader(cfg.maxFrameBytes, cfg.slabs, 'slab');
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
        { cause, ...this._where() },
      );
    }
    this._connected = true;
    this._readLoop().catch((err: unknown) =>
      this._fail(new RpcError(RpcErrorCode.CONNECTION_CLOSED, `reading failed: ${messageOf(err)}`, { cause: err, ...this._where() })),
    );
  }

  /** Connected and not failed: new calls may go on it. */
  usable(): boolean {
    return this._connected && this._closed === null && this._tcp.connected();
  }

  /**
   * Sends a request; the promise settles with its response. The request is
   * queued at once (merged with the others of this tick).
   */
  call(method: string, params: unknown, timeoutMs: number, signal: AbortSignal | undefined): Promise<unknown> {
    if (this._closed !== null) return Promise.reject(this._closedError(method));
    const msgid = this._allocMsgid();
    const bytes = this._encode([MessageType.REQUEST, msgid, method, params], method);
    if (bytes instanceof RpcError) return Promise.reject(bytes);
    this._writer.write(bytes);
    const call = new PendingCall(this, msgid, method);
    executorTarget = call;
    const promise = new Promise(callExecutor);
    executorTarget = null;
    this._pending.set(msgid, call);
    if (timeoutMs >= 0) call.timer = setTimeout(onCallTimeout, timeoutMs, call, timeoutMs);
    if (signal !== undefined) {
      call.signal = signal;
      call.onAbort = () => this._aborted(call);
      signal.addEventListener('abort', call.onAbort, { once: true });
    }
    return promise;
  }

  /** Queues a notification. @throws RpcError `FRAME_TOO_LARGE`, `BAD_MESSAGE`, `CONNECTION_CLOSED`. */
  notify(method: string, params: unknown): void {
    if (this._closed !== null) throw this._closedError(method);
    const bytes = this._encode([MessageType.NOTIFICATION, method, params], method);
    if (bytes instanceof RpcError) throw bytes;
    this._writer.write(bytes);
  }

  /**
   * Closes the connection; every pending call rejects with `CONNECTION_CLOSED`
   * (`reason` as its cause). Safe to call many times.
   */
  close(reason?: RpcError): void {
    this._fail(reason ?? new RpcError(RpcErrorCode.CONNECTION_CLOSED, 'the client was closed', this._where()));
  }

  /** The timeout of `call` fired. @internal */
  _expire(call: PendingCall, ms: number): void {
    if (this._pending.get(call.msgid) !== call) return;
    this._settle(call);
    call.reject(
      new RpcError(RpcErrorCode.TIMEOUT, `call of "${call.method}" got no response within ${ms} ms`, {
        method: call.method,
        ...this._where(),
      }),
    );
  }

  private _aborted(call: PendingCall): void {
    if (this._pending.get(call.msgid) !== call) return;
    const reason: unknown = call.signal?.reason;
    this._settle(call);
    call.reject(
      new RpcError(RpcErrorCode.ABORTED, `call of "${call.method}" was aborted`, {
        method: call.method,
        cause: reason,
        ...this._where(),
      }),
    );
  }

  /** Removes `call` from the pending set and clears its timer and abort listener. */
  private _settle(call: PendingCall): void {
    this._pending.delete(call.msgid);
    if (call.timer !== null) {
      clearTimeout(call.timer);
      call.timer = null;
    }
    if (call.onAbort !== null) {
      call.signal!.removeEventListener('abort', call.onAbort);
      call.onAbort = null;
      call.signal = null;
    }
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

  /** Encodes a message, or says why it cannot go (too large, not encodable). */
  private _encode(message: unknown[], method: string): Uint8Array | RpcError {
    let bytes: Uint8Array;
    try {
      bytes = this._cfg.codec.encode(message);
    } catch (err) {
      return new RpcError(
        RpcErrorCode.BAD_MESSAGE,
        `the params of "${method}" cannot be encoded as MessagePack: ${messageOf(err)}`,
        { method, cause: err },
      );
    }
    if (bytes.length > this._cfg.maxFrameBytes) {
      return new RpcError(
        RpcErrorCode.FRAME_TOO_LARGE,
        `the message for "${method}" is ${bytes.length} bytes, more than maxFrameBytes (${this._cfg.maxFrameBytes}); nothing was sent`,
        { method },
      );
    }
    return bytes;
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
              ? new RpcError(RpcErrorCode.CONNECTION_CLOSED, `the server ${this._target()} closed the connection`, this._where())
              : this._transportError('receiving failed'),
          );
        }
      }
    } catch (err) {
      if (!(err instanceof RpcError)) throw err;
      this._fail(
        new RpcError(RpcErrorCode.CONNECTION_CLOSED, `the server ${this._target()} sent a bad frame: ${err.message}`, {
          cause: err,
          ...this._where(),
        }),
      );
    } finally {
      reader.close();
    }
  }

  private _frame(bytes: Uint8Array, start: number, end: number): void {
    if (this._closed !== null) return;
    let message;
    try {
      message = this._cfg.codec.decode(bytes, start, end);
    } catch (err) {
      const bad = err as BadMessageError;
      if (bad.msgid !== undefined && bad.type === MessageType.RESPONSE) {
        // The answer to a known call is malformed: that call fails, the others go on.
        const call = this._pending.get(bad.msgid);
        if (call !== undefined) {
          this._settle(call);
          call.reject(
            new RpcError(RpcErrorCode.BAD_MESSAGE, `bad response to "${call.method}": ${bad.message}`, {
              method: call.method,
              cause: bad,
              ...this._where(),
            }),
          );
        }
        return;
      }
      if (bad.msgid !== undefined) {
        // A malformed request from the server: answered, as the server answers one.
        this._answerError(bad.msgid, RpcErrorCode.BAD_MESSAGE, bad.message);
        return;
      }
      this._fail(
        new RpcError(RpcErrorCode.CONNECTION_CLOSED, `the server ${this._target()} sent a bad message: ${bad.message}`, {
          cause: bad,
          ...this._where(),
        }),
      );
      return;
    }
    switch (message[0]) {
      case MessageType.RESPONSE: {
        const call = this._pending.get(message[1]);
        // A response nobody waits for (timed out, aborted): dropped quietly.
        if (call === undefined) return;
        this._settle(call);
        const error = message[2];
        if (error === null) call.resolve(message[3]);
        else call.reject(fromWireError(error, call.method, this._where()));
        return;
      }
      case MessageType.REQUEST:
        // A client serves no methods; say so, as msgpack-rpc expects an answer.
        this._answerError(message[1], RpcErrorCode.METHOD_NOT_FOUND, 'this client serves no methods');
        return;
      default:
        return; // notifications from the server: nothing listens for them
    }
  }

  private _answerError(msgid: number, code: string, message: string): void {
    const bytes = this._cfg.codec.encode([MessageType.RESPONSE, msgid, { code, message: message.slice(0, 200) }, null]);
    if (bytes.length <= this._cfg.maxFrameBytes) this._writer.write(bytes);
  }

  private _fail(reason: RpcError): void {
    if (this._closed !== null) return;
    this._closed = reason;
    this._writer.discard();
    this._tcp.close();
    if (this._pending.size === 0) return;
    const calls = [...this._pending.values()];
    this._pending.clear();
    for (const call of calls) {
      this._settle(call);
      call.reject(this._closedError(call.method));
    }
  }

  private _closedError(method: string): RpcError {
    const reason = this._closed!;
    return new RpcError(RpcErrorCode.CONNECTION_CLOSED, `call of "${method}" failed: ${reason.message}`, {
      method,
      cause: reason,
      ...this._where(),
    });
  }

  private _transportError(doing: string): RpcError {
    const cause = this._tcp.lastError;
    return new RpcError(
      RpcErrorCode.CONNECTION_CLOSED,
      `${doing} on the connection to ${this._target()}: ${cause?.message ?? 'connection lost'}`,
      { cause, ...this._where() },
    );
  }

  private _where(): { address: string; port: number } {
    return { address: this._cfg.ip, port: this._cfg.port };
  }

  private _target(): string {
    const ip = this._cfg.ip;
    return `${ip.includes(':') ? `[${ip}]` : ip}:${this._cfg.port}`;
  }
}
