/**
 * `npm run bench` for @proj/pool: what the wrapper costs over generic-pool.
 *
 * Each row pits `PoolGuard.acquire(pool)` + dispose (ours, through `Pool`)
 * against bare generic-pool `acquire()` + `release()` on a pool configured as
 * `Pool` configures it (unbounded or `max`, LIFO), in the same process,
 * alternating ours/raw for several rounds (which goes first alternates too).
 * It prints each side's rate (ops/s), the ratio ours/raw (target >= 0.8), and
 * the CPU time per op, which other load on the machine disturbs less.
 */
import { createPool, type Pool as GenericPool } from 'generic-pool';
import { BenchResults } from 'bench-results';
import { Pool, PoolGuard } from '../src';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 400);

const results = new BenchResults('pool-acquire', { title: '@proj/pool: PoolGuard.acquire + dispose against bare generic-pool', package: '@proj/pool' });

interface Row {
  name: string;
  /** Async tasks looping at once. */
  tasks: number;
  /** generic-pool's `max`, or 0 for unbounded (co's default: pop never waits). */
  max: number;
}

const ROWS: Row[] = [
  { name: '1 task, idle item always there', tasks: 1, max: 0 },
  { name: '16 tasks, unbounded pool', tasks: 16, max: 0 },
  { name: '16 tasks share max 4 (pops wait)', tasks: 16, max: 4 },
];

type Item = { n: number };
type Loop = (deadline: number) => Promise<number>;

/** Ours, the way code holds an item for one unit of work. */
function oursDispose(pool: Pool<Item>): Loop {
  return async (deadline) => {
    let ops = 0;
    do {
      for (let i = 0; i < 256; i++) {
        const g = await PoolGuard.acquire(pool);
        g.value.n++;
        g[Symbol.dispose]();
      }
      ops += 256;
    } while (performance.now() < deadline);
    return ops;
  };
}

/** Ours with `await using` (TypeScript's downlevel helpers included: the cost users see at ES2022). */
function oursAwaitUsing(pool: Pool<Item>): Loop {
  return async (deadline) => {
    let ops = 0;
    do {
      for (let i = 0; i < 256; i++) {
        await using g = await PoolGuard.acquire(pool);
        g.value.n++;
      }
      ops += 256;
    } while (performance.now() < deadline);
    return ops;
  };
}

function raw(gp: GenericPool<Item>): Loop {
  return async (deadline) => {
    let ops = 0;
    do {
      for (let i = 0; i < 256; i++) {
        const item = await gp.acquire();
        item.n++;
        void gp.release(item);
      }
      ops += 256;
    } while (performance.now() < deadline);
    return ops;
  };
}

interface Tally {
  ops: number;
  ms: number;
  cpuMicros: number;
  /** Ops/s of each round, in order. */
  rounds: number[];
}

function tally(): Tally {
  return { ops: 0, ms: 0, cpuMicros: 0, rounds: [] };
}

async function run(loop: Loop, tasks: number, tally: Tally, ms = ROUND_MS): Promise<void> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const deadline = started + ms;
  const counts = await Promise.all(Array.from({ length: tasks }, () => loop(deadline)));
  const elapsed = performance.now() - started;
  tally.ms += elapsed;
  const used = process.cpuUsage(cpu);
  tally.cpuMicros += used.user + used.system;
  let ops = 0;
  for (const n of counts) ops += n;
  tally.ops += ops;
  tally.rounds.push((ops / elapsed) * 1000);
}

async function compare(name: string, row: Row, ours: Loop, rawLoop: Loop): Promise<void> {
  const o = tally();
  const r = tally();
  await run(ours, row.tasks, tally(), ROUND_MS / 4); // warm-up, not counted
  await run(rawLoop, row.tasks, tally(), ROUND_MS / 4);
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 0) {
      await run(ours, row.tasks, o);
      await run(rawLoop, row.tasks, r);
    } else {
      await run(rawLoop, row.tasks, r);
      await run(ours, row.tasks, o);
    }
  }
  const rate = (t: Tally): number => (t.ops / t.ms) * 1000;
  const cpuNs = (t: Tally): number => (t.cpuMicros * 1000) / t.ops;
  console.log(
    `${name.padEnd(50)} ours ${fmt(rate(o))} ops/s  raw ${fmt(rate(r))} ops/s  ratio ${(rate(o) / rate(r)).toFixed(2)}` +
      `  | CPU/op ours ${cpuNs(o).toFixed(0)} ns raw ${cpuNs(r).toFixed(0)} ns ratio ${(cpuNs(r) / cpuNs(o)).toFixed(2)}`,
  );
  results.add({
    section: row.name,
    name: name.startsWith(`${row.name}: `) ? name.slice(row.name.length + 2) : name,
    unit: 'ops/s',
    oursName: 'PoolGuard.acquire + dispose',
    baselineName: 'generic-pool acquire + release',
    ours: o.rounds,
    baseline: r.rounds,
    cpu: { ours: cpuNs(o), baseline: cpuNs(r), unit: 'ns/op' },
  });
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US').padStart(10);
}

async function main(): Promise<void> {
  console.log(
    `@proj/pool benchmark: PoolGuard.acquire + dispose vs bare generic-pool acquire + release; ` +
      `${ROUNDS} rounds of ${ROUND_MS} ms per side, alternating; node ${process.version}\n`,
  );
  for (const row of ROWS) {
    const options = row.max > 0 ? { max: row.max } : {};
    const ours = new Pool<Item>(() => ({ n: 0 }), null, -1, options);
    const gp = createPool<Item>(
      { create: async () => ({ n: 0 }), destroy: async () => {} },
      { max: row.max > 0 ? row.max : Number.MAX_SAFE_INTEGER, fifo: false },
    );
    await compare(`${row.name}: dispose()`, row, oursDispose(ours), raw(gp));
    await compare(`${row.name}: await using`, row, oursAwaitUsing(ours), raw(gp));
    await ours.close();
    await gp.drain();
    await gp.clear();
  }
  results.finish();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
