/**
 * The ping-pong handler as a module, for `--workers`: each worker thread
 * loads it once (a closure cannot cross threads). It tells the calling
 * thread what each connection did on a BroadcastChannel, so the totals and
 * the spread over workers are known there.
 * @packageDocumentation
 */
import type { Connection } from '@proj/tcp';
import { BroadcastChannel, threadId } from 'node:worker_threads';
import { PingCounter } from './ping-counter';

/** The channel every worker reports on. */
export const TOTALS_CHANNEL = 'pingpong-server:totals';
/** Set to `1` by the server for `--quiet` (a worker thread copies the environment when it starts). */
export const QUIET_ENV = 'PINGPONG_SERVER_QUIET';

/** What a worker reports: a connection began (`opened`), or ended with its pings and errors. */
export interface WorkerReport {
  threadId: number;
  opened: number;
  pings: number;
  errors: number;
}

const quiet = process.env[QUIET_ENV] === '1';
const PONG = Buffer.from('pong');
let channel: BroadcastChannel | null = null;

function report(r: WorkerReport): void {
  if (channel === null) {
    channel = new BroadcastChannel(TOTALS_CHANNEL);
    // Nothing is received here: the channel must not keep the thread alive.
    channel.unref();
  }
  channel.postMessage(r);
}

/** co's ping-pong loop: a pong per ping, until the client closes (or the server shuts down). */
export async function serve(conn: Connection): Promise<void> {
  const peer = conn.peer();
  report({ threadId, opened: 1, pings: 0, errors: 0 });
  if (!quiet) console.log(`${peer} connected (worker ${threadId})`);
  const buf = Buffer.alloc(64);
  const counter = new PingCounter();
  let pings = 0;
  let errors = 0;
  try {
    for (;;) {
      const r = await conn.recv(buf, buf.length);
      if (r === 0) {
        if (!quiet) console.log(`${peer} closed by the client`);
        return;
      }
      // ENOTCONN: closed here by a shutdown, not a failure of the connection.
      if (r < 0) {
        if (conn.lastError?.code !== 'ENOTCONN') errors++;
        return;
      }
      const n = counter.feed(buf, r);
      if (n === 0) continue;
      pings += n;
      if ((await conn.send(n === 1 ? PONG : Buffer.from('pong'.repeat(n)))) <= 0) {
        if (conn.lastError?.code !== 'ENOTCONN') errors++;
        return;
      }
    }
  } finally {
    report({ threadId, opened: 0, pings, errors });
  }
}
