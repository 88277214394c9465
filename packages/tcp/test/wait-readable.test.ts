/**
 * Reading without a buffer of one's own: `tryRecvn`, `readableLength` and
 * `waitReadable`, and the pattern they make (many connections, one shared
 * buffer). Connection and Client, TCP and TLS, against a raw peer.
 */
import * as net from 'node:net';
import { makeTestCerts, type TestCerts } from '../../../libs/test-support/certs';
import { readToEnd, waitFor } from '../../../libs/test-support/net';
import { startSharedBufferServer } from '../examples/shared-line-buffer';
import { guardLeaks, pair, type Pair, VARIANTS } from './helpers';

guardLeaks();

let certs: TestCerts;
beforeAll(async () => {
  certs = await makeTestCerts();
});
afterAll(() => certs.cleanup());

/** Whether `promise` has settled yet (after the promise jobs queued now have run). */
function tracked<T>(promise: Promise<T>): { settled: () => boolean; promise: Promise<T> } {
  let done = false;
  void promise.then(
    () => (done = true),
    () => (done = true),
  );
  return { settled: () => done, promise };
}

describe.each(VARIANTS)('$name', (variant) => {
  let p: Pair;
  beforeEach(async () => {
    p = await pair(variant, certs);
  });
  afterEach(async () => {
    await p.close();
  });

  test('readableLength counts what came and was not read; tryRecvn takes n bytes at once, or nothing', async () => {
    expect(p.ours.readableLength).toBe(0);
    const buf = Buffer.alloc(8);
    expect(p.ours.tryRecvn(buf, 4)).toBe(0);
    p.peer.write('abcdefghij');
    await waitFor(() => p.ours.readableLength === 10, 'ten bytes to be queued');
    expect(p.ours.tryRecvn(buf, 4)).toBe(4);
    expect(buf.toString('utf8', 0, 4)).toBe('abcd');
    expect(p.ours.readableLength).toBe(6);
    expect(p.ours.tryRecvn(buf, 8)).toBe(0); // six are here, not eight: nothing taken
    expect(p.ours.readableLength).toBe(6);
    expect(p.ours.tryRecvn(buf)).toBe(0); // n defaults to buf.length
    expect(p.ours.tryRecvn(buf, 6)).toBe(6);
    expect(buf.toString('utf8', 0, 6)).toBe('efghij');
    expect(p.ours.readableLength).toBe(0);
    expect(p.ours.bytesRead).toBe(10);
  });

  test('tryRecvn checks its arguments as recvn does', () => {
    expect(() => p.ours.tryRecvn(Buffer.alloc(4), 5)).toThrow(RangeError);
    expect(() => p.ours.tryRecvn(Buffer.alloc(4), 0)).toThrow(RangeError);
    expect(() => p.ours.tryRecvn(Buffer.alloc(4), 1.5)).toThrow(RangeError);
    expect(() => p.ours.tryRecvn('abcd' as never, 2)).toThrow(TypeError);
  });

  test('tryRecvn and tryRecvUntil never take from under a pending recv or waitReadable', async () => {
    p.peer.write('xy');
    await waitFor(() => p.ours.readableLength === 2, 'two bytes to be queued');
    expect(p.ours.tryRecvn(Buffer.alloc(2), 2)).toBe(2);
    const recv = p.ours.recvn(Buffer.alloc(4), 4, 5000);
    expect(() => p.ours.tryRecvn(Buffer.alloc(4), 1)).toThrow(expect.objectContaining({ code: 'ERR_CONCURRENT_RECV' }));
    p.peer.write('1234');
    expect(await recv).toBe(4);
    const waiting = p.ours.waitReadable(5000);
    expect(() => p.ours.tryRecvn(Buffer.alloc(4), 1)).toThrow(expect.objectContaining({ code: 'ERR_CONCURRENT_RECV' }));
    expect(() => p.ours.tryRecvUntil(Buffer.alloc(4), '\n')).toThrow(/waitReadable is pending/);
    await expect(p.ours.recv(Buffer.alloc(4))).rejects.toMatchObject({ code: 'ERR_CONCURRENT_RECV' });
    await expect(p.ours.waitReadable()).rejects.toMatchObject({ code: 'ERR_CONCURRENT_RECV' });
    p.peer.write('z');
    expect(await waiting).toBe(1);
    expect(p.ours.readableLength).toBe(1); // waitReadable consumed nothing
  });

  test('waitReadable: at once with what is queued, else as the first bytes come; consumes nothing', async () => {
    const first = tracked(p.ours.waitReadable());
    expect(p.ours.readableLength).toBe(0);
    p.peer.write('hello');
    const n = await first.promise;
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThanOrEqual(5);
    await waitFor(() => p.ours.readableLength === 5, 'all five bytes');
    expect(await p.ours.waitReadable(0)).toBe(5);
    const buf = Buffer.alloc(5);
    expect(await p.ours.recvn(buf, 5, 3000)).toBe(5);
    expect(buf.toString()).toBe('hello');
  });

  test('waitReadable times out with -1 ETIMEDOUT, is aborted with ABORT_ERR, and gives 0 once the peer closed', async () => {
    expect(await p.ours.waitReadable(30)).toBe(-1);
    expect(p.ours.lastError?.code).toBe('ETIMEDOUT');
    expect(p.ours.lastError?.message).toMatch(/waitReadable timed out/);
    const ac = new AbortController();
    const aborted = p.ours.waitReadable({ signal: ac.signal });
    ac.abort(new Error('stop'));
    expect(await aborted).toBe(-1);
    expect(p.ours.lastError?.code).toBe('ABORT_ERR');
    expect(await p.ours.waitReadable({ signal: ac.signal })).toBe(-1); // aborted already: at once
    expect(() => p.ours.waitReadable({ timeout: 5 } as never)).toThrow(TypeError);
    const closing = p.ours.waitReadable(5000);
    p.peer.end('last');
    expect(await closing).toBeGreaterThan(0);
    const buf = Buffer.alloc(4);
    expect(await p.ours.recvn(buf, 4, 3000)).toBe(4);
    expect(await p.ours.waitReadable(5000)).toBe(0);
  });

  test('after a tryRecvUntil that found half a line, waitReadable waits for more instead of answering at once', async () => {
    const line = Buffer.alloc(64);
    p.peer.write('half a ');
    await waitFor(() => p.ours.readableLength === 7, 'the half line');
    expect(await p.ours.waitReadable(3000)).toBe(7);
    expect(p.ours.tryRecvUntil(line, '\n')).toBe(0);
    // Nothing new: it waits (here until its timeout) rather than return 7 again.
    expect(await p.ours.waitReadable(30)).toBe(-1);
    const rest = p.ours.waitReadable(5000);
    p.peer.write('line\n');
    expect(await rest).toBeGreaterThan(7);
    await waitFor(() => p.ours.readableLength === 12, 'the whole line');
    expect(p.ours.tryRecvUntil(line, '\n')).toBe(12);
    expect(line.toString('utf8', 0, 12)).toBe('half a line\n');
    // The same holds for tryRecvn.
    p.peer.write('abc');
    await waitFor(() => p.ours.readableLength === 3, 'three bytes');
    expect(p.ours.tryRecvn(line, 4)).toBe(0);
    expect(await p.ours.waitReadable(30)).toBe(-1);
    // Reading some of them is news too.
    expect(await p.ours.recv(line, 1, 3000)).toBe(1);
    expect(await p.ours.waitReadable(0)).toBe(2);
  });

  test("a connection waiting in waitReadable holds no read buffer; one waiting in recv holds the caller's", async () => {
    const waiting = p.ours.waitReadable(5000);
    expect(p.ours._readState().heldBytes).toBe(0);
    p.peer.write('a');
    expect(await waiting).toBe(1);
    const buf = Buffer.alloc(1000);
    expect(await p.ours.recv(buf, 1, 3000)).toBe(1);
    const recv = p.ours.recv(buf, 1000, 5000);
    expect(p.ours._readState().heldBytes).toBe(1000);
    p.peer.write('b');
    expect(await recv).toBe(1);
  });
});

test('ONE buffer shared by many Clients: waitReadable, then tryRecvn and tryRecvUntil into it, every byte once and in order', async () => {
  const CONNS = 12;
  const pairs = await Promise.all(Array.from({ length: CONNS }, (_, i) => pair(VARIANTS[i % 2 === 0 ? 1 : 3], certs)));
  const shared = Buffer.alloc(256);
  try {
    // Each peer sends records: a 4-byte big-endian length, then that many bytes of a line ending in '\n'.
    const sent = pairs.map((_, i) =>
      Array.from({ length: 40 }, (_, k) => `conn ${i} record ${k} ${'x'.repeat((i * 7 + k) % 50)}\n`),
    );
    const readers = pairs.map(async (pr, i) => {
      const got: string[] = [];
      let want = -1;
      for (;;) {
        const ready = await pr.ours.waitReadable(10_000);
        if (ready === 0) break;
        if (ready < 0) throw new Error(pr.ours.strerror());
        expect(pr.ours._readState().heldBytes).toBe(0);
        for (;;) {
          if (want < 0) {
            if (pr.ours.tryRecvn(shared, 4) === 0) break;
            want = shared.readUInt32BE(0);
          }
          const n = pr.ours.tryRecvUntil(shared, '\n');
          if (n === 0) break;
          expect(n).toBe(want);
          got.push(shared.toString('utf8', 0, n));
          want = -1;
        }
      }
      expect(got).toEqual(sent[i]);
    });
    // Interleave: every peer writes its records split at odd places, a few bytes at a time.
    const wires = sent.map((records) =>
      Buffer.concat(records.map((r) => Buffer.concat([Buffer.from([0, 0, 0, Buffer.byteLength(r)]), Buffer.from(r)]))),
    );
    for (let at = 0; wires.some((w) => at < w.length); at += 13) {
      pairs.forEach((pr, i) => {
        if (at < wires[i].length) pr.peer.write(wires[i].subarray(at, at + 13));
      });
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (const pr of pairs) pr.peer.end();
    await Promise.all(readers);
  } finally {
    await Promise.all(pairs.map((pr) => pr.close()));
  }
});

test('the shared-line-buffer example: many clients, pipelined and split lines, each answered once, in order', async () => {
  const server = await startSharedBufferServer(0, 64);
  const port = server.address()!.port;
  const socks = await Promise.all(
    Array.from(
      { length: 10 },
      () =>
        new Promise<net.Socket>((resolve) => {
          const s = net.connect(port, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  try {
    const lines = socks.map((_, i) => Array.from({ length: 30 }, (_, k) => `client ${i} line ${k}\n`));
    const results = socks.map((s) => readToEnd(s));
    const wires = lines.map((l) => Buffer.from(l.join('')));
    for (let at = 0; wires.some((w) => at < w.length); at += 7) {
      socks.forEach((s, i) => {
        if (at < wires[i].length) s.write(wires[i].subarray(at, at + 7));
      });
      await new Promise((resolve) => setImmediate(resolve));
    }
    // The last client also sends a line longer than the server's 64-byte buffer.
    socks[9].write(`${'y'.repeat(100)}\n`);
    for (const s of socks.slice(0, 9)) s.end();
    const got = await Promise.all(results);
    for (let i = 0; i < 9; i++) {
      expect(got[i].how).toBe('end');
      expect(got[i].data.toString()).toBe(lines[i].join('').toUpperCase());
    }
    expect(got[9].data.toString()).toBe(lines[9].join('').toUpperCase() + 'ERR line too long\n');
  } finally {
    for (const s of socks) s.destroy();
    await server.shutdown(1000);
  }
});
