/**
 * `npm run bench` for @proj/rpc-lite: rpc-lite against its own wire format
 * written plainly on raw `node:net` (bench/wire-baseline.ts), and against
 * @grpc/grpc-js, on the same machine, in one run.
 *
 * Both servers run in one child process (bench/servers.ts), both clients in
 * this one, so that each side has a core of its own on a 2-core machine. Each
 * row is an echo of a fixed payload with N calls kept in flight by N loops on
 * one client (one connection for rpc-lite, one HTTP/2 channel for grpc-js);
 * rounds alternate between the two systems. Prints calls/s, p50/p99 latency
 * of a call and the ratio rpc-lite / grpc-js.
 *
 * Environment: BENCH_ROUNDS (default 2), BENCH_ROUND_MS (default 2000).
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import { RpcClient } from '@proj/rpc-lite';
import { BenchResults } from 'bench-results';
import { GrpcEchoClient } from './echo-service';
import { WireClient, frame } from './wire-baseline';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 2000);
const WARMUP_MS = 500;

const benchResults = new BenchResults('rpc-lite-echo', {
  title: '@proj/rpc-lite: echo calls against its wire format on raw node:net and @grpc/grpc-js',
  package: '@proj/rpc-lite',
});

/** Issues one echo of `payload`; resolves when the answer is back. */
type Echo = (payload: Buffer) => Promise<unknown>;

interface Row {
  payloadBytes: number;
  inFlight: number;
}

const ROWS: Row[] = [
  { payloadBytes: 16, inFlight: 64 },
  { payloadBytes: 16, inFlight: 1 },
  { payloadBytes: 1024, inFlight: 64 },
  { payloadBytes: 1024, inFlight: 1 },
];

/** Latencies in microseconds, in a growable typed array (no boxing, no GC churn while measuring). */
class Samples {
  private _data = new Float64Array(1 << 16);
  length = 0;
  add(us: number): void {
    if (this.length === this._data.length) {
      const bigger = new Float64Array(this._data.length * 2);
      bigger.set(this._data);
      this._data = bigger;
    }
    this._data[this.length++] = us;
  }
  percentile(p: number): number {
    const sorted = this._data.slice(0, this.length).sort();
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  }
}

interface Tally {
  calls: number;
  ms: number;
  latency: Samples;
  /** Calls/s of each round, in order. */
  rounds: number[];
}

/** Keeps `inFlight` echo loops going for `ms`; counts and times the calls that finish inside the window. */
async function drive(echo: Echo, payload: Buffer, inFlight: number, ms: number, tally: Tally | null): Promise<void> {
  const end = performance.now() + ms;
  const callsBefore = tally?.calls ?? 0;
  const failures: unknown[] = [];
  const loop = async (): Promise<void> => {
    while (failures.length === 0) {
      const t0 = performance.now();
      if (t0 >= end) return;
      try {
        await echo(payload);
      } catch (err) {
        failures.push(err);
        return;
      }
      if (tally !== null) {
        tally.calls++;
        tally.latency.add((performance.now() - t0) * 1000);
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, loop));
  if (failures.length > 0) throw failures[0];
  if (tally !== null) {
    tally.ms += ms;
    tally.rounds.push(((tally.calls - callsBefore) * 1000) / ms);
  }
}

interface System {
  name: string;
  echo: Echo;
}

async function main(): Promise<void> {
  const child = spawn(process.execPath, [join(__dirname, 'servers.js')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const ports = JSON.parse((await lines.next()).value as string) as Ports;
  const serverCpu = async (): Promise<number> => {
    child.stdin.write('cpu\n');
    return Number((await lines.next()).value);
  };

  const rpc = new RpcClient('127.0.0.1', ports.rpc);
  const wire = await WireClient.connect(ports.wire);
  const grpcClient = new GrpcEchoClient(
    `127.0.0.1:${ports.grpc}`,
    grpc.credentials.createInsecure(),
  ) as unknown as grpc.Client & {
    echo(req: Buffer, cb: (err: grpc.ServiceError | null, res?: Buffer) => void): grpc.ClientUnaryCall;
  };
  // rpc-lite first: the ratios are rpc-lite over each of the others.
  const systems: System[] = [
    { name: 'rpc-lite', echo: (payload) => rpc.call('echo', payload) },
    { name: 'wire', echo: (payload) => wire.call('echo', payload) },
    {
      name: 'grpc-js',
      echo: (payload) =>
        new Promise((resolve, reject) => grpcClient.echo(payload, (err, res) => (err ? reject(err) : resolve(res)))),
    },
  ];

  console.log(
    `rpc-lite vs its wire format on raw node:net ("wire": 4-byte length + msgpackr, 'data' events, one write per message) ` +
      `and vs @grpc/grpc-js: echo on 127.0.0.1, servers in a child process, clients here; ` +
      `${ROUNDS} rounds x ${ROUND_MS} ms per system and row, in rotating order; node ${process.version}\n`,
  );
  console.log(
    `${'payload'.padEnd(8)} ${'in flight'.padStart(9)} | ` +
      systems
        .map((s) => `${`${s.name} calls/s`.padStart(16)} ${'p50 us'.padStart(7)} ${'p99 us'.padStart(7)}`)
        .join(' | ') +
      ` | ${'/wire'.padStart(6)} ${'/grpc'.padStart(6)}`,
  );
  const ratios: Array<{ row: Row; wire: number; grpc: number }> = [];
  try {
    for (const row of ROWS) {
      const payload = Buffer.alloc(row.payloadBytes, 0x61);
      const tallies = systems.map((): Tally => ({ calls: 0, ms: 0, latency: new Samples(), rounds: [] }));
      for (const sys of systems) await drive(sys.echo, payload, row.inFlight, WARMUP_MS, null);
      for (let round = 0; round < ROUNDS; round++) {
        // Rotate which goes first so that drift and other load on the machine hit all alike.
        for (let k = 0; k < systems.length; k++) {
          const i = (round + k) % systems.length;
          await drive(systems[i].echo, payload, row.inFlight, ROUND_MS, tallies[i]);
        }
      }
      const results = tallies.map((t) => ({
        rate: (t.calls * 1000) / t.ms,
        p50: t.latency.percentile(50),
        p99: t.latency.percentile(99),
      }));
      const ratio = { row, wire: results[0].rate / results[1].rate, grpc: results[0].rate / results[2].rate };
      ratios.push(ratio);
      const size = row.payloadBytes >= 1024 ? `${row.payloadBytes / 1024} KiB` : `${row.payloadBytes} B`;
      console.log(
        `${size.padEnd(8)} ${String(row.inFlight).padStart(9)} | ` +
          results
            .map((r) => `${fmt(r.rate).padStart(16)} ${fmt(r.p50).padStart(7)} ${fmt(r.p99).padStart(7)}`)
            .join(' | ') +
          ` | ${`${ratio.wire.toFixed(2)}x`.padStart(6)} ${`${ratio.grpc.toFixed(1)}x`.padStart(6)}`,
      );
      for (const [i, section] of [
        [1, 'Against its wire format on raw node:net'],
        [2, 'Against @grpc/grpc-js'],
      ] as const) {
        benchResults.add({
          section,
          name: `${size}, ${row.inFlight} in flight`,
          unit: 'calls/s',
          oursName: 'rpc-lite',
          baselineName: systems[i].name,
          ours: tallies[0].rounds,
          baseline: tallies[i].rounds,
        });
      }
    }
    if (buildLoad()) await serverRows(ports, serverCpu);
  } finally {
    await rpc.close();
    wire.close();
    grpcClient.close();
    child.stdin.end();
    await once(child, 'exit');
    benchResults.finish();
  }
  console.log(
    '\nTargets: vs wire >= 1.0x with 64 in flight, >= 0.95x with 1; vs grpc-js >= 25x with 64 in flight, >= 6x with 1',
  );
  for (const { row, wire: w, grpc: g } of ratios) {
    const wireTarget = row.inFlight >= 64 ? 1 : 0.95;
    const grpcTarget = row.inFlight >= 64 ? 25 : 6;
    console.log(
      `  ${row.payloadBytes} B, ${row.inFlight} in flight: vs wire ${w.toFixed(2)}x ${w >= wireTarget ? 'meets' : 'MISSES'} ${wireTarget}x; ` +
        `vs grpc-js ${g.toFixed(1)}x ${g >= grpcTarget ? 'meets' : 'MISSES'} ${grpcTarget}x`,
    );
  }
}

interface Ports {
  rpc: number;
  wire: number;
  grpc: number;
}

/** Rows of the server table: C load connections, answers in flight on each, payload. */
const SERVER_ROWS = [
  { conns: 64, window: 1, payloadBytes: 16 },
  { conns: 1, window: 1, payloadBytes: 16 },
  { conns: 1, window: 64, payloadBytes: 16 },
  { conns: 64, window: 1, payloadBytes: 1024 },
];

const LOAD = join(__dirname, 'c-load');

/** Compiles @proj/tcp's C load generator (bench/c/load.c of that package) with gcc; false where there is no gcc. */
function buildLoad(): boolean {
  const source = join(__dirname, '..', '..', 'tcp', 'bench', 'c', 'load.c');
  const built = spawnSync('gcc', ['-O2', '-o', LOAD, source], { stdio: 'inherit' });
  if (built.error || built.status !== 0) {
    console.log('\n(no gcc: the server rows, driven by a C load generator, are skipped)');
    return false;
  }
  return true;
}

/**
 * The servers alone: rpc-lite's `RpcServer` against the wire-format baseline's
 * server, both driven by the same C load generator (the same request frames,
 * msgid 0 on all of them), so that the client side costs the same for both and
 * is not the bottleneck. Prints answers/s, the ratio, CPU per answer, and how
 * busy the server was (near 100 %: the server set the pace).
 */
async function serverRows(ports: Ports, cpu: () => Promise<number>): Promise<void> {
  console.log(`\nThe servers alone, driven by a C load generator: rpc-lite's RpcServer vs the wire baseline's server`);
  for (const row of SERVER_ROWS) {
    const payload = Buffer.alloc(row.payloadBytes, 0x61);
    const request = frame([0, 0, 'echo', payload]).toString('hex');
    const answerBytes = frame([1, 0, null, payload]).length;
    const load = (port: number, ms: number): Promise<number> =>
      cLoad([port, row.conns, request, answerBytes, row.window, ms]);
    const tallies = [ports.rpc, ports.wire].map((port) => ({ port, answers: 0, cpuMicros: 0, rounds: [] as number[] }));
    for (const t of tallies) await load(t.port, WARMUP_MS);
    for (let round = 0; round < ROUNDS; round++) {
      for (const t of round % 2 === 0 ? tallies : [...tallies].reverse()) {
        const before = await cpu();
        const answers = await load(t.port, ROUND_MS);
        t.answers += answers;
        t.rounds.push((answers * 1000) / ROUND_MS);
        t.cpuMicros += (await cpu()) - before;
      }
    }
    const [ours, base] = tallies;
    const rate = (t: typeof ours): number => (t.answers * 1000) / (ROUNDS * ROUND_MS);
    const cpuPer = (t: typeof ours): number => t.cpuMicros / Math.max(1, t.answers);
    const busy = (t: typeof ours): string => `${Math.round((100 * t.cpuMicros) / (ROUNDS * ROUND_MS * 1000))}%`;
    const size = row.payloadBytes >= 1024 ? `${row.payloadBytes / 1024} KiB` : `${row.payloadBytes} B`;
    console.log(
      `  ${`${row.conns} conn x ${row.window} x ${size}`.padEnd(22)} rpc-lite ${fmt(rate(ours)).padStart(8)}/s  wire ${fmt(rate(base)).padStart(8)}/s` +
        `  ratio ${(rate(ours) / rate(base)).toFixed(2)}   CPU/answer rpc-lite ${cpuPer(ours).toFixed(2)} µs wire ${cpuPer(base).toFixed(2)} µs` +
        ` ratio wire/rpc-lite ${(cpuPer(base) / cpuPer(ours)).toFixed(2)}   busy ${busy(ours)} / ${busy(base)}`,
    );
    benchResults.add({
      section: 'The servers alone, driven by the C load generator',
      name: `${row.conns} conn x ${row.window} in flight x ${size}`,
      unit: 'answers/s',
      oursName: 'RpcServer',
      baselineName: 'wire baseline server',
      ours: ours.rounds,
      baseline: base.rounds,
      cpu: { ours: cpuPer(ours), baseline: cpuPer(base), unit: 'µs/answer' },
    });
  }
}

/** Runs the C load generator with `args`; resolves with the answers it counted. */
async function cLoad(args: Array<string | number>): Promise<number> {
  const child = spawn(LOAD, args.map(String), { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`the C load generator failed (exit ${code})`);
  return Number(out.trim());
}

function fmt(v: number): string {
  return v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
