/**
 * Helpers shared by the @proj/tcp tests: a server that hands each accepted
 * Connection to the test, TLS clients for the test certificate, and a guard
 * that no error or rejection escapes to the process.
 */
import type * as net from 'node:net';
import { Client, Connection, Server, type ServerOptions } from '../src';
import { makeTestCerts, type TestCerts } from '../../../test-support/certs';
import { closeAllRaw, rawConnect, rawServer, rawTlsConnect } from '../../../test-support/net';

export interface Served {
  server: Server;
  host: string;
  port: number;
  /** The next accepted Connection; it stays open (its handler waits) until the test closes it or shuts down. */
  nextConn(): Promise<Connection>;
  /** `server.shutdown(ms)`, and lets every waiting handler return. */
  shutdown(ms?: number): Promise<void>;
}

/**
 * Starts a {@link Server} on loopback port 0 whose handler hands each
 * Connection to the test instead of serving it, so the test drives the
 * Connection directly (its methods work from anywhere, as co's do).
 */
export async function serve(opts: { host?: string; certs?: TestCerts; options?: ServerOptions } = {}): Promise<Served> {
  const host = opts.host ?? '127.0.0.1';
  const ready: Connection[] = [];
  const waiting: Array<(c: Connection) => void> = [];
  const releases: Array<() => void> = [];
  const server = new Server(opts.options).onConnection(async (conn) => {
    const w = waiting.shift();
    if (w) w(conn);
    else ready.push(conn);
    await new Promise<void>((resolve) => releases.push(resolve));
  });
  if (opts.certs) await server.start(host, 0, opts.certs.keyPath, opts.certs.certPath);
  else await server.start(host, 0);
  const port = server.address()!.port;
  return {
    server,
    host,
    port,
    nextConn: () => {
      const c = ready.shift();
      return c ? Promise.resolve(c) : new Promise((resolve) => waiting.push(resolve));
    },
    shutdown: async (ms = 1000) => {
      await server.shutdown(ms);
      for (const r of releases) r();
    },
  };
}

/**
 * Watches for errors that escape to the process. Jest fails a test on its own
 * when one does; this also lets the test assert it and name what escaped.
 */
export function watchEscapes(): { escaped: unknown[]; stop(): unknown[] } {
  const escaped: unknown[] = [];
  const onEscape = (err: unknown): void => {
    escaped.push(err);
  };
  process.on('uncaughtException', onEscape);
  process.on('unhandledRejection', onEscape);
  return {
    escaped,
    stop: () => {
      process.off('uncaughtException', onEscape);
      process.off('unhandledRejection', onEscape);
      return escaped;
    },
  };
}

/**
 * Whether the raw socket `sock`, paused or never read, has stopped taking
 * bytes from the kernel: its stream buffer is at its high-water mark, so what
 * is sent to it from now on waits in the kernel's buffers and then in the
 * sender's. For tests that need a send held back by backpressure.
 */
export function stoppedReading(sock: net.Socket): boolean {
  return sock.readableLength >= sock.readableHighWaterMark;
}

/** Mebibytes. */
export const MiB = 1024 * 1024;

/** Which of our two channel classes a test drives, and whether over TLS. */
export interface Variant {
  name: string;
  side: 'Connection' | 'Client';
  tls: boolean;
  /** Loopback address to use; default 127.0.0.1. */
  host?: '127.0.0.1' | '::1';
}

export const VARIANTS: Variant[] = [
  { name: 'Connection over TCP', side: 'Connection', tls: false },
  { name: 'Client over TCP', side: 'Client', tls: false },
  { name: 'Connection over TLS', side: 'Connection', tls: true },
  { name: 'Client over TLS', side: 'Client', tls: true },
];

/** The same over IPv6 (::1), for the suites that run every variant. */
export const IPV6_VARIANTS: Variant[] = [
  { name: 'Connection over TCP on ::1', side: 'Connection', tls: false, host: '::1' },
  { name: 'Client over TLS on ::1', side: 'Client', tls: true, host: '::1' },
];

export interface Pair {
  /** Our end: a Connection (from our Server) or a Client (connected to a raw server). */
  ours: Connection | Client;
  /** The other end: a raw `node:net`/`node:tls` socket the test makes misbehave (allowHalfOpen). */
  peer: net.Socket;
  /** Closes both ends and whatever server was started. */
  close(): Promise<void>;
}

/**
 * One connection between one of our channels and a raw peer socket:
 * Connection side: our Server, a raw client; Client side: a raw server, our Client.
 */
export async function pair(variant: Variant, certs?: TestCerts, serverOptions?: ServerOptions): Promise<Pair> {
  if (variant.tls && !certs) throw new Error('a TLS pair needs certs');
  const host = variant.host ?? '127.0.0.1';
  if (variant.side === 'Connection') {
    const served = await serve({ host, certs: variant.tls ? certs : undefined, options: serverOptions });
    const peer = variant.tls
      ? await rawTlsConnect(served.port, { ca: certs!.cert, allowHalfOpen: true } as never, host)
      : await rawConnect(served.port, host, { allowHalfOpen: true });
    const ours = await served.nextConn();
    return {
      ours,
      peer,
      close: async () => {
        peer.destroy();
        await served.shutdown(500);
      },
    };
  }
  const raw = await rawServer(undefined, host, {
    allowHalfOpen: true,
    tls: variant.tls ? { key: certs!.key, cert: certs!.cert } : undefined,
  });
  const ours = variant.tls ? new Client(host, raw.port, true, { ca: certs!.cert }) : new Client(host, raw.port);
  if (!(await ours.connect(3000))) {
    await raw.close();
    throw new Error(`test client could not connect: ${ours.strerror()}`);
  }
  const peer = await raw.nextSocket();
  return {
    ours,
    peer,
    close: async () => {
      ours.close();
      await raw.close();
    },
  };
}

/**
 * What most files here set up, written once: the file's test certificates, and for each
 * variant a `describe` block (named after it) in which every test gets a fresh connected
 * {@link Pair} in `p`, closed after the test. `p` is one object whose fields are the current
 * test's pair, so tests use `p.ours` and `p.peer` as they are. Call it at the top level of a
 * file; what it returns gives the certificates to tests outside those blocks.
 */
export function describeConnectedPairs(
  variants: readonly Variant[],
  body: (p: Pair, variant: Variant) => void,
): { readonly certs: TestCerts } {
  let certs: TestCerts | undefined;
  beforeAll(async () => {
    certs = await makeTestCerts();
  });
  afterAll(() => certs?.cleanup());
  describe.each(variants)('$name', (variant) => {
    const p = {} as Pair;
    beforeEach(async () => {
      Object.assign(p, await pair(variant, certs));
    });
    afterEach(async () => {
      await p.close();
    });
    body(p, variant);
  });
  return {
    get certs(): TestCerts {
      if (certs === undefined) throw new Error('the test certificates are made in beforeAll: use them inside a test');
      return certs;
    },
  };
}

/**
 * Call once at the top of a test file. After each test it closes whatever the
 * test left open (every Server that started, every Client that connected, the
 * raw servers and sockets of test-support/net.ts) and then fails the test if
 * there was anything: a failing test never leaves Jest hanging, and a passing
 * one is held to closing what it opened. It records servers and clients by
 * wrapping `Server.prototype.start` and `Client.prototype.connect` with
 * pass-through functions (nothing of net/tls is touched).
 */
export function guardLeaks(): void {
  const servers = new Set<Server>();
  const clients = new Set<Client>();
  /* eslint-disable @typescript-eslint/unbound-method -- the originals, to put back; the wrappers call them with .apply(this) */
  const start = Server.prototype.start;
  const connect = Client.prototype.connect;
  /* eslint-enable @typescript-eslint/unbound-method */
  beforeAll(() => {
    Server.prototype.start = function (this: Server, ...args: Parameters<Server['start']>) {
      servers.add(this);
      return start.apply(this, args);
    };
    Client.prototype.connect = function (this: Client, ...args: Parameters<Client['connect']>) {
      clients.add(this);
      return connect.apply(this, args);
    };
  });
  afterAll(() => {
    Server.prototype.start = start;
    Client.prototype.connect = connect;
  });
  afterEach(async () => {
    const left: string[] = [];
    for (const c of clients) {
      if (c.socket() !== -1) left.push(`Client to ${c.ip}:${c.port}`);
      c.close();
    }
    clients.clear();
    for (const s of servers) {
      const addr = s.address();
      if (addr !== null) left.push(`Server listening on ${addr.ip}:${addr.port}`);
      if (s.connNum() > 0) left.push(`${s.connNum()} server connection(s)`);
      await s.shutdown(200);
    }
    servers.clear();
    left.push(...(await closeAllRaw()));
    if (left.length > 0) throw new Error(`the test left open: ${left.join('; ')}`);
  });
}
