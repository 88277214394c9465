/**
 * ERR_CONCURRENT_RECV / ERR_CONCURRENT_SEND name the likely cause. `@proj/pool`
 * marks an item its PoolGuard released with the registered symbol
 * `@proj/pool.releasedByGuard`; on such a connection the message says a
 * previous holder's call is still pending and gives the fix (`return await`).
 * Here the mark is set by hand, as the pool sets it: this package knows
 * nothing of the pool.
 */
import { makeTestCerts, type TestCerts } from '../../../libs/test-support/certs';
import { waitFor } from '../../../libs/test-support/net';
import { guardLeaks, MiB, pair, type Pair, stoppedReading, VARIANTS } from './helpers';

guardLeaks();

let certs: TestCerts;
beforeAll(async () => {
  certs = await makeTestCerts();
});
afterAll(() => certs.cleanup());

const RELEASED_BY_GUARD = Symbol.for('@proj/pool.releasedByGuard');

function markReleasedByGuard(target: object): void {
  Object.defineProperty(target, RELEASED_BY_GUARD, {
    value: true,
    configurable: true,
    writable: true,
    enumerable: false,
  });
}

describe.each([VARIANTS[0], VARIANTS[1], VARIANTS[3]])('$name', (variant) => {
  let p: Pair;
  beforeEach(async () => {
    p = await pair(variant, certs);
  });
  afterEach(async () => {
    await p.close();
  });

  test('without the mark: a concurrent recv says to await the first, and names a released pool guard as a likely cause', async () => {
    const first = p.ours.recv(Buffer.alloc(4), 4, 5000);
    const err = await p.ours.recvn(Buffer.alloc(4), 4).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'ERR_CONCURRENT_RECV' });
    const msg = (err as Error).message;
    expect(msg).toMatch(/await it first/);
    expect(msg).toMatch(/likely cause/);
    expect(msg).toMatch(/guard/);
    expect(msg).toMatch(/return await/);
    expect(msg).not.toMatch(/this pooled connection/);
    p.peer.write('abcd');
    expect(await first).toBe(4);
  });

  test('with the mark: a concurrent recv, recvUntil or tryRecvUntil says a previous holder still has a call pending', async () => {
    markReleasedByGuard(p.ours);
    const first = p.ours.recv(Buffer.alloc(4), 4, 5000);
    for (const call of [() => p.ours.recv(Buffer.alloc(4)), () => p.ours.recvUntil(Buffer.alloc(4), '\n')]) {
      const err = await call().catch((e: Error) => e);
      expect(err).toMatchObject({ code: 'ERR_CONCURRENT_RECV' });
      expect((err as Error).message).toMatch(/pending on this pooled connection/);
      expect((err as Error).message).toMatch(
        /previous holder, whose PoolGuard released the connection before that call finished/,
      );
      expect((err as Error).message).toMatch(/return await/);
    }
    expect(() => p.ours.tryRecvUntil(Buffer.alloc(4), '\n')).toThrow(/previous holder/);
    p.peer.write('abcd');
    expect(await first).toBe(4);
  });

  test('with the mark: a concurrent send says the same; a reader holding readable keeps its own message', async () => {
    markReleasedByGuard(p.ours);
    const data = Buffer.alloc(8 * MiB);
    p.peer.pause();
    const sending = p.ours.send(data, data.length, 5000);
    await waitFor(() => stoppedReading(p.peer), 'the peer to stop taking bytes');
    const err = await p.ours.send('x').catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'ERR_CONCURRENT_SEND' });
    expect((err as Error).message).toMatch(/another send\/sendv is pending on this pooled connection/);
    expect((err as Error).message).toMatch(/return await/);
    p.peer.resume();
    expect(await sending).toBe(data.length);
    const reader = p.ours.readable.getReader();
    const held = await p.ours.recv(Buffer.alloc(1)).catch((e: Error) => e);
    expect((held as Error).message).toMatch(/reader holds conn.readable/);
    expect((held as Error).message).not.toMatch(/pooled/);
    reader.releaseLock();
  });
});
