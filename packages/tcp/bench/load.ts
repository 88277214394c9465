/** Load generators: a raw `net.Socket` (or `tls.connect`) one and one written with our `Client`. */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { Client } from '@proj/tcp';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Load {
  /** Connections, each doing ping-pong with one message in flight (or a window for bulk). */
  conns: number;
  /** Message size in bytes. */
  size: number;
  /** Messages in flight per connection (1 = ping-pong). */
  window: number;
  /** Over TLS: the CA certificate (PEM) to trust; the server's name is `localhost`. */
  tls?: string;
  /** Each connection sends exactly this many messages, and the run ends once all are echoed (its `ms` is then ignored). */
  count?: number;
}

/** Runs `load` against `port` for `ms` with raw sockets; returns messages echoed back. */
export async function rawLoad(port: number, load: Load, ms: number): Promise<number> {
  const msg = Buffer.alloc(load.size, 7);
  const limit = load.count ?? Infinity;
  let done = 0;
  let running = true;
  const socks: net.Socket[] = [];
  const finished: Array<Promise<void>> = [];
  await Promise.all(
    Array.from({ length: load.conns }, () => {
      return new Promise<void>((resolve, reject) => {
        let sent = 0;
        let echoed = 0;
        let finish: () => void = () => {};
        finished.push(new Promise<void>((r) => (finish = r)));
        const start = (): void => {
          for (; sent < load.window && sent < limit; sent++) sock.write(msg);
          resolve();
        };
        const sock: net.Socket = load.tls
          ? tls.connect({ port, host: '127.0.0.1', ca: load.tls, servername: 'localhost' }, start).setNoDelay(true)
          : net.connect({ port, host: '127.0.0.1', noDelay: true }, start);
        sock.on('error', reject);
        socks.push(sock);
        let pending = 0;
        sock.on('data', (chunk: Buffer) => {
          pending += chunk.length;
          while (pending >= load.size) {
            pending -= load.size;
            done++;
            if (running && sent < limit) {
              sock.write(msg);
              sent++;
            }
            if (++echoed === limit) finish();
          }
        });
      });
    }),
  );
  // Connections send as soon as they are up: in count mode every message counts, also those
  // echoed while others were still connecting (under callgrind, TLS handshakes take seconds).
  const start = load.count === undefined ? done : 0;
  await (load.count === undefined ? sleep(ms) : Promise.all(finished));
  const count = done - start;
  running = false;
  for (const s of socks) s.destroy();
  return count;
}

/** Runs `load` against `port` for `ms` with our `Client`; returns messages echoed back. */
export async function oursLoad(port: number, load: Load, ms: number): Promise<number> {
  const msg = Buffer.alloc(load.size, 7);
  const limit = load.count ?? Infinity;
  let done = 0;
  let running = true;
  const clients = await Promise.all(
    Array.from({ length: load.conns }, async () => {
      const c = load.tls
        ? new Client('127.0.0.1', port, true, { ca: load.tls, servername: 'localhost' })
        : new Client('127.0.0.1', port);
      // Generous: under callgrind (bench/instructions.ts) 64 TLS handshakes take the client many seconds.
      if (!(await c.connect(60_000))) throw new Error(c.strerror());
      return c;
    }),
  );
  const tasks = clients.map(async (c) => {
    const buf = Buffer.allocUnsafe(load.size);
    if (load.window === 1) {
      for (let sent = 0; running && sent < limit; sent++) {
        if ((await c.send(msg)) <= 0 || (await c.recvn(buf, load.size)) <= 0) return;
        done++;
      }
      return;
    }
    // A window of messages in flight: a writer and a reader task on one client (full duplex).
    let credit = load.window;
    let alive = true;
    let wake: (() => void) | null = null;
    const writer = (async () => {
      for (let sent = 0; running && alive && sent < limit; sent++) {
        if (credit === 0) await new Promise<void>((r) => (wake = r));
        if (!running || !alive) return;
        credit--;
        if ((await c.send(msg)) <= 0) return;
      }
    })();
    const wakeWriter = (): void => {
      if (wake !== null) {
        const w: () => void = wake;
        wake = null;
        w();
      }
    };
    for (let echoed = 0; running && echoed < limit; echoed++) {
      if ((await c.recvn(buf, load.size)) <= 0) break;
      done++;
      credit++;
      wakeWriter();
    }
    alive = false;
    wakeWriter();
    await writer;
  });
  const start = done;
  await (load.count === undefined ? sleep(ms) : Promise.all(tasks));
  const count = done - start;
  running = false;
  for (const c of clients) c.close();
  await Promise.allSettled(tasks);
  return count;
}

/** Node's own promise timer: the bench's processes cannot import the workspace's private helpers. */
export { sleep };
