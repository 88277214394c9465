/**
 * The peers of the protocol benchmark, in a process of their own so that they
 * do not share the measured side's CPU: a line source (every connection gets
 * `LINES` short lines, written as fast as the reader takes them, then FIN) and
 * a sink (reads and drops everything, then answers FIN with FIN). Prints
 * their ports as one JSON line; serves until stdin closes.
 */
import * as net from 'node:net';

const LINES = Number(process.env.BENCH_LINES ?? 1_000_000);

/** Lines of 8 to 40 bytes ("key-12345:value...\n"), in one block written again and again. */
function lineBlock(): { block: Buffer; lines: number } {
  const parts: string[] = [];
  for (let i = 0; i < 1000; i++) parts.push(`key-${i}:${'v'.repeat(i % 32)}\n`);
  return { block: Buffer.from(parts.join('')), lines: 1000 };
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)),
  );
}

async function main(): Promise<void> {
  const { block, lines } = lineBlock();
  const source = net.createServer({ noDelay: true }, (sock) => {
    sock.on('error', () => sock.destroy());
    let left = LINES / lines;
    const pump = (): void => {
      while (left > 0) {
        left--;
        if (!sock.write(block)) {
          sock.once('drain', pump);
          return;
        }
      }
      sock.end();
    };
    pump();
  });
  const sink = net.createServer({ noDelay: true, allowHalfOpen: false }, (sock) => {
    sock.on('error', () => sock.destroy());
    sock.resume();
  });
  process.stdout.write(JSON.stringify({ source: await listen(source), sink: await listen(sink) }) + '\n');
  process.stdin.resume();
  process.stdin.on('end', () => {
    source.close();
    sink.close();
    process.exit(0);
  });
}

void main();
