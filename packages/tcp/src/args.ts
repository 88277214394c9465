/**
 * Argument checks shared by the channel's calls: a bad argument is a
 * programming error and throws at once, with a message that says what was
 * expected and what came.
 * @internal
 */

/** Checks the arguments shared by `recv` and `recvn`. @internal */
export function checkRecvArgs(buf: Uint8Array, n: number): void {
  checkBuffer(buf);
  if (!Number.isInteger(n) || n < 1 || n > buf.length) {
    throw new RangeError(`n must be an integer from 1 to buf.length (${buf.length}), got ${n}`);
  }
}

/** Checks that `buf` is a Uint8Array (a Buffer is one). */
function checkBuffer(buf: Uint8Array): void {
  if (!(buf instanceof Uint8Array)) {
    throw new TypeError(`buf must be a Uint8Array or Buffer, got ${describe(buf)}`);
  }
}

/**
 * Checks the chunks given to `sendv` and gives them as bytes: the array itself
 * when every chunk is bytes already, else a copy with strings as UTF-8.
 * @internal
 */
export function sendvChunks(chunks: readonly (Uint8Array | string)[]): readonly Uint8Array[] {
  if (!Array.isArray(chunks))
    throw new TypeError(`chunks must be an array of Uint8Array/Buffer/string, got ${describe(chunks)}`);
  let out: Uint8Array[] | null = null;
  for (let i = 0; i < chunks.length; i++) {
    const c: unknown = chunks[i];
    if (c instanceof Uint8Array) {
      if (out !== null) out[i] = c;
    } else if (typeof c === 'string') {
      out ??= chunks.slice(0, i) as Uint8Array[];
      out[i] = Buffer.from(c);
    } else {
      throw new TypeError(`chunks[${i}] must be a Uint8Array, Buffer or string, got ${describe(c)}`);
    }
  }
  return out ?? (chunks as readonly Uint8Array[]);
}

/**
 * Checks a timeout in milliseconds: negative or `Infinity` waits forever, and
 * any other value is honoured as given, however large (see timers.ts). @internal
 */
export function checkMs(ms: number): void {
  if (typeof ms !== 'number' || Number.isNaN(ms)) {
    throw new TypeError(`ms must be a number of milliseconds (negative: wait forever), got ${describe(ms)}`);
  }
}

/** What a value is, for error messages: its class name, `null`, or its `typeof`. @internal */
export function describe(v: unknown): string {
  return v === null ? 'null' : typeof v === 'object' ? (v.constructor?.name ?? 'object') : typeof v;
}

/**
 * How long a call may wait, and what may cancel it: in place of a number of
 * milliseconds, every call that waits takes this.
 */
export interface WaitOptions {
  /** Timeout in milliseconds; negative, `Infinity` or absent waits forever. Any other value is honoured, however large. */
  ms?: number;
  /** Cancels the call: a read consumes nothing, a send resets the connection (code `ABORT_ERR`). */
  signal?: AbortSignal;
}

/** The timeout of `opts` (`ms`, or a {@link WaitOptions}), checked; `absent` when it gives none. @internal */
export function waitMs(opts: number | WaitOptions | undefined, absent = -1): number {
  if (typeof opts === 'number' || opts === undefined) {
    checkMs(opts ?? absent);
    return opts ?? absent;
  }
  if (opts === null || typeof opts !== 'object') {
    throw new TypeError(`expected a number of milliseconds or { ms, signal }, got ${describe(opts)}`);
  }
  // A misspelt key (`timeout`, `ms_`) would otherwise wait forever, silently.
  for (const key in opts) {
    if (key !== 'ms' && key !== 'signal') {
      throw new TypeError(
        `unknown wait option "${key}"; known: ms (milliseconds, negative or Infinity: forever), signal`,
      );
    }
  }
  const ms = opts.ms ?? absent;
  checkMs(ms);
  return ms;
}

/** The signal of `opts`, checked; `null` when there is none. Call after {@link waitMs}. @internal */
export function waitSignal(opts: number | WaitOptions | undefined): AbortSignal | null {
  if (typeof opts !== 'object' || opts.signal === undefined) return null;
  const signal = opts.signal;
  if (
    signal === null ||
    typeof signal !== 'object' ||
    typeof signal.aborted !== 'boolean' ||
    typeof signal.addEventListener !== 'function'
  ) {
    throw new TypeError(`signal must be an AbortSignal, got ${describe(signal)}`);
  }
  return signal;
}

/** One-byte delimiters, made once. */
const BYTE_DELIMS = Array.from({ length: 256 }, (_, b) => Buffer.from([b]));
/**
 * The last longer string delimiter and its bytes: a parser passes the same
 * one (say `'\r\n'`) call after call, and gets the same bytes back, with no
 * encoding per call; a channel then knows them again as the delimiter its
 * last tryRecvUntil searched for.
 */
let lastDelimString: string | null = null;
let lastDelimBytes: Uint8Array = BYTE_DELIMS[0];

/** Checks a `recvUntil` delimiter and gives its bytes: a byte value, or 1 to 16 bytes (a string as UTF-8). */
function delimiterBytes(delim: number | Uint8Array | string): Uint8Array {
  if (typeof delim === 'number') {
    if (!Number.isInteger(delim) || delim < 0 || delim > 255) {
      throw new RangeError(`a delimiter byte must be an integer from 0 to 255, got ${delim}`);
    }
    return BYTE_DELIMS[delim];
  }
  let bytes: Uint8Array;
  if (typeof delim === 'string') {
    if (delim.length === 1 && delim.charCodeAt(0) < 0x80) return BYTE_DELIMS[delim.charCodeAt(0)];
    if (delim === lastDelimString) return lastDelimBytes;
    bytes = Buffer.from(delim);
  } else if (delim instanceof Uint8Array) {
    bytes = delim;
  } else {
    throw new TypeError(`delim must be a byte value, a Uint8Array or a string, got ${describe(delim)}`);
  }
  if (bytes.length < 1 || bytes.length > 16) {
    throw new RangeError(`a delimiter must be 1 to 16 bytes long, got ${bytes.length}`);
  }
  if (typeof delim === 'string') {
    lastDelimString = delim;
    lastDelimBytes = bytes;
  }
  return bytes;
}

/** Checks the arguments of `recvUntil`/`tryRecvUntil` and gives the delimiter's bytes. @internal */
export function untilDelimiter(buf: Uint8Array, delim: number | Uint8Array | string): Uint8Array {
  checkBuffer(buf);
  const bytes = delimiterBytes(delim);
  if (buf.length < bytes.length) {
    throw new RangeError(`buf (${buf.length} bytes) is shorter than the delimiter (${bytes.length} bytes)`);
  }
  return bytes;
}
