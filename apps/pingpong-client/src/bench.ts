import { PoolGuard } from '@proj/pool';
import { sleep } from 'app-support';
import type { ClientArgs } from './args';
import type { ClientPool } from './client-pool';
import { LatencyRecorder } from './latency';
import { retryDelayMs, roundTrip, type RoundTripFailed } from './round-trip';

/** What {@link runBench} measured. */
export interface BenchResult {
  /** Round trips completed. */
  roundTrips: number;
  /** Failed round trips (each followed by a reconnect). */
  errors: number;
  /** How long the tasks ran, ms. */
  elapsedMs: number;
  /** Round trips per second over the whole run. */
  perSecond: number;
  /** Every round trip's time. */
  latency: LatencyRecorder;
  /** A failure that stopped the run (TLS trust), else `null`. */
  fatal: RoundTripFailed | null;
}

/** Where the bench writes. */
export interface BenchOutput {
  /** A whole line (failures; progress when not on a terminal). */
  line(text: string): void;
  /** Rewrites the progress line in place; given only when stdout is a terminal. */
  progress?: (text: string) => void;
}

/** How often a failure of the same kind is printed again, ms; the rest are counted. */
const FAILURE_REPEAT_MS = 1000;

/**
 * Drives the server as fast as it can for `args.seconds`: `args.clients`
 * tasks, each holding one pooled client (`PoolGuard`, as co's coroutines do)
 * and doing ping/pong back to back. A failure is counted, reported (at most
 * once a second per kind), and followed by a fresh client after a bounded delay.
 * Shows a progress line: rewritten 4 times a second on a terminal, else one
 * line per second.
 *
 * @param signal - stops the run early (Ctrl-C); the result covers what was done.
 */
export async function runBench(
  args: ClientArgs,
  clients: ClientPool,
  out: BenchOutput,
  signal: AbortSignal,
): Promise<BenchResult> {
  const latency = new LatencyRecorder();
  let errors = 0;
  let fatal: RoundTripFailed | null = null;
  const lastShown = new Map<string, number>();
  const stop = new AbortController();
  const stopped = AbortSignal.any([signal, stop.signal]);
  const started = performance.now();
  const deadline = started + args.seconds * 1000;
  const endTimer = setTimeout(() => stop.abort(), args.seconds * 1000);

  const report = (f: RoundTripFailed): void => {
    errors++;
    // A fatal failure is said once, at the end.
    if (stopped.aborted || f.fatal) return;
    const now = performance.now();
    const key = `${f.stage}:${f.code}`;
    if (now - (lastShown.get(key) ?? -Infinity) < FAILURE_REPEAT_MS) return;
    lastShown.set(key, now);
    out.line(`${f.message} (${errors} errors so far; retrying)`);
  };

  const task = async (): Promise<void> => {
    const buf = Buffer.alloc(8);
    await using guard = await PoolGuard.acquire(clients.pool);
    let failures = 0;
    while (!stopped.aborted && performance.now() < deadline) {
      const result = await roundTrip(guard.value, buf, args.timeoutMs);
      if (result.ok) {
        latency.add(result.ms);
        failures = 0;
        continue;
      }
      if (stopped.aborted) break;
      report(result);
      if (result.fatal) {
        fatal ??= result;
        stop.abort();
        break;
      }
      // Start again on a fresh client, after a delay that grows but stays bounded.
      guard.reset(await clients.pool.pop());
      if (!(await sleep(retryDelayMs(Math.min(++failures, 6)), stopped))) break;
    }
  };

  let lastCount = 0;
  let lastAt = started;
  const progressEveryMs = out.progress ? 250 : 1000;
  const ticker = setInterval(() => {
    const now = performance.now();
    const count = latency.count;
    const rate = ((count - lastCount) * 1000) / (now - lastAt);
    lastCount = count;
    lastAt = now;
    const text =
      `${((now - started) / 1000).toFixed(1).padStart(5)} s  ${fmtInt(rate).padStart(9)} round trips/s  ` +
      `(${fmtInt(count)} total${errors > 0 ? `, ${errors} errors` : ''})`;
    if (out.progress) out.progress(text);
    else out.line(text);
  }, progressEveryMs);

  try {
    const tasks: Promise<void>[] = [];
    // Ctrl-C closes the pool under the tasks: a pop that then fails is part of stopping.
    const unlessStopped = (err: unknown): void => {
      if (!signal.aborted) throw err;
    };
    for (let i = 0; i < args.clients; i++) tasks.push(task().catch(unlessStopped));
    await Promise.all(tasks);
  } finally {
    clearTimeout(endTimer);
    clearInterval(ticker);
  }
  const elapsedMs = performance.now() - started;
  return {
    roundTrips: latency.count,
    errors,
    elapsedMs,
    perSecond: (latency.count * 1000) / elapsedMs,
    latency,
    fatal,
  };
}

/** `41234.5` → `"41,235"`. */
export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
