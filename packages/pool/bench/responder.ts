/**
 * The server of the memcached-shaped benchmark, in a process of its own so that it does not share
 * the measured side's CPU: a raw `node:net` responder that answers each request line (`get k\r\n`)
 * with a short memcached hit (`VALUE k 0 1\r\nv\r\nEND\r\n`). Prints its port as one JSON line;
 * serves until stdin closes.
 */
import * as net from 'node:net';

const REPLY = Buffer.from('VALUE k 0 1\r\nv\r\nEND\r\n');
/** The replies for up to this many requests that came in one read, written in one call. */
const REPLIES = Buffer.concat(Array.from({ length: 64 }, () => REPLY));

const server = net.createServer({ noDelay: true }, (sock) => {
  sock.on('error', () => sock.destroy());
  sock.on('data', (chunk: Buffer) => {
    // Each request ends with one '\n': as many replies as requests ended in this chunk.
    let n = 0;
    for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) n++;
    for (; n > 64; n -= 64) sock.write(REPLIES);
    if (n > 0) sock.write(REPLIES.subarray(0, n * REPLY.length));
  });
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: (server.address() as net.AddressInfo).port }) + '\n');
});
process.stdin.resume();
process.stdin.on('end', () => {
  server.close();
  process.exit(0);
});
