/**
 * A rolling restart under load: HAProxy (the `rolling-restart` config of
 * docs/load-balancer.md) in front of two rpc-lite servers in child processes,
 * an RpcClient calling `echo` at full speed through HAProxy, and each server
 * restarted in turn (SIGTERM -> `shutdown`, then a new process on the same
 * port) `rounds` times. Counts calls made, answered right, wrong and failed
 * (by code), and the client's heap after GC at the start and the end.
 */
import { spawn, spawnSync, fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RpcClient } from '@proj/rpc-lite';

/** The guide whose HAProxy config this runs. */
export const LOAD_BALANCER_DOC = resolve(__dirname, '../../../docs/load-balancer.md');
/** The server child, built (from the tests, this file runs from src/). */
const SERVER_SCRIPT = existsSync(join(__dirname, 'rolling-server.js'))
  ? join(__dirname, 'rolling-server.js')
  : resolve(__dirname, '../dist/rolling-server.js');

export interface RollingOptions {
  /** Each server is restarted this many times. */
  rounds: number;
  /** Servers drain with `rpc.goaway` (else `goAway: false`). */
  drain: boolean;
  /** Concurrent callers. */
  callers: number;
  /** Collects garbage (for the memory figures); `global.gc` when absent. */
  gc?: () => void;
  log: (line: string) => void;
}

export interface RollingReport {
  drain: boolean;
  restarts: number;
  calls: number;
  ok: number;
  wrong: number;
  failed: number;
  failedByCode: Record<string, number>;
  seconds: number;
  /** The client's heap after GC, bytes: once warm (after the first restart's start) and at the end. */
  heapWarm: number;
  heapEnd: number;
  passed: boolean;
}

/** The config block named `name` in docs/load-balancer.md, with its ports replaced. */
export function docHaproxyConfig(name: string, ports: Record<number, number>): string {
  const text = readFileSync(LOAD_BALANCER_DOC, 'utf8');
  const m = text.match(new RegExp(`<!-- haproxy-config: ${name} -->\\s*\`\`\`haproxy\\n([\\s\\S]*?)\`\`\``));
  if (m === null) throw new Error(`${LOAD_BALANCER_DOC} has no haproxy block named ${name}`);
  return m[1].replace(/127\.0\.0\.1:(\d+)/g, (all, p: string) =>
    ports[Number(p)] === undefined ? all : `127.0.0.1:${ports[Number(p)]}`,
  );
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

function listening(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .some((line) => {
      const f = line.trim().split(/\s+/);
      return f[1] === `0100007F:${hex}` && f[3] === '0A';
    });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

interface ServerStats {
  accepted: number;
  served: number;
  connNum: number;
}

/** One server process on a fixed port. */
class RpcChild {
  private constructor(readonly child: ChildProcess) {}

  static async start(port: number, drain: boolean): Promise<RpcChild> {
    const child = fork(SERVER_SCRIPT, [String(port), ...(drain ? [] : ['--no-drain'])], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    live.add(child);
    child.once('exit', () => live.delete(child));
    await new Promise<void>((res, rej) => {
      child.once('exit', (code) => rej(new Error(`rpc server on ${port} exited (${code}) before it listened`)));
      child.on('message', (m: { type: string }) => {
        if (m.type === 'ready') res();
      });
    });
    child.removeAllListeners('exit');
    child.once('exit', () => live.delete(child));
    return new RpcChild(child);
  }

  stats(): Promise<ServerStats> {
    return new Promise((res) => {
      const on = (m: { type: string } & ServerStats): void => {
        if (m.type !== 'stats') return;
        this.child.off('message', on);
        res(m);
      };
      this.child.on('message', on);
      this.child.send({ type: 'stats' });
    });
  }

  /** SIGTERM, and waits for the exit (its shutdown drains first). */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(t);
  }
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** Runs HAProxy in the foreground with `config` until stopped. */
async function startHaproxy(config: string, front: number): Promise<{ stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'soak-haproxy-'));
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, config);
  const check = spawnSync('haproxy', ['-c', '-q', '-f', file], { encoding: 'utf8' });
  if (check.error !== undefined || check.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `haproxy is missing or refused the config: ${check.error?.message ?? ''}${check.stdout ?? ''}${check.stderr ?? ''}`,
    );
  }
  const child = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  let output = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (output += s));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    await until(() => listening(front) || child.exitCode !== null, 'haproxy to listen', 10_000);
    if (child.exitCode !== null) throw new Error(`haproxy exited: ${output}`);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      live.delete(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs the rolling restart and reports; never throws for failed calls (they are counted). */
export async function rollingRestart(o: RollingOptions): Promise<RollingReport> {
  const gc = o.gc ?? (globalThis as { gc?: () => void }).gc ?? ((): void => {});
  const [front, p1, p2] = [await freePort(), await freePort(), await freePort()];
  const ports = [p1, p2];
  const servers = [await RpcChild.start(p1, o.drain), await RpcChild.start(p2, o.drain)];
  const haproxy = await startHaproxy(docHaproxyConfig('rolling-restart', { 7000: front, 7001: p1, 7002: p2 }), front);
  const client = new RpcClient('127.0.0.1', front, { connections: 4, timeoutMs: 30_000 });
  const report: RollingReport = {
    drain: o.drain,
    restarts: 0,
    calls: 0,
    ok: 0,
    wrong: 0,
    failed: 0,
    failedByCode: {},
    seconds: 0,
    heapWarm: 0,
    heapEnd: 0,
    passed: false,
  };
  const started = Date.now();
  let running = true;
  const caller = async (): Promise<void> => {
    while (running) {
      const payload = randomBytes(1 + Math.floor(Math.random() * 256));
      report.calls++;
      try {
        const back = await client.call<[Uint8Array]>('echo', [payload]);
        if (Buffer.from(back[0]).equals(payload)) report.ok++;
        else report.wrong++;
      } catch (err) {
        report.failed++;
        const code = (err as { code?: string }).code ?? 'unknown';
        report.failedByCode[code] = (report.failedByCode[code] ?? 0) + 1;
      }
    }
  };
  try {
    // Both servers up in HAProxy's eyes before the load starts.
    for (const s of servers) await until(async () => (await s.stats()).accepted >= 2, 'HAProxy health checks');
    const callers = Array.from({ length: o.callers }, caller);
    await until(() => report.ok >= 1000, 'the first calls');
    gc();
    report.heapWarm = process.memoryUsage().heapUsed;
    for (let round = 0; round < o.rounds; round++) {
      for (let i = 0; i < 2; i++) {
        await servers[i].stop();
        servers[i] = await RpcChild.start(ports[i], o.drain);
        report.restarts++;
        // Up again in HAProxy's eyes (two health checks) before the other one goes.
        await until(async () => (await servers[i].stats()).accepted >= 2, 'HAProxy to see the new server');
        const before = report.ok;
        await until(() => report.ok >= before + 200, 'calls to go on');
        o.log(`restart ${report.restarts}: ${report.calls} calls, ${report.failed} failed`);
      }
    }
    running = false;
    await Promise.all(callers);
    gc();
    report.heapEnd = process.memoryUsage().heapUsed;
  } finally {
    running = false;
    await client.close();
    await haproxy.stop();
    for (const s of servers) await s.stop();
  }
  report.seconds = (Date.now() - started) / 1000;
  report.passed = report.failed === 0 && report.wrong === 0;
  return report;
}

/** The report in a few lines. */
export function printRollingReport(r: RollingReport, log: (line: string) => void): void {
  log(
    `rolling restart (${r.drain ? 'with rpc.goaway' : 'without the drain message'}): ${r.restarts} restarts in ${r.seconds.toFixed(1)} s, ` +
      `${r.calls} calls, ${r.ok} answered right, ${r.wrong} wrong, ${r.failed} failed ${JSON.stringify(r.failedByCode)}`,
  );
  log(
    `  client heap after GC: ${(r.heapWarm / 1048576).toFixed(1)} MiB warm, ${(r.heapEnd / 1048576).toFixed(1)} MiB at the end`,
  );
}
