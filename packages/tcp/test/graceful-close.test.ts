/**
 * A graceful close delivers every byte that `send` reported, then FIN; never
 * an RST. Peers here are plain `node:net`/`node:tls` sockets, not our code,
 * and each case runs many rounds: a lost tail or a reset shows up as a short
 * read or an ECONNRESET on the peer.
 *
 * The case that used to fail: a TLS Client sends, then closes at once while
 * bytes it never read (TLS 1.3 session tickets) sit in its receive buffer.
 * Closing a socket with unread bytes makes the kernel send RST, and the peer
 * drops what it had not read yet.
 */
import type * as net from 'node:net';
import { Client, type Connection, Server } from '../src';
import { makeTestCerts, type TestCerts } from '../../../libs/test-support/certs';
import { rawConnect, rawTlsConnect, readToEnd, type ReadResult } from '../../../libs/test-support/net';
import { VARIANTS, guardLeaks, pair } from './helpers';

guardLeaks();

const ROUNDS = 8;
let certs: TestCerts;
beforeAll(async () => {
  certs = await makeTestCerts();
});
afterAll(() => certs.cleanup());

/** `size` bytes of a pattern that a shifted or repeated chunk cannot match. */
function payload(size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed + (i >>> 8)) & 0xff;
  return b;
}

function expectDelivered(got: ReadResult, sent: Buffer): void {
  expect(got.error?.code).toBeUndefined();
  expect(got.how).toBe('end');
  expect(got.data.length).toBe(sent.length);
  expect(got.data.equals(sent)).toBe(true);
}

/** Sends `body` in pieces, then 'ok', the way the reported case did; returns all that was sent. */
async function sendAll(ours: Connection | Client, body: Buffer): Promise<Buffer> {
  for (let off = 0; off < body.length; off += 64 * 1024) {
    const piece = body.subarray(off, Math.min(off + 64 * 1024, body.length));
    expect(await ours.send(piece)).toBe(piece.length);
  }
  expect(await ours.send('ok')).toBe(2);
  return Buffer.concat([body, Buffer.from('ok')]);
}

/** Closes our end; the peer, half-open like ours, answers our FIN with its own, as a well-behaved peer does. */
function closeOurs(ours: Connection | Client, peer: net.Socket, round: number): Promise<void> | void {
  peer.once('end', () => peer.end());
  if (ours instanceof Client) return round % 2 === 0 ? ours.close() : ours.disconnect();
  return ours.close();
}

describe.each(VARIANTS)('$name', (variant) => {
  test(`send then close at once: the peer gets every byte, then FIN (${ROUNDS} rounds)`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const p = await pair(variant, certs);
      try {
        const reading = readToEnd(p.peer);
        const sent = await sendAll(p.ours, payload(256 * 1024 + round * 1000, round));
        await closeOurs(p.ours, p.peer, round);
        expectDelivered(await reading, sent);
      } finally {
        await p.close();
      }
    }
  });

  test(`send then close at once, the peer reading only afterwards: every byte, then FIN (${ROUNDS} rounds)`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const p = await pair(variant, certs);
      try {
        // What we send waits in the peer's receive buffer: an RST from our close would drop it.
        p.peer.pause();
        const sent = await sendAll(p.ours, payload(256 * 1024 + round * 1000, round));
        const closing = closeOurs(p.ours, p.peer, round);
        const reading = readToEnd(p.peer);
        p.peer.resume();
        expectDelivered(await reading, sent);
        await closing;
      } finally {
        await p.close();
      }
    }
  });

  test(`close with bytes from the peer still unread: every byte, then FIN, no RST (${ROUNDS} rounds)`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const p = await pair(variant, certs);
      try {
        // The peer writes first; we never read it, so it sits in our receive buffer at close.
        const theirs = payload(32 * 1024, 100 + round);
        p.peer.write(theirs);
        const reading = readToEnd(p.peer);
        const sent = await sendAll(p.ours, payload(128 * 1024 + round * 777, round));
        await closeOurs(p.ours, p.peer, round);
        expectDelivered(await reading, sent);
      } finally {
        await p.close();
      }
    }
  });

  test(`the peer sends then ends: we read every byte, then 0 (${ROUNDS} rounds)`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const p = await pair(variant, certs);
      try {
        const theirs = payload(200 * 1024 + round * 333, 7 + round);
        p.peer.end(theirs);
        const got: Buffer[] = [];
        const buf = Buffer.alloc(16 * 1024);
        for (let n; (n = await p.ours.recv(buf, buf.length, 5000)) !== 0;) {
          expect(n).toBeGreaterThan(0);
          got.push(Buffer.from(buf.subarray(0, n)));
        }
        expect(Buffer.concat(got).equals(theirs)).toBe(true);
        // Our FIN answers theirs; the peer sees a clean end.
        const ended = readToEnd(p.peer);
        await closeOurs(p.ours, p.peer, round);
        const after = await ended;
        expect(after.error?.code).toBeUndefined();
        expect(after.how).not.toBe('error');
      } finally {
        await p.close();
      }
    }
  });
});

describe.each([
  { name: 'TCP', tls: false },
  { name: 'TLS', tls: true },
])('a handler that sends and returns, over $name', ({ tls }) => {
  test(`a raw client gets every byte, then FIN, even with its own bytes unread (${ROUNDS} rounds)`, async () => {
    const body = payload(300 * 1024, 42);
    const server = new Server().onConnection(async (conn) => {
      await conn.send(body);
      await conn.send('ok');
    });
    if (tls) await server.start('127.0.0.1', 0, certs.keyPath, certs.certPath);
    else await server.start('127.0.0.1', 0);
    const port = server.address()!.port;
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const sock: net.Socket = tls
          ? await rawTlsConnect(port, { ca: certs.cert, servername: 'localhost' })
          : await rawConnect(port);
        try {
          // Bytes the handler never reads: at its return they are unread in the server's socket.
          sock.write(payload(16 * 1024 + round, round));
          expectDelivered(await readToEnd(sock), Buffer.concat([body, Buffer.from('ok')]));
        } finally {
          sock.destroy();
        }
      }
    } finally {
      await server.shutdown(1000);
    }
  });
});

test('a peer that never closes its side: a graceful close still ends by itself, after FIN', async () => {
  // The raw client is half-open: it sees our FIN and keeps its own side open.
  const p = await pair({ name: 'Connection over TCP', side: 'Connection', tls: false }, certs);
  try {
    const reading = readToEnd(p.peer);
    expect(await p.ours.send('bye')).toBe(3);
    await p.ours.close(); // resolves once the linger time is up and the socket closed
    const got = await reading;
    expect(got.how).toBe('end');
    expect(got.data.toString()).toBe('bye');
    expect(p.peer.destroyed).toBe(false);
  } finally {
    await p.close();
  }
});
