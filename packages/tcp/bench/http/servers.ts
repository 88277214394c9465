/**
 * One HTTP server for the HTTP benchmark, in a process of its own (a fresh one
 * per measurement): `ours` is examples/http-server.ts, `node` is `node:http`
 * answering the same request with the same body. Both keep idle connections
 * for a minute. Prints the port as one line, then answers each line on stdin
 * with one line: `cpu`, this process's CPU time so far in microseconds;
 * `mem`, its memory as JSON after a full garbage collection (run with
 * --expose-gc). Exits when stdin closes.
 */
import * as http from 'node:http';
import type * as net from 'node:net';
import { answerBenchQuestions } from '../server-questions';
import { startHttpServer } from '../../examples/http-server';

const KEEP_ALIVE_MS = 60_000;
const BODY = 'hello world\n';

async function main(): Promise<void> {
  const which = process.argv[2];
  let port: number;
  if (which === 'ours') {
    const server = await startHttpServer(0, undefined, { keepAliveTimeoutMs: KEEP_ALIVE_MS, maxConnections: 20_000 });
    port = server.address()!.port;
  } else if (which === 'node') {
    const server = http.createServer((req, res) => {
      if (req.url === '/')
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': BODY.length }).end(BODY);
      else res.writeHead(404, { 'content-length': 0 }).end();
    });
    server.keepAliveTimeout = KEEP_ALIVE_MS;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  } else {
    throw new Error(`usage: servers.js ours|node, got ${which}`);
  }
  process.stdout.write(`${port}\n`);
  answerBenchQuestions(() => process.exit(0));
}

void main();
