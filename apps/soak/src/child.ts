import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { sleep } from 'app-support';
import type { Memory } from './stats';

/** What a server child reports when asked. */
export interface ChildStats {
  connNum: number;
  fds: number;
  memory: Memory;
  /** Peak of each memory figure since the child started (sampled every second). */
  peak: Memory;
  /** Errors the server reported (onError), by code. */
  errors: Record<string, number>;
  /** Extra counters of the child. */
  counters: Record<string, number>;
}

/** Messages from parent to child. */
export type ToChild = { type: 'stats'; collect: boolean; id: number } | { type: 'stop'; id: number };
/** Messages from child to parent. */
export type FromChild = { type: 'ready'; port: number } | { type: 'stats'; id: number; stats: ChildStats } | { type: 'stopped'; id: number; stats: ChildStats };

/**
 * A server run in a child process (so that each process stays under the
 * descriptor limit, and each one's memory is its own), driven over IPC.
 */
export class ServerChild {
  private _next = 0;
  private readonly _waiting = new Map<number, (s: ChildStats) => void>();
  private _exited = false;

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {
    child.on('message', (m: FromChild) => {
      if (m.type === 'stats' || m.type === 'stopped') {
        const w = this._waiting.get(m.id);
        this._waiting.delete(m.id);
        w?.(m.stats);
      }
    });
    child.on('exit', () => {
      this._exited = true;
    });
  }

  /**
   * Runs `body` with a server child started from `script` (see {@link ServerChild.start}),
   * and kills the child when `body` is done, however it ends.
   */
  static async run<R>(script: string, body: (child: ServerChild) => Promise<R>): Promise<R> {
    const child = await ServerChild.start(script);
    try {
      return await body(child);
    } finally {
      child.kill();
    }
  }

  /** Starts `script` (a file of this folder) and waits for its port. */
  static start(script: string, args: string[] = [], timeoutMs = 30_000): Promise<ServerChild> {
    const child = fork(join(__dirname, script), args, { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${script} did not start within ${timeoutMs} ms`));
      }, timeoutMs);
      child.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`${script} exited with ${code} before it was ready`));
      });
      child.on('message', function onReady(m: FromChild) {
        if (m.type !== 'ready') return;
        child.off('message', onReady);
        clearTimeout(t);
        child.removeAllListeners('exit');
        resolve(new ServerChild(child, m.port));
      });
    });
  }

  stats(collect = false, timeoutMs = 30_000): Promise<ChildStats> {
    return this._ask({ type: 'stats', collect, id: ++this._next }, timeoutMs);
  }

  /** Asks the child to shut its server down and exit; its final stats (after GC). Kills it if it does not exit in time. */
  async stop(timeoutMs = 60_000): Promise<ChildStats> {
    const stats = await this._ask({ type: 'stop', id: ++this._next }, timeoutMs);
    if (!this._exited) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.child.kill('SIGKILL');
          resolve();
        }, 10_000);
        this.child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return stats;
  }

  /** Its stats once its server holds no connection any more, or after `timeoutMs` (polled every 200 ms). */
  async drained(timeoutMs = 30_000): Promise<ChildStats> {
    const deadline = Date.now() + timeoutMs;
    let s = await this.stats();
    while (s.connNum > 0 && Date.now() < deadline) {
      await sleep(200);
      s = await this.stats();
    }
    return s;
  }

  kill(): void {
    if (!this._exited) this.child.kill('SIGKILL');
  }

  private _ask(msg: ToChild, timeoutMs: number): Promise<ChildStats> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this._waiting.delete(msg.id);
        reject(new Error(`the server child did not answer "${msg.type}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this._waiting.set(msg.id, (s) => {
        clearTimeout(t);
        resolve(s);
      });
      this.child.send(msg);
    });
  }
}
