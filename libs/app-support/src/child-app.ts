import { spawn, type ChildProcess, type Serializable } from 'node:child_process';

/** Every child still running; killed when this process exits, whatever the reason. */
const running = new Set<ChildApp>();
let exitHookInstalled = false;

/** How a child ended: its exit code, or the signal that killed it. */
export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Where a line of a child's output came from. */
export type ChildStream = 'stdout' | 'stderr';

/** How to start a {@link ChildApp}. */
export interface ChildAppOptions {
  /** Called with each line of output, `stream` telling where it came from. */
  onLine?: (line: string, stream: ChildStream) => void;
  /** Node's own flags for the child (`--expose-gc`), before the script. */
  execArgv?: readonly string[];
  /** Opens an IPC channel: {@link ChildApp.send} and {@link ChildApp.onMessage}. */
  ipc?: boolean;
  /** Working directory; default: this process's. */
  cwd?: string;
  /** Environment; default: this process's. */
  env?: NodeJS.ProcessEnv;
}

/**
 * A Node script run as a child process, the one way the apps, their tests and
 * the soak run one: its output is read line by line (each line kept, handed
 * to `onLine`, and waited for with {@link ChildApp.waitForLine}) and as text
 * ({@link ChildApp.stdout}, {@link ChildApp.waitFor}); it stops with a signal
 * and SIGKILL after a grace period, and is killed if this process exits first,
 * so nothing is left behind.
 */
export class ChildApp {
  /** Every line the child has written, stdout and stderr, in order of arrival. */
  readonly lines: string[] = [];
  /** All the child has written on stdout so far. */
  stdout = '';
  /** All the child has written on stderr so far. */
  stderr = '';
  /** How it ended, once it has; `null` while it runs. */
  exit: ChildExit | null = null;
  /** Settles when the child has exited. */
  readonly exited: Promise<ChildExit>;
  private readonly _child: ChildProcess;
  private readonly _waiters = new Set<() => void>();

  /**
   * Starts `node [execArgv] <script> ...args`.
   *
   * @param options - or just the `onLine` callback.
   */
  constructor(script: string, args: readonly string[], options: ChildAppOptions | ChildAppOptions['onLine'] = {}) {
    const opts = typeof options === 'function' ? { onLine: options } : options;
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', () => {
        for (const app of running) app.kill();
      });
    }
    this._child = spawn(process.execPath, [...(opts.execArgv ?? []), script, ...args], {
      stdio: opts.ipc === true ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
      cwd: opts.cwd,
      env: opts.env,
    });
    running.add(this);
    const onLine = opts.onLine ?? ((): void => {});
    for (const stream of ['stdout', 'stderr'] as const) {
      let partial = '';
      const source = this._child[stream]!;
      source.setEncoding('utf8');
      source.on('data', (chunk: string) => {
        this[stream] += chunk;
        const parts = (partial + chunk).split('\n');
        partial = parts.pop()!;
        for (const line of parts) this._line(line.replace(/\r$/, ''), stream, onLine);
        this._wake();
      });
      source.on('end', () => {
        if (partial !== '') this._line(partial, stream, onLine);
        partial = '';
        this._wake();
      });
    }
    this.exited = new Promise((resolve) => {
      this._child.on('error', (err) => {
        this._line(`cannot start ${script}: ${err.message}`, 'stderr', onLine);
      });
      this._child.on('close', (code, signal) => {
        this.exit = { code, signal };
        running.delete(this);
        this._wake();
        resolve(this.exit);
      });
    });
  }

  /** The child's process id. */
  get pid(): number | undefined {
    return this._child.pid;
  }

  /**
   * Waits until `check()` returns something other than `null` or `undefined`,
   * checking again whenever the child writes or exits.
   *
   * @param what - what is waited for, for the error message.
   * @throws Error when the child exits first or `timeoutMs` passes.
   */
  async waitUntil<T>(check: () => T | null | undefined, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = check();
      if (found !== null && found !== undefined) return found;
      if (this.exit !== null)
        throw new Error(
          `exited (${describeExit(this.exit)}) before ${what}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`,
        );
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`no ${what} within ${timeoutMs} ms\nstdout: ${this.stdout}\nstderr: ${this.stderr}`);
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this._waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, left);
        this._waiters.add(done);
      });
    }
  }

  /** Waits for a line (stdout or stderr) matching `pattern`, among those already written too. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    let seen = 0;
    return this.waitUntil(
      () => {
        for (; seen < this.lines.length; seen++) {
          const m = this.lines[seen].match(pattern);
          if (m !== null) return m;
        }
        return null;
      },
      timeoutMs,
      `a line matching ${pattern}`,
    );
  }

  /** Waits until all of stdout so far matches `pattern` (use `m` for `^`/`$` per line). */
  waitFor(pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    return this.waitUntil(() => this.stdout.match(pattern), timeoutMs, `stdout matching ${pattern}`);
  }

  /** Sends a message over the IPC channel (`ipc: true`). */
  send(message: Serializable): void {
    this._child.send(message);
  }

  /** Listens for the child's IPC messages (`ipc: true`). */
  onMessage(listener: (message: unknown) => void): void {
    this._child.on('message', listener);
  }

  /**
   * Sends `signal` and waits for the child to exit; SIGKILL if it is still
   * there after `killAfterMs`.
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM', killAfterMs = 10_000): Promise<ChildExit> {
    if (this.exit !== null) return this.exit;
    this._child.kill(signal);
    const timer = setTimeout(() => this.kill(), killAfterMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends `signal` without waiting for the child to exit (see {@link ChildApp.exited}). */
  signal(signal: NodeJS.Signals): void {
    if (this.exit === null) this._child.kill(signal);
  }

  /** SIGKILL now, if it still runs. Synchronous, so it works in an `exit` handler. */
  kill(): void {
    if (this.exit === null && this._child.exitCode === null && this._child.signalCode === null) {
      this._child.kill('SIGKILL');
    }
  }

  private _line(line: string, stream: ChildStream, onLine: (line: string, stream: ChildStream) => void): void {
    this.lines.push(line);
    onLine(line, stream);
  }

  private _wake(): void {
    for (const wake of [...this._waiters]) wake();
  }
}

/** Stops every child still running with SIGKILL (a test's `afterEach`); resolves with how many there were. */
export async function killAllChildApps(): Promise<number> {
  const left = [...running];
  await Promise.all(left.map((app) => app.stop('SIGKILL')));
  return left.length;
}

/** `"exit code 0"` or `"killed by SIGKILL"`. */
export function describeExit(e: ChildExit): string {
  return e.signal !== null ? `killed by ${e.signal}` : `exit code ${e.code}`;
}
