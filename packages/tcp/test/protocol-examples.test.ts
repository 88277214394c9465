/**
 * The protocol examples of docs/protocol-builders.md, run as written: the line protocol's
 * server and client (examples/line-protocol.ts), and the RESP client
 * (examples/resp-client.ts) against a small Redis-style responder written
 * here on raw `node:net`, independently of our code: it parses RESP arrays
 * of bulk strings itself and answers as Redis does.
 */
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Client } from '@proj/tcp';
import { request, startLineServer } from '../examples/line-protocol';
import { RespClient, RespError } from '../examples/resp-client';
import { rawServer, readToEnd, type RawServer } from '../../../test-support/net';
import { guardLeaks } from './helpers';

guardLeaks();

test('line protocol: SET, GET, an unknown request, a line too long', async () => {
  const server = await startLineServer();
  const c = new Client('127.0.0.1', server.address()!.port);
  try {
    expect(await c.connect(3000)).toBe(true);
    expect(await request(c, 'SET greeting hello world')).toBe('OK');
    expect(await request(c, 'GET greeting')).toBe('VALUE hello world');
    expect(await request(c, 'GET nothing')).toBe('NONE');
    expect(await request(c, 'DANCE')).toBe('ERR unknown request');
    expect(await request(c, `SET big ${'x'.repeat(2000)}`)).toBe('ERR line too long');
    expect(await c.recv(Buffer.alloc(8), 8, 3000)).toBe(0); // and the server closed
  } finally {
    c.close();
    await server.shutdown(1000);
  }
});

test('line protocol: 200 requests pipelined in one write get 200 answers, in order; then a line too long among them', async () => {
  const server = await startLineServer();
  const sock = net.connect(server.address()!.port, '127.0.0.1');
  try {
    const requests = Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? `SET k${i} v${i}\n` : `GET k${i - 1}\n`));
    const wanted = requests.map((_, i) => (i % 2 === 0 ? 'OK' : `VALUE v${i - 1}`));
    const received = readToEnd(sock);
    sock.write(requests.join('') + `GET k0\nSET big ${'x'.repeat(2000)}\nGET k0\n`);
    const { data, how } = await received;
    // The line too long is answered, then the connection closed: the request after it gets nothing.
    expect(data.toString().split('\n')).toEqual([...wanted, 'VALUE v0', 'ERR line too long', '']);
    expect(how).toBe('end');
  } finally {
    sock.destroy();
    await server.shutdown(1000);
  }
});

/** A Redis-style responder on raw net: RESP arrays of bulk strings in, RESP replies out. */
function respResponder(): Promise<RawServer> {
  const store = new Map<string, string>();
  const answer = (args: string[]): string => {
    const [cmd, key, value] = args;
    switch (cmd.toUpperCase()) {
      case 'PING':
        return '+PONG\r\n';
      case 'SET':
        store.set(key, value);
        return '+OK\r\n';
      case 'GET': {
        const v = store.get(key);
        return v === undefined ? '$-1\r\n' : `$${Buffer.byteLength(v)}\r\n${v}\r\n`;
      }
      case 'INCR': {
        const n = Number(store.get(key) ?? '0') + 1;
        store.set(key, String(n));
        return `:${n}\r\n`;
      }
      case 'KEYS':
        return `*${store.size}\r\n` + [...store.keys()].map((k) => `$${Buffer.byteLength(k)}\r\n${k}\r\n`).join('');
      default:
        return `-ERR unknown command '${cmd}'\r\n`;
    }
  };
  return rawServer((sock: net.Socket) => {
    let pending = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        // *<count>\r\n then <count> times $<len>\r\n<bytes>\r\n; wait for more when incomplete.
        let at = 0;
        const line = (): string | null => {
          const end = pending.indexOf('\r\n', at);
          if (end < 0) return null;
          const s = pending.toString('latin1', at, end);
          at = end + 2;
          return s;
        };
        const head = line();
        if (head === null) return;
        const args: string[] = [];
        let complete = true;
        for (let i = 0; i < Number(head.slice(1)); i++) {
          const len = line();
          if (len === null || pending.length < at + Number(len.slice(1)) + 2) {
            complete = false;
            break;
          }
          args.push(pending.toString('utf8', at, at + Number(len.slice(1))));
          at += Number(len.slice(1)) + 2;
        }
        if (!complete) return;
        pending = pending.subarray(at);
        sock.write(answer(args));
      }
    });
  });
}

test('RESP client against an independent Redis-style responder: every reply type', async () => {
  const peer = await respResponder();
  const redis = await RespClient.connect(peer.port);
  try {
    expect(await redis.ping()).toBe('PONG');
    expect(await redis.set('name', 'señor\r\nwith CRLF inside')).toBe('OK');
    expect(await redis.get('name')).toEqual(Buffer.from('señor\r\nwith CRLF inside'));
    expect(await redis.get('missing')).toBeNull();
    expect(await redis.incr('hits')).toBe(1);
    expect(await redis.incr('hits')).toBe(2);
    expect(await redis.command(['KEYS'])).toEqual([Buffer.from('name'), Buffer.from('hits')]);
    const err = await redis.command(['FLY']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RespError);
    expect(err).toMatchObject({ message: "ERR unknown command 'FLY'", code: 'ERR' });
    // An error reply is the server's answer, not a failure: the connection goes on.
    expect(await redis.batch().incr('hits').command(['FLY']).get('name').exec()).toEqual([
      3,
      new RespError("ERR unknown command 'FLY'"),
      Buffer.from('señor\r\nwith CRLF inside'),
    ]);
  } finally {
    await redis.close();
    await peer.close();
  }
});

test('RESP client: a reply that is not RESP closes the connection with ERR_RESP_PROTOCOL; the next command reconnects', async () => {
  let first = true;
  const peer = await rawServer((sock: net.Socket) => {
    sock.on('data', () => {
      sock.write(first ? '?what\r\n' : '+PONG\r\n');
      first = false;
    });
  });
  const redis = await RespClient.connect(peer.port);
  try {
    await expect(redis.ping()).rejects.toMatchObject({ code: 'ERR_RESP_PROTOCOL' });
    expect(await redis.ping()).toBe('PONG');
  } finally {
    await redis.close();
    await peer.close();
  }
});

test('the protocol guide (docs/protocol-builders.md) shows the line protocol example as it is, and points at the RESP client', () => {
  const root = path.join(__dirname, '..');
  const guide = readFileSync(path.join(root, '..', '..', 'docs', 'protocol-builders.md'), 'utf8');
  const code = readFileSync(path.join(root, 'examples', 'line-protocol.ts'), 'utf8').trim();
  expect(guide).toContain('```ts\n' + code + '\n```');
  expect(guide).toContain('packages/tcp/examples/resp-client.ts');
  expect(guide).toContain('pipelining.md');
});
