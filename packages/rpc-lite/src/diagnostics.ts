/**
 * Tracing on `node:diagnostics_channel`, as `@proj/tcp` and undici do it: an
 * APM or a test subscribes by channel name; nothing is built or published
 * while nobody listens. The channels and their messages are listed in the
 * package README.
 *
 * Whether a call (or a request on the server) is traced is decided once, when
 * it starts, and kept with it as a {@link TraceStart} or `null`: an untraced
 * call allocates nothing for tracing and reads no clock, and a subscriber
 * that arrives in the middle of a call sees no end without its start. The
 * start is a small object rather than a number field holding `-1` for "not
 * traced": once such a field has held a fractional time, V8 keeps a boxed
 * number for it in every new object (16 bytes per call, traced or not).
 */
import * as dc from 'node:diagnostics_channel';
import type { RpcContext } from './context';
import type { RpcError } from './errors';

/** The names of the channels this package publishes on. */
export const RpcChannels = {
  /** A client call started: `{ call, method, address, port }`. */
  callStart: 'proj:rpc-lite:call.start',
  /** A client call got its result: `{ call, method, address, port, durationMs }`. */
  callEnd: 'proj:rpc-lite:call.end',
  /** A client call failed: `{ call, method, address, port, durationMs, code, remote, error }`. */
  callError: 'proj:rpc-lite:call.error',
  /** The server starts serving a request or notification: `{ request, method, peer }`. */
  requestStart: 'proj:rpc-lite:request.start',
  /** The server is done with it: `{ request, method, peer, durationMs, ok, code }`. */
  requestEnd: 'proj:rpc-lite:request.end',
} as const;

/** @internal */
export const callStart = dc.channel(RpcChannels.callStart);
/** @internal */
export const callEnd = dc.channel(RpcChannels.callEnd);
/** @internal */
export const callError = dc.channel(RpcChannels.callError);
/** @internal */
export const requestStart = dc.channel(RpcChannels.requestStart);
/** @internal */
export const requestEnd = dc.channel(RpcChannels.requestEnd);

/** When a traced call or request started (`performance.now()`). @internal */
export interface TraceStart {
  readonly startedAt: number;
}

/** Whether a call starting now is traced: someone listens on one of the call channels. @internal */
export function callsTraced(): boolean {
  return callStart.hasSubscribers || callEnd.hasSubscribers || callError.hasSubscribers;
}

/** Whether a request starting now is traced. @internal */
export function requestsTraced(): boolean {
  return requestStart.hasSubscribers || requestEnd.hasSubscribers;
}

/** The message of `proj:rpc-lite:call.start`. */
export interface CallStartMessage {
  /**
   * The call: the very promise `client.call()` returned, the same object in
   * the call's start and in its end or error (to match them, e.g. in a `WeakMap`).
   */
  call: Promise<unknown>;
  /** The method called. */
  method: string;
  /** The server's host, as given to the `RpcClient`. */
  address: string;
  /** The server's port. */
  port: number;
}

/** The message of `proj:rpc-lite:call.end`: the call resolved. */
export interface CallEndMessage extends CallStartMessage {
  /** Milliseconds from `call()` to the result, connecting and waiting for room to send included. */
  durationMs: number;
}

/** The message of `proj:rpc-lite:call.error`: the call rejected. */
export interface CallErrorMessage extends CallEndMessage {
  /** `error.code`: `TIMEOUT`, `ABORTED`, `CONNECTION_CLOSED`, `METHOD_NOT_FOUND`, a handler's own code, ... */
  code: string;
  /** `error.remote`: `true` when the server reported the error, `false` when it happened here. */
  remote: boolean;
  /** The error the call rejected with. */
  error: RpcError;
}

/** The message of `proj:rpc-lite:request.start`. */
export interface RequestStartMessage {
  /**
   * The request: the {@link RpcContext} its handler is given (`msgid` `null`
   * for a notification), the same object in its start and its end.
   */
  request: RpcContext;
  /** The method called. */
  method: string;
  /** `"ip:port"` of the client (`"[ip]:port"` for IPv6). */
  peer: string;
}

/** The message of `proj:rpc-lite:request.end`. */
export interface RequestEndMessage extends RequestStartMessage {
  /** Milliseconds from the start to the handler's return or settlement. */
  durationMs: number;
  /** Whether the caller is sent a result (`false`: an error; see `code`). */
  ok: boolean;
  /**
   * `null` when `ok`; else the code the caller is sent: the handler's own
   * code or `HANDLER_ERROR`, `METHOD_NOT_FOUND`, `FRAME_TOO_LARGE` (a result
   * too large to send), `CONNECTION_CLOSED` (not run: the server is shutting down).
   */
  code: string | null;
}
