/**
 * Helpers of the worker-thread tests: the handler modules (test/fixtures/workers),
 * a start that asserts the clear error where this Node has not the
 * distribution asked for, and the thread and descriptor counts of this process.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client, type Server, TcpError } from '../src';
import { canHandOff, canReusePort } from '../src/workers/support';

export const FIXTURES = join(__dirname, 'fixtures', 'workers');
/** Echoes; answers `whoami\n` with its thread and fast paths, `spin <ms>\n`, `throw\n`, `crash\n`. */
export const ECHO = join(FIXTURES, 'echo.mjs');

/** The distributions a test runs with: the default one, and each forced. */
export const MODES = [undefined, 'handoff', 'reuseport'] as const;
export type Mode = (typeof MODES)[number];

/** Whether this Node has `mode` (the default: either). */
export async function supported(mode: Mode): Promise<boolean> {
  if (mode === 'handoff') return canHandOff();
  if (mode === 'reuseport') return canReusePort();
  return canHandOff() || (await canReusePort());
}

/**
 * `server.start(...)`; where this Node lacks the distribution, asserts that
 * `start` rejects with `ERR_WORKERS_UNSUPPORTED` naming the Node versions
 * that have one, and returns `false` (the test has then checked all it can).
 */
export async function startOrUnsupported(server: Server, mode: Mode, ...args: Parameters<Server['start']>): Promise<boolean> {
  if (await supported(mode)) {
    await server.start(...args);
    return true;
  }
  const err = await server.start(...args).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TcpError);
  expect(err).toMatchObject({ code: 'ERR_WORKERS_UNSUPPORTED' });
  expect((err as Error).message).toMatch(/Node\.js 24 or later.*Node\.js 22\.12 or later/);
  expect(server.address()).toBeNull();
  return false;
}

export interface WhoAmI {
  threadId: number;
  fastPaths: { directWrite: boolean; onreadAccept: boolean; tlsOnread: boolean; tlsWriteAtOnce: boolean; reason: string };
  /** What this connection itself uses. */
  inUse: { directWrite: boolean; onread: boolean };
  /** The client as the worker sees it, "ip:port". */
  peer: string;
}

/** Asks the echo module which worker serves `c`. */
export async function whoami(c: Client): Promise<WhoAmI> {
  expect(await c.send('whoami\n')).toBe(7);
  const buf = Buffer.alloc(1024);
  const n = await c.recvUntil(buf, '\n', 5000);
  expect(n).toBeGreaterThan(0);
  return JSON.parse(buf.toString('utf8', 0, n)) as WhoAmI;
}

/** Threads of this process (/proc/self/task). */
export function threadCount(): number {
  return readdirSync('/proc/self/task').length;
}

/** Open file descriptors of this process (/proc/self/fd). */
export function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Whether the fast paths are asked to be off in this run. */
export const INTERNALS_OFF = process.env.PROJ_TCP_NO_INTERNALS === '1';

/**
 * The thread count once it has stopped falling: a worker's 'exit' event can
 * come before the system has reaped its thread. Polls until three readings
 * 50 ms apart agree.
 */
export async function settledThreadCount(): Promise<number> {
  let last = -1;
  let same = 0;
  for (let i = 0; i < 100 && same < 3; i++) {
    const now = threadCount();
    same = now === last ? same + 1 : 0;
    last = now;
    await new Promise((r) => setTimeout(r, 50));
  }
  return last;
}
