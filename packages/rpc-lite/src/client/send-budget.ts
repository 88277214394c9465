import type { RpcError } from '../errors';
import { FRAME_HEADER_BYTES } from '../wire/frame-header';
import type { SendAccount } from '../wire/frame-writer';
import type { CallHolder, PendingCall } from './pending-call';

/** The connection a waiting frame was encoded for (its msgid is that connection's). @internal */
export interface QueuedSendTarget {
  /** There is room: write `entry` now (or fail it, if the connection is gone). */
  sendQueued(entry: QueuedSend): void;
}

/**
 * A request or notification that found no room in the client's send queue:
 * a copy of its encoded frame, waiting its turn in {@link SendBudget} (FIFO).
 * While it waits it is its call's holder, so that a call that times out or is
 * aborted leaves the queue at once and sends nothing.
 * @internal
 */
export class QueuedSend implements CallHolder {
  /** Neighbours in the budget's queue. */
  prev: QueuedSend | null = null;
  next: QueuedSend | null = null;
  /** In the queue (not yet written, failed or forgotten). */
  queued = false;

  /**
   * @param target - the connection to write it to.
   * @param bytes - the frame's body, a copy of its own.
   * @param method - the method, for errors.
   * @param msgid - the request's msgid on `target` (unused for a notification).
   * @param call - the call, or `null` for a notification.
   * @param done - for a notification: told `null` once written, or the error.
   */
  constructor(
    private readonly _budget: SendBudget,
    readonly target: QueuedSendTarget,
    readonly bytes: Uint8Array,
    readonly method: string,
    readonly msgid: number,
    readonly call: PendingCall | null,
    readonly done: ((err: RpcError | null) => void) | null,
    /** A call's params, so that it can be sent on another connection if this one closes before it is written. */
    readonly params: unknown = undefined,
  ) {}

  /** Bytes it takes in the queue, header included. */
  get size(): number {
    return FRAME_HEADER_BYTES + this.bytes.length;
  }

  timeoutMessage(method: string, ms: number): string {
    return (
      `call of "${method}" found no room in the send queue within ${ms} ms, so nothing was sent ` +
      `(maxQueuedBytes ${this._budget.max}: the server reads slowly or not at all)`
    );
  }

  /** The call timed out or was aborted while it waited: it leaves the queue; nothing is sent. */
  forget(): void {
    this._budget.remove(this);
  }

  /** The connection is gone: the call or notification fails with `err`. */
  fail(err: RpcError): void {
    if (this.call !== null) this.call.fail(err);
    else this.done!(err);
  }
}

/**
 * The client's bound on bytes queued for sending (`maxQueuedBytes`), shared by
 * its connections: their {@link FrameWriter}s count here what they hold that
 * their sockets have not accepted yet. A frame that does not fit waits in a
 * FIFO queue, and is written as soon as the frames ahead of it have been and
 * there is room; a frame larger than the bound waits until nothing is queued
 * and then goes alone. While anything waits, every new frame waits behind it.
 * @internal
 */
export class SendBudget implements SendAccount {
  /** Bytes written to the writers and not yet accepted by their sockets. */
  queued = 0;
  /**
   * Room for a frame that need not wait: `max - queued` while nothing waits,
   * else `-1`, so that one comparison (`size <= free`) decides the common case
   * and keeps the order.
   */
  free: number;
  private _head: QueuedSend | null = null;
  private _tail: QueuedSend | null = null;
  private _waiting = 0;

  /** @param max - `maxQueuedBytes`. */
  constructor(readonly max: number) {
    this.free = max;
  }

  /** Frames waiting for room. */
  get waiting(): number {
    return this._waiting;
  }

  /** Nothing queued and nothing waiting: any frame, even one larger than `max`, may go. */
  get empty(): boolean {
    return this.queued === 0 && this._head === null;
  }

  /** Whether a frame whose body is `bodyBytes` long must wait for room (else it may be written now). */
  mustWait(bodyBytes: number): boolean {
    return FRAME_HEADER_BYTES + bodyBytes > this.free && !this.empty;
  }

  take(bytes: number): void {
    this.queued += bytes;
    this._updateFree();
  }

  release(bytes: number): void {
    this.queued -= bytes;
    this._writeWaiting();
  }

  /** Queues `entry` at the back; the holder of its call becomes `entry`. */
  enqueue(entry: QueuedSend): void {
    entry.queued = true;
    entry.prev = this._tail;
    if (this._tail === null) this._head = entry;
    else this._tail.next = entry;
    this._tail = entry;
    this._waiting++;
    this.free = -1;
    entry.call?.waitIn(entry);
  }

  /** Takes `entry` out of the queue (no-op when it is not in it); the next ones may then fit. */
  remove(entry: QueuedSend): void {
    if (!this._unlink(entry)) return;
    this._writeWaiting();
  }

  /** Whether a frame of `target` waits here. */
  hasWaitingFor(target: QueuedSendTarget): boolean {
    for (let entry = this._head; entry !== null; entry = entry.next) if (entry.target === target) return true;
    return false;
  }

  /** Takes every waiting frame of `target` out of the queue (its connection is gone) and returns them, in order. */
  takeAll(target: QueuedSendTarget): QueuedSend[] {
    const taken: QueuedSend[] = [];
    for (let entry = this._head; entry !== null;) {
      const next = entry.next;
      if (entry.target === target) {
        this._unlink(entry);
        taken.push(entry);
      }
      entry = next;
    }
    this._updateFree();
    return taken;
  }

  /** Writes the frames at the front while they fit (the first one always, once nothing is queued). */
  private _writeWaiting(): void {
    for (let entry = this._head; entry !== null; entry = this._head) {
      if (entry.size > this.max - this.queued && this.queued !== 0) break;
      this._unlink(entry);
      entry.target.sendQueued(entry);
    }
    this._updateFree();
  }

  private _updateFree(): void {
    this.free = this._head === null ? this.max - this.queued : -1;
  }

  private _unlink(entry: QueuedSend): boolean {
    if (!entry.queued) return false;
    entry.queued = false;
    if (entry.prev === null) this._head = entry.next;
    else entry.prev.next = entry.next;
    if (entry.next === null) this._tail = entry.prev;
    else entry.next.prev = entry.prev;
    entry.prev = entry.next = null;
    this._waiting--;
    return true;
  }
}
