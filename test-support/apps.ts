/**
 * The pingpong apps as child processes, for their end-to-end tests: start
 * `node dist/main.js ...`, read its output, wait for a line, stop it, and make
 * sure nothing is left running after a test ({@link stopAllApps} in afterEach).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');
/** Built entry points of the apps. */
export const SERVER_MAIN = join(ROOT, 'apps/pingpong-server/dist/main.js');
export const CLIENT_MAIN = join(ROOT, 'apps/pingpong-client/dist/main.js');
export const DEMO_MAIN = join(ROOT, 'apps/pingpong-client/dist/demo.js');

/** Throws a clear error when an app's dist is missing (tests run the built apps). */
export function requireBuilt(...scripts: string[]): void {
  for (const script of scripts) {
    if (!existsSync(script)) {
      throw new Error(`${script} is missing: run the tests through Nx (npx nx run <app>:test), which builds first`);
    }
  }
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const live = new Set<App>();

/** One app process. */
export class App {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;
  exit: Exit | null = null;
  private readonly _wakers = new Set<() => void>();

  constructor(script: string, args: readonly string[]) {
    this.child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(this);
    this.child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      this.stdout += s;
      this._wake();
    });
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      this.stderr += s;
      this._wake();
    });
    this.exited = new Promise((res) => {
      this.child.on('close', (code, signal) => {
        this.exit = { code, signal };
        live.delete(this);
        this._wake();
        res(this.exit);
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Waits until stdout matches `pattern`; fails if the app exits first or after `ms`. */
  async waitFor(pattern: RegExp, ms = 15_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this.stdout.match(pattern);
      if (m) return m;
      if (this.exit) throw new Error(`app exited (${JSON.stringify(this.exit)}) before ${pattern}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${pattern} within ${ms} ms\nstdout: ${this.stdout}\nstderr: ${this.stderr}`);
      await new Promise<void>((res) => {
        const done = (): void => {
          clearTimeout(t);
          this._wakers.delete(done);
          res();
        };
        const t = setTimeout(done, left);
        this._wakers.add(done);
      });
    }
  }

  /** Sends `signal` and waits for the exit; SIGKILL after `ms`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', ms = 10_000): Promise<Exit> {
    if (this.exit) return this.exit;
    this.child.kill(signal);
    const t = setTimeout(() => this.child.kill('SIGKILL'), ms);
    try {
      return await this.exited;
    } finally {
      clearTimeout(t);
    }
  }

  private _wake(): void {
    for (const w of [...this._wakers]) w();
  }
}

/** Runs an app to its end. */
export async function runApp(script: string, args: readonly string[], ms = 30_000): Promise<App & { exit: Exit }> {
  const app = new App(script, args);
  const t = setTimeout(() => app.child.kill('SIGKILL'), ms);
  try {
    await app.exited;
  } finally {
    clearTimeout(t);
  }
  return app as App & { exit: Exit };
}

/** A pingpong server started on a free loopback port. */
export interface RunningServer {
  app: App;
  port: number;
  /** With `--ssl` and no key/cert: the generated certificate's path. */
  certPath?: string;
}

/** Starts the server with `--port 0` and reads the port it prints. */
export async function startServer(args: readonly string[] = []): Promise<RunningServer> {
  const app = new App(SERVER_MAIN, ['--ip', '127.0.0.1', '--port', '0', ...args]);
  const [, port] = await app.waitFor(/^listening on 127\.0\.0\.1:(\d+) \((?:tcp|tls)\)$/m);
  const cert = app.stdout.match(/^\s+cert: (\S+)/m);
  return { app, port: Number(port), certPath: cert?.[1] };
}

/** Whether a process with this id exists. */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A loopback port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

/** Kills every app still running (afterEach); returns how many there were. */
export async function stopAllApps(): Promise<number> {
  const left = [...live];
  await Promise.all(left.map((app) => app.stop('SIGKILL')));
  return left.length;
}
