/**
 * `npm run soak`: scale and soak runs, bounded in time, stopping by themselves.
 *
 *   (a) connections: 10,000 concurrent connections to one @proj/tcp server
 *       (in a child process) doing ping-pong, held for SOAK_CONN_SECONDS;
 *   (b) rpc: 64 callers on rpc-lite for SOAK_SECONDS (10 minutes by default)
 *       with timeouts, aborts, handler errors and random disconnects.
 *
 * Each reports connections held, round trips, errors by code, p99 latency,
 * memory at start/peak/end and file descriptors left open. Exit code 0 when
 * every check holds, 1 otherwise.
 *
 * Settings (environment variable, or the flag in brackets):
 *   SOAK_PART          [--part]           connections | rpc | all | rolling default all
 *   SOAK_CONNECTIONS   [--connections]    concurrent connections         default 10000
 *   SOAK_CONN_SECONDS  [--conn-seconds]   how long they are held         default 60
 *   SOAK_THINK_MS      [--think-ms]       each client pings every 0..n ms default 1000
 *   SOAK_SECONDS       [--seconds]        length of the rpc run          default 600
 *   SOAK_CALLERS       [--callers]        rpc callers                    default 64
 *   SOAK_DROP_EVERY_MS [--drop-every-ms]  a connection dropped this often default 500
 *   SOAK_REPLACE_EVERY_MS [--replace-every-ms] a client replaced this often default 5000
 *   SOAK_RESTARTS      [--restarts]       rolling: restarts of each server default 20
 *   SOAK_DRAIN         [--drain]          rolling: on | off (rpc.goaway)  default on
 *   SOAK_JSON          [--json]           also write the reports to this file
 */
import { writeFileSync } from 'node:fs';
import { UsageError } from 'app-support';
import { connSoak, printConnReport, type ConnSoakReport } from './conn-soak';
import { printRollingReport, rollingRestart, type RollingReport } from './rolling-restart';
import { printRpcReport, rpcSoak, type RpcSoakReport } from './rpc-soak';
import { soakSettings } from './settings';

function log(line: string): void {
  process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

async function main(): Promise<number> {
  const s = soakSettings(process.argv.slice(2));
  const part = s.part;
  const reports: Array<ConnSoakReport | RpcSoakReport | RollingReport> = [];
  let passed = true;
  log(`soak on node ${process.version}, pid ${process.pid}; fd limit: see ulimit -n`);
  if (part === 'rolling') {
    const r = await rollingRestart({ rounds: s.restarts, drain: s.drain, callers: 64, log });
    printRollingReport(r, log);
    reports.push(r);
    passed &&= r.passed;
  }
  if (part === 'connections' || part === 'all') {
    const r = await connSoak({
      connections: s.connections,
      holdSeconds: s.connSeconds,
      thinkMs: s.thinkMs,
      connectConcurrency: 256,
      log,
    });
    printConnReport(r, log);
    reports.push(r);
    passed &&= r.ok;
  }
  if (part === 'rpc' || part === 'all') {
    const r = await rpcSoak({
      seconds: s.seconds,
      callers: s.callers,
      clients: 8,
      connectionsPerClient: 2,
      dropEveryMs: s.dropEveryMs,
      replaceEveryMs: s.replaceEveryMs,
      log,
    });
    printRpcReport(r, log);
    reports.push(r);
    passed &&= r.passed;
  }
  if (s.json) writeFileSync(s.json, `${JSON.stringify(reports, null, 2)}\n`);
  log(passed ? 'soak: every check held' : 'soak: FAILED (see above)');
  return passed ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // A bad setting is one line; anything else, the whole stack.
    process.stderr.write(`soak: ${err instanceof UsageError ? err.message : ((err as Error)?.stack ?? String(err))}\n`);
    process.exitCode = 2;
  },
);
