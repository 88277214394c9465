import { spawn, type ChildProcess } from 'node:child_process';

/** Every child still running; killed when this process exits, whatever the reason. */
const running = new Set<ChildApp>();
let exitHookInstalled = false;

/** How a child ended: its exit code, or the signal that killed it. */
export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * A Node script run as a child process, its output read line by line: each
 * line is kept, handed to `onLine`, and can be waited for. The child is
 * killed if this process exits first, so nothing is left behind.
 */
export class ChildApp {
  /** Every line the child has written, stdout and stderr, in order of arrival. */
  readonly lines: string[] = [];
  /** Settles when the child has exited. */
  readonly exited: Promise<ChildExit>;
  private readonly _child: ChildProcess;
  private _exit: ChildExit | null = null;
  private readonly _waiters = new Set<() => void>();

  /**
   * Starts `node <script> ...args`.
   *
   * @param onLine - called with each line of output, `stream` telling where it came from.
   */
  constructor(script: string, args: readonly string[], onLine: (line: string, stream: 'stdout' | 'stderr') => void) {
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', () => {
        for (const app of running) app.kill();
      });
    }
    this._child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(this);
    for (const stream of ['stdout', 'stderr'] as const) {
      let partial = '';
      const source = this._child[stream]!;
      source.setEncoding('utf8');
      source.on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop()!;
        for (const line of parts) this._line(line.replace(/\r$/, ''), stream, onLine);
      });
      source.on('end', () => {
        if (partial !== '') this._line(partial, stream, onLine);
        partial = '';
      });
    }
    this.exited = new Promise((resolve) => {
      this._child.on('error', (err) => {
        this._line(`cannot start ${script}: ${err.message}`, 'stderr', onLine);
      });
      this._child.on('close', (code, signal) => {
        this._exit = { code, signal };
        running.delete(this);
        this._wake();
        resolve(this._exit);
      });
    });
  }

  /** The child's process id. */
  get pid(): number | undefined {
    return this._child.pid;
  }

  /**
   * Waits for a line matching `pattern`, among those already written too.
   *
   * @throws Error when the child exits first or `timeoutMs` passes.
   */
  async waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    let seen = 0;
    for (;;) {
      for (; seen < this.lines.length; seen++) {
        const m = this.lines[seen].match(pattern);
        if (m !== null) return m;
      }
      if (this._exit !== null) throw new Error(`exited (${describeExit(this._exit)}) before printing ${pattern}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no line matching ${pattern} within ${timeoutMs} ms`);
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

  /**
   * Sends `signal` and waits for the child to exit; SIGKILL if it is still
   * there after `killAfterMs`.
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM', killAfterMs = 10_000): Promise<ChildExit> {
    if (this._exit !== null) return this._exit;
    this._child.kill(signal);
    const timer = setTimeout(() => this.kill(), killAfterMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL now, if it still runs. Synchronous, so it works in an `exit` handler. */
  kill(): void {
    if (this._exit === null && this._child.exitCode === null && this._child.signalCode === null) {
      this._child.kill('SIGKILL');
    }
  }

  private _line(line: string, stream: 'stdout' | 'stderr', onLine: (line: string, stream: 'stdout' | 'stderr') => void): void {
    this.lines.push(line);
    onLine(line, stream);
    this._wake();
  }

  private _wake(): void {
    for (const wake of [...this._waiters]) wake();
  }
}

/** `"exit code 0"` or `"killed by SIGKILL"`. */
export function describeExit(e: ChildExit): string {
  return e.signal !== null ? `killed by ${e.signal}` : `exit code ${e.code}`;
}
