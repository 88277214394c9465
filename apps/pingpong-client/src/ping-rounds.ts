import { PoolGuard } from '@proj/pool';
import type { ClientArgs } from './args';
import type { ClientPool } from './client-pool';
import { formatMs, sleep } from 'app-support';
import { LatencyRecorder } from './latency';
import { retryDelayMs, roundTrip, type RoundTripFailed } from './round-trip';

/** What {@link runPingRounds} did. */
export interface PingRoundsSummary {
  /** Round trips that got their pong. */
  ok: number;
  /** Round trips that failed even after the retries. */
  failed: number;
  /** Round trips not tried because the run was stopped (Ctrl-C, or a fatal error). */
  skipped: number;
  /** Times of the successful round trips. */
  latency: LatencyRecorder;
  /** A failure that stopped the run (TLS trust), else `null`. */
  fatal: RoundTripFailed | null;
  /** Wall time of the run, ms. */
  elapsedMs: number;
}

/**
 * co's client example: `args.clients` async tasks, each doing `args.rounds`
 * ping/pong round trips `args.intervalMs` apart. Each round trip takes a
 * client from the pool with `PoolGuard` (connecting it if needed) and gives it
 * back, so the tasks share the pool's connections. A failed round trip is
 * reported and retried after a bounded delay; a failed client is dropped from
 * the pool (`guard.reset()`), so the retry connects afresh.
 *
 * @param log - where the per-round-trip and failure lines go.
 * @param signal - stops the run early (Ctrl-C).
 */
export async function runPingRounds(
  args: ClientArgs,
  clients: ClientPool,
  log: (line: string) => void,
  signal: AbortSignal,
): Promise<PingRoundsSummary> {
  const summary: PingRoundsSummary = {
    ok: 0,
    failed: 0,
    skipped: 0,
    latency: new LatencyRecorder(),
    fatal: null,
    elapsedMs: 0,
  };
  // A fatal failure in one task stops the others too.
  const stop = new AbortController();
  const stopped = AbortSignal.any([signal, stop.signal]);
  const started = performance.now();

  const task = async (taskNo: number): Promise<void> => {
    const buf = Buffer.alloc(8);
    for (let round = 1; round <= args.rounds; round++) {
      if (stopped.aborted) {
        summary.skipped += args.rounds - round + 1;
        return;
      }
      const where = `task ${taskNo} round ${round}/${args.rounds}`;
      let done = false;
      for (let attempt = 0; attempt <= args.retries && !done && !stopped.aborted; attempt++) {
        if (attempt > 0) {
          const delay = retryDelayMs(attempt);
          log(`${where}: retry ${attempt}/${args.retries} in ${delay} ms`);
          if (!(await sleep(delay, stopped))) break;
        }
        await using guard = await PoolGuard.acquire(clients.pool);
        const client = guard.value;
        const result = await roundTrip(client, buf, args.timeoutMs);
        if (result.ok) {
          done = true;
          summary.ok++;
          summary.latency.add(result.ms);
          if (!args.quiet) {
            const conn = `connection #${clients.idOf(client)}${result.connected ? ', new' : ''}`;
            log(`${where}: ping -> pong in ${formatMs(result.ms)} (${conn})`);
          }
          continue;
        }
        // A failure caused by Ctrl-C (closeAll) is not news; a fatal one is said once, at the end.
        if (!signal.aborted && !result.fatal) log(`${where}: ${result.message}`);
        // Drop the client: the next attempt gets a fresh one and connects.
        guard.reset();
        if (result.fatal) {
          summary.fatal ??= result;
          stop.abort();
        }
      }
      if (!done) {
        if (stopped.aborted) {
          summary.skipped += args.rounds - round + 1;
          return;
        }
        summary.failed++;
        log(
          `${where}: failed${args.retries > 0 ? ` after ${args.retries} ${args.retries === 1 ? 'retry' : 'retries'}` : ''}`,
        );
      }
      if (round < args.rounds && !(await sleep(args.intervalMs, stopped))) {
        summary.skipped += args.rounds - round;
        return;
      }
    }
  };

  const tasks: Promise<void>[] = [];
  // Ctrl-C closes the pool under the tasks: a pop that then fails is part of stopping.
  const unlessStopped = (err: unknown): void => {
    if (!signal.aborted) throw err;
  };
  for (let i = 1; i <= args.clients; i++) tasks.push(task(i).catch(unlessStopped));
  await Promise.all(tasks);
  summary.elapsedMs = performance.now() - started;
  return summary;
}
