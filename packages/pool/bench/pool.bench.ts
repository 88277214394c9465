/**
 * `npm run bench` for @proj/pool, part 1: what taking an idle item and giving it back costs.
 *
 * Each row runs, 1 user and then 64 users looping at once (async tasks, one process):
 * - `PoolGuard.acquire(pool)` + `guard.release()` (ours);
 * - `pool.pop()` + `pool.push(item)` (ours);
 * - a plain array stack with the same await: `await Promise.resolve(stack.pop())` + `stack.push()`
 *   (the floor: what any pool that hands items out through a promise pays);
 * - bare generic-pool `acquire()` + `release()`, configured as `Pool` configures it (for scale).
 * The sides alternate within each round, their order rotating from round to round; every figure
 * is the median over the rounds with its range [min-max]: ns/op of wall time (all users
 * together), CPU ns/op of this process, and ours/array, the ratio of the two in the same round.
 * `BENCH_ROUNDS` (default 9) and `BENCH_ROUND_MS` (default 200) change the rounds.
 */
import { createPool, type Pool as GenericPool } from 'generic-pool';
import { Pool, PoolGuard } from '@proj/pool';
import { BenchResults } from 'bench-results';
import { cpuNowNs, cpuNsPerOp, median, nsPerOp, spread, type Sample } from './stats';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 200);
const BATCH = 256;

const results = new BenchResults('pool-idle', {
  title: '@proj/pool: an idle item taken and given back',
  package: '@proj/pool',
});

type Item = { n: number };
/** One user's loop: operations done until `deadline` (performance.now()). */
type Loop = (deadline: number) => Promise<number>;

interface Side {
  name: string;
  loop: Loop;
}

function guardSide(pool: Pool<Item>): Side {
  return {
    name: 'PoolGuard.acquire + release',
    loop: async (deadline) => {
      let ops = 0;
      do {
        for (let i = 0; i < BATCH; i++) {
          const g = await PoolGuard.acquire(pool);
          g.value.n++;
          g.release();
        }
        ops += BATCH;
      } while (performance.now() < deadline);
      return ops;
    },
  };
}

function popPushSide(pool: Pool<Item>): Side {
  return {
    name: 'pop + push',
    loop: async (deadline) => {
      let ops = 0;
      do {
        for (let i = 0; i < BATCH; i++) {
          const item = (await pool.pop())!;
          item.n++;
          pool.push(item);
        }
        ops += BATCH;
      } while (performance.now() < deadline);
      return ops;
    },
  };
}

function arraySide(stack: Item[]): Side {
  return {
    name: 'array stack, same await',
    loop: async (deadline) => {
      let ops = 0;
      do {
        for (let i = 0; i < BATCH; i++) {
          const item = await Promise.resolve(stack.pop() ?? { n: 0 });
          item.n++;
          stack.push(item);
        }
        ops += BATCH;
      } while (performance.now() < deadline);
      return ops;
    },
  };
}

function genericPoolSide(gp: GenericPool<Item>): Side {
  return {
    name: 'bare generic-pool',
    loop: async (deadline) => {
      let ops = 0;
      do {
        for (let i = 0; i < BATCH; i++) {
          const item = await gp.acquire();
          item.n++;
          void gp.release(item);
        }
        ops += BATCH;
      } while (performance.now() < deadline);
      return ops;
    },
  };
}

async function round(side: Side, users: number, ms: number): Promise<Sample> {
  const cpu = cpuNowNs();
  const started = performance.now();
  const counts = await Promise.all(Array.from({ length: users }, () => side.loop(started + ms)));
  const ns = (performance.now() - started) * 1e6;
  return { ops: counts.reduce((a, b) => a + b, 0), ns, cpuNs: cpuNowNs() - cpu };
}

async function row(users: number): Promise<void> {
  const pool = new Pool<Item>(() => ({ n: 0 }), null);
  const stack: Item[] = [];
  const gp = createPool<Item>(
    { create: async () => ({ n: 0 }), destroy: async () => {} },
    { max: Number.MAX_SAFE_INTEGER, fifo: false },
  );
  const sides = [guardSide(pool), popPushSide(pool), arraySide(stack), genericPoolSide(gp)];
  const samples = sides.map((): Sample[] => []);
  for (const side of sides) await round(side, users, ROUND_MS / 2); // warm-up, and the items made
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < sides.length; k++) {
      const i = (k + r) % sides.length;
      samples[i].push(await round(sides[i], users, ROUND_MS));
    }
  }
  const arrayNs = samples[2].map(nsPerOp);
  for (let i = 0; i < sides.length; i++) {
    const ns = samples[i].map(nsPerOp);
    const ratio =
      i === 2
        ? ''
        : `  ours/array ${spread(
            ns.map((v, r) => v / arrayNs[r]),
            2,
          )}`;
    console.log(
      `${String(users).padStart(2)} user${users === 1 ? ' ' : 's'}  ${sides[i].name.padEnd(28)} ` +
        `${spread(ns, 0).padEnd(18)} ns/op  CPU ${spread(samples[i].map(cpuNsPerOp), 0).padEnd(18)} ns/op${ratio}`,
    );
  }
  // For the results file: each of ours against the floor (the array) and against generic-pool, in ns/op.
  const cpuMedian = (i: number): number => median(samples[i].map(cpuNsPerOp));
  for (const i of [0, 1]) {
    for (const b of [2, 3]) {
      results.add({
        section: `${users} user${users === 1 ? '' : 's'}`,
        name: `${sides[i].name} vs ${sides[b].name}`,
        unit: 'ns/op',
        oursName: sides[i].name,
        baselineName: sides[b].name,
        ours: samples[i].map(nsPerOp),
        baseline: samples[b].map(nsPerOp),
        higherIsBetter: false,
        cpu: { ours: cpuMedian(i), baseline: cpuMedian(b), unit: 'ns/op' },
      });
    }
  }
  await pool.close();
  await gp.drain();
  await gp.clear();
}

async function main(): Promise<void> {
  console.log(
    `@proj/pool: an idle item taken and given back; node ${process.version}; ` +
      `${ROUNDS} rounds of ${ROUND_MS} ms per side, sides alternating; median [min-max]`,
  );
  await row(1);
  await row(64);
  results.finish();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
