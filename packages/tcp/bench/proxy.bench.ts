/**
 * `npm run bench` for the PROXY protocol: the same echo server without and
 * with `proxyProtocol: 'v2'` (bench/proxy-servers.ts, a child process).
 *
 * - connections per second: `BENCH_PROXY_LOOPS` loops each connect, (write the
 *   PROXY header,) send 8 bytes, read the echo, close; the cost of reading a
 *   header shows most here, once per connection;
 * - the echo rows with the header: 64 connections x 8 B ping-pong, and 1 x 8 B,
 *   each connection sending its header first.
 *
 * Rounds alternate without/with (BENCH_ROUNDS, BENCH_ROUND_MS); reported: the
 * median rate of each and the ratio with/without with its range over the
 * rounds, and the server process's CPU time per connection (or message) and
 * that ratio, which other load on the machine disturbs much less.
 */
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { encodeProxyHeader } from '@proj/tcp';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 1000);
const LOOPS = Number(process.env.BENCH_PROXY_LOOPS ?? 16);
const HEADER = encodeProxyHeader({
  version: 2,
  command: 'PROXY',
  protocol: 'TCP4',
  source: { address: '203.0.113.7', port: 40000 },
  destination: { address: '192.0.2.1', port: 443 },
});
const MSG = Buffer.alloc(8, 7);

/** One connect, header, 8 B echo, close. */
function oneConnection(port: number, header: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1', noDelay: true }, () => {
      sock.write(header ? Buffer.concat([HEADER, MSG]) : MSG);
    });
    let got = 0;
    sock.on('data', (c: Buffer) => {
      got += c.length;
      if (got >= MSG.length) sock.end();
    });
    sock.on('error', reject);
    sock.on('close', () => resolve());
  });
}

async function connectLoop(port: number, header: boolean, ms: number): Promise<number> {
  let n = 0;
  const end = Date.now() + ms;
  await Promise.all(
    Array.from({ length: LOOPS }, async () => {
      while (Date.now() < end) {
        await oneConnection(port, header);
        n++;
      }
    }),
  );
  return n;
}

async function pingPong(port: number, header: boolean, conns: number, ms: number): Promise<number> {
  let done = 0;
  let running = true;
  const socks: net.Socket[] = [];
  await Promise.all(
    Array.from(
      { length: conns },
      () =>
        new Promise<void>((resolve, reject) => {
          const sock = net.connect({ port, host: '127.0.0.1', noDelay: true }, () => {
            sock.write(header ? Buffer.concat([HEADER, MSG]) : MSG);
            resolve();
          });
          socks.push(sock);
          sock.on('error', reject);
          let pending = 0;
          sock.on('data', (c: Buffer) => {
            pending += c.length;
            while (pending >= MSG.length) {
              pending -= MSG.length;
              done++;
              if (running) sock.write(MSG);
            }
          });
        }),
    ),
  );
  await new Promise((r) => setTimeout(r, ms));
  running = false;
  const counted = done;
  for (const s of socks) s.destroy();
  return counted;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main(): Promise<void> {
  const child = spawn(process.execPath, [join(__dirname, 'proxy-servers.js')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => (await lines.next()).value as string;
  const ports = JSON.parse(await next()) as { plain: number; proxied: number };
  const cpu = async (): Promise<number> => {
    child.stdin.write('cpu\n');
    return Number(await next());
  };
  type Runner = (port: number, header: boolean, ms: number) => Promise<number>;
  const rows: Array<[string, string, Runner]> = [
    [`connections/s (${LOOPS} loops: connect, 8 B echo, close)`, 'conn', connectLoop],
    ['64 conns x 8 B ping-pong', 'msg', (p, h, ms) => pingPong(p, h, 64, ms)],
    ['1 conn x 8 B ping-pong', 'msg', (p, h, ms) => pingPong(p, h, 1, ms)],
  ];
  console.log(
    `PROXY protocol bench, Node ${process.version}: ${ROUNDS} rounds of ${ROUND_MS} ms each side, alternating; server CPU per unit from process.cpuUsage()`,
  );
  console.log(
    '| row | without header (median/s) | with v2 header (median/s) | ratio with/without (median, range) | server CPU µs/unit without | with | ratio without/with |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const [name, unit, run] of rows) {
    // Warm-up, uncounted.
    await run(ports.plain, false, ROUND_MS / 2);
    await run(ports.proxied, true, ROUND_MS / 2);
    const rate: number[][] = [[], []];
    const cost: number[][] = [[], []];
    const ratios: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate which side goes first.
      const order = r % 2 === 0 ? [0, 1] : [1, 0];
      for (const side of order) {
        const c0 = await cpu();
        const n = await run(side === 0 ? ports.plain : ports.proxied, side === 1, ROUND_MS);
        const c1 = await cpu();
        rate[side].push((n * 1000) / ROUND_MS);
        cost[side].push((c1 - c0) / n);
      }
      ratios.push(rate[1][r] / rate[0][r]);
    }
    const f = (x: number): string => (x >= 1000 ? Math.round(x).toLocaleString('en-US') : x.toFixed(2));
    const cw = median(cost[0]);
    const cp = median(cost[1]);
    console.log(
      `| ${name} | ${f(median(rate[0]))} | ${f(median(rate[1]))} | ${median(ratios).toFixed(2)} (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}) | ${cw.toFixed(1)} µs/${unit} | ${cp.toFixed(1)} µs/${unit} | ${(cw / cp).toFixed(2)} |`,
    );
  }
  child.stdin.end();
  await new Promise((r) => child.once('exit', r));
}

void main();
