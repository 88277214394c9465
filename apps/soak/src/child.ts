import { join } from 'node:path';
import { ChildApp, sleep } from 'app-support';
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
export type FromChild =
  | { type: 'ready'; port: number }
  | { type: 'stats'; id: number; stats: ChildStats }
  | { type: 'stopped'; id: number; stats: ChildStats };

/**
 * A server run in a child process (so that each process stays under the
 * descriptor limit, and each one's memory is its own), driven over IPC; its
 * output is passed through. The process is app-support's `ChildApp`.
 */
export class ServerChild {
  private _next = 0;
  private readonly _waiting = new Map<number, (s: ChildStats) => void>();
  private constructor(
    readonly child: ChildApp,
    readonly port: number,
  ) {
    child.onMessage((message) => {
      const m = message as FromChild;
      if (m.type === 'stats' || m.type === 'stopped') {
        const w = this._waiting.get(m.id);
        this._waiting.delete(m.id);
        w?.(m.stats);
      }
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
    const child = new ChildApp(join(__dirname, script), args, {
      execArgv: ['--expose-gc'],
      ipc: true,
      onLine: (line, stream) => (stream === 'stdout' ? process.stdout : process.stderr).write(`${line}\n`),
    });
    return new Promise((resolve, reject) => {
      let ready = false;
      const t = setTimeout(() => {
        child.kill();
        reject(new Error(`${script} did not start within ${timeoutMs} ms`));
      }, timeoutMs);
      void child.exited.then(({ code }) => {
        clearTimeout(t);
        if (!ready) reject(new Error(`${script} exited with ${code} before it was ready`));
      });
      child.onMessage((m) => {
        if (ready || (m as FromChild).type !== 'ready') return;
        ready = true;
        clearTimeout(t);
        resolve(new ServerChild(child, (m as { port: number }).port));
      });
    });
  }

  stats(collect = false, timeoutMs = 30_000): Promise<ChildStats> {
    return this._ask({ type: 'stats', collect, id: ++this._next }, timeoutMs);
  }

  /** Asks the child to shut its server down and exit; its final stats (after GC). Kills it if it does not exit in time. */
  async stop(timeoutMs = 60_000): Promise<ChildStats> {
    const stats = await this._ask({ type: 'stop', id: ++this._next }, timeoutMs);
    const killer = setTimeout(() => this.child.kill(), 10_000);
    await this.child.exited;
    clearTimeout(killer);
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
    this.child.kill();
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
