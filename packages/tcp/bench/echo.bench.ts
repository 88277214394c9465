/**
 * `npm run bench` for @proj/tcp: ours against raw `node:net`, in one run.
 *
 * Server side: the same raw load generator drives an echo server written with
 * our `Connection` and one written with `'data'` callbacks (both in a child
 * process). Client side: our `Client` and a raw `net.Socket` drive the raw
 * echo server. Each row alternates ours/raw for several rounds and reports the
 * total rate of each and the ratio ours/raw.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type Load, oursLoad, rawLoad, sleep } from './load';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 1000);

const ROWS: Array<{ name: string; load: Load }> = [
  { name: '64 conns x 8 B ping-pong', load: { conns: 64, size: 8, window: 1 } },
  { name: '1 conn x 8 B ping-pong', load: { conns: 1, size: 8, window: 1 } },
  { name: '64 conns x 4 KiB ping-pong', load: { conns: 64, size: 4096, window: 1 } },
  { name: '64 KiB bulk stream (8 in flight)', load: { conns: 1, size: 65536, window: 8 } },
];

async function main(): Promise<void> {
  const child = spawn(process.execPath, [join(__dirname, 'echo-servers.js')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  const ports = JSON.parse(line) as { ours: number; raw: number };
  console.log(`@proj/tcp benchmark: ${ROUNDS} rounds of ${ROUND_MS} ms per side, alternating; node ${process.version}\n`);
  try {
    console.log('Server side (same raw load generator; echo server ours vs raw net)');
    for (const row of ROWS) {
      await compare(row.name, row.load, (ms) => rawLoad(ports.ours, row.load, ms), (ms) => rawLoad(ports.raw, row.load, ms));
    }
    console.log('\nClient side (same raw echo server; our Client vs raw net.Socket)');
    for (const row of ROWS) {
      await compare(row.name, row.load, (ms) => oursLoad(ports.raw, row.load, ms), (ms) => rawLoad(ports.raw, row.load, ms));
    }
  } finally {
    child.stdin!.end();
    await once(child, 'exit');
  }
}

async function compare(
  name: string,
  load: Load,
  ours: (ms: number) => Promise<number>,
  raw: (ms: number) => Promise<number>,
): Promise<void> {
  let oursTotal = 0;
  let rawTotal = 0;
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which goes first so that warm-up and drift hit both alike.
    if (round % 2 === 0) {
      oursTotal += await ours(ROUND_MS);
      await sleep(50);
      rawTotal += await raw(ROUND_MS);
    } else {
      rawTotal += await raw(ROUND_MS);
      await sleep(50);
      oursTotal += await ours(ROUND_MS);
    }
    await sleep(50);
  }
  const seconds = (ROUNDS * ROUND_MS) / 1000;
  const unit = load.size >= 65536 ? 'MiB/s' : 'round trips/s';
  const scale = load.size >= 65536 ? load.size / (1024 * 1024) : 1;
  const o = (oursTotal * scale) / seconds;
  const r = (rawTotal * scale) / seconds;
  console.log(
    `  ${name.padEnd(34)} ours ${fmt(o).padStart(9)}  raw ${fmt(r).padStart(9)} ${unit.padEnd(14)} ratio ${(o / r).toFixed(2)}`,
  );
}

function fmt(v: number): string {
  return v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
