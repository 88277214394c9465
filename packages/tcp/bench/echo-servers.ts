/**
 * The echo servers the benchmark compares, in a process of their own so that
 * the load generator does not share their CPU: one written with our
 * `Connection` (a recv/send loop, as a user would write it) and one with raw
 * `node:net` `'data'` callbacks, plain and over TLS (with the key and
 * certificate whose paths are in BENCH_TLS_KEY and BENCH_TLS_CERT; with
 * BENCH_TRACE=1, with a subscriber on every tracing channel). Prints
 * their ports as one JSON line, then serves until stdin closes. Each line on
 * stdin is a question answered with one line: `cpu`, this process's CPU time
 * so far in microseconds; `mem`, its memory as JSON after a full garbage
 * collection (run with --expose-gc).
 */
import * as dc from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { answerBenchQuestions } from './server-questions';
import * as tls from 'node:tls';
import { type Connection, Server, TcpChannels } from '@proj/tcp';

async function oursEcho(conn: Connection): Promise<void> {
  const buf = Buffer.allocUnsafe(64 * 1024);
  for (;;) {
    const n = await conn.recv(buf);
    if (n <= 0 || (await conn.send(buf, n)) <= 0) break;
  }
}

function rawEcho(sock: net.Socket): void {
  sock.on('data', (chunk: Buffer) => sock.write(chunk));
  sock.on('error', () => sock.destroy());
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)),
  );
}

/** BENCH_TRACE=1: a subscriber (doing nothing) on every channel @proj/tcp publishes on. */
function subscribeAll(): void {
  for (const name of Object.values(TcpChannels)) dc.subscribe(name, () => {});
}

async function main(): Promise<void> {
  if (process.env.BENCH_TRACE === '1') subscribeAll();
  const ours = new Server().onConnection(oursEcho);
  await ours.start('127.0.0.1', 0);

  // For the idle-memory count: a handler that waits for a first byte and holds
  // no buffer of its own, so what is measured is the library's share.
  const idle = new Server().onConnection(async (conn) => {
    await conn.recv(Buffer.allocUnsafe(1));
  });
  await idle.start('127.0.0.1', 0);

  const raw = net.createServer({ noDelay: true }, rawEcho);

  const keyPath = process.env.BENCH_TLS_KEY;
  const certPath = process.env.BENCH_TLS_CERT;
  let oursTls: Server | null = null;
  let rawTls: tls.Server | null = null;
  if (keyPath && certPath) {
    oursTls = new Server().onConnection(oursEcho);
    await oursTls.start('127.0.0.1', 0, keyPath, certPath);
    rawTls = tls.createServer({ key: readFileSync(keyPath), cert: readFileSync(certPath), noDelay: true }, rawEcho);
  }

  process.stdout.write(
    JSON.stringify({
      ours: ours.address()!.port,
      idle: idle.address()!.port,
      raw: await listen(raw),
      oursTls: oursTls?.address()?.port ?? 0,
      rawTls: rawTls ? await listen(rawTls) : 0,
    }) + '\n',
  );
  answerBenchQuestions(() => {
    raw.close();
    rawTls?.close();
    void Promise.all([ours.shutdown(100), idle.shutdown(100), oursTls?.shutdown(100)]).then(() => process.exit(0));
  });
}

void main();
