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
