/**
 * The handler module of the workers benchmark (bench/workers.bench.ts): echoes
 * 8-byte messages, after BENCH_WORK_US microseconds of CPU each when set.
 */
import type { Connection } from '@proj/tcp';
import { spinMicros } from './workers-spin';

const WORK_US = Number(process.env.BENCH_WORK_US ?? 0);

/** Echoes each 8-byte message (after the work) until the client closes. */
export async function serve(conn: Connection): Promise<void> {
  const buf = Buffer.alloc(8);
  for (;;) {
    if ((await conn.recvn(buf, 8)) <= 0) return;
    if (WORK_US > 0) spinMicros(WORK_US);
    if ((await conn.send(buf, 8)) <= 0) return;
  }
}
