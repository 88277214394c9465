/**
 * Part (b): an rpc-lite run of many callers for a long time, with timeouts,
 * aborts, handler errors and random disconnects, checking every result.
 *
 * The RpcServer runs in a child process. The callers share a few RpcClients
 * that reach it through a {@link ChaosProxy}, which resets a random
 * connection now and then (network drops); now and then a whole RpcClient is
 * closed mid-flight and replaced (clients going away). Calls cut off by a
 * drop fail with CONNECTION_CLOSED and the next call reconnects; nothing else
 * may fail unexpectedly, and no result may be wrong.
 */
import { randomFillSync } from 'node:crypto';
import { RpcClient, RpcError } from '@proj/rpc-lite';
import { formatMs, sleep } from 'app-support';
import { ChaosProxy } from './chaos-proxy';
import { ServerChild, type ChildStats } from './child';
import { fmtCounts } from './conn-soak';
import {
  Counts,
  Histogram,
  PeakMemory,
  fmtMemory,
  memory,
  mib,
  openFds,
  type LatencySummary,
  type Memory,
} from './stats';

export interface RpcSoakOptions {
  seconds: number;
  callers: number;
  clients: number;
  connectionsPerClient: number;
  /** The proxy resets one connection this often (0: never). */
  dropEveryMs: number;
  /** One RpcClient is closed and replaced this often (0: never). */
  replaceEveryMs: number;
  log: (line: string) => void;
}

export interface RpcSoakReport {
  part: 'rpc';
  seconds: number;
  callers: number;
  calls: number;
  ok: number;
  /** Every failure by code, expected ones included. */
  errors: Record<string, number>;
  /** Failures that the run did not provoke on purpose (a drop's CONNECTION_CLOSED is provoked). */
  unexpected: Record<string, number>;
  wrongResults: number;
  drops: number;
  clientsReplaced: number;
  serverCalls: Record<string, number>;
  serverErrors: Record<string, number>;
  /** Round trips of echo calls (1 B - 32 KiB), ms. */
  latency: LatencySummary;
  /** sleep calls (0-20 ms of handler time included), ms. */
  sleepLatency: LatencySummary;
  client: { start: Memory; warm: Memory; peak: Memory; end: Memory; fdsStart: number; fdsEnd: number };
  server: {
    start: Memory;
    warm: Memory;
    peak: Memory;
    end: Memory;
    fdsStart: number;
    fdsEnd: number;
    connNumEnd: number;
  };
  passed: boolean;
}

type Op = 'echo' | 'sleep' | 'fail' | 'slow' | 'abort';

function pickOp(): Op {
  const r = Math.random();
  return r < 0.75 ? 'echo' : r < 0.85 ? 'sleep' : r < 0.9 ? 'fail' : r < 0.95 ? 'slow' : 'abort';
}

/** What each op is allowed to fail with, besides what a drop causes. */
const EXPECTED: Record<Op, string[]> = { echo: [], sleep: [], fail: ['E_SOAK'], slow: ['TIMEOUT'], abort: ['ABORTED'] };
/** What a drop (proxy reset or a client replaced) makes a call fail with. */
const DROP_CODES = new Set(['CONNECTION_CLOSED']);

export function rpcSoak(o: RpcSoakOptions): Promise<RpcSoakReport> {
  return ServerChild.run('rpc-server.js', (child) => run(o, child));
}

async function run(o: RpcSoakOptions, child: ServerChild): Promise<RpcSoakReport> {
  const log = o.log;
  const serverStart = await child.stats(true);
  const fdsStart = openFds();
  const start = memory(true);
  const peak = new PeakMemory();
  peak.add(start);
  const proxy = new ChaosProxy();
  const proxyPort = await proxy.start(child.port);
  log(
    `rpc: ${o.callers} callers over ${o.clients} RpcClients x ${o.connectionsPerClient} connections, ${o.seconds} s, ` +
      `through a proxy dropping a connection every ${o.dropEveryMs} ms, a client replaced every ${o.replaceEveryMs} ms`,
  );

  const makeClient = (): RpcClient =>
    new RpcClient('127.0.0.1', proxyPort, {
      timeoutMs: 5000,
      connections: o.connectionsPerClient,
      connectTimeoutMs: 3000,
    });
  const clients = Array.from({ length: o.clients }, makeClient);
  const retired: Promise<void>[] = [];
  let clientsReplaced = 0;

  const errors = new Counts();
  const unexpected = new Counts();
  const latency = new Histogram();
  const sleepLatency = new Histogram();
  let calls = 0;
  let ok = 0;
  let wrongResults = 0;
  const deadline = Date.now() + o.seconds * 1000;
  let stopping = false;

  async function caller(index: number): Promise<void> {
    const payload = Buffer.allocUnsafe(32 * 1024);
    while (!stopping && Date.now() < deadline) {
      const client = clients[index % clients.length];
      const op = pickOp();
      calls++;
      const t0 = performance.now();
      try {
        switch (op) {
          case 'echo': {
            const size = Math.max(1, Math.floor(2 ** (Math.random() * 15)));
            const data = randomFillSync(payload, 0, size).subarray(0, size);
            const r = await client.call<Uint8Array>('echo', [data]);
            if (
              !(r instanceof Uint8Array) ||
              Buffer.compare(Buffer.from(r.buffer, r.byteOffset, r.byteLength), data) !== 0
            )
              wrongResults++;
            break;
          }
          case 'sleep': {
            const ms = Math.floor(Math.random() * 20);
            if ((await client.call('sleep', [ms])) !== ms) wrongResults++;
            break;
          }
          case 'fail':
            await client.call('fail', []);
            wrongResults++; // it must not succeed
            break;
          case 'slow':
            await client.call('slow', [1000], { timeoutMs: 100 });
            wrongResults++;
            break;
          case 'abort': {
            const ac = new AbortController();
            setTimeout(() => ac.abort(), Math.random() * 5);
            await client.call('sleep', [5], { signal: ac.signal }); // may finish first: fine
            break;
          }
        }
        ok++;
        if (op === 'echo') latency.add(performance.now() - t0);
        else if (op === 'sleep') sleepLatency.add(performance.now() - t0);
      } catch (err) {
        const code = err instanceof RpcError ? err.code : `${(err as Error)?.name}`;
        errors.add(code);
        if (!EXPECTED[op].includes(code) && !DROP_CODES.has(code)) unexpected.add(`${op}:${code}`);
        if (DROP_CODES.has(code)) await sleep(5); // back off a moment after a drop
      }
    }
  }

  const dropTimer = o.dropEveryMs > 0 ? setInterval(() => proxy.dropOne(), o.dropEveryMs) : null;
  const replaceTimer =
    o.replaceEveryMs > 0
      ? setInterval(() => {
          const i = Math.floor(Math.random() * clients.length);
          const old = clients[i];
          clients[i] = makeClient();
          clientsReplaced++;
          retired.push(old.close());
        }, o.replaceEveryMs)
      : null;

  // Memory: a warm reading once the run has settled, then the peak every 2 s.
  const warmAt = Math.min(10_000, (o.seconds * 1000) / 10);
  let warm: Memory = start;
  let serverWarm: ChildStats | null = null;
  const sampler = setInterval(() => peak.add(memory()), 2000);
  const warmTimer = setTimeout(() => {
    warm = memory(true);
    void child.stats(true).then((s) => (serverWarm = s));
  }, warmAt);
  let lastCalls = 0;
  const progress = setInterval(() => {
    log(
      `  ${Math.round((o.seconds * 1000 - (deadline - Date.now())) / 1000)} s: ${calls} calls (+${calls - lastCalls}), ${ok} ok, echo p99 ${formatMs(latency.percentile(99))}, ` +
        `errors ${errors.toString()}, unexpected ${unexpected.toString()}, wrong ${wrongResults}, drops ${proxy.drops}, replaced ${clientsReplaced}; ${fmtMemory(memory())}`,
    );
    lastCalls = calls;
  }, 30_000);

  await Promise.all(Array.from({ length: o.callers }, (_, i) => caller(i)));
  stopping = true;
  for (const t of [dropTimer, replaceTimer, progress, sampler]) if (t) clearInterval(t);
  clearTimeout(warmTimer);
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(retired);
  await proxy.close();
  const s = await child.drained();
  await sleep(200);
  const end = memory(true);
  const fdsEnd = openFds();
  const serverEnd = await child.stop();
  const report: RpcSoakReport = {
    part: 'rpc',
    seconds: o.seconds,
    callers: o.callers,
    calls,
    ok,
    errors: errors.toJSON(),
    unexpected: unexpected.toJSON(),
    wrongResults,
    drops: proxy.drops,
    clientsReplaced,
    serverCalls: serverEnd.counters,
    serverErrors: serverEnd.errors,
    latency: latency.summary(),
    sleepLatency: sleepLatency.summary(),
    client: { start, warm, peak: peak.peak, end, fdsStart, fdsEnd },
    server: {
      start: serverStart.memory,
      warm: (serverWarm as ChildStats | null)?.memory ?? serverStart.memory,
      peak: serverEnd.peak,
      end: serverEnd.memory,
      fdsStart: serverStart.fds,
      fdsEnd: s.fds,
      connNumEnd: s.connNum,
    },
    passed: false,
  };
  report.passed =
    unexpected.total === 0 &&
    wrongResults === 0 &&
    ok > 0 &&
    fdsEnd <= fdsStart &&
    s.connNum === 0 &&
    s.fds <= serverStart.fds;
  return report;
}

export function printRpcReport(r: RpcSoakReport, log: (line: string) => void): void {
  log(`rpc: ${r.passed ? 'OK' : 'FAILED'}`);
  log(
    `  ${r.callers} callers for ${r.seconds} s: ${r.calls} calls, ${r.ok} ok, ${r.wrongResults} wrong results; ${r.drops} connections dropped by the proxy, ${r.clientsReplaced} clients replaced`,
  );
  log(`  errors by code: ${fmtCounts(r.errors)} (unexpected: ${fmtCounts(r.unexpected)})`);
  log(`  server: calls ${fmtCounts(r.serverCalls)}; onError ${fmtCounts(r.serverErrors)}`);
  log(
    `  latency of echo calls: p50 ${formatMs(r.latency.p50)}, p99 ${formatMs(r.latency.p99)}, max ${formatMs(r.latency.max)}`,
  );
  log(
    `  latency of sleep calls (0-20 ms in the handler): p50 ${formatMs(r.sleepLatency.p50)}, p99 ${formatMs(r.sleepLatency.p99)}, max ${formatMs(r.sleepLatency.max)}`,
  );
  log(
    `  client memory: start ${fmtMemory(r.client.start)}; warm ${fmtMemory(r.client.warm)}; peak ${fmtMemory(r.client.peak)}; end ${fmtMemory(r.client.end)}`,
  );
  log(
    `  server memory: start ${fmtMemory(r.server.start)}; warm ${fmtMemory(r.server.warm)}; peak ${fmtMemory(r.server.peak)}; end ${fmtMemory(r.server.end)}`,
  );
  log(
    `  heap after GC, warm -> end: client ${mib(r.client.warm.heapUsed)} -> ${mib(r.client.end.heapUsed)}, server ${mib(r.server.warm.heapUsed)} -> ${mib(r.server.end.heapUsed)}`,
  );
  log(
    `  file descriptors: client ${r.client.fdsStart} at start, ${r.client.fdsEnd} at end (${r.client.fdsEnd - r.client.fdsStart} left open); server ${r.server.fdsStart} at start, ${r.server.fdsEnd} at end (${r.server.fdsEnd - r.server.fdsStart} left open), connNum ${r.server.connNumEnd}`,
  );
}
