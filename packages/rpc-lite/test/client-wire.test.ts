/** RpcClient against a raw server that speaks hand-made frames: what the client does with what it receives. */
import type * as net from 'node:net';
import { pack, unpack } from 'msgpackr';
import { RpcClient, RpcError } from '../src';
import { rawServer, type RawServer } from '../../../libs/test-support/net';
import { frame, guardLeaks } from './helpers';

/** Collects the frames a raw socket receives and hands each decoded message to `onMessage`. */
function onMessages(sock: net.Socket, onMessage: (msg: unknown[]) => void): void {
  let buf = Buffer.alloc(0);
  sock.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
      const len = buf.readUInt32BE(0);
      onMessage(unpack(buf.subarray(4, 4 + len)) as unknown[]);
      buf = buf.subarray(4 + len);
    }
  });
}

let server: RawServer;
let client: RpcClient;
const received: unknown[][] = [];

beforeEach(async () => {
  received.length = 0;
  // Answers "echo" properly, "bad" with a malformed response; before answering "ask" it sends
  // the client a request and a notification of its own.
  server = await rawServer((sock) =>
    onMessages(sock, (msg) => {
      received.push(msg);
      if (msg[0] !== 0) return;
      const [, msgid, method, params] = msg as [number, number, string, unknown];
      if (method === 'bad') {
        sock.write(frame([0x94, 0x01, ...pack(msgid), 0x07, 0xc0])); // [1, msgid, 7, nil]
      } else if (method === 'ask') {
        sock.write(frame(pack([0, 99, 'clientMethod', []])));
        sock.write(frame(pack([2, 'tick', [1]])));
        sock.write(frame(pack([0, 100, 5, []]))); // malformed request: method 5
        sock.write(frame(pack([1, msgid, null, 'asked'])));
      } else {
        sock.write(frame(pack([1, msgid, null, params])));
      }
    }),
  );
  client = new RpcClient('127.0.0.1', server.port);
});

afterEach(async () => {
  await client.close();
  await server.close();
});
guardLeaks();

test('a malformed answer fails that call with BAD_MESSAGE; the connection goes on', async () => {
  const err = (await client.call('bad').catch((e: unknown) => e)) as RpcError;
  expect(err).toBeInstanceOf(RpcError);
  expect(err.code).toBe('BAD_MESSAGE');
  expect(await client.call('echo', ['after'])).toEqual(['after']);
  expect(server.sockets.size).toBe(1);
});

test('requests from the server are answered (METHOD_NOT_FOUND, BAD_MESSAGE); notifications ignored', async () => {
  expect(await client.call('ask')).toBe('asked');
  expect(await client.call('echo', [1])).toEqual([1]); // the answers to the server's requests went out before this
  const answers = received.filter((m) => m[0] === 1);
  expect(answers).toEqual([
    [1, 99, { code: 'METHOD_NOT_FOUND', message: 'this client serves no methods' }, null],
    [1, 100, { code: 'BAD_MESSAGE', message: expect.stringContaining('method must be a string') }, null],
  ]);
});

test('an answer for a msgid nobody waits for is dropped quietly', async () => {
  // The raw server answers msgid 12345 out of the blue, then the real answer.
  const first = await client.call<unknown>('echo', ['x']);
  expect(first).toEqual(['x']);
  for (const sock of server.sockets) sock.write(frame(pack([1, 12345, null, 'stray'])));
  expect(await client.call('echo', ['y'])).toEqual(['y']);
});
