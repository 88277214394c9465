/**
 * Hostile peers on loopback, real sockets, real TLS. Each test runs a
 * well-behaved client against the same server while a raw `node:net`/`node:tls`
 * peer misbehaves, and checks three things: our side gets a clear result with
 * a stable code, the well-behaved client is served throughout, and nothing is
 * left open (connNum back to 0, every socket closed).
 *
 * Peers: reset in the middle of a recvn; half-close (FIN) and keep reading;
 * connect and stall (the Server's idleTimeoutMs), trickle one byte at a time
 * (the handler's own recvn timeout); connect to a TLS server and send nothing
 * (handshakeTimeoutMs) or close during the handshake; renegotiate TLS 1.2
 * again and again; a TLS ClientHello to a plain server; plain bytes to a TLS
 * server.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { Client, Server, TcpError, type Connection, type ServerOptions } from '../src';
import { makeTestCerts, type TestCerts } from '../../../libs/test-support/certs';
import {
  firstPatternMismatch,
  patternSlice,
  rawConnect,
  rawServer,
  rawTlsConnect,
  readToEnd,
  recordErrors,
  resetSocket,
  sleep,
  waitFor,
} from '../../../libs/test-support/net';
import { openFds } from '../../../libs/test-support/hostile';

/** The block size of the echo protocol the handler and the good client speak. */
const BLOCK = 64;
/** What the handler sends after the peer's FIN: more than one read's worth, so the peer must keep reading. */
const TRAILER_BYTES = 256 * 1024;
const TRAILER_OFFSET = 7_777_777;

let certs: TestCerts;
beforeAll(async () => {
  certs = await makeTestCerts();
});
afterAll(() => certs.cleanup());

/** How one connection's handler ended. */
interface Outcome {
  peer: string;
  /** The last recvn's result (`-2`: a send failed). */
  n: number;
  code: string | null;
  /** Blocks echoed. */
  blocks: number;
  /** The first bytes the handler received (up to one block). */
  first: Buffer;
  /** The trailer sent after the peer's FIN resolved this (null: no FIN). */
  trailerSent: number | null;
}

/**
 * A Server speaking a block echo: recvn a block (with `recvMs`), send it back,
 * until the peer closes or fails; after a FIN it sends a trailer, then returns.
 */
class Harness {
  private constructor(
    readonly server: Server,
    readonly port: number,
    readonly tls: boolean,
    /** How each handler ended, in order. */
    readonly outcomes: Outcome[],
    /** What the server reported through onError. */
    readonly errors: TcpError[],
    /** Each handler's Connection, by its peer's address. */
    private readonly _conns: Map<string, Connection>,
  ) {}

  static async start(useTls: boolean, options: ServerOptions = {}, recvMs = 5000): Promise<Harness> {
    const errors: TcpError[] = [];
    const outcomes: Outcome[] = [];
    const conns = new Map<string, Connection>();
    const server = new Server({ ...options, onError: (err) => void errors.push(err) }).onConnection(
      async (conn: Connection) => {
        conns.set(conn.peer(), conn);
        const buf = Buffer.allocUnsafe(BLOCK);
        let first = Buffer.alloc(0);
        let blocks = 0;
        let n: number;
        let trailerSent: number | null = null;
        for (;;) {
          n = await conn.recvn(buf, BLOCK, recvMs);
          if (n !== BLOCK) break;
          if (blocks === 0) first = Buffer.from(buf);
          if ((await conn.send(buf, BLOCK)) !== BLOCK) {
            n = -2;
            break;
          }
          blocks++;
        }
        const code = conn.lastError?.code ?? null;
        if (n === 0) trailerSent = await conn.send(patternSlice(TRAILER_OFFSET, TRAILER_BYTES));
        outcomes.push({ peer: conn.peer(), n, code, blocks, first, trailerSent });
      },
    );
    if (useTls) await server.start('127.0.0.1', 0, certs.keyPath, certs.certPath);
    else await server.start('127.0.0.1', 0);
    return new Harness(server, server.address()!.port, useTls, outcomes, errors, conns);
  }

  /** A raw peer: a plain socket, or a TLS socket past its handshake, both allowHalfOpen. */
  rawPeer(): Promise<net.Socket> {
    return this.tls
      ? rawTlsConnect(this.port, { ca: certs.cert, allowHalfOpen: true } as tls.ConnectionOptions)
      : rawConnect(this.port, '127.0.0.1', { allowHalfOpen: true });
  }

  /** Bytes the handler serving `sock` has received so far (0 before it starts). */
  bytesReadFrom(sock: net.Socket): number {
    return this._conns.get(`127.0.0.1:${localPortOf(sock)}`)?.bytesRead ?? 0;
  }

  /** The outcome of the handler serving `sock` (waits for it). */
  async outcomeOf(sock: net.Socket, ms = 3000): Promise<Outcome> {
    const key = `127.0.0.1:${localPortOf(sock)}`;
    await waitFor(() => this.outcomes.some((o) => o.peer === key), `the handler of ${key} to end`, ms);
    return this.outcomes.find((o) => o.peer === key)!;
  }

  async close(): Promise<void> {
    await this.server.shutdown(500);
  }
}

const localPorts = new WeakMap<net.Socket, number>();
/** The local port of a raw peer, remembered from the first call (a closed socket no longer knows it). */
function localPortOf(sock: net.Socket): number {
  let port = localPorts.get(sock);
  if (port === undefined) {
    const parent = (sock as net.Socket & { _parent?: unknown })._parent;
    port = (parent instanceof net.Socket ? parent : sock).localPort!;
    localPorts.set(sock, port);
  }
  return port;
}

/** Our Client doing block round trips (checked against the pattern) until stopped. */
class GoodClient {
  rounds = 0;
  readonly failures: string[] = [];
  private _stop = false;
  private readonly _done: Promise<void>;

  constructor(port: number, useTls: boolean) {
    this._done = this._run(port, useTls);
  }

  private async _run(port: number, useTls: boolean): Promise<void> {
    const c = useTls ? new Client('127.0.0.1', port, true, { ca: certs.cert }) : new Client('127.0.0.1', port);
    try {
      if (!(await c.connect(3000))) {
        this.failures.push(`connect: ${c.lastError?.code}`);
        return;
      }
      const got = Buffer.alloc(BLOCK);
      let offset = 0;
      while (!this._stop) {
        const sent = await c.send(patternSlice(offset, BLOCK), BLOCK, 3000);
        if (sent !== BLOCK) {
          this.failures.push(`send ${sent}: ${c.lastError?.code}`);
          return;
        }
        const n = await c.recvn(got, BLOCK, 3000);
        if (n !== BLOCK) {
          this.failures.push(`recvn ${n}: ${c.lastError?.code}`);
          return;
        }
        if (firstPatternMismatch(got, offset) !== -1) this.failures.push(`wrong echo at ${offset}`);
        offset += BLOCK;
        this.rounds++;
        await sleep(2); // part of the scenario: a steady client, not a busy loop; nothing waits on this pause
      }
    } finally {
      c.close();
    }
  }

  /** Stops after the round trip under way; resolves with what was done. */
  async stop(): Promise<{ rounds: number; failures: string[] }> {
    this._stop = true;
    await this._done;
    return { rounds: this.rounds, failures: this.failures };
  }
}

/** Waits for `good` to make progress, so "served alongside" means served during the test. */
async function progresses(good: GoodClient, rounds = 5): Promise<void> {
  const from = good.rounds;
  await waitFor(
    () => good.rounds >= from + rounds || good.failures.length > 0,
    'the good client to make progress',
    5000,
  );
  expect(good.failures).toEqual([]);
}

async function finish(h: Harness, good: GoodClient): Promise<void> {
  const r = await good.stop();
  expect(r.failures).toEqual([]);
  expect(r.rounds).toBeGreaterThan(0);
  await waitFor(() => h.server.connNum() === 0, 'connNum to return to 0');
}

const open: Array<{ close(): Promise<void> | void }> = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});
function closeLater<T extends { close(): Promise<void> | void }>(o: T): T {
  open.push(o);
  return o;
}
function destroyLater(sock: net.Socket): net.Socket {
  localPortOf(sock);
  open.push({ close: () => void sock.destroy() });
  return sock;
}

describe.each([
  { name: 'plain', useTls: false },
  { name: 'TLS', useTls: true },
])('$name', ({ useTls }) => {
  test('a peer that resets in the middle of a recvn: the handler gets -1 ECONNRESET; the good client goes on', async () => {
    const h = closeLater(await Harness.start(useTls));
    const good = new GoodClient(h.port, useTls);
    await progresses(good);
    const peer = destroyLater(await h.rawPeer());
    peer.write(patternSlice(0, BLOCK)); // one whole block, echoed
    peer.write(patternSlice(BLOCK, BLOCK / 2)); // half of the next: the handler's recvn waits for the rest
    await readBytes(peer, BLOCK);
    await waitFor(() => h.bytesReadFrom(peer) === BLOCK + BLOCK / 2, 'the handler to receive the half block');
    resetSocket(peer);
    const o = await h.outcomeOf(peer);
    expect(o).toMatchObject({ n: -1, code: 'ECONNRESET', blocks: 1 });
    await progresses(good);
    await finish(h, good);
  });

  test('our Client reset by its server in the middle of a recvn gets -1 ECONNRESET and consumes nothing; then it stays failed', async () => {
    const raw = closeLater(
      await rawServer(
        (sock) => {
          sock.write(patternSlice(0, 500));
        },
        '127.0.0.1',
        { tls: useTls ? { key: certs.key, cert: certs.cert } : undefined },
      ),
    );
    const c = new Client('127.0.0.1', raw.port, useTls, useTls ? { ca: certs.cert } : {});
    try {
      expect(await c.connect(3000)).toBe(true);
      const theirs = await raw.nextSocket();
      const buf = Buffer.alloc(1024);
      const reading = c.recvn(buf, 1024, 3000);
      // The reset comes while the recvn waits, with the 500 bytes taken in.
      await waitFor(() => c.bytesRead === 500, 'our client to receive the 500 bytes');
      resetSocket(theirs);
      expect(await reading).toBe(-1);
      expect(c.lastError).toBeInstanceOf(TcpError);
      expect(c.lastError!.code).toBe('ECONNRESET');
      expect(c.lastError!.port).toBe(raw.port);
      expect(c.connected()).toBe(false);
      // The failed recvn consumed nothing: the 500 bytes that came before the RST are still
      // there, in order; after them the connection stays failed, with the same code.
      expect(await c.recv(buf, 1024, 100)).toBe(500);
      expect(firstPatternMismatch(buf, 0, 500)).toBe(-1);
      expect(await c.recv(buf, 1024, 100)).toBe(-1);
      expect(c.lastError!.code).toBe('ECONNRESET');
    } finally {
      c.close();
    }
  });

  test('a peer that half-closes (FIN) and keeps reading gets every echoed block and the whole reply sent after its FIN', async () => {
    const h = closeLater(await Harness.start(useTls));
    const good = new GoodClient(h.port, useTls);
    const peer = destroyLater(await h.rawPeer());
    const reading = readToEnd(peer);
    peer.write(patternSlice(0, 3 * BLOCK));
    peer.end(); // FIN: nothing more from the peer, but it goes on reading
    const r = await reading;
    expect(r.how).toBe('end'); // our side closed gracefully after the trailer
    expect(r.data.length).toBe(3 * BLOCK + TRAILER_BYTES);
    expect(firstPatternMismatch(r.data, 0, 3 * BLOCK)).toBe(-1);
    expect(firstPatternMismatch(r.data.subarray(3 * BLOCK), TRAILER_OFFSET)).toBe(-1);
    const o = await h.outcomeOf(peer);
    expect(o).toMatchObject({ n: 0, code: null, blocks: 3, trailerSent: TRAILER_BYTES });
    await progresses(good);
    await finish(h, good);
  });

  test('peers that connect and stall are reset by idleTimeoutMs (ERR_IDLE_TIMEOUT); an active client past that time is not', async () => {
    const IDLE_MS = 300;
    const h = closeLater(await Harness.start(useTls, { idleTimeoutMs: IDLE_MS }, -1)); // the handler waits forever
    const good = new GoodClient(h.port, useTls);
    await progresses(good);
    const started = Date.now();
    const peers = await Promise.all(Array.from({ length: 10 }, () => h.rawPeer()));
    peers.forEach(destroyLater);
    peers.slice(0, 5).forEach((p) => p.write(patternSlice(0, 10))); // half of these stall inside a recvn
    const ends = peers.map((p) => readToEnd(p));
    const results = await Promise.all(ends);
    const tookMs = Date.now() - started;
    expect(tookMs).toBeGreaterThanOrEqual(IDLE_MS - 20);
    expect(tookMs).toBeLessThan(IDLE_MS + 2000);
    for (const r of results) expect(r.data.length).toBe(0);
    for (const p of peers) expect(await h.outcomeOf(p)).toMatchObject({ n: -1, code: 'ERR_IDLE_TIMEOUT', blocks: 0 });
    // The good client has lived past IDLE_MS, busy all along, and is still served. Part of the
    // scenario, not a synchronization: one more idle period passes while it keeps busy.
    await sleep(IDLE_MS);
    await progresses(good);
    await finish(h, good);
  });

  test("a peer that trickles one byte every 40 ms never looks idle; the handler's own recvn timeout ends it (ETIMEDOUT)", async () => {
    const h = closeLater(await Harness.start(useTls, { idleTimeoutMs: 300 }, 500));
    const good = new GoodClient(h.port, useTls);
    const peer = destroyLater(await h.rawPeer());
    const ending = readToEnd(peer);
    let sent = 0;
    const trickle = setInterval(() => {
      if (!peer.destroyed && peer.writable) peer.write(patternSlice(sent++, 1));
    }, 40);
    try {
      const o = await h.outcomeOf(peer, 3000);
      expect(o).toMatchObject({ n: -1, code: 'ETIMEDOUT', blocks: 0 });
      expect(sent).toBeGreaterThan(5); // bytes kept coming: the idle timer alone would never fire
      await ending;
    } finally {
      clearInterval(trickle);
    }
    await progresses(good);
    await finish(h, good);
  });
});

test('TLS: peers that connect and send nothing, or half a ClientHello, are closed by handshakeTimeoutMs and reported', async () => {
  const HANDSHAKE_MS = 300;
  const h = closeLater(await Harness.start(true, { handshakeTimeoutMs: HANDSHAKE_MS }));
  const good = new GoodClient(h.port, true);
  await progresses(good);
  const started = Date.now();
  const silent = await Promise.all(Array.from({ length: 8 }, () => rawConnect(h.port)));
  silent.forEach(destroyLater);
  const hello = await clientHelloBytes();
  silent.slice(0, 4).forEach((s) => s.write(hello.subarray(0, 20))); // a ClientHello cut short
  const results = await Promise.all(silent.map((s) => readToEnd(s)));
  const tookMs = Date.now() - started;
  expect(tookMs).toBeGreaterThanOrEqual(HANDSHAKE_MS - 20);
  expect(tookMs).toBeLessThan(HANDSHAKE_MS + 2000);
  for (const r of results) expect(r.data.length).toBe(0);
  await waitFor(() => h.errors.length >= silent.length, 'every handshake timeout to be reported');
  const ports = new Set(silent.map(localPortOf));
  for (const err of h.errors) {
    expect(err).toBeInstanceOf(TcpError);
    expect(err.code).toBe('ERR_TLS_HANDSHAKE_TIMEOUT');
    expect(ports.has(err.port!)).toBe(true);
  }
  expect(h.outcomes.filter((o) => ports.has(Number(o.peer.split(':')[1])))).toEqual([]); // never reached the handler
  await progresses(good);
  await finish(h, good);
});

test('TLS: peers that close (FIN) during their handshake are let go at once and reported, not held until handshakeTimeoutMs', async () => {
  const h = closeLater(await Harness.start(true)); // handshakeTimeoutMs: the default, 10 s
  const good = new GoodClient(h.port, true);
  await progresses(good);
  const hello = await clientHelloBytes();
  const fdsBefore = openFds();
  const started = Date.now();
  // Raw peers: FIN after nothing, or after part of a ClientHello.
  const peers = await Promise.all(Array.from({ length: 6 }, () => rawConnect(h.port)));
  peers.forEach(destroyLater);
  const ends = peers.map((p) => readToEnd(p));
  peers.forEach((p, i) => {
    if (i % 2 === 0) p.write(hello.subarray(0, 20));
    p.end();
  });
  await Promise.all(ends);
  // Our own Clients that close right after their handshake (their last handshake message may not have left).
  for (let i = 0; i < 20; i++) {
    const c = new Client('127.0.0.1', h.port, true, { ca: certs.cert });
    expect(await c.connect(3000)).toBe(true);
    c.close();
  }
  peers.forEach((p) => p.destroy());
  // Every server-side socket is closed long before the 10 s handshake timeout.
  await waitFor(() => openFds() <= fdsBefore, `file descriptors to return to ${fdsBefore}`, 2000);
  expect(Date.now() - started).toBeLessThan(3000);
  await waitFor(() => h.errors.length >= peers.length, "the raw peers' handshake failures to be reported", 2000);
  const ports = new Set(peers.map(localPortOf));
  for (const err of h.errors.filter((e) => ports.has(e.port!))) expect(err.code).toBe('ECONNRESET');
  await progresses(good);
  await finish(h, good);
});

test("TLS 1.2: a peer that keeps renegotiating is cut off past Node's limit: the handler gets -1 ERR_TLS_SESSION_ATTACK", async () => {
  const h = closeLater(await Harness.start(true));
  const good = new GoodClient(h.port, true);
  await progresses(good);
  const peer = destroyLater(await rawTlsConnect(h.port, { ca: certs.cert, maxVersion: 'TLSv1.2' }));
  peer.write(patternSlice(0, BLOCK / 2)); // the handler waits inside a recvn meanwhile
  const tlsPeer = peer as tls.TLSSocket;
  const renegotiate = (): Promise<string> =>
    new Promise((resolve) => {
      // The renegotiation ends with its callback, or with the server cutting the peer off. The
      // timer only bounds a peer that gets neither; nothing waits for it otherwise.
      const settle = (result: string): void => {
        clearTimeout(bound);
        tlsPeer.off('close', onClose);
        resolve(result);
      };
      const onClose = (): void => settle('closed');
      const bound = setTimeout(() => settle('no answer'), 3000);
      tlsPeer.once('close', onClose);
      const started = tlsPeer.renegotiate({ rejectUnauthorized: false }, (err) => {
        settle(err ? ((err as NodeJS.ErrnoException).code ?? err.message) : 'ok');
      });
      if (!started) settle('refused');
    });
  const results: string[] = [];
  for (let i = 0; i < 5 && !peer.destroyed; i++) results.push(await renegotiate());
  expect(results.slice(0, 3)).toEqual(['ok', 'ok', 'ok']); // tls.CLIENT_RENEG_LIMIT: 3 per 10 minutes
  expect(await h.outcomeOf(peer)).toMatchObject({ n: -1, code: 'ERR_TLS_SESSION_ATTACK', blocks: 0 });
  await progresses(good);
  await finish(h, good);
});

test('a TLS ClientHello sent to a plain server: the handler sees the bytes as data (0x16 0x03 ...), the TLS peer fails, nothing crashes', async () => {
  // The handler's recvn timeout (500 ms) ends the connection: the ClientHello is not a whole number of blocks.
  const h = closeLater(await Harness.start(false, {}, 500));
  const good = new GoodClient(h.port, false);
  await progresses(good);
  // A raw TLS client: its ClientHello is echoed back (our handler echoes blocks), which no TLS client accepts.
  const tcp = destroyLater(await rawConnect(h.port));
  const errs = recordErrors(tcp);
  const tlsPeer = tls.connect({ socket: tcp, servername: 'localhost', ca: certs.cert });
  const tlsErr = await new Promise<NodeJS.ErrnoException>((resolve) => {
    tlsPeer.once('error', resolve);
    tlsPeer.once('secureConnect', () => resolve(new Error('handshake succeeded against a plain server')));
  });
  tlsPeer.destroy();
  expect(tlsErr.code).toBe('ECONNRESET'); // "socket disconnected before secure TLS connection was established"
  const o = await h.outcomeOf(tcp);
  expect(o.first[0]).toBe(0x16); // TLS record type: handshake
  expect(o.first[1]).toBe(0x03); // TLS major version
  expect(o.blocks).toBeGreaterThanOrEqual(1);
  expect(errs.every((e) => (e as NodeJS.ErrnoException).code === 'ECONNRESET')).toBe(true);

  // Our own Client, told to speak TLS to the plain server, fails with a clear code, in bounded time.
  const c = new Client('127.0.0.1', h.port, true, { ca: certs.cert });
  try {
    expect(await c.connect(3000)).toBe(false);
    expect(c.lastError).toBeInstanceOf(TcpError);
    expect(c.lastError!.code).toBe('ECONNRESET');
  } finally {
    c.close();
  }
  await progresses(good);
  await finish(h, good);
});

test('plain bytes sent to a TLS server: the handshake error is reported through onError with a stable code, the server goes on', async () => {
  const h = closeLater(await Harness.start(true));
  const good = new GoodClient(h.port, true);
  await progresses(good);
  const inputs = [
    Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'),
    patternSlice(0, 512), // random bytes
    Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff, ...patternSlice(9, 64)]), // a handshake record announcing 64 KiB, over TLS's limit
  ];
  const peers = await Promise.all(inputs.map(() => rawConnect(h.port)));
  peers.forEach(destroyLater);
  const ends = peers.map((p) => readToEnd(p));
  peers.forEach((p, i) => p.write(inputs[i]));
  const results = await Promise.all(ends);
  for (const r of results) {
    // At most a TLS alert record (type 0x15) comes back, never application data.
    expect(r.data.length === 0 || r.data[0] === 0x15).toBe(true);
  }
  await waitFor(() => h.errors.length >= 3, 'the three handshake errors to be reported');
  const ports = peers.map(localPortOf);
  // Each failure is reported once, for its own peer, with a code from the TLS layer. The reason
  // in it is OpenSSL's and changes between its versions (a record over the length limit is
  // PACKET_LENGTH_TOO_LONG in one, DATA_LENGTH_TOO_LONG in another): what we promise is the prefix.
  const codeByPeer = new Map(h.errors.map((e) => [e.port, e.code]));
  for (const port of ports) expect(codeByPeer.get(port)).toMatch(/^ERR_SSL_[A-Z0-9_]+$/);
  for (const err of h.errors) {
    expect(err).toBeInstanceOf(TcpError);
    expect(err.address).toBe('127.0.0.1');
  }
  // Our plain Client to the TLS server: a block gets no echo, only a closed connection, with a clear result.
  const c = new Client('127.0.0.1', h.port);
  try {
    expect(await c.connect(3000)).toBe(true);
    expect(await c.send(patternSlice(0, BLOCK))).toBe(BLOCK);
    const buf = Buffer.alloc(BLOCK);
    const n = await c.recvn(buf, BLOCK, 3000);
    // The server closes (0) or resets (-1, ECONNRESET) the connection, depending on the timing.
    expect(n === 0 || (n === -1 && c.lastError?.code === 'ECONNRESET')).toBe(true);
  } finally {
    c.close();
  }
  expect(h.outcomes.filter((o) => ports.includes(Number(o.peer.split(':')[1])))).toEqual([]);
  await progresses(good);
  await finish(h, good);
});

/** Reads and drops exactly `n` bytes from a raw socket. */
function readBytes(sock: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let have = 0;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      have += chunk.length;
      if (have >= n) {
        sock.off('data', onData);
        sock.off('close', onClose);
        sock.pause();
        resolve(Buffer.concat(chunks));
      }
    };
    const onClose = (): void => reject(new Error(`closed after ${have} of ${n} bytes`));
    sock.on('data', onData);
    sock.once('close', onClose);
  });
}

/** The first bytes a Node TLS client sends: a real ClientHello, caught by a raw server. */
async function clientHelloBytes(): Promise<Buffer> {
  const raw = await rawServer();
  try {
    const hello = raw.nextSocket().then((s) => readBytes(s, 100));
    const c = tls.connect({ port: raw.port, host: '127.0.0.1', servername: 'localhost' });
    c.on('error', () => {});
    const bytes = await hello;
    c.destroy();
    return bytes;
  } finally {
    await raw.close();
  }
}
