/**
 * Every use of Node.js internals in this package, behind one switch.
 *
 * Two fast paths need things Node does not promise:
 *
 * - **Direct writes**: `send` on a plain TCP socket writes straight to the
 *   socket's handle (`socket._handle.writeBuffer`) with a `WriteWrap` request
 *   from the `stream_wrap` binding (`process.binding`), as `net.Socket` itself
 *   does underneath, skipping the writable-stream layer.
 * - **Accepting into `onread`**: `net.Server` cannot give its sockets the
 *   public `onread` option, so an accepted (paused) socket's handle
 *   (`socket._handle`) moves to a new `net.Socket({ handle, onread })`.
 *
 * Both are feature-detected when this module loads, and both are off when the
 * environment variable `PROJ_TCP_NO_INTERNALS=1` is set, or where reaching
 * them would print something: under `--pending-deprecation` (where
 * `process.binding` warns, DEP0111) and under the permission model (where it
 * throws). Off, the package uses only public API: `socket.write`, and
 * `'data'` events on accepted sockets. Every guarantee holds on both paths;
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

/** The environment variable that turns every fast path off when set to `1`. */
export const NO_INTERNALS_ENV = 'PROJ_TCP_NO_INTERNALS';

/** Which fast paths are in use in this process, and why the others are not. */
export interface FastPaths {
  /** `send` on plain TCP writes straight to the socket's handle. */
  readonly directWrite: boolean;
  /** Accepted plain TCP sockets read through `onread` into a shared buffer. */
  readonly onreadAccept: boolean;
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
  if ((process as { permission?: unknown }).permission !== undefined || pending('--permission') || pending('--experimental-permission')) {
    return 'the permission model (process.binding is denied)';
  }
  return '';
}

function loadStreamWrap(): StreamWrapBinding | null {
  try {
    const binding = (process as unknown as { binding(name: string): Partial<StreamWrapBinding> }).binding('stream_wrap');
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

const reason = whyOff();
const streamWrap = reason === '' ? loadStreamWrap() : null;
const status: FastPaths = Object.freeze({
  directWrite: streamWrap !== null,
  onreadAccept: reason === '',
  reason: reason !== '' ? reason : streamWrap === null ? 'the stream_wrap binding has no WriteWrap' : '',
});

/**
 * Which fast paths this process uses. Both are on wherever Node has what they
 * need, unless `PROJ_TCP_NO_INTERNALS=1` is set.
 *
 * @example
 * ```ts
 * import { fastPaths } from '@proj/tcp';
 * console.log(fastPaths()); // { directWrite: true, onreadAccept: true, reason: '' }
 * ```
 */
export function fastPaths(): FastPaths {
  return status;
}

/** The handle of a plain TCP socket that direct writes can use, or `null` (off, TLS, not connected). @internal */
export function writableHandleOf(sock: net.Socket): WritableHandle | null {
  if (streamWrap === null) return null;
  const handle = (sock as SocketWithHandle)._handle;
  return handle && typeof handle.writeBuffer === 'function' && typeof handle.writev === 'function'
    ? (handle as unknown as WritableHandle)
    : null;
}

/** A fresh write request for {@link writableHandleOf}'s handle; only call it when that gave a handle. @internal */
export function newWriteReq(handle: WritableHandle, oncomplete: WriteReq['oncomplete']): WriteReq {
  const req = new streamWrap!.WriteWrap();
  req.handle = handle;
  req.oncomplete = oncomplete;
  req.async = false;
  req.bytes = 0;
  req.buffer = null;
  req.owner = null;
  return req;
}

/** Whether the write just issued on a handle is still in flight (the kernel did not take it all at once). @internal */
export function lastWriteWasAsync(): boolean {
  return streamWrap!.streamBaseState[streamWrap!.kLastWriteWasAsync] !== 0;
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

/** The operating system's file descriptor of a TCP socket, or `-1`. @internal */
export function fdOf(sock: net.Socket): number {
  const fd = (sock as SocketWithHandle)._handle?.fd;
  return typeof fd === 'number' ? fd : -1;
}
