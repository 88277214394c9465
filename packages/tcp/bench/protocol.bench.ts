/**
 * `npm run bench` for what protocol builders use, ours against the best
 * hand-written code on raw `node:net`, in one run, alternating rounds:
 *
 * - recvUntil reading 1,000,000 short lines (8 to 40 bytes), alone and with
 *   tryRecvUntil taking the lines already here, against a `'data'` +
 *   `indexOf` splitter that hands out each line as a view, with no copy (the
 *   fastest way to split lines on raw sockets), and, for scale, against
 *   `node:readline` on a raw socket;
 * - sendv of 2, 4 and 8 chunks against concat-then-send, both on our Client.
 *
 * The peers run in a child process. Rates are what the measured side did;
 * CPU per message is its own CPU time (this process), so > 1 in the raw/ours
 * column means ours is cheaper.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as net from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Client } from '@proj/tcp';
import { BenchResults } from 'bench-results';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const LINES = Number(process.env.BENCH_LINES ?? 1_000_000);
const SEND_MS = Number(process.env.BENCH_ROUND_MS ?? 1000);

const results = new BenchResults('tcp-protocol', {
  title: '@proj/tcp: protocol pieces against hand-written raw node:net',
  package: '@proj/tcp',
});
/** The section being measured, for the results file: its title and what its baseline is. */
let section = { title: '', baseline: '' };

interface Result {
  messages: number;
  micros: number;
  cpuMicros: number;
}

function cpuNow(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

async function timed(run: () => Promise<number>): Promise<Result> {
  const cpu = cpuNow();
  const start = process.hrtime.bigint();
  const messages = await run();
  return { messages, micros: Number(process.hrtime.bigint() - start) / 1000, cpuMicros: cpuNow() - cpu };
}

/** A Client connected to the peer at `port`. */
async function connected(port: number): Promise<Client> {
  const c = new Client('127.0.0.1', port);
  if (!(await c.connect(5000))) throw new Error(c.strerror());
  return c;
}

/** Our Client reads every line with recvUntil. */
async function oursLines(port: number): Promise<number> {
  const c = await connected(port);
  const line = Buffer.allocUnsafe(256);
  let count = 0;
  let bytes = 0;
  for (let n; (n = await c.recvUntil(line, 0x0a)) > 0;) {
    count++;
    bytes += n;
  }
  c.close();
  if (bytes === 0) throw new Error('no lines');
  return count;
}

/** Our Client takes the lines already here with tryRecvUntil, and awaits recvUntil only when none is. */
async function oursLinesDrained(port: number): Promise<number> {
  const c = await connected(port);
  const line = Buffer.allocUnsafe(256);
  let count = 0;
  let bytes = 0;
  for (;;) {
    let n = c.tryRecvUntil(line, 0x0a);
    if (n === 0) n = await c.recvUntil(line, 0x0a);
    if (n <= 0) break;
    count++;
    bytes += n;
  }
  c.close();
  if (bytes === 0) throw new Error('no lines');
  return count;
}

/** A raw socket splits its 'data' chunks into lines with indexOf, carrying a partial line over. */
function rawLines(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1', noDelay: true });
    let count = 0;
    let bytes = 0;
    let rest: Buffer | null = null;
    const onLine = (line: Buffer): void => {
      count++;
      bytes += line.length;
    };
    sock.on('data', (chunk: Buffer) => {
      let data = chunk;
      if (rest !== null) {
        data = Buffer.concat([rest, chunk]);
        rest = null;
      }
      let start = 0;
      for (let nl; (nl = data.indexOf(0x0a, start)) !== -1; start = nl + 1) onLine(data.subarray(start, nl + 1));
      if (start < data.length) rest = data.subarray(start);
    });
    sock.on('end', () => {
      sock.destroy();
      if (bytes === 0) reject(new Error('no lines'));
      resolve(count);
    });
    sock.on('error', reject);
  });
}

/** What most Node code uses: node:readline over the socket, a 'line' event (a string) per line. */
function readlineLines(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1', noDelay: true });
    let count = 0;
    let chars = 0;
    const lines = createInterface({ input: sock, crlfDelay: Infinity });
    lines.on('line', (line: string) => {
      count++;
      chars += line.length + 1;
    });
    lines.on('close', () => {
      sock.destroy();
      if (chars === 0) reject(new Error('no lines'));
      resolve(count);
    });
    sock.on('error', reject);
  });
}

/** Frames of `chunks` parts (a 4-byte header, then bodies), sent for SEND_MS with sendv or with concat + send. */
async function sendFrames(port: number, parts: Buffer[], useSendv: boolean): Promise<number> {
  const c = await connected(port);
  const deadline = Date.now() + SEND_MS;
  let frames = 0;
  while (Date.now() < deadline) {
    for (let i = 0; i < 64; i++) {
      const n = useSendv ? await c.sendv(parts) : await c.send(Buffer.concat(parts));
      if (n <= 0) throw new Error(c.strerror());
      frames++;
    }
  }
  c.close();
  return frames;
}

async function compare(
  name: string,
  unit: string,
  ours: () => Promise<number>,
  raw: () => Promise<number>,
): Promise<void> {
  const o: Result = { messages: 0, micros: 0, cpuMicros: 0 };
  const r: Result = { messages: 0, micros: 0, cpuMicros: 0 };
  const oRounds: number[] = [];
  const rRounds: number[] = [];
  const add = (into: Result, got: Result): void => {
    into.messages += got.messages;
    into.micros += got.micros;
    into.cpuMicros += got.cpuMicros;
    (into === o ? oRounds : rRounds).push(got.messages / (got.micros / 1e6));
  };
  // Each side twice first, uncounted, so that neither pays for the JIT warming up
  // (a loop that first ran one way, then another, takes more than one round to settle).
  for (let i = 0; i < 2; i++) {
    await ours();
    await raw();
  }
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 0) {
      add(o, await timed(ours));
      add(r, await timed(raw));
    } else {
      add(r, await timed(raw));
      add(o, await timed(ours));
    }
  }
  const rate = (t: Result): number => t.messages / (t.micros / 1e6);
  const cpu = (t: Result): number => t.cpuMicros / t.messages;
  console.log(
    `  ${name.padEnd(40)} ours ${Math.round(rate(o)).toLocaleString('en-US').padStart(11)}  base ${Math.round(rate(r))
      .toLocaleString('en-US')
      .padStart(
        11,
      )} ${unit.padEnd(9)} ratio ${(rate(o) / rate(r)).toFixed(2)}   CPU/msg ours ${(cpu(o) * 1000).toFixed(0)} ns` +
      ` base ${(cpu(r) * 1000).toFixed(0)} ns ratio base/ours ${(cpu(r) / cpu(o)).toFixed(2)}`,
  );
  results.add({
    section: section.title,
    name,
    unit,
    baselineName: section.baseline,
    ours: oRounds,
    baseline: rRounds,
    cpu: { ours: cpu(o) * 1000, baseline: cpu(r) * 1000, unit: 'ns/msg' },
  });
}

async function main(): Promise<void> {
  const child = spawn(process.execPath, [join(__dirname, 'protocol-peers.js')], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, BENCH_LINES: String(LINES) },
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const ports = JSON.parse((await lines.next()).value as string) as { source: number; sink: number };
  console.log(`@proj/tcp protocol benchmark: ${ROUNDS} rounds, alternating; node ${process.version}\n`);
  try {
    console.log(
      `Lines (${LINES.toLocaleString('en-US')} lines of 8-40 B a round; base: 'data' + indexOf splitter on raw net)`,
    );
    section = { title: 'Lines', baseline: "'data' + indexOf splitter" };
    await compare(
      'recvUntil(buf, 0x0a)',
      'lines/s',
      () => oursLines(ports.source),
      () => rawLines(ports.source),
    );
    await compare(
      'tryRecvUntil, then recvUntil',
      'lines/s',
      () => oursLinesDrained(ports.source),
      () => rawLines(ports.source),
    );
    console.log(`\nLines, the same, against node:readline over a raw socket (what most Node code uses)`);
    section = { title: 'Lines against node:readline', baseline: 'node:readline' };
    await compare(
      'recvUntil(buf, 0x0a)',
      'lines/s',
      () => oursLines(ports.source),
      () => readlineLines(ports.source),
    );
    await compare(
      'tryRecvUntil, then recvUntil',
      'lines/s',
      () => oursLinesDrained(ports.source),
      () => readlineLines(ports.source),
    );
    console.log('\nFrames to a sink (base: Buffer.concat, then send; both on our Client)');
    section = { title: 'Frames to a sink', baseline: 'Buffer.concat, then send' };
    for (const [count, size] of [
      [2, 64],
      [2, 1024],
      [4, 256],
      [8, 64],
      [8, 1024],
    ] as const) {
      const parts = [Buffer.from([0, 0, 0, 1]), ...Array.from({ length: count - 1 }, () => Buffer.alloc(size, 0x61))];
      await compare(
        `sendv of ${count} chunks (4 B + ${count - 1} x ${size} B)`,
        'frames/s',
        () => sendFrames(ports.sink, parts, true),
        () => sendFrames(ports.sink, parts, false),
      );
    }
  } finally {
    child.stdin.end();
    await once(child, 'exit');
    results.finish();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
