/**
 * Raw `node:net` peers and small waiting helpers for network tests.
 *
 * Loopback only: every helper defaults to 127.0.0.1 and port 0, and callers
 * must pass only 127.0.0.1, ::1 or localhost. Each helper hands back
 * something to close: raw servers have `close()` (which also destroys every
 * socket they accepted); raw client sockets are destroyed by the caller.
 * Every raw socket gets an 'error' listener that records the error (see
 * {@link errorsOf}), so a peer that sees a reset never crashes the test.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { sleep } from '../app-support/src/sleep';

const recordedErrors = new WeakMap<net.Socket, Error[]>();

/** Raw servers and client sockets these helpers made that are still open, for {@link closeAllRaw}. */
const openRaw = new Map<{ close(): unknown; isOpen?(): boolean }, string>();

function trackSocket(sock: net.Socket, what: string): void {
  // A destroyed socket is closing already ('close' comes a turn later): not left open.
  const entry = { close: () => sock.destroy(), isOpen: () => !sock.destroyed };
  openRaw.set(entry, what);
  sock.once('close', () => openRaw.delete(entry));
}

/**
 * Closes every raw server and raw client socket these helpers made that is
 * still open, and says what they were: an `afterEach` safety net, so that a
 * failing test cannot leave Jest hanging, and a check that a passing one
 * closed what it opened.
 */
export async function closeAllRaw(): Promise<string[]> {
  const all = [...openRaw.entries()];
  openRaw.clear();
  const left = all.filter(([thing]) => thing.isOpen?.() ?? true);
  for (const [thing] of all) await thing.close();
  return left.map(([, what]) => what);
}

/** Records the errors of `sock` instead of letting them crash the process; returns the list. */
export function recordErrors(sock: net.Socket): Error[] {
  let list = recordedErrors.get(sock);
  if (list === undefined) {
    const errors: Error[] = [];
    recordedErrors.set(sock, errors);
    sock.on('error', (err) => errors.push(err));
    list = errors;
  }
  return list;
}

/** The errors a raw socket made by these helpers has reported so far. */
export function errorsOf(sock: net.Socket): Error[] {
  return recordErrors(sock);
}

export interface RawServer {
  readonly host: string;
  readonly port: number;
  /** Accepted sockets that are not closed yet. */
  readonly sockets: Set<net.Socket>;
  /** The next accepted socket (one already accepted and not yet taken, else the next to come). */
  nextSocket(): Promise<net.Socket>;
  /** Stops listening and destroys every accepted socket; resolves once the listener is closed. */
  close(): Promise<void>;
}

/**
 * A raw TCP server on loopback. `onSocket` runs for every accepted socket;
 * without it the server accepts and never reads (past the socket's small
 * read-ahead) nor answers: a peer that stalls senders. With `options.tls` (key and
 * cert) it is a raw `node:tls` server and `onSocket` gets the TLS socket once
 * the handshake is done.
 */
export async function rawServer(
  onSocket?: (sock: net.Socket) => void,
  host = '127.0.0.1',
  options: net.ServerOpts & { tls?: tls.TlsOptions } = {},
): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  const waiting: Array<(s: net.Socket) => void> = [];
  const ready: net.Socket[] = [];
  const { tls: tlsOptions, ...netOptions } = options;
  const accept = (sock: net.Socket): void => {
    recordErrors(sock);
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    onSocket?.(sock);
    const w = waiting.shift();
    if (w) w(sock);
    else ready.push(sock);
  };
  let server: net.Server;
  if (tlsOptions) {
    server = tls.createServer({ ...netOptions, ...tlsOptions }, accept);
    // A client that fails its handshake is part of some tests; it must not crash the process.
    server.on('tlsClientError', () => {});
  } else {
    server = net.createServer(netOptions, accept);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;
  const raw: RawServer = {
    host,
    port,
    sockets,
    nextSocket: () => {
      const s = ready.shift();
      return s ? Promise.resolve(s) : new Promise((resolve) => waiting.push(resolve));
    },
    close: () =>
      new Promise<void>((resolve) => {
        openRaw.delete(raw);
        for (const s of sockets) s.destroy();
        if (server.listening) server.close(() => resolve());
        else resolve();
      }),
  };
  openRaw.set(raw, `raw ${tlsOptions ? 'TLS ' : ''}server on ${host}:${port}`);
  return raw;
}

/**
 * A raw server that accepts and never answers: it discards whatever comes and
 * writes nothing, so a TLS handshake never starts (the peer for connect and
 * handshake timeouts). Discarding lets it see the client go (its sockets close).
 */
export function silentListener(host = '127.0.0.1'): Promise<RawServer> {
  return rawServer((sock) => sock.resume(), host);
}

/** A raw echo server: writes back every chunk, and ends its side when the peer ends. */
export function rawEchoServer(host = '127.0.0.1'): Promise<RawServer> {
  return rawServer(
    (sock) => {
      sock.on('data', (chunk) => sock.write(chunk));
      sock.on('end', () => sock.end());
    },
    host,
    { allowHalfOpen: true },
  );
}

/** Connects a raw TLS socket and waits for its handshake (errors recorded afterwards); the caller destroys it. */
export function rawTlsConnect(
  port: number,
  options: tls.ConnectionOptions,
  host = '127.0.0.1',
): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    // Over an explicit TCP socket, so that resetSocket() can send an RST under the TLS layer.
    const tcp = net.connect({ port, host });
    recordErrors(tcp);
    trackSocket(tcp, `raw TLS client socket to ${host}:${port}`);
    const sock = tls.connect({ host, ...options, socket: tcp });
    const onError = (err: Error): void => {
      sock.destroy();
      reject(err);
    };
    sock.once('error', onError);
    sock.once('secureConnect', () => {
      sock.off('error', onError);
      recordErrors(sock);
      resolve(sock);
    });
  });
}

/** Connects a raw socket (errors recorded, never thrown); the caller destroys it. */
export function rawConnect(
  port: number,
  host = '127.0.0.1',
  options: Partial<net.TcpNetConnectOpts> = {},
): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ ...options, port, host });
    trackSocket(sock, `raw client socket to ${host}:${port}`);
    const onError = (err: Error): void => reject(err);
    sock.once('error', onError);
    sock.once('connect', () => {
      sock.off('error', onError);
      recordErrors(sock);
      resolve(sock);
    });
  });
}

export interface ReadResult {
  /** Every byte read before the stream ended. */
  data: Buffer;
  /** `'end'`: the peer's FIN; `'error'`: see `error`; `'close'`: closed without either. */
  how: 'end' | 'error' | 'close';
  error?: NodeJS.ErrnoException;
}

/** Reads `sock` until FIN, error or close; with `everyMs`, reads slowly (one chunk, then a pause). */
export function readToEnd(sock: net.Socket, everyMs = 0): Promise<ReadResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (how: ReadResult['how'], error?: Error): void => {
      if (settled) return;
      settled = true;
      resolve({ data: Buffer.concat(chunks), how, error });
    };
    recordErrors(sock);
    sock.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (everyMs > 0) {
        sock.pause();
        setTimeout(() => sock.resume(), everyMs);
      }
    });
    sock.once('end', () => finish('end'));
    sock.once('error', (err) => finish('error', err));
    sock.once('close', () => finish('close'));
  });
}

/**
 * Connects a raw socket and reads until FIN, error or close, including an
 * error of the connect itself (a server that resets a connection at once can
 * make the connect fail with ECONNRESET). The socket is destroyed afterwards.
 */
export async function connectAndRead(port: number, host = '127.0.0.1'): Promise<ReadResult> {
  const sock = net.connect({ port, host });
  trackSocket(sock, `raw client socket to ${host}:${port}`);
  try {
    return await readToEnd(sock);
  } finally {
    sock.destroy();
  }
}

/**
 * Aborts `sock` with an RST. For a TLS socket the reset goes to the TCP socket
 * under it (a TLS socket made by `tls.connect({ socket })` or by a TLS server),
 * and the TLS socket is left to close by itself: destroying it in the same
 * tick can crash Node 20 (a segfault) when the handshake has just finished.
 */
export function resetSocket(sock: net.Socket): void {
  const parent = (sock as net.Socket & { _parent?: unknown })._parent;
  const raw = parent instanceof net.Socket ? parent : sock;
  raw.resetAndDestroy();
}

/** The one `sleep` of the workspace (app-support's): resolves after `ms`. */
export { sleep };

/** Polls `cond` every few milliseconds; rejects naming `what` if it is still false after `timeoutMs`. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** A loopback port that nothing listens on: bound to port 0, read and released (the OS hands it out again only much later). */
export async function closedPort(host = '127.0.0.1'): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * The pattern stream repeats a block of pseudo-random bytes whose length is a
 * prime, so no small loss, duplication or reordering of bytes goes unseen;
 * copying from the block keeps making many MiB of it cheap.
 */
const PATTERN_PERIOD = 1_000_003;
const PATTERN_BLOCK = ((): Buffer => {
  const block = Buffer.allocUnsafe(PATTERN_PERIOD);
  let x = 0x9e3779b9;
  for (let i = 0; i < PATTERN_PERIOD; i++) {
    // xorshift32
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    block[i] = x & 0xff;
  }
  return block;
})();

/** Byte `i` of an endless, deterministic stream of bytes (see {@link pattern}). */
export function patternByte(i: number): number {
  return PATTERN_BLOCK[i % PATTERN_PERIOD];
}

/** Bytes `offset .. offset+length` of the {@link patternByte} stream. */
export function pattern(offset: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const at = (offset + done) % PATTERN_PERIOD;
    done += PATTERN_BLOCK.copy(out, done, at, Math.min(PATTERN_PERIOD, at + length - done));
  }
  return out;
}

/** Longest slice {@link patternSlice} hands out. */
export const PATTERN_SLICE_MAX = 1024 * 1024;
let patternTwice: Buffer | null = null;

/**
 * Bytes `offset .. offset+length` of the pattern as a read-only view, with no
 * allocation (`length <= PATTERN_SLICE_MAX`): for tests that push or check many
 * MiB and measure memory meanwhile. Never write into it.
 */
export function patternSlice(offset: number, length: number): Buffer {
  if (length > PATTERN_SLICE_MAX) throw new RangeError(`patternSlice: at most ${PATTERN_SLICE_MAX} bytes`);
  patternTwice ??= pattern(0, PATTERN_PERIOD + PATTERN_SLICE_MAX);
  const at = offset % PATTERN_PERIOD;
  return patternTwice.subarray(at, at + length);
}

/** Index of the first byte of `got[0..length)` that differs from the pattern at `offset`, or -1. */
export function firstPatternMismatch(got: Uint8Array, offset: number, length = got.length): number {
  const want = length <= PATTERN_SLICE_MAX ? patternSlice(offset, length) : pattern(offset, length);
  const view = Buffer.from(got.buffer, got.byteOffset, length);
  if (view.equals(want)) return -1;
  for (let i = 0; i < length; i++) if (view[i] !== want[i]) return i;
  return -1;
}

/** A promise with its resolve function outside. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
