/**
 * The fast paths that rely on Node internals are in use wherever Node has what
 * they need, so that a silent fall back to the slow path fails here; and
 * `PROJ_TCP_NO_INTERNALS=1` (CI runs the suites a second time with it), the
 * permission model and `--pending-deprecation` turn them off without a word
 * on stderr. Child processes import the built package as a consumer does.
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import type * as net from 'node:net';
import * as path from 'node:path';
import { getDefaultHighWaterMark } from 'node:stream';
import * as tls from 'node:tls';
import { promisify } from 'node:util';
import { Client, type Connection, NO_INTERNALS_ENV, fastPaths } from '../src';
import { readTlsThroughOnread } from '../src/node-internals';
import { makeTestCerts, type TestCerts } from '../../../libs/test-support/certs';
import { pattern, readToEnd } from '../../../libs/test-support/net';
import { MiB, guardLeaks, pair } from './helpers';

guardLeaks();

const run = promisify(execFile);
const packageRoot = path.join(__dirname, '..');
const repoRoot = path.join(packageRoot, '..', '..');
const internalsOff = process.env[NO_INTERNALS_ENV] === '1';
const nodeMajor = Number(process.versions.node.split('.')[0]);

let certs: TestCerts;
beforeAll(async () => {
  certs = await makeTestCerts();
  if (!existsSync(path.join(packageRoot, 'dist', 'index.js'))) {
    await run(
      process.execPath,
      [require.resolve('typescript/bin/tsc'), '-p', path.join(packageRoot, 'tsconfig.lib.json')],
      {
        cwd: repoRoot,
        timeout: 60_000,
      },
    );
  }
}, 70_000);
afterAll(() => certs.cleanup());

describe(`in this process (${NO_INTERNALS_ENV}=${process.env[NO_INTERNALS_ENV] ?? ''}, Node ${process.versions.node})`, () => {
  test('fastPaths() reports the paths in use and why the others are off', () => {
    if (internalsOff) {
      expect(fastPaths()).toEqual({
        directWrite: false,
        onreadAccept: false,
        tlsOnread: false,
        tlsWriteAtOnce: false,
        reason: `${NO_INTERNALS_ENV}=1`,
      });
    } else {
      // Every Node line we support has the internals: their absence is a regression to look into.
      expect(fastPaths()).toEqual({
        directWrite: true,
        onreadAccept: true,
        tlsOnread: true,
        tlsWriteAtOnce: true,
        reason: '',
      });
    }
  });

  test('a plain Connection reads through onread and writes to its handle directly (when the paths are on)', async () => {
    const p = await pair({ name: 'Connection over TCP', side: 'Connection', tls: false });
    try {
      expect(p.ours._fastPathsInUse()).toEqual({ directWrite: !internalsOff, onread: !internalsOff });
      expect(await p.ours.send('direct')).toBe(6);
    } finally {
      await p.close();
    }
  });

  test('a plain Client reads through onread (public API) and writes directly (when the paths are on)', async () => {
    const p = await pair({ name: 'Client over TCP', side: 'Client', tls: false });
    try {
      expect(p.ours).toBeInstanceOf(Client);
      expect(p.ours._fastPathsInUse()).toEqual({ directWrite: !internalsOff, onread: true });
    } finally {
      await p.close();
    }
  });

  test.each(['Connection', 'Client'] as const)(
    'a TLS %s reads through onread and writes to its TLS handle directly (when the paths are on)',
    async (side) => {
      const p = await pair({ name: `${side} over TLS`, side, tls: true }, certs);
      try {
        expect(p.ours._fastPathsInUse()).toEqual({ directWrite: !internalsOff, onread: !internalsOff });
        // Bytes both ways, through the path in use.
        const data = Buffer.alloc(300_000, 7);
        const got = Buffer.alloc(data.length);
        // The peer echoes; ours sends and reads back at once (full duplex).
        p.peer.on('data', (chunk: Buffer) => p.peer.write(chunk));
        const [sent, read] = await Promise.all([
          p.ours.send(data, data.length, 5000),
          p.ours.recvn(got, got.length, 5000),
        ]);
        expect([sent, read]).toEqual([data.length, data.length]);
        expect(got.equals(data)).toBe(true);
      } finally {
        await p.close();
      }
    },
  );
});

/** Whether `promise` is settled already: only then does its reaction run before one queued after it. */
function settledAlready(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(() => (settled = true));
  return Promise.resolve().then(() => settled);
}

describe('direct writes', () => {
  test('a write still in flight keeps its own request while other sockets write at once and in flight', async () => {
    // A small write that finishes at once hands its request to the next write. One in flight
    // (its peer not reading) must keep its own until it completes, or its completion reaches
    // the wrong socket and its send never resolves.
    const pairs = await Promise.all(
      [0, 1, 2].map(() => pair({ name: 'Connection over TCP', side: 'Connection', tls: false })),
    );
    try {
      const big = 8 * MiB;
      const [a, b, c] = pairs.map((p) => p.ours as Connection);
      // Three different stretches of the pattern: a byte of one stream in another shows.
      const aData = pattern(0, big);
      const aSending = a.send(aData, big, 20_000);
      expect(await settledAlready(aSending)).toBe(false);
      const small = pattern(2 * big, 100);
      for (let i = 0; i < 50; i++) expect(await c.send(small, small.length, 5000)).toBe(small.length);
      const bData = pattern(big, big);
      const bSending = b.send(bData, big, 20_000);
      for (let i = 0; i < 50; i++) expect(await c.send(small, small.length, 5000)).toBe(small.length);
      const received = pairs.map((p) => readToEnd(p.peer));
      expect(await Promise.all([aSending, bSending])).toEqual([big, big]);
      await Promise.all([a, b, c].map((ch) => ch.close()));
      const [aGot, bGot, cGot] = (await Promise.all(received)).map((r) => r.data);
      expect(aGot.equals(aData)).toBe(true);
      expect(bGot.equals(bData)).toBe(true);
      expect(cGot.equals(Buffer.concat(Array.from({ length: 100 }, () => small)))).toBe(true);
    } finally {
      await Promise.all(pairs.map((p) => p.close()));
    }
  }, 30_000);
});

describe('TLS writes done at once', () => {
  /** Reads `total` bytes from `peer`: the first `aBytes` must all be `a`, the rest all `b`; resolves with how many did not match. */
  function readAB(peer: net.Socket, total: number, aBytes: number): Promise<number> {
    const as = Buffer.alloc(64 * 1024, 'a');
    const bs = Buffer.alloc(64 * 1024, 'b');
    return new Promise((resolve, reject) => {
      let at = 0;
      let wrong = 0;
      const check = (part: Buffer, pattern: Buffer): void => {
        for (let i = 0; i < part.length; i += pattern.length) {
          const piece = part.subarray(i, i + pattern.length);
          if (!piece.equals(pattern.subarray(0, piece.length))) wrong += piece.length;
        }
      };
      peer.on('data', (chunk: Buffer) => {
        const split = Math.max(0, Math.min(chunk.length, aBytes - at));
        check(chunk.subarray(0, split), as);
        check(chunk.subarray(split), bs);
        at += chunk.length;
        if (at >= total) resolve(at === total ? wrong : -1);
      });
      peer.on('error', reject);
    });
  }

  test.each(['Connection', 'Client'] as const)(
    'a TLS %s send of up to the high-water mark resolves at once (when the paths are on); the caller may overwrite its bytes then',
    async (side) => {
      const p = await pair({ name: `${side} over TLS`, side, tls: true }, certs);
      try {
        const hwm = getDefaultHighWaterMark(false);
        const data = Buffer.alloc(hwm, 'a');
        const received = readAB(p.peer, 2 * hwm, hwm);
        const sending = p.ours.send(data, hwm, 5000);
        // The TLS handle reports every write done in a later turn of the event loop.
        expect(await settledAlready(sending)).toBe(!internalsOff);
        expect(await sending).toBe(hwm);
        data.fill('b');
        // The handle has not completed the first write yet: this one waits for it, and resolves once it is written.
        expect(await p.ours.send(data, hwm, 5000)).toBe(hwm);
        data.fill('c');
        expect(await received).toBe(0);
      } finally {
        await p.close();
      }
    },
  );
});

describe('direct TLS writes', () => {
  // The TLS handle completes each write a turn after it took it, and must see no
  // other write and no shutdown until then: a send or an end that comes sooner
  // waits for that completion. Each test here makes one come sooner.

  test.each(['Connection', 'Client'] as const)(
    'TLS %s: sends of every size, back to back, arrive whole and in order (direct, held, and through the stream)',
    async (side) => {
      const p = await pair({ name: `${side} over TLS`, side, tls: true }, certs);
      try {
        const hwm = getDefaultHighWaterMark(false);
        // Small ones go to the handle; those above the high-water mark through the
        // stream; most come while the one before is still in flight.
        const sizes = [1, 7, 100, hwm, hwm + 1, 3, 4 * hwm, 5, hwm - 1, 2, 300_000, 1, 16, 64 * 1024 + 5, 9];
        const total = sizes.reduce((a, b) => a + b, 0);
        const received = readToEnd(p.peer);
        let at = 0;
        for (let round = 0; round < 3; round++) {
          for (const size of sizes) {
            const data = pattern(at, size);
            expect(await p.ours.send(data, size, 5000)).toBe(size);
            // The caller may reuse its buffer as soon as send resolves.
            data.fill(0);
            at += size;
          }
        }
        expect(await p.ours.sendv([pattern(at, 10), pattern(at + 10, 20_000)], 5000)).toBe(20_010);
        at += 20_010;
        expect(p.ours.bytesWritten).toBe(3 * total + 20_010);
        await p.ours.close();
        const r = await received;
        expect(r.how).toBe('end');
        expect(r.data.length).toBe(at);
        expect(r.data.equals(pattern(0, at))).toBe(true);
      } finally {
        await p.close();
      }
    },
    20_000,
  );

  test.each(['Connection', 'Client'] as const)(
    'TLS %s: close() right after a send, and after a send that waits for the one in flight, loses no byte and ends with FIN',
    async (side) => {
      for (let i = 0; i < 20; i++) {
        const p = await pair({ name: `${side} over TLS`, side, tls: true }, certs);
        try {
          const received = readToEnd(p.peer);
          const first = pattern(0, 1000 + i);
          expect(await p.ours.send(first, first.length, 5000)).toBe(first.length);
          // The handle still holds the first write: this one waits for it.
          const second = pattern(first.length, 5000);
          const sending = p.ours.send(second, second.length, 5000);
          const whole = i % 2 === 0;
          if (whole) expect(await sending).toBe(second.length);
          await p.ours.close();
          const r = await received;
          expect(r.how).toBe('end');
          if (whole) expect(r.data.equals(pattern(0, first.length + second.length))).toBe(true);
          else {
            // A send still pending when the connection closes reports -1; what it had handed on still arrives, in order.
            expect(await sending).toBe(-1);
            expect(r.data.subarray(0, first.length).equals(first)).toBe(true);
            expect(r.data.equals(pattern(0, r.data.length))).toBe(true);
          }
        } finally {
          await p.close();
        }
      }
    },
    20_000,
  );

  test('TLS: closing the writable right after a write ends the stream after the write; a later send is refused', async () => {
    const p = await pair({ name: 'Client over TLS', side: 'Client', tls: true }, certs);
    try {
      const received = readToEnd(p.peer);
      const writer = p.ours.writable.getWriter();
      await writer.write(pattern(0, 3000));
      await writer.close();
      writer.releaseLock();
      const r = await received;
      expect(r.how).toBe('end');
      expect(r.data.equals(pattern(0, 3000))).toBe(true);
      expect(await p.ours.send('late', 4, 1000)).toBe(-1);
      expect(p.ours.lastError?.code).toBe('ENOTCONN');
      // Half-closed: reading goes on.
      p.peer.end('bye');
      const buf = Buffer.alloc(3);
      expect(await p.ours.recvn(buf, 3, 5000)).toBe(3);
      expect(buf.toString()).toBe('bye');
    } finally {
      await p.close();
    }
  });

  test('TLS: close() right after closing the writable, with the write still in flight, still closes the connection (it lingers, then goes)', async () => {
    const p = await pair({ name: 'Client over TLS', side: 'Client', tls: true }, certs);
    try {
      const received = readToEnd(p.peer);
      const sock = (p.ours as unknown as { _sock: net.Socket })._sock;
      const writer = p.ours.writable.getWriter();
      await writer.write(pattern(0, 3000));
      const closing = writer.close();
      // The half-close waits for the write in flight; the close that follows must not be lost behind it.
      void p.ours.close();
      await closing.catch(() => undefined);
      const r = await received;
      expect(r.how).toBe('end');
      expect(r.data.equals(pattern(0, 3000))).toBe(true);
      // The peer never ends its side: our socket goes when its linger runs out.
      if (!sock.closed) await once(sock, 'close');
    } finally {
      await p.close();
    }
  });

  test.each(['reset()', 'an aborted send'])(
    'TLS: %s while a write is in flight and another waits for it: no crash, the waiting send reports -1, the peer sees the reset',
    async (how) => {
      for (let i = 0; i < 20; i++) {
        const p = await pair({ name: 'Connection over TLS', side: 'Connection', tls: true }, certs);
        try {
          const conn = p.ours as Connection;
          const received = readToEnd(p.peer);
          expect(await conn.send(pattern(0, 100), 100, 5000)).toBe(100);
          const ac = new AbortController();
          const sending = conn.send(pattern(100, 200), 200, { ms: 5000, signal: ac.signal });
          // Before the write in flight completes, and (every other round) a turn of the microtasks later.
          if (i % 2 === 0) await Promise.resolve();
          if (how === 'reset()') void conn.reset();
          else ac.abort();
          expect(await sending).toBe(-1);
          expect(conn.lastError?.code).toBe(how === 'reset()' ? 'ENOTCONN' : 'ABORT_ERR');
          const r = await received;
          if (internalsOff) {
            // The portable path writes through the stream; the connection ends for the peer either way.
            expect(['error', 'end']).toContain(r.how);
          } else {
            expect(r.how).toBe('error');
            expect(r.error?.code).toBe('ECONNRESET');
          }
        } finally {
          await p.close();
        }
      }
    },
    20_000,
  );

  test('TLS: a send held behind the one in flight times out against a peer that stops reading, and resets the connection', async () => {
    const p = await pair({ name: 'Connection over TLS', side: 'Connection', tls: true }, certs);
    try {
      p.peer.pause();
      const chunk = Buffer.alloc(8 * 1024, 1);
      let sent = 0;
      // Fill the path to the peer; sends then wait for the one before to complete.
      for (;;) {
        const n = await p.ours.send(chunk, chunk.length, 300);
        if (n < 0) break;
        sent += n;
        expect(sent).toBeLessThan(256 * MiB);
      }
      expect(p.ours.lastError?.code).toBe('ETIMEDOUT');
      expect(await p.ours.send(chunk, 1, 100)).toBe(-1);
    } finally {
      await p.close();
    }
  }, 30_000);
});

describe('readTlsThroughOnread', () => {
  /** A connected raw TLS pair (no code of ours); `serverSays` is written by the server once the handshake is done. */
  async function rawTlsPair(serverSays: string): Promise<{ client: tls.TLSSocket; close(): Promise<void> }> {
    const server = tls.createServer({ key: certs.key, cert: certs.cert }, (sock) => {
      sock.on('error', () => {});
      sock.end(serverSays);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = tls.connect({
      port: (server.address() as net.AddressInfo).port,
      host: '127.0.0.1',
      ca: certs.cert,
      servername: 'localhost',
    });
    await once(client, 'secureConnect');
    return {
      client,
      async close() {
        client.destroy();
        await new Promise((resolve) => server.close(resolve));
      },
    };
  }

  test('a TLS socket with nothing waiting delivers its plaintext to the onread callback, then its end', async () => {
    if (internalsOff) return expect(fastPaths().tlsOnread).toBe(false);
    const p = await rawTlsPair('hello over onread');
    try {
      const chunks: string[] = [];
      const buffer = Buffer.alloc(64 * 1024);
      expect(
        readTlsThroughOnread(p.client, {
          buffer,
          callback: (n, buf) => (chunks.push(Buffer.from(buf.buffer, buf.byteOffset, n).toString('latin1')), true),
        }),
      ).toBe(true);
      p.client.resume();
      await once(p.client, 'end');
      expect(chunks.join('')).toBe('hello over onread');
    } finally {
      await p.close();
    }
  });

  test('a TLS socket with plaintext already waiting in its stream is left as it is (it goes on with data events)', async () => {
    const p = await rawTlsPair('already here');
    try {
      // A 'readable' listener lets the bytes gather in the stream without consuming them.
      p.client.on('readable', () => {});
      while (p.client.readableLength === 0) await once(p.client, 'readable');
      const callback = jest.fn(() => true);
      expect(readTlsThroughOnread(p.client, { buffer: Buffer.alloc(1024), callback })).toBe(false);
      expect((p.client.read() as Buffer).toString()).toBe('already here');
      expect(callback).not.toHaveBeenCalled();
    } finally {
      await p.close();
    }
  });
});

/** Runs a script against the built package in a child `node`; returns its stdout's last line as JSON and its stderr. */
async function child(
  flags: string[],
  env: Record<string, string>,
  script: string,
): Promise<{ out: Record<string, unknown>; stderr: string }> {
  const { stdout, stderr } = await run(process.execPath, [...flags, '-e', script], {
    cwd: repoRoot,
    timeout: 20_000,
    env: { ...process.env, [NO_INTERNALS_ENV]: '', NODE_OPTIONS: '', FORCE_COLOR: '0', ...env },
  });
  return { out: JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>, stderr };
}

/** Imports the package, does a ping-pong over plain TCP, prints fastPaths(). */
const PING_PONG = `
const { Server, Client, fastPaths } = require('@proj/tcp');
(async () => {
  const server = new Server().onConnection(async (conn) => {
    const buf = Buffer.alloc(4);
    if ((await conn.recvn(buf, 4, 2000)) === 4) await conn.send('pong');
  });
  await server.start('127.0.0.1', 0);
  const c = new Client('127.0.0.1', server.address().port);
  await c.connect(2000);
  await c.send('ping');
  const buf = Buffer.alloc(4);
  const n = await c.recvn(buf, 4, 2000);
  c.close();
  await server.shutdown(1000);
  console.log(JSON.stringify({ ...fastPaths(), reply: n === 4 ? buf.toString() : n }));
})();
`;

describe('a consumer process', () => {
  test('by default: the fast paths are on, a ping-pong works, nothing is printed', async () => {
    const { out, stderr } = await child([], {}, PING_PONG);
    expect(stderr).toBe('');
    expect(out).toEqual({
      directWrite: true,
      onreadAccept: true,
      tlsOnread: true,
      tlsWriteAtOnce: true,
      reason: '',
      reply: 'pong',
    });
  });

  test(`${NO_INTERNALS_ENV}=1: the portable path, the same ping-pong`, async () => {
    const { out, stderr } = await child([], { [NO_INTERNALS_ENV]: '1' }, PING_PONG);
    expect(stderr).toBe('');
    expect(out).toEqual({
      directWrite: false,
      onreadAccept: false,
      tlsOnread: false,
      tlsWriteAtOnce: false,
      reason: `${NO_INTERNALS_ENV}=1`,
      reply: 'pong',
    });
  });

  test('--pending-deprecation: no DEP0111 warning (the paths turn off instead), the same ping-pong', async () => {
    const { out, stderr } = await child(['--pending-deprecation'], {}, PING_PONG);
    expect(stderr).toBe('');
    expect(out).toMatchObject({
      directWrite: false,
      onreadAccept: false,
      tlsOnread: false,
      tlsWriteAtOnce: false,
      reply: 'pong',
    });
    expect(out.reason).toContain('--pending-deprecation');
  });

  test('the permission model: importing prints nothing and the paths are off', async () => {
    const flag = nodeMajor >= 22 ? '--permission' : '--experimental-permission';
    const { out, stderr } = await child(
      [flag, `--allow-fs-read=*`],
      {},
      `const { fastPaths } = require('@proj/tcp'); console.log(JSON.stringify(fastPaths()));`,
    );
    // Node 20 announces its experimental permission model itself; nothing else may appear.
    expect(stderr.split('\n').filter((l) => l !== '' && !/ExperimentalWarning|--trace-warnings/.test(l))).toEqual([]);
    expect(out).toMatchObject({ directWrite: false, onreadAccept: false, tlsOnread: false, tlsWriteAtOnce: false });
    expect(out.reason).toContain('permission');
  });
});
