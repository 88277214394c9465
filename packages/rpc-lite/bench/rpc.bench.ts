/**
 * `npm run bench` for @proj/rpc-lite: rpc-lite against @grpc/grpc-js, on the
 * same machine, in one run.
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
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import { RpcClient } from '@proj/rpc-lite';
import { GrpcEchoClient } from './echo-service';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 2000);
const WARMUP_MS = 500;

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
}

/** Keeps `inFlight` echo loops going for `ms`; counts and times the calls that finish inside the window. */
async function drive(echo: Echo, payload: Buffer, inFlight: number, ms: number, tally: Tally | null): Promise<void> {
  const end = performance.now() + ms;
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
  if (tally !== null) tally.ms += ms;
}

interface System {
  name: string;
  echo: Echo;
}

async function main(): Promise<void> {
  const child = spawn(process.execPath, [join(__dirname, 'servers.js')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
  const ports = JSON.parse(line) as { rpc: number; grpc: number };

  const rpc = new RpcClient('127.0.0.1', ports.rpc);
  const grpcClient = new GrpcEchoClient(`127.0.0.1:${ports.grpc}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    echo(req: Buffer, cb: (err: grpc.ServiceError | null, res?: Buffer) => void): grpc.ClientUnaryCall;
  };
  const systems: System[] = [
    { name: 'rpc-lite', echo: (payload) => rpc.call('echo', payload) },
    {
      name: 'grpc-js',
      echo: (payload) =>
        new Promise((resolve, reject) => grpcClient.echo(payload, (err, res) => (err ? reject(err) : resolve(res)))),
    },
  ];

  console.log(
    `rpc-lite vs @grpc/grpc-js: echo on 127.0.0.1, servers in a child process, clients here; ` +
      `${ROUNDS} rounds x ${ROUND_MS} ms per system and row, alternating; node ${process.version}\n`,
  );
  console.log(
    `${'payload'.padEnd(8)} ${'in flight'.padStart(9)} | ${'rpc-lite calls/s'.padStart(16)} ${'p50 us'.padStart(8)} ${'p99 us'.padStart(8)} | ` +
      `${'grpc-js calls/s'.padStart(15)} ${'p50 us'.padStart(8)} ${'p99 us'.padStart(8)} | ${'ratio'.padStart(6)}`,
  );
  const ratios: Array<{ row: Row; ratio: number }> = [];
  try {
    for (const row of ROWS) {
      const payload = Buffer.alloc(row.payloadBytes, 0x61);
      const tallies = systems.map((): Tally => ({ calls: 0, ms: 0, latency: new Samples() }));
      for (const sys of systems) await drive(sys.echo, payload, row.inFlight, WARMUP_MS, null);
      for (let round = 0; round < ROUNDS; round++) {
        // Alternate which goes first so that drift and other load on the machine hit both alike.
        const order = round % 2 === 0 ? [0, 1] : [1, 0];
        for (const i of order) await drive(systems[i].echo, payload, row.inFlight, ROUND_MS, tallies[i]);
      }
      const [ours, theirs] = tallies.map((t) => ({
        rate: (t.calls * 1000) / t.ms,
        p50: t.latency.percentile(50),
        p99: t.latency.percentile(99),
      }));
      const ratio = ours.rate / theirs.rate;
      ratios.push({ row, ratio });
      const size = row.payloadBytes >= 1024 ? `${row.payloadBytes / 1024} KiB` : `${row.payloadBytes} B`;
      console.log(
        `${size.padEnd(8)} ${String(row.inFlight).padStart(9)} | ${fmt(ours.rate).padStart(16)} ${fmt(ours.p50).padStart(8)} ${fmt(ours.p99).padStart(8)} | ` +
          `${fmt(theirs.rate).padStart(15)} ${fmt(theirs.p50).padStart(8)} ${fmt(theirs.p99).padStart(8)} | ${`${ratio.toFixed(1)}x`.padStart(6)}`,
      );
    }
  } finally {
    await rpc.close();
    grpcClient.close();
    child.stdin.end();
    await once(child, 'exit');
  }
  console.log('\nTargets (issue 4): >= 25x with 64 in flight, >= 6x with 1 in flight');
  for (const { row, ratio } of ratios) {
    const target = row.inFlight >= 64 ? 25 : 6;
    console.log(`  ${row.payloadBytes} B, ${row.inFlight} in flight: ${ratio.toFixed(1)}x ${ratio >= target ? 'meets' : 'MISSES'} ${target}x`);
  }
}

function fmt(v: number): string {
  return v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
