/**
 * Every use of Node.js internals in this package, behind one switch.
 *
 * Four fast paths need things Node does not promise:
 *
 * - **Direct writes**: `send` writes straight to the socket's handle
 *   (`socket._handle.writeBuffer`), the TCP handle or, over TLS, the TLS
 *   handle, with a `WriteWrap` request from the `stream_wrap` binding
 *   (`process.binding`), as `net.Socket` itself does underneath, skipping the
 *   writable-stream layer. The handle attaches a request only to a write it
 *   could not finish inside the call (Node asserts the request is free when it
 *   does) and frees it when that write completes, so a request serves the
 *   next write once it is free, where `net.Socket` makes one per write. A TLS
 *   handle finishes no write inside the call: it encrypts the bytes and
 *   completes the write a turn later, and takes no other write, nor a
 *   shutdown, until then (see socket-writer.ts).
 * - **Accepting into `onread`**: `net.Server` cannot give its sockets the
 *   public `onread` option, so an accepted (paused) socket's handle
 *   (`socket._handle`) moves to a new `net.Socket({ handle, onread })`.
 * - **TLS through `onread`**: a TLS socket gets what `net.Socket` keeps of an
 *   `onread` option (in its `kBuffer`/`kBufferCb` symbol properties, found by
 *   making a socket with that option) and its TLS handle reads into the
 *   shared buffer (`useUserBuffer`), as `tls.connect({ onread })` does for a
 *   TLS socket that makes its own TCP socket.
 * - **TLS writes done at once**: a write that reaches a TLS socket's handle
 *   with nothing else queued (directly, or through `socket.write` when its
 *   stream is empty) is encrypted inside that call: the TLS handle passes the
 *   plaintext to OpenSSL, or copies what OpenSSL cannot take yet, before it
 *   returns. It still reports the write done only in a later turn of the
 *   event loop (its completion is always asynchronous, even when the
 *   encrypted bytes went out at once), so `send` resolves when the handle
 *   returns rather than waiting for that turn. Through `socket.write` this
 *   touches no internal property: it relies on how the handle behaves, which
 *   the tests check on every Node line.
 *
 * A direct write skips what `socket.write` does for a socket with an idle
 * timeout (`socket.setTimeout`, the server's `idleTimeoutMs`): refresh its
 * timer. So a direct write refreshes it as `socket.write` does, through the
 * socket's `_unrefTimer()`, as does the completion of a write that finished
 * later (Node's own completion callback does); without that method such a
 * socket is written through `socket.write`.
 *
 * All are feature-detected when this module loads, and all are off when the
 * environment variable `PROJ_TCP_NO_INTERNALS=1` is set, or where reaching
 * them would print something: under `--pending-deprecation` (where
 * `process.binding` warns, DEP0111) and under the permission model (where it
 * throws). Off, the package uses only public API: `socket.write`, and
 * `'data'` events on accepted and TLS sockets. Every guarantee holds on both paths;
 * {@link fastPaths} tells which one is in use.
 *
 * Outside the switch, `socket()` reads a socket's file descriptor from its
 * handle (`_handle.fd`): Node has no public way to get it, and the read
 * changes nothing (it gives `-1` where the field is missing).
 *
 * Checked on Node 20, 22, 24 and 26.
 * @internal
 */
import * as net from 'node:net';
import { types } from 'node:util';
import type { Channel } from './channel';

/** The environment variable that turns every fast path off when set to `1`. */
export const NO_INTERNALS_ENV = 'PROJ_TCP_NO_INTERNALS';

/**
 * Which fast paths are in use, in this process or on one connection, and why
 * the others are not.
 */
export interface FastPaths {
  /**
   * `send` writes straight to the socket's handle (TCP, or over TLS the TLS
   * handle). On a connection that does, a write still goes through
   * `socket.write` while the socket's stream holds a write of its own, and
   * over TLS when it is larger than the socket's high-water mark.
   */
  readonly directWrite: boolean;
  /** Accepted plain TCP sockets read through `onread` into a shared buffer (of a connection: its plain socket does, accepted or not). */
  readonly onreadAccept: boolean;
  /** TLS sockets (both sides) decrypt straight into that shared buffer, through `onread` too (of a connection: its TLS socket does). */
  readonly tlsOnread: boolean;
  /**
   * A TLS `send` resolves once the TLS layer has encrypted the bytes (as a
   * plain one does once the kernel has them), not a turn of the event loop later.
   */
  readonly tlsWriteAtOnce: boolean;
  /** Why the fast paths are off, or `''` when they are on. */
  readonly reason: string;
}

/** A write request as the handle's `writeBuffer` takes it, with our own fields for the completion. @internal */
export interface WriteReq {
  handle: unknown;
  oncomplete: (this: WriteReq, status: number) => void;
  async: boolean;
  bytes: number;
  /** What a write in flight is written from, kept alive until it completes. */
  buffer: Uint8Array | readonly Uint8Array[] | null;
  owner: unknown;
}

/** The part of a TCP handle that direct writes use. @internal */
export interface WritableHandle {
  writeBuffer(req: WriteReq, data: Uint8Array): number;
  writev(req: WriteReq, chunks: readonly Uint8Array[], allBuffers: boolean): number;
}

interface StreamWrapBinding {
  WriteWrap: new () => WriteReq;
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
}

type SocketWithHandle = net.Socket & { _handle?: Record<string, unknown> | null };

function whyOff(): string {
  const env = process.env;
  if (env[NO_INTERNALS_ENV] === '1') return `${NO_INTERNALS_ENV}=1`;
  const pending = (flag: string): boolean =>
    process.execArgv.includes(flag) || (env.NODE_OPTIONS ?? '').split(/\s+/).includes(flag);
  if (pending('--pending-deprecation') || env.NODE_PENDING_DEPRECATION === '1') {
    return '--pending-deprecation (process.binding would print DEP0111)';
  }
  if (
    (process as { permission?: unknown }).permission !== undefined ||
    pending('--permission') ||
    pending('--experimental-permission')
  ) {
    return 'the permission model (process.binding is denied)';
  }
  return '';
}

function loadStreamWrap(): StreamWrapBinding | null {
  try {
    const binding = (process as unknown as { binding(name: string): Partial<StreamWrapBinding> }).binding(
      'stream_wrap',
    );
    return typeof binding.WriteWrap === 'function' &&
      // isInt32Array, not instanceof: the binding's array may come from another realm (a vm context, as in Jest).
      types.isInt32Array(binding.streamBaseState) &&
      typeof binding.kLastWriteWasAsync === 'number'
      ? (binding as StreamWrapBinding)
      : null;
  } catch {
    return null;
  }
}

/** Where `net.Socket` keeps its `onread` option: the symbols of its buffer and its callback. */
interface OnreadSlots {
  buffer: symbol;
  callback: symbol;
}

/**
 * Finds the slots by making a socket with `onread` (no handle, nothing opened)
 * and looking for the symbol properties that hold exactly what was given.
 */
function findOnreadSlots(): OnreadSlots | null {
  try {
    const buffer = Buffer.alloc(1);
    const callback = (): boolean => true;
    const probe = new net.Socket({ onread: { buffer, callback } } as net.SocketConstructorOpts) as unknown as Record<
      symbol,
      unknown
    >;
    let bufferSlot: symbol | undefined;
    let callbackSlot: symbol | undefined;
    for (const key of Object.getOwnPropertySymbols(probe)) {
      if (key.description === 'kBuffer' && probe[key] === buffer) bufferSlot = key;
      else if (key.description === 'kBufferCb' && probe[key] === callback) callbackSlot = key;
    }
    (probe as unknown as net.Socket).destroy();
    return bufferSlot !== undefined && callbackSlot !== undefined
      ? { buffer: bufferSlot, callback: callbackSlot }
      : null;
  } catch {
    return null;
  }
}

const reason = whyOff();
const streamWrap = reason === '' ? loadStreamWrap() : null;
const onreadSlots = reason === '' ? findOnreadSlots() : null;
const status: FastPaths = Object.freeze({
  directWrite: streamWrap !== null,
  onreadAccept: reason === '',
  tlsOnread: onreadSlots !== null,
  tlsWriteAtOnce: reason === '',
  reason:
    reason !== ''
      ? reason
      : streamWrap === null
        ? 'the stream_wrap binding has no WriteWrap'
        : onreadSlots === null
          ? "net.Socket's onread slots were not found: TLS reads through 'data' events"
          : '',
});

/**
 * Which fast paths this process uses, or (given a connection or client) which
 * ones that connection's socket uses now, and why the others are not. In a
 * process they are all on wherever Node has what they need, unless
 * `PROJ_TCP_NO_INTERNALS=1` is set; a connection may still be off one (a TLS
 * socket that had plaintext waiting in its stream when it was taken over
 * reads through `'data'` and writes through `socket.write`), and one that is
 * not connected uses none.
 *
 * @param channel - a `Connection` or `Client`; without it, the process's.
 *
 * @example
 * ```ts
 * import { fastPaths } from '@proj/tcp';
 * console.log(fastPaths()); // { directWrite: true, onreadAccept: true, tlsOnread: true, tlsWriteAtOnce: true, reason: '' }
 * server.onConnection((conn) => console.log(fastPaths(conn).directWrite));
 * ```
 */
export function fastPaths(channel?: Channel): FastPaths {
  return channel === undefined ? status : channel._fastPaths(status);
}

/**
 * Whether direct writes to `sock` can refresh its idle timer as
 * `socket.write` does (see the top of this file).
 * @internal
 */
export function refreshesIdleTimer(sock: net.Socket): boolean {
  return typeof (sock as { _unrefTimer?: unknown })._unrefTimer === 'function';
}

/** Refreshes the idle timer of `sock` (and of the TCP socket under a TLS one), as a write through `socket.write` does. @internal */
export function refreshIdleTimer(sock: net.Socket): void {
  (sock as unknown as { _unrefTimer(): void })._unrefTimer();
}

/** The handle of a connected socket, TCP or TLS, that direct writes can use, or `null` (off, not connected). @internal */
export function writableHandleOf(sock: net.Socket): WritableHandle | null {
  if (streamWrap === null) return null;
  const handle = (sock as SocketWithHandle)._handle;
  return handle && typeof handle.writeBuffer === 'function' && typeof handle.writev === 'function'
    ? (handle as unknown as WritableHandle)
    : null;
}

/**
 * Whether a `sock.write` made now is done with the caller's bytes when it
 * returns: `sock` is TLS and its stream holds nothing (queued or corked), so
 * the write goes straight to the TLS handle, which encrypts (or copies) the
 * plaintext before returning. `false` for plain sockets, whose handle writes
 * from the caller's bytes until the kernel has them, and when the fast path
 * is off.
 * @internal
 */
export function tlsWriteDoneOnReturn(sock: net.Socket): boolean {
  return (
    status.tlsWriteAtOnce &&
    (sock as { encrypted?: boolean }).encrypted === true &&
    sock.writableLength === 0 &&
    sock.writableCorked === 0
  );
}

/**
 * The request of the last direct write that finished inside its call. The
 * handle holds on to a request only while its write is in flight, so the next
 * write uses this one again: making a request (an object from a C++
 * template) was an eighth of a small write's user-space instructions.
 */
let spareReq: WriteReq | null = null;

/**
 * A new write request for {@link writableHandleOf}'s handle; only call it
 * when that gave a handle. `owner` is for `oncomplete` to find.
 * @internal
 */
export function makeWriteReq(handle: WritableHandle, oncomplete: WriteReq['oncomplete'], owner: unknown): WriteReq {
  const req = new streamWrap!.WriteWrap();
  req.handle = handle;
  req.oncomplete = oncomplete;
  req.async = false;
  req.bytes = 0;
  req.buffer = null;
  req.owner = owner;
  return req;
}

/**
 * A write request for {@link writableHandleOf}'s handle, the spare one when
 * there is one; only call it when that gave a handle, and tell
 * {@link writeInFlight} how the write went.
 * @internal
 */
export function newWriteReq(handle: WritableHandle, oncomplete: WriteReq['oncomplete']): WriteReq {
  const req = spareReq;
  if (req === null) return makeWriteReq(handle, oncomplete, null);
  // Its other fields are still a fresh request's: a write that finished at once set none of them.
  spareReq = null;
  req.handle = handle;
  req.oncomplete = oncomplete;
  return req;
}

/**
 * Whether the last direct write, which succeeded (status 0), is still in
 * flight: the handle completes it later, calling its request's `oncomplete`.
 * Plain TCP: the kernel did not take it all at once. TLS: always, on every
 * Node line so far (the handle encrypts the bytes inside the call, and
 * reports the write done a turn later). (A failed write is not asked: a handle
 * that refused the call, closed, did not update the state read here.)
 * @internal
 */
export function lastWriteAsync(): boolean {
  return streamWrap!.streamBaseState[streamWrap!.kLastWriteWasAsync] !== 0;
}

/**
 * {@link lastWriteAsync} for a write issued with a request from
 * {@link newWriteReq}; one that finished at once gives `req` back for the
 * next write. (A failed write may have left its error on its request: it is
 * not asked.)
 * @internal
 */
export function writeInFlight(req: WriteReq): boolean {
  if (lastWriteAsync()) return true;
  spareReq = req;
  return false;
}

/**
 * Moves the TCP handle of a freshly accepted, paused socket to a new socket
 * made with `onread`. The old socket is left without a handle and destroyed,
 * which closes nothing. Returns `null`, and the caller keeps `sock`, when the
 * fast path is off or the socket is not the plain TCP socket this expects.
 * @internal
 */
export function adoptWithOnread(sock: net.Socket, onread: net.OnReadOpts): net.Socket | null {
  if (!status.onreadAccept) return null;
  const old = sock as SocketWithHandle;
  const handle = old._handle;
  if (!handle || typeof handle.readStart !== 'function') return null;
  old._handle = null;
  old.destroy();
  return new net.Socket({ handle, allowHalfOpen: true, onread } as net.SocketConstructorOpts);
}

/**
 * Makes a connected TLS socket deliver its plaintext through `onread`, as a
 * plain socket made with that option does: the TLS layer decrypts straight
 * into `onread.buffer` (its `useUserBuffer`) and `net.Socket`'s own read
 * callback hands the bytes to `onread.callback`, with no chunk allocated per
 * record and no readable-stream step; EOF, errors, `pause()`/`resume()` and
 * timeouts keep their usual paths. Returns `false`, changing nothing, when the
 * fast path is off, the socket is not what this expects, or plaintext is
 * already waiting in its stream (that socket then reads through `'data'`).
 * @internal
 */
export function readTlsThroughOnread(sock: net.Socket, onread: net.OnReadOpts): boolean {
  const slots = onreadSlots;
  const handle = (sock as SocketWithHandle)._handle as { useUserBuffer?: (buf: unknown) => void } | null | undefined;
  if (slots === null || !handle || typeof handle.useUserBuffer !== 'function' || sock.readableLength > 0) return false;
  const target = sock as unknown as Record<symbol, unknown>;
  target[slots.buffer] = onread.buffer;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- kept as net.Socket keeps it, which calls it with the socket as `this`
  target[slots.callback] = onread.callback;
  handle.useUserBuffer(onread.buffer);
  return true;
}

/** The operating system's file descriptor of a TCP socket, or `-1`. @internal */
export function fdOf(sock: net.Socket): number {
  const fd = (sock as SocketWithHandle)._handle?.fd;
  return typeof fd === 'number' ? fd : -1;
}
