/**
 * Argument checks shared by the channel's calls: a bad argument is a
 * programming error and throws at once, with a message that says what was
 * expected and what came.
 * @internal
 */

/** Checks the arguments shared by `recv` and `recvn`. @internal */
export function checkRecvArgs(buf: Uint8Array, n: number, ms: number): void {
  if (!(buf instanceof Uint8Array)) {
    throw new TypeError(`buf must be a Uint8Array or Buffer, got ${describe(buf)}`);
  }
  if (!Number.isInteger(n) || n < 1 || n > buf.length) {
    throw new RangeError(`n must be an integer from 1 to buf.length (${buf.length}), got ${n}`);
  }
  checkMs(ms);
}

/** Checks a timeout in milliseconds (negative: wait forever). @internal */
export function checkMs(ms: number): void {
  if (typeof ms !== 'number' || Number.isNaN(ms)) {
    throw new TypeError(`ms must be a number of milliseconds (negative: wait forever), got ${describe(ms)}`);
  }
}

/** What a value is, for error messages: its class name, `null`, or its `typeof`. @internal */
export function describe(v: unknown): string {
  return v === null ? 'null' : typeof v === 'object' ? (v.constructor?.name ?? 'object') : typeof v;
}
