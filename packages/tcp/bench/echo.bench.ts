/**
 * `npm run bench` for @proj/tcp: ours against raw `node:net`, in one run.
 *
 * Server side: the same raw load generator drives an echo server written with
 * our `Connection` and one written with `'data'` callbacks (both in a child
 * process). Client side: our `Client` and a raw `net.Socket` drive the raw
 * echo server. Each row warms both sides up (uncounted), alternates ours/raw
 * for several rounds and reports the total rate of each and the ratio
 * ours/raw with its spread across rounds, then the CPU time the side under
 * test spent per message and that ratio (raw/ours, so > 1 means ours is
 * cheaper): CPU time per message is much less disturbed by other load on the
 * machine than a rate is. On request (BENCH_SECTIONS), where valgrind is,
 * the user-space instructions each side executes per message
 * (bench/instructions.ts): a count the machine's noise does not move.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as selfsigned from 'selfsigned';
import { createInterface } from 'node:readline';
import {
  callgrindAvailable,
  type Counted,
  instructionsPerMessage,
  kilo,
  runClientUnderCallgrind,
  underCallgrind,
} from './instructions';
import { cProgram, compileC, runCLoad } from './c-tools';
import { type Load, oursLoad, rawLoad, sleep } from './load';
import { BenchResults } from 'bench-results';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 1000);
/** BENCH_WARMUP_MS: how long each side of a row runs, uncounted, before its rounds (default: half a round). */
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? ROUND_MS / 2);
/**
 * BENCH_SECTIONS: a comma-separated subset of
 * `server,client,c,tracing,tls-server,tls-client,instructions`. The default is
 * all but `instructions`, which runs under valgrind for about nine minutes
 * (`npm run bench:instructions`; BENCH_COUNTED_ROWS=all for every ping-pong
 * row, about twenty).
 */
const SECTIONS = new Set((process.env.BENCH_SECTIONS ?? 'server,client,c,tracing,tls-server,tls-client').split(','));

const results = new BenchResults('tcp-echo', {
  title: '@proj/tcp: echo server and client against raw node:net and node:tls',
  package: '@proj/tcp',
});
const counts = new BenchResults('tcp-instructions', {
  title: '@proj/tcp: user-space instructions per message (callgrind)',
  package: '@proj/tcp',
});
/** The section being measured, for the results files: its title and what its two sides are. */
let section = { title: '', ours: 'ours', baseline: '' };

/** A row of the benchmark; `counted`: the messages a connection sends in the two runs of the instruction count. */
interface Row {
  name: string;
  load: Load;
  counted?: Counted;
}

/**
 * The rows. The instruction count leaves out the bulk row: under callgrind
 * the process is so slow that its reads come in other sizes than at full
 * speed, and valgrind counts a large copy (`rep movsb`) as about one
 * instruction per byte, so copies would make most of that count, and
 * differently from a real run.
 */
const ROWS: Row[] = [
  { name: '64 conns x 8 B ping-pong', load: { conns: 64, size: 8, window: 1 }, counted: { few: 200, many: 1000 } },
  { name: '1 conn x 8 B ping-pong', load: { conns: 1, size: 8, window: 1 }, counted: { few: 3200, many: 16000 } },
  { name: '64 conns x 4 KiB ping-pong', load: { conns: 64, size: 4096, window: 1 }, counted: { few: 50, many: 250 } },
  { name: '64 KiB bulk stream (8 in flight)', load: { conns: 1, size: 65536, window: 8 } },
];
/**
 * The rows the instruction count covers: the first; with
 * BENCH_COUNTED_ROWS=all, every ping-pong row (about 20 minutes instead of 9).
 */
const COUNTED_ROWS = ROWS.filter(
  (row, i): row is Required<Row> => row.counted !== undefined && (i === 0 || process.env.BENCH_COUNTED_ROWS === 'all'),
);

/** A self-signed certificate for localhost: its PEM, and the key and certificate files in the temp folder `dir`. */
interface Cert {
  dir: string;
  keyPath: string;
  certPath: string;
  cert: string;
}

/** A self-signed certificate for localhost in a temp folder, for the TLS rows. */
async function makeCert(): Promise<Cert> {
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    days: 1,
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }] }],
  } as never);
  const dir = mkdtempSync(join(tmpdir(), 'proj-bench-'));
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  writeFileSync(keyPath, pems.private);
  writeFileSync(certPath, pems.cert);
  return { dir, keyPath, certPath, cert: pems.cert };
}

async function main(): Promise<void> {
  const cert = await makeCert();
  const servers = await startServers({ BENCH_TLS_KEY: cert.keyPath, BENCH_TLS_CERT: cert.certPath });
  const { ports } = servers;
  const serverCpu = servers.cpu;
  const ownCpu = async (): Promise<number> => {
    const { user, system } = process.cpuUsage();
    return user + system;
  };
  const rates = [...SECTIONS].some((section) => section !== 'instructions');
  console.log(
    `@proj/tcp benchmark${rates ? `: ${ROUNDS} rounds of ${ROUND_MS} ms per side, alternating` : ''}; node ${process.version}`,
  );
  if (rates) console.log('');
  try {
    const cBuilt = buildC();
    // Server side: a load generator in C where gcc is, so that the load is not the bottleneck.
    const serverLoad = cBuilt ? cLoad : rawLoad;
    // The TLS server rows' load: in C where OpenSSL's headers are, else raw tls.connect.
    const tlsLoad =
      cBuilt && (SECTIONS.has('tls-server') || SECTIONS.has('instructions')) && buildTlsLoad() ? cLoad : rawLoad;
    if (SECTIONS.has('server')) {
      console.log(`Server side (same ${cBuilt ? 'C' : 'raw node:net'} load generator; echo server ours vs raw net)`);
      section = { title: 'Server side', ours: 'our echo server', baseline: 'raw node:net echo server' };
      for (const row of ROWS) {
        await compare(
          row.name,
          row.load,
          serverCpu,
          (ms) => serverLoad(ports.ours, row.load, ms),
          (ms) => serverLoad(ports.raw, row.load, ms),
        );
      }
    }
    if (SECTIONS.has('client')) {
      console.log('\nClient side (same raw echo server; our Client vs raw net.Socket)');
      section = { title: 'Client side', ours: 'our Client', baseline: 'raw net.Socket' };
      for (const row of ROWS) {
        await compare(
          row.name,
          row.load,
          ownCpu,
          (ms) => oursLoad(ports.raw, row.load, ms),
          (ms) => rawLoad(ports.raw, row.load, ms),
        );
      }
    }
    if (cBuilt && SECTIONS.has('c')) await againstC(ports.ours, serverCpu);
    if (cBuilt && SECTIONS.has('tracing')) await tracingCost(ports.ours, serverCpu);
    if (SECTIONS.has('tls-server')) {
      console.log(
        `\nTLS, server side (same ${tlsLoad === cLoad ? 'C (OpenSSL)' : 'raw tls.connect'} load; echo server ours vs raw node:tls)`,
      );
      section = { title: 'TLS, server side', ours: 'our TLS echo server', baseline: 'raw node:tls echo server' };
      for (const row of ROWS) {
        const load = { ...row.load, tls: cert.cert };
        await compare(
          row.name,
          load,
          serverCpu,
          (ms) => tlsLoad(ports.oursTls, load, ms),
          (ms) => tlsLoad(ports.rawTls, load, ms),
        );
      }
    }
    if (SECTIONS.has('tls-client')) {
      console.log('\nTLS, client side (same raw node:tls echo server; our TLS Client vs raw tls.connect)');
      section = { title: 'TLS, client side', ours: 'our TLS Client', baseline: 'raw tls.connect' };
      for (const row of ROWS) {
        const load = { ...row.load, tls: cert.cert };
        await compare(
          row.name,
          load,
          ownCpu,
          (ms) => oursLoad(ports.rawTls, load, ms),
          (ms) => rawLoad(ports.rawTls, load, ms),
        );
      }
    }
    if (SECTIONS.has('instructions')) await instructions(cert, ports, serverLoad, tlsLoad);
  } finally {
    await servers.stop();
    rmSync(cert.dir, { recursive: true, force: true });
    results.finish();
    counts.finish();
  }
}

interface Tally {
  messages: number;
  cpuMicros: number;
  /** The messages of each round, in order. */
  rounds: number[];
}

/** Runs one side once, counting messages and the CPU time `cpu()` reports for the side under test. */
async function measure(run: (ms: number) => Promise<number>, cpu: () => Promise<number>, tally: Tally): Promise<void> {
  const before = await cpu();
  const messages = await run(ROUND_MS);
  tally.messages += messages;
  tally.rounds.push(messages);
  tally.cpuMicros += (await cpu()) - before;
  await sleep(50);
}

async function compare(
  name: string,
  load: Load,
  cpu: () => Promise<number>,
  ours: (ms: number) => Promise<number>,
  raw: (ms: number) => Promise<number>,
  rawCpu: () => Promise<number> = cpu,
): Promise<void> {
  const o: Tally = { messages: 0, cpuMicros: 0, rounds: [] };
  const r: Tally = { messages: 0, cpuMicros: 0, rounds: [] };
  // Uncounted, so that neither side's first round pays for the JIT and the heap warming up.
  if (WARMUP_MS > 0) {
    await ours(WARMUP_MS);
    await raw(WARMUP_MS);
  }
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which goes first so that warm-up and drift hit both alike.
    if (round % 2 === 0) {
      await measure(ours, cpu, o);
      await measure(raw, rawCpu, r);
    } else {
      await measure(raw, rawCpu, r);
      await measure(ours, cpu, o);
    }
  }
  const seconds = (ROUNDS * ROUND_MS) / 1000;
  const unit = load.size >= 65536 ? 'MiB/s' : 'round trips/s';
  const scale = load.size >= 65536 ? load.size / (1024 * 1024) : 1;
  const oRate = (o.messages * scale) / seconds;
  const rRate = (r.messages * scale) / seconds;
  // CPU time per message includes the measurement's own small overhead (connect, close) on both sides alike.
  const oCpu = o.cpuMicros / Math.max(1, o.messages);
  const rCpu = r.cpuMicros / Math.max(1, r.messages);
  // How busy the side under test was: near 100 % means it, not the load, set the pace.
  const busy = (t: Tally): string => `${Math.round((100 * t.cpuMicros) / (ROUNDS * ROUND_MS * 1000))}%`;
  // The spread of the ratio between rounds shows how much of the total ratio is the machine's noise.
  const perRound = o.rounds.map((m, i) => m / Math.max(1, r.rounds[i])).sort((a, b) => a - b);
  const spread = ROUNDS > 1 ? ` (rounds ${perRound[0].toFixed(2)}-${perRound[perRound.length - 1].toFixed(2)})` : '';
  console.log(
    `  ${name.padEnd(34)} ours ${fmt(oRate).padStart(9)}  raw ${fmt(rRate).padStart(9)} ${unit.padEnd(14)}` +
      ` ratio ${(oRate / rRate).toFixed(2)}${spread}   CPU/msg ours ${oCpu.toFixed(2)} µs raw ${rCpu.toFixed(2)} µs` +
      ` ratio raw/ours ${(rCpu / oCpu).toFixed(2)}   busy ours ${busy(o)} raw ${busy(r)}`,
  );
  const perSecond = (m: number): number => (m * scale) / (ROUND_MS / 1000);
  results.add({
    section: section.title,
    name,
    unit,
    oursName: section.ours,
    baselineName: section.baseline,
    ours: o.rounds.map(perSecond),
    baseline: r.rounds.map(perSecond),
    cpu: { ours: oCpu, baseline: rCpu, unit: 'µs/msg' },
  });
}

function fmt(v: number): string {
  return v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

/** Compiles the C echo server and load generator with gcc; false where there is no gcc. */
function buildC(): boolean {
  for (const name of ['epoll-echo', 'load']) {
    if (!compileC(name, [])) {
      console.log('(no gcc: the C load generator and the C echo server are skipped)');
      return false;
    }
  }
  return true;
}

/** Compiles the C TLS load generator (gcc and OpenSSL's headers); false where it cannot be built. */
function buildTlsLoad(): boolean {
  if (compileC('tls-load', ['-lssl', '-lcrypto'])) return true;
  console.log('(no OpenSSL headers: the TLS server rows are driven by a node:tls load, which may be their bottleneck)');
  return false;
}

/** Runs `load` against `port` for `ms` (or its `count`) with the C load generator; returns messages echoed back. */
async function cLoad(port: number, load: Load, ms: number): Promise<number> {
  // A negative time tells the C load to send that many messages a connection.
  const span = load.count === undefined ? ms : -load.count;
  return runCLoad(load.tls ? 'tls-load' : 'load', [port, load.conns, load.size, load.window, span]);
}

interface Servers {
  ports: { ours: number; raw: number; oursTls: number; rawTls: number };
  /** The server process's CPU time so far, in microseconds. */
  cpu: () => Promise<number>;
  stop: () => Promise<void>;
}

/** Starts the echo servers' process (bench/echo-servers.ts) with `env` added to ours, under the command `wrapper` if one is given. */
async function startServers(env: Record<string, string>, wrapper: string[] = []): Promise<Servers> {
  const command = [...wrapper, process.execPath, join(__dirname, 'echo-servers.js')];
  const child = spawn(command[0], command.slice(1), {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    ports: JSON.parse((await lines.next()).value as string) as Servers['ports'],
    cpu: async () => {
      child.stdin.write('cpu\n');
      return Number((await lines.next()).value);
    },
    stop: async () => {
      child.stdin.end();
      await once(child, 'exit');
    },
  };
}

/**
 * What tracing costs: our echo server with a subscriber on every `proj:tcp`
 * channel (in a second process) against the same server with nobody
 * subscribed, both driven by the C load. With nobody subscribed, tracing
 * costs at most what it costs with everybody subscribed.
 */
async function tracingCost(untracedPort: number, untracedCpu: () => Promise<number>): Promise<void> {
  const traced = await startServers({ BENCH_TRACE: '1' });
  try {
    console.log(
      '\nTracing (C load; "ours": every proj:tcp channel subscribed, "raw": nobody subscribed; ratio traced/untraced)',
    );
    section = { title: 'Tracing cost', ours: 'every channel subscribed', baseline: 'nobody subscribed' };
    for (const row of ROWS.slice(0, 3)) {
      await compare(
        row.name,
        row.load,
        traced.cpu,
        (ms) => cLoad(traced.ports.ours, row.load, ms),
        (ms) => cLoad(untracedPort, row.load, ms),
        untracedCpu,
      );
    }
  } finally {
    await traced.stop();
  }
}

/** The machine's ceiling: our echo server against a C epoll echo server (one thread, edge-triggered), both driven by the C load. */
async function againstC(oursPort: number, oursCpu: () => Promise<number>): Promise<void> {
  const c = spawn(cProgram('epoll-echo'), [], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: c.stdout })[Symbol.asyncIterator]();
  const port = Number((await lines.next()).value);
  const cCpu = async (): Promise<number> => {
    c.stdin.write('cpu\n');
    return Number((await lines.next()).value);
  };
  try {
    console.log('\nAgainst a C epoll echo server (the same C load; "raw" is C: ratio ours/C, CPU C/ours)');
    section = { title: 'Against a C epoll echo server', ours: 'our echo server', baseline: 'C epoll echo server' };
    for (const row of ROWS.slice(0, 3)) {
      await compare(
        row.name,
        row.load,
        oursCpu,
        (ms) => cLoad(oursPort, row.load, ms),
        (ms) => cLoad(port, row.load, ms),
        cCpu,
      );
    }
  } finally {
    c.stdin.end();
    await once(c, 'exit');
  }
}

/**
 * User-space instructions per message of each row counted (the first, or all
 * with BENCH_COUNTED_ROWS=all), counted by callgrind (bench/instructions.ts)
 * with one process under callgrind at a time: our echo servers against raw
 * ones (plain and TLS) driven by `plainLoad` and `tlsLoad`, then our clients
 * against raw ones driving the raw echo servers.
 */
async function instructions(
  cert: Cert,
  ports: Servers['ports'],
  plainLoad: (port: number, load: Load, ms: number) => Promise<number>,
  tlsLoad: (port: number, load: Load, ms: number) => Promise<number>,
): Promise<void> {
  if (!callgrindAvailable()) {
    console.log('\n(no valgrind: the instruction counts are skipped)');
    return;
  }
  const env = { BENCH_TLS_KEY: cert.keyPath, BENCH_TLS_CERT: cert.certPath };
  console.log(
    '\nUser-space instructions per message (callgrind: a run of few and one of many messages a connection, the difference; ratio raw/ours, > 1 means ours does less)',
  );
  for (const { name, load: plain, counted } of COUNTED_ROWS) {
    const tls = { ...plain, tls: cert.cert };
    const server = (kind: keyof Servers['ports'], load: Load): Promise<number> =>
      instructionsPerMessage(load, counted, cert.dir, async (run, outFile) => {
        const servers = await startServers(env, underCallgrind(outFile));
        try {
          await (load.tls ? tlsLoad : plainLoad)(servers.ports[kind], run, 0);
        } finally {
          await servers.stop();
        }
      });
    const client = (who: 'ours' | 'raw', port: number, load: Load): Promise<number> =>
      instructionsPerMessage(load, counted, cert.dir, (run, outFile) =>
        runClientUnderCallgrind(who, port, run, outFile),
      );
    console.log(`${name} (${counted.few} and ${counted.many} messages a connection)`);
    const sides: Array<[string, () => Promise<number>, () => Promise<number>]> = [
      ['plain server', () => server('ours', plain), () => server('raw', plain)],
      ['TLS server', () => server('oursTls', tls), () => server('rawTls', tls)],
      ['plain client', () => client('ours', ports.raw, plain), () => client('raw', ports.raw, plain)],
      ['TLS client', () => client('ours', ports.rawTls, tls), () => client('raw', ports.rawTls, tls)],
    ];
    for (const [side, ours, raw] of sides) {
      const o = await ours();
      const r = await raw();
      console.log(
        `  ${side.padEnd(34)} ours ${kilo(o).padStart(6)}  raw ${kilo(r).padStart(6)}   ratio raw/ours ${(r / o).toFixed(2)}`,
      );
      counts.add({
        section: name,
        name: side,
        unit: 'instructions/msg',
        baselineName: 'raw',
        ours: [o],
        baseline: [r],
        higherIsBetter: false,
      });
    }
  }
}
