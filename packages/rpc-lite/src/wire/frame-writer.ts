import { FRAME_HEADER_BYTES, writeFrameLength } from './frame-header';

/** What the writer needs of a connection: `@proj/tcp`'s `send`. @internal */
export interface FrameSink {
  send(data: Uint8Array, n: number): Promise<number>;
}

/**
 * Who counts the bytes of a writer that are not yet accepted by its socket
 * (the client's `maxQueuedBytes`): told of each frame written and of the bytes
 * that leave, accepted by a `send` or dropped. @internal
 */
export interface SendAccount {
  /** `bytes` (header included) were queued. */
  take(bytes: number): void;
  /** `bytes` left the queue: a `send` accepted them, or they were dropped. */
  release(bytes: number): void;
}

/** First size of a write buffer; allocated on the first write, not before. */
const INITIAL_BUFFER_BYTES = 16 * 1024;
/** Write buffers up to this size are kept for reuse; a larger one is dropped once sent. */
const KEEP_BUFFER_BYTES = 256 * 1024;

function flushTick(writer: FrameWriter): void {
  writer._flush();
}

/**
 * Queues frames for one connection and sends them merged, reusing its buffers.
 *
 * Frames written during one tick go out in a single `send`. Only one `send`
 * is pending at a time (`@proj/tcp` rejects a second one): frames written
 * meanwhile gather in a second buffer and leave together when it resolves.
 * Two growing buffers alternate, so a buffer handed to `send` is never touched
 * until `send` has let go of it.
 * @internal
 */
export class FrameWriter {
  private _buf: Buffer | null = null;
  private _len = 0;
  private _spare: Buffer | null = null;
  private _scheduled = false;
  /** While > 0 ({@link FrameWriter.cork}), a frame written queues no tick: {@link FrameWriter.uncork} sends it. */
  private _corked = 0;
  private _sending = false;
  private _failed = false;
  private _drainWaiters: Array<() => void> = [];
  /** Bytes handed to the pending `send` and not yet accepted (0 once dropped). */
  private _sendingBytes = 0;

  /**
   * @param sink - where bytes go.
   * @param onFailure - called once when a `send` fails: the connection is broken.
   * @param _account - told of the bytes queued and of those that leave; `null`: nobody counts.
   */
  constructor(
    private readonly _sink: FrameSink,
    private readonly _onFailure: () => void,
    private readonly _account: SendAccount | null = null,
  ) {}

  /** Bytes queued and not yet handed to `send`. */
  get queuedBytes(): number {
    return this._len;
  }

  /** Nothing queued and no `send` pending. */
  get idle(): boolean {
    return this._len === 0 && !this._sending;
  }

  /** Whether a `send` has failed; everything written since is dropped. */
  get failed(): boolean {
    return this._failed;
  }

  /**
   * Queues one frame whose body is `body` (copied at once, so `body` may be
   * scratch memory). The caller has checked the length against `maxFrameBytes`.
   */
  write(body: Uint8Array): void {
    if (this._failed) return;
    const need = this._len + FRAME_HEADER_BYTES + body.length;
    let buf = this._buf;
    if (buf === null || need > buf.length) buf = this._grow(need);
    writeFrameLength(buf, this._len, body.length);
    buf.set(body, this._len + FRAME_HEADER_BYTES);
    if (this._account !== null) this._account.take(need - this._len);
    this._len = need;
    if (!this._scheduled && !this._sending && this._corked === 0) {
      this._scheduled = true;
      // From inside a promise continuation this runs once the microtask queue
      // is empty, i.e. after every response that is ready this tick was written.
      process.nextTick(flushTick, this);
    }
  }

  /**
   * For a caller that knows when a batch of frames ends: frames written from
   * now on queue no tick of their own, and leave at {@link FrameWriter.uncork}
   * at the latest, in one `send` (sooner only with frames that had a tick
   * queued already). Calls nest.
   */
  cork(): void {
    this._corked++;
  }

  /**
   * Ends a {@link FrameWriter.cork}: what was written meanwhile goes out now
   * (if no `send` is pending; else right after it). Queuing a tick costs as
   * much as the rest of a small answer's way out, which a server that knows
   * its batch has ended does not need to pay.
   */
  uncork(): void {
    if (--this._corked === 0 && this._len > 0) this._flush();
  }

  /** Resolves once everything queued so far has been handed to the socket (or the writer failed). */
  drained(): Promise<void> {
    if (this.idle || this._failed) return Promise.resolve();
    return new Promise((resolve) => this._drainWaiters.push(resolve));
  }

  /** Drops whatever is queued: the connection is gone. */
  discard(): void {
    this._failed = true;
    const dropped = this._len + this._sendingBytes;
    this._len = this._sendingBytes = 0;
    this._buf = this._spare = null;
    if (dropped > 0 && this._account !== null) this._account.release(dropped);
    this._wakeDrainWaiters();
  }

  /** @internal */
  _flush(): void {
    this._scheduled = false;
    if (this._sending || this._len === 0 || this._failed) return;
    this._sending = true;
    void this._sendLoop();
  }

  private async _sendLoop(): Promise<void> {
    while (this._len > 0 && !this._failed) {
      const out = this._buf!;
      const n = this._len;
      this._buf = this._spare;
      this._spare = null;
      this._len = 0;
      this._sendingBytes = n;
      let sent: number;
      try {
        sent = await this._sink.send(out, n);
      } catch {
        sent = -1;
      }
      if (sent === n && this._sendingBytes !== 0) {
        // Accepted (unless discard() dropped them meanwhile and told the account already).
        this._sendingBytes = 0;
        if (this._account !== null) this._account.release(n);
      }
      if (sent !== n) {
        this._sending = false;
        if (!this._failed) {
          this.discard();
          this._onFailure();
        }
        return;
      }
      if (out.length <= KEEP_BUFFER_BYTES) {
        if (this._buf === null) this._buf = out;
        else if (this._spare === null) this._spare = out;
      }
    }
    this._sending = false;
    this._wakeDrainWaiters();
  }

  private _grow(need: number): Buffer {
    let size = this._buf === null ? INITIAL_BUFFER_BYTES : this._buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafeSlow(size);
    if (this._buf !== null && this._len > 0) this._buf.copy(next, 0, 0, this._len);
    this._buf = next;
    return next;
  }

  private _wakeDrainWaiters(): void {
    if (this._drainWaiters.length === 0) return;
    const waiters = this._drainWaiters;
    this._drainWaiters = [];
    for (const wake of waiters) wake();
  }
}
