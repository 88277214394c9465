/**
 * A real HAProxy for tests: started in the foreground (`-db`) with a config
 * whose ports are rewritten to free loopback ones, waited for until it
 * listens, and stopped by pid on pass, failure (see {@link stopAllHaproxy} in
 * afterEach) and interrupt (the process's exit and SIGINT/SIGTERM).
 *
 * The configs come from `docs/load-balancer.md`: every fenced `haproxy` block
 * there preceded by `<!-- haproxy-config: NAME -->` is one the tests run, so
 * the documentation shows exactly what is tested.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');
/** The guide whose config blocks the tests run. */
export const LOAD_BALANCER_DOC = join(ROOT, 'docs/load-balancer.md');

/** Whether an `haproxy` binary is on PATH (CI installs one). */
export function haproxyAvailable(): boolean {
  return spawnSync('haproxy', ['-v'], { stdio: 'ignore' }).status === 0;
}

/** The config block named `name` in docs/load-balancer.md. */
export function docConfig(name: string): string {
  const text = readFileSync(LOAD_BALANCER_DOC, 'utf8');
  const m = text.match(new RegExp(`<!-- haproxy-config: ${name} -->\\s*\`\`\`haproxy\\n([\\s\\S]*?)\`\`\``));
  if (m === null) throw new Error(`docs/load-balancer.md has no haproxy block named ${name}`);
  return m[1];
}

/** Every `127.0.0.1:PORT` of `config` with PORT a key of `ports` becomes its value. */
export function withPorts(config: string, ports: Record<number, number>): string {
  return config.replace(/127\.0\.0\.1:(\d+)/g, (all, p: string) =>
    ports[Number(p)] === undefined ? all : `127.0.0.1:${ports[Number(p)]}`,
  );
}

const live = new Set<Haproxy>();
function killAll(): void {
  for (const h of live) h.child.kill('SIGKILL');
}
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAll();
      process.kill(process.pid, sig);
    });
  }
}

/** One haproxy process. */
export class Haproxy {
  output = '';
  exited: Promise<number | null>;
  private readonly _dir: string;

  private constructor(
    readonly child: ChildProcess,
    dir: string,
  ) {
    this._dir = dir;
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (this.output += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (this.output += s));
    this.exited = new Promise((res) => child.once('close', (code) => res(code)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Starts haproxy with `config` and resolves once each of `listenPorts` accepts connections. */
  static async start(config: string, listenPorts: readonly number[]): Promise<Haproxy> {
    hookExit();
    const dir = mkdtempSync(join(tmpdir(), 'proj-haproxy-'));
    const file = join(dir, 'haproxy.cfg');
    writeFileSync(file, config);
    const check = spawnSync('haproxy', ['-c', '-q', '-f', file], { encoding: 'utf8' });
    if (check.status !== 0) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`haproxy refused the config:\n${check.stdout}${check.stderr}\n${config}`);
    }
    const child = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    const h = new Haproxy(child, dir);
    live.add(h);
    void h.exited.then(() => live.delete(h));
    const deadline = Date.now() + 10_000;
    // Listening sockets, from the kernel's table: probing the port would be a connection to serve.
    while (!listenPorts.every((p) => listening(p))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await h.stop();
        throw new Error(`haproxy did not listen on ${listenPorts.join(', ')}:\n${h.output}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return h;
  }

  /** Stops it by pid (SIGTERM, SIGKILL after 5 s) and removes its config. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(t);
    }
    live.delete(this);
    rmSync(this._dir, { recursive: true, force: true });
  }
}

/** Stops every haproxy still running (afterEach); returns how many there were. */
export async function stopAllHaproxy(): Promise<number> {
  const left = [...live];
  await Promise.all(left.map((h) => h.stop()));
  return left.length;
}

/** Whether something listens on 127.0.0.1:port (from /proc/net/tcp). */
function listening(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const table = readFileSync('/proc/net/tcp', 'utf8');
  // local_address 0100007F:PORT, state 0A (LISTEN).
  return table.split('\n').some((line) => {
    const f = line.trim().split(/\s+/);
    return f[1] === `0100007F:${hex}` && f[3] === '0A';
  });
}
