/**
 * Part (a): many concurrent connections to one @proj/tcp server (in a child
 * process) doing ping-pong. Connects them all (a bounded number at a time),
 * holds them for a while with every client pinging at a random pace, then
 * closes them and checks that nothing is left: connNum 0 and the descriptor
 * count of both processes back where it started.
 */
import { Client } from '@proj/tcp';
import { formatMs, sleep } from 'app-support';
import { ServerChild } from './child';
import { Counts, Histogram, PeakMemory, fmtMemory, memory, openFds, type LatencySummary, type Memory } from './stats';

export interface ConnSoakOptions {
  connections: number;
  holdSeconds: number;
  /** Connects in flight at once. */
  connectConcurrency: number;
  /** Each client waits a random time up to this between its pings. */
  thinkMs: number;
  log: (line: string) => void;
}

export interface ConnSoakReport {
  part: 'connections';
  target: number;
  connected: number;
  /** Fewest connections the server held during the hold phase (sampled every second). */
  heldMin: number;
  heldMax: number;
  holdSeconds: number;
  connectSeconds: number;
  roundTrips: number;
  serverRoundTrips: number;
  errors: Record<string, number>;
  serverErrors: Record<string, number>;
  latency: LatencySummary;
  client: { start: Memory; peak: Memory; end: Memory; fdsStart: number; fdsEnd: number };
  server: { start: Memory; peak: Memory; end: Memory; fdsStart: number; fdsEnd: number; connNumEnd: number };
  ok: boolean;
}

export function connSoak(o: ConnSoakOptions): Promise<ConnSoakReport> {
  return ServerChild.run('conn-server.js', (child) => run(o, child));
}

async function run(o: ConnSoakOptions, child: ServerChild): Promise<ConnSoakReport> {
  const log = o.log;
  const serverStart = await child.stats(true);
  const fdsStart = openFds();
  const start = memory(true);
  const peak = new PeakMemory();
  peak.add(start);
  const sampler = setInterval(() => peak.add(memory()), 1000);
  log(
    `connections: ${o.connections} clients to one server (pid ${child.child.pid}) on 127.0.0.1:${child.port}, held ${o.holdSeconds} s, ping every 0-${o.thinkMs} ms`,
  );

  const errors = new Counts();
  const latency = new Histogram();
  let roundTrips = 0;
  let stopping = false;
  const clients: Client[] = [];
  const loops: Promise<void>[] = [];

  async function pingLoop(c: Client, id: number): Promise<void> {
    const got = Buffer.allocUnsafe(8);
    const mine = Buffer.allocUnsafe(8);
    for (let seq = 0; !stopping; seq++) {
      await sleep(Math.random() * o.thinkMs);
      if (stopping) break;
      mine.writeUInt32BE(id, 0);
      mine.writeUInt32BE(seq, 4);
      const t0 = performance.now();
      if ((await c.send(mine, 8, 10_000)) !== 8) {
        errors.add(`send:${c.lastError?.code ?? 'EIO'}`);
        return;
      }
      const n = await c.recvn(got, 8, 10_000);
      if (n !== 8) {
        errors.add(n === 0 ? 'recv:EOF' : `recv:${c.lastError?.code ?? 'EIO'}`);
        return;
      }
      latency.add(performance.now() - t0);
      if (!got.equals(mine)) {
        errors.add('WRONG_REPLY');
        return;
      }
      roundTrips++;
    }
  }

  // Connect phase: a bounded number of connects in flight.
  const t0 = Date.now();
  let next = 0;
  let connected = 0;
  let lastLog = Date.now();
  async function connector(): Promise<void> {
    while (next < o.connections) {
      const id = next++;
      const c = new Client('127.0.0.1', child.port);
      if (await c.connect(10_000)) {
        clients.push(c);
        connected++;
        loops.push(pingLoop(c, id));
      } else {
        errors.add(`connect:${c.lastError?.code ?? 'EIO'}`);
        c.close();
      }
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now();
        log(`  connected ${connected}/${o.connections}`);
      }
    }
  }
  await Promise.all(Array.from({ length: o.connectConcurrency }, connector));
  const connectSeconds = (Date.now() - t0) / 1000;
  log(`  connected ${connected}/${o.connections} in ${connectSeconds.toFixed(1)} s; client fds ${openFds()}`);

  // Hold phase.
  let heldMin = Infinity;
  let heldMax = 0;
  const holdEnd = Date.now() + o.holdSeconds * 1000;
  let lastRound = 0;
  while (Date.now() < holdEnd) {
    await sleep(Math.min(1000, Math.max(0, holdEnd - Date.now())));
    const s = await child.stats();
    heldMin = Math.min(heldMin, s.connNum);
    heldMax = Math.max(heldMax, s.connNum);
    if (Date.now() - lastLog > 10_000) {
      lastLog = Date.now();
      log(
        `  held ${s.connNum}, ${roundTrips} round trips (+${roundTrips - lastRound}), p99 ${formatMs(latency.percentile(99))}, errors ${errors.toString()}; client ${fmtMemory(memory())}; server ${fmtMemory(s.memory)}`,
      );
      lastRound = roundTrips;
    }
  }
  if (heldMin === Infinity) heldMin = (await child.stats()).connNum;

  // Close everything.
  stopping = true;
  await Promise.all(loops);
  for (const c of clients) c.close();
  const s = await child.drained();
  clearInterval(sampler);
  clients.length = 0;
  await sleep(200);
  const end = memory(true);
  const fdsEnd = openFds();
  const serverEnd = await child.stop();
  const serverPeak = serverEnd.peak;
  const report: ConnSoakReport = {
    part: 'connections',
    target: o.connections,
    connected,
    heldMin,
    heldMax,
    holdSeconds: o.holdSeconds,
    connectSeconds,
    roundTrips,
    serverRoundTrips: serverEnd.counters.roundTrips ?? 0,
    errors: errors.toJSON(),
    serverErrors: serverEnd.errors,
    latency: latency.summary(),
    client: { start, peak: peak.peak, end, fdsStart, fdsEnd },
    server: {
      start: serverStart.memory,
      peak: serverPeak,
      end: serverEnd.memory,
      fdsStart: serverStart.fds,
      fdsEnd: s.fds,
      connNumEnd: s.connNum,
    },
    ok: false,
  };
  report.ok =
    connected === o.connections &&
    heldMin === o.connections &&
    errors.total === 0 &&
    fdsEnd <= fdsStart &&
    s.connNum === 0 &&
    s.fds <= serverStart.fds;
  return report;
}

export function printConnReport(r: ConnSoakReport, log: (line: string) => void): void {
  log(`connections: ${r.ok ? 'OK' : 'FAILED'}`);
  log(
    `  connections held: ${r.heldMin} (min) / ${r.heldMax} (max) of ${r.target} for ${r.holdSeconds} s; connected ${r.connected} in ${r.connectSeconds.toFixed(1)} s`,
  );
  log(`  round trips: ${r.roundTrips} (server counted ${r.serverRoundTrips})`);
  log(`  errors by code: ${fmtCounts(r.errors)}; server onError: ${fmtCounts(r.serverErrors)}`);
  log(`  latency: p50 ${formatMs(r.latency.p50)}, p99 ${formatMs(r.latency.p99)}, max ${formatMs(r.latency.max)}`);
  log(
    `  client memory: start ${fmtMemory(r.client.start)}; peak ${fmtMemory(r.client.peak)}; end ${fmtMemory(r.client.end)}`,
  );
  log(
    `  server memory: start ${fmtMemory(r.server.start)}; peak ${fmtMemory(r.server.peak)}; end ${fmtMemory(r.server.end)}`,
  );
  log(
    `  file descriptors: client ${r.client.fdsStart} at start, ${r.client.fdsEnd} at end (${r.client.fdsEnd - r.client.fdsStart} left open); server ${r.server.fdsStart} at start, ${r.server.fdsEnd} at end (${r.server.fdsEnd - r.server.fdsStart} left open), connNum ${r.server.connNumEnd}`,
  );
}

export function fmtCounts(c: Record<string, number>): string {
  const e = Object.entries(c);
  return e.length === 0 ? 'none' : e.map(([k, v]) => `${k} ${v}`).join(', ');
}
