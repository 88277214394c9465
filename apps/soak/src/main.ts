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
 *   SOAK_PART          [--part]           connections | rpc | all        default all
 *   SOAK_CONNECTIONS   [--connections]    concurrent connections         default 10000
 *   SOAK_CONN_SECONDS  [--conn-seconds]   how long they are held         default 60
 *   SOAK_THINK_MS      [--think-ms]       each client pings every 0..n ms default 1000
 *   SOAK_SECONDS       [--seconds]        length of the rpc run          default 600
 *   SOAK_CALLERS       [--callers]        rpc callers                    default 64
 *   SOAK_DROP_EVERY_MS [--drop-every-ms]  a connection dropped this often default 500
 *   SOAK_REPLACE_EVERY_MS [--replace-every-ms] a client replaced this often default 5000
 *   SOAK_JSON          [--json]           also write the reports to this file
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { connSoak, printConnReport, type ConnSoakReport } from './conn-soak';
import { printRpcReport, rpcSoak, type RpcSoakReport } from './rpc-soak';

const FLAGS = {
  part: 'SOAK_PART',
  connections: 'SOAK_CONNECTIONS',
  'conn-seconds': 'SOAK_CONN_SECONDS',
  'think-ms': 'SOAK_THINK_MS',
  seconds: 'SOAK_SECONDS',
  callers: 'SOAK_CALLERS',
  'drop-every-ms': 'SOAK_DROP_EVERY_MS',
  'replace-every-ms': 'SOAK_REPLACE_EVERY_MS',
  json: 'SOAK_JSON',
} as const;

function settings(): Record<keyof typeof FLAGS, string | undefined> {
  const { values } = parseArgs({
    options: Object.fromEntries(Object.keys(FLAGS).map((k) => [k, { type: 'string' as const }])),
    strict: true,
  });
  const out = {} as Record<keyof typeof FLAGS, string | undefined>;
  for (const [flag, env] of Object.entries(FLAGS) as Array<[keyof typeof FLAGS, string]>) {
    out[flag] = (values as Record<string, string | undefined>)[flag] ?? process.env[env];
  }
  return out;
}

function int(name: string, v: string | undefined, dflt: number, min: number): number {
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got ${v}`);
  return n;
}

function log(line: string): void {
  process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

async function main(): Promise<number> {
  const s = settings();
  const part = s.part ?? 'all';
  if (!['connections', 'rpc', 'all'].includes(part)) throw new Error(`--part must be connections, rpc or all, got ${part}`);
  const reports: Array<ConnSoakReport | RpcSoakReport> = [];
  let passed = true;
  log(`soak on node ${process.version}, pid ${process.pid}; fd limit: see ulimit -n`);
  if (part !== 'rpc') {
    const r = await connSoak({
      connections: int('connections', s.connections, 10_000, 1),
      holdSeconds: int('conn-seconds', s['conn-seconds'], 60, 1),
      thinkMs: int('think-ms', s['think-ms'], 1000, 0),
      connectConcurrency: 256,
      log,
    });
    printConnReport(r, log);
    reports.push(r);
    passed &&= r.ok;
  }
  if (part !== 'connections') {
    const r = await rpcSoak({
      seconds: int('seconds', s.seconds, 600, 1),
      callers: int('callers', s.callers, 64, 1),
      clients: 8,
      connectionsPerClient: 2,
      dropEveryMs: int('drop-every-ms', s['drop-every-ms'], 500, 0),
      replaceEveryMs: int('replace-every-ms', s['replace-every-ms'], 5000, 0),
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
    process.stderr.write(`soak: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 2;
  },
);
