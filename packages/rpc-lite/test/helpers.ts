/**
 * Helpers of the rpc-lite tests: a server on loopback port 0, a raw
 * `net.Socket` peer that reads frames by hand (to pin the wire format), the
 * error a call rejects with, and a guard that each test closes what it opened.
 */
import * as net from 'node:net';
import { Client } from '@proj/tcp';
import { RpcClient, RpcError, RpcServer, type RpcClientOptions, type RpcServerOptions } from '../src';
import { closeAllRaw, sleep } from '../../../test-support/net';

export interface Started {
  server: RpcServer;
  port: number;
  /** Errors the server reported through `onError`. */
  errors: Array<{ err: Error; peer: string | null }>;
}

/** Starts `server` (made with `options` plus an `onError` that records) on `host` port 0. */
export async function startServer(
  setup: (server: RpcServer) => void,
  options: RpcServerOptions = {},
  host = '127.0.0.1',
): Promise<Started> {
  const errors: Started['errors'] = [];
  const server = new RpcServer({ onError: (err, peer) => errors.push({ err, peer }), ...options });
  setup(server);
  await server.start(host, 0);
  return { server, port: server.address()!.port, errors };
}

/** Makers of clients and servers that an `afterEach` closes; see {@link closedAfterEach}. */
export interface PerTest {
  /** A client of `host:port`, closed after the test. */
  client: (port: number, options?: RpcClientOptions, host?: string) => RpcClient;
  /** {@link startServer}, and the server shut down after the test. */
  serve: (setup: (server: RpcServer) => void, options?: RpcServerOptions, host?: string) => Promise<Started>;
  /** Shuts `server` down after the test. */
  own: (server: RpcServer) => void;
}

/**
 * Call at the top of a test file (before {@link guardLeaks}): after each test
 * it closes the clients and shuts down the servers (with `graceMs`) made
 * through what it returns.
 */
export function closedAfterEach(graceMs = 1000): PerTest {
  const clients: RpcClient[] = [];
  const servers: RpcServer[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    for (const s of servers.splice(0)) await s.shutdown(graceMs);
  });
  return {
    client: (port, options = {}, host = '127.0.0.1') => {
      const c = new RpcClient(host, port, options);
      clients.push(c);
      return c;
    },
    serve: async (setup, options = {}, host = '127.0.0.1') => {
      const s = await startServer(setup, options, host);
      servers.push(s.server);
      return s;
    },
    own: (server) => {
      servers.push(server);
    },
  };
}

export { sleep };

/** The error `p` rejects with, checked to be an {@link RpcError}; fails if `p` resolves. */
export async function rejection(p: Promise<unknown>): Promise<RpcError> {
  const outcome = await p.then(
    (value: unknown) => ({ resolved: value }),
    (err: unknown) => ({ rejected: err }),
  );
  expect(outcome).toEqual({ rejected: expect.any(RpcError) });
  return (outcome as { rejected: RpcError }).rejected;
}

/** Resolves once `cond()` holds, checking every 5 ms; fails after `ms`. */
export async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

/**
 * Call once in a test file, after the file's own `afterEach` (the hooks of one
 * block run in order), so that it sees only what a test leaked. After each
 * test it closes whatever the test left open (every `RpcServer` started and
 * every `RpcClient` used during the test, the raw servers and sockets of
 * test-support/net.ts) and then fails the test if there was anything: a
 * failing test never leaves Jest hanging, and a passing one is held to
 * closing what it opened. What a file starts in `beforeAll` is its own
 * business. It records by wrapping `RpcServer.prototype.start`,
 * `RpcClient.prototype.call`/`notify` and `@proj/tcp`'s
 * `Client.prototype.connect` (the connections an `RpcClient` makes) with
 * pass-through functions, from `beforeEach` to `afterEach`.
 */
export function guardLeaks(): void {
  const servers = new Set<RpcServer>();
  const clients = new Set<RpcClient>();
  const connections = new Set<Client>();
  /* eslint-disable @typescript-eslint/unbound-method -- the originals, to put back; the wrappers call them with .apply(this) */
  const start = RpcServer.prototype.start;
  const call = RpcClient.prototype.call;
  const notify = RpcClient.prototype.notify;
  const connect = Client.prototype.connect;
  /* eslint-enable @typescript-eslint/unbound-method */
  beforeEach(() => {
    RpcServer.prototype.start = function (this: RpcServer, ...args: Parameters<RpcServer['start']>) {
      servers.add(this);
      return start.apply(this, args);
    };
    RpcClient.prototype.call = function <R>(this: RpcClient, ...args: Parameters<RpcClient['call']>): Promise<R> {
      clients.add(this);
      return call.apply(this, args) as Promise<R>;
    };
    RpcClient.prototype.notify = function (this: RpcClient, ...args: Parameters<RpcClient['notify']>) {
      clients.add(this);
      return notify.apply(this, args);
    };
    Client.prototype.connect = function (this: Client, ...args: Parameters<Client['connect']>) {
      connections.add(this);
      return connect.apply(this, args);
    };
  });
  afterEach(async () => {
    RpcServer.prototype.start = start;
    RpcClient.prototype.call = call;
    RpcClient.prototype.notify = notify;
    Client.prototype.connect = connect;
    const left: string[] = [];
    for (const c of connections) {
      if (c.socket() !== -1) left.push(`a client connection to ${c.ip}:${c.port}`);
    }
    for (const c of clients) await c.close();
    for (const c of connections) c.close();
    for (const s of servers) {
      const addr = s.address();
      if (addr !== null) left.push(`RpcServer listening on ${addr.ip}:${addr.port}`);
      if (s.connNum() > 0) left.push(`${s.connNum()} RpcServer connection(s)`);
      await s.shutdown(200);
    }
    servers.clear();
    clients.clear();
    connections.clear();
    left.push(...(await closeAllRaw()));
    if (left.length > 0) throw new Error(`the test left open: ${left.join('; ')}`);
  });
}

/** Frames `body`: 4-byte big-endian length, then the bytes. */
export function frame(body: number[] | Uint8Array): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length);
  return Buffer.concat([header, Buffer.from(body)]);
}

/** A raw socket that collects what it receives, and reads whole frames from it. */
export class RawPeer {
  readonly sock: net.Socket;
  private _buf = Buffer.alloc(0);
  private _ended = false;
  private _wake: (() => void) | null = null;
  readonly closed: Promise<void>;

  private constructor(sock: net.Socket) {
    this.sock = sock;
    sock.on('data', (chunk: Buffer) => {
      this._buf = Buffer.concat([this._buf, chunk]);
      this._wake?.();
    });
    sock.on('end', () => {
      this._ended = true;
      this._wake?.();
    });
    // A reset from the server is part of some tests: record it, never crash.
    sock.on('error', () => {
      this._ended = true;
      this._wake?.();
    });
    this.closed = new Promise((resolve) => sock.once('close', () => resolve()));
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ port, host, noDelay: true }, () => {
        sock.off('error', reject);
        resolve(new RawPeer(sock));
      });
      sock.once('error', reject);
    });
  }

  write(bytes: number[] | Uint8Array): void {
    this.sock.write(Buffer.from(bytes));
  }

  /** Waits for `n` bytes (or the end of the stream) for at most `ms`. */
  async bytes(n: number, ms = 3000): Promise<Buffer> {
    const deadline = Date.now() + ms;
    while (this._buf.length < n && !this._ended) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${n} bytes (have ${this._buf.length})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this._wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this._wake = null;
    }
    if (this._buf.length < n) throw new Error(`stream ended after ${this._buf.length} of ${n} bytes`);
    const out = this._buf.subarray(0, n);
    this._buf = this._buf.subarray(n);
    return out;
  }

  /** Reads one frame and returns its body. */
  async frame(ms = 3000): Promise<Buffer> {
    const header = await this.bytes(4, ms);
    return this.bytes(header.readUInt32BE(0), ms);
  }

  /** Resolves `true` once the server ended or reset the stream within `ms`, with nothing else received. */
  async endsWithin(ms = 3000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this._ended && Date.now() < deadline) await sleep(10);
    return this._ended && this._buf.length === 0;
  }

  destroy(): void {
    this.sock.destroy();
  }
}
