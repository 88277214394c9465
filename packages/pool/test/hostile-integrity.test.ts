/**
 * Data integrity through pooled clients, property-based (fast-check, bounded
 * runs), over plain TCP and TLS on loopback: concurrent tasks share a few
 * @proj/tcp Clients from a Pool (PoolGuard), each sending messages of random
 * sizes split into random chunks; the server reads with random sizes and
 * random short timeouts (a timed-out recv consumes nothing, so it retries)
 * and echoes every byte; the tasks read the echo back the same way.
 *
 * Every connection carries one endless pattern stream, whoever uses it: the
 * server checks each byte against the pattern at its connection's offset, the
 * client against its own, so a byte lost, duplicated or reordered anywhere,
 * in either direction, fails the run; at the end each client got back exactly
 * what it sent. A failure prints the seed and the shrunk case.
 */
import fc from 'fast-check';
import { Client, Server, TcpErrorCode, type Connection } from '@proj/tcp';
import { PoolGuard } from '../src';
import { clientPool } from './client-pool';
import { makeTestCerts, type TestCerts } from '../../../libs/test-support/certs';
import { firstPatternMismatch, patternSlice, PATTERN_SLICE_MAX } from '../../../libs/test-support/net';
import { figure, mib } from '../../../libs/test-support/hostile';
import { failOnLateUnhandledRejections } from './helpers';

failOnLateUnhandledRejections();

/** How the server reads in the current run: sizes and timeouts used in turn. */
interface ServerReads {
  sizes: number[];
  timeoutsMs: number[];
}

let certs: TestCerts;
let serverReads: ServerReads = { sizes: [65536], timeoutsMs: [-1] };
const serverFailures: string[] = [];
let plain: Server;
let secure: Server;

async function echoChecked(conn: Connection): Promise<void> {
  const buf = Buffer.allocUnsafe(128 * 1024);
  let offset = 0;
  for (let i = 0; ; i++) {
    const { sizes, timeoutsMs } = serverReads;
    const n = await conn.recv(buf, Math.min(buf.length, sizes[i % sizes.length]), timeoutsMs[i % timeoutsMs.length]);
    if (n < 0 && conn.lastError?.code === TcpErrorCode.ETIMEDOUT) continue; // consumed nothing: read again
    if (n <= 0) return;
    const bad = firstPatternMismatch(buf, offset, n);
    if (bad !== -1) {
      serverFailures.push(`server: byte ${offset + bad} of ${conn.peer()} differs from the pattern`);
      return;
    }
    offset += n;
    if ((await conn.send(buf, n)) !== n) return;
  }
}

beforeAll(async () => {
  certs = await makeTestCerts();
  plain = new Server().onConnection(echoChecked);
  secure = new Server().onConnection(echoChecked);
  await plain.start('127.0.0.1', 0);
  await secure.start('127.0.0.1', 0, certs.keyPath, certs.certPath);
});
afterAll(async () => {
  await plain.shutdown(500);
  await secure.shutdown(500);
  certs.cleanup();
});

const messageArb = fc.record({
  size: fc.integer({ min: 1, max: 200_000 }),
  /** Sizes of the sends the message is split into, used in turn. */
  sendChunks: fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 6 }),
  /** Reads of the echo: size, timeout (0..4 ms, retried on ETIMEDOUT), recv or recvn. */
  reads: fc.array(
    fc.record({ size: fc.integer({ min: 1, max: 100_000 }), ms: fc.integer({ min: 0, max: 4 }), exact: fc.boolean() }),
    {
      minLength: 1,
      maxLength: 6,
    },
  ),
});

const caseArb = fc.record({
  tls: fc.boolean(),
  /** Pooled clients: at most this many live connections. */
  clients: fc.integer({ min: 1, max: 4 }),
  /** Concurrent tasks sharing them, each with its messages. */
  tasks: fc.array(fc.array(messageArb, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 6 }),
  server: fc.record({
    sizes: fc.array(fc.integer({ min: 1, max: 100_000 }), { minLength: 1, maxLength: 5 }),
    timeoutsMs: fc.array(fc.integer({ min: -1, max: 4 }), { minLength: 1, maxLength: 5 }),
  }),
});

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;
type Message = Case['tasks'][number][number];

/** Stream offsets of each pooled client: bytes sent and bytes received back. */
const sent = new WeakMap<Client, number>();
const received = new WeakMap<Client, number>();

/** Sends `m.size` bytes of the client's stream in `m.sendChunks` pieces, and reads them back in `m.reads` pieces. */
async function exchange(c: Client, m: Message): Promise<void> {
  const start = sent.get(c) ?? 0;
  const writing = (async () => {
    let done = 0;
    for (let i = 0; done < m.size; i++) {
      const n = Math.min(m.sendChunks[i % m.sendChunks.length], m.size - done, PATTERN_SLICE_MAX);
      const r = await c.send(patternSlice(start + done, n), n, 10_000);
      if (r !== n) throw new Error(`send ${r}: ${c.strerror()}`);
      done += n;
    }
    sent.set(c, start + m.size);
  })();
  const buf = Buffer.allocUnsafe(100_000);
  let got = received.get(c) ?? 0;
  const end = start + m.size;
  for (let i = 0; got < end; i++) {
    const op = m.reads[i % m.reads.length];
    const want = Math.min(op.size, end - got);
    const n = op.exact ? await c.recvn(buf, want, op.ms) : await c.recv(buf, want, op.ms);
    if (n < 0 && c.lastError?.code === TcpErrorCode.ETIMEDOUT) {
      if (op.ms === 0) await new Promise((r) => setImmediate(r)); // let the bytes come
      continue;
    }
    if (n <= 0) throw new Error(`${op.exact ? 'recvn' : 'recv'} ${n}: ${c.strerror()}`);
    const bad = firstPatternMismatch(buf, got, n);
    if (bad !== -1) throw new Error(`client: byte ${got + bad} differs from the pattern`);
    got += n;
  }
  received.set(c, got);
  await writing;
}

/**
 * Most sends, reads or server reads one message may take. Tiny pieces are the
 * interesting cases, but over TLS each piece is a record (about 0.1 ms here),
 * so a message split finely is made shorter rather than the run slower.
 */
const PIECES_PER_MESSAGE = { plain: 2000, tls: 300 };

/** The message sizes a case actually uses: each bounded by its pieces as above. */
function boundSizes(k: Case): Case {
  const pieces = k.tls ? PIECES_PER_MESSAGE.tls : PIECES_PER_MESSAGE.plain;
  const count = k.tasks.reduce((s, t) => s + t.length, 0);
  const serverBound = Math.max(1, Math.floor((Math.min(...k.server.sizes) * pieces) / count));
  const tasks = k.tasks.map((t) =>
    t.map((m) => ({
      ...m,
      size: Math.min(
        m.size,
        Math.min(...m.sendChunks) * pieces,
        Math.min(...m.reads.map((r) => r.size)) * pieces,
        serverBound,
      ),
    })),
  );
  return { ...k, tasks };
}

/** What the property tried, for docs/guarantees.md. */
const tried = { runs: 0, tlsRuns: 0, messages: 0, bytes: 0 };

async function runCase(original: Case): Promise<void> {
  const k = boundSizes(original);
  tried.runs++;
  if (k.tls) tried.tlsRuns++;
  tried.messages += k.tasks.reduce((s, t) => s + t.length, 0);
  tried.bytes += k.tasks.flat().reduce((s, m) => s + m.size, 0);
  serverReads = k.server;
  serverFailures.length = 0;
  const server = k.tls ? secure : plain;
  const proto = k.tls
    ? new Client('127.0.0.1', server.address()!.port, true, { ca: certs.cert })
    : new Client('127.0.0.1', server.address()!.port);
  const { pool, made } = clientPool(proto, k.clients, { max: k.clients, acquireTimeoutMs: 15_000 });
  try {
    await Promise.all(
      k.tasks.map(async (messages) => {
        for (const m of messages) {
          await using g = await PoolGuard.acquire(pool);
          if (!g.value.connected() && !(await g.value.connect(3000))) throw new Error(`connect: ${g.value.strerror()}`);
          try {
            await exchange(g.value, m);
          } catch (err) {
            g.reset(); // a broken connection must not go back to the pool
            throw err;
          }
        }
      }),
    );
    expect(serverFailures).toEqual([]);
    expect(made.length).toBeLessThanOrEqual(k.clients);
    for (const c of made) expect(received.get(c) ?? 0).toBe(sent.get(c) ?? 0); // each got back all it sent, once
    const total = made.reduce((s, c) => s + (sent.get(c) ?? 0), 0);
    expect(total).toBe(k.tasks.flat().reduce((s, m) => s + m.size, 0));
  } finally {
    await pool.close();
  }
}

test('random sizes, chunkings and timeouts through pooled clients, plain and TLS: every byte once and in order', async () => {
  await fc.assert(fc.asyncProperty(caseArb, runCase), { numRuns: 60 });
  figure(
    `pool integrity: ${tried.runs} runs (${tried.tlsRuns} TLS), ${tried.messages} messages, ${mib(tried.bytes)} each way, all checked`,
  );
  // Closed pooled clients leave nothing behind on the servers.
  const deadline = Date.now() + 3000;
  while ((plain.connNum() > 0 || secure.connNum() > 0) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 10));
  expect(plain.connNum() + secure.connNum()).toBe(0);
}, 60_000);
