/**
 * The RESP client of examples/resp-client.ts against a real `redis-server`
 * (started by the test on a free loopback port, stopped by its pid): binary
 * values with CRLF inside, nested arrays, null replies, error replies,
 * concurrent INCR users, a 4 MiB value, and a reconnect after CLIENT KILL.
 */
import { createCipheriv } from 'node:crypto';
import { RespClient, RespError } from '../examples/resp-client';
import { startRedis, type RedisServer } from '../../../test-support/redis';
import { guardLeaks } from './helpers';

guardLeaks();

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

/**
 * `n` pseudo-random bytes from `seed` (AES-128-CTR over zeros): the same on
 * every run, so a failing case can be found again, and made in native code.
 */
function seededBytes(seed: number, n: number): Buffer {
  const key = Buffer.alloc(16);
  key.writeUInt32LE(seed);
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(n));
}

/** `count` values of 0 to 299 bytes cut from seeded bytes, with CRLF (and lone CR, LF, `$`, `*`) put in often. */
function binaryValues(seed: number, count: number): Buffer[] {
  const pool = seededBytes(seed, count * 300);
  const values: Buffer[] = [];
  for (let v = 0, at = 0; v < count; v++) {
    const len = pool.readUInt16LE((v * 2) % (pool.length - 2)) % 300;
    const b = Buffer.from(pool.subarray(at, at + len));
    at += len;
    for (let i = 0; i + 1 < len; i += 1 + (b[i + 1] % 40)) {
      const pick = b[i] & 3;
      if (pick === 0) b.write('\r\n', i, 'latin1');
      else b[i] = [13, 10, 0x24, 0x2a][pick];
    }
    values.push(b);
  }
  return values;
}

test('10,000 random binary values with CRLF inside: SET and GET, pipelined, and back in one MGET', async () => {
  const values = binaryValues(20261207, 10_000);
  expect(values.filter((v) => v.includes('\r\n')).length).toBeGreaterThan(5000);
  const keys = binaryValues(7, 10_000).map((k, i) => Buffer.concat([Buffer.from(`bin:${i}:`), k.subarray(0, 8)]));
  await using client = await RespClient.connect(redis.port, '127.0.0.1', { connections: 2 });
  expect(await Promise.all(values.map((v, i) => client.set(keys[i], v)))).toEqual(values.map(() => 'OK'));
  const got = await Promise.all(keys.map((k) => client.get(k)));
  let wrong = 0;
  for (let i = 0; i < values.length; i++) if (!got[i]!.equals(values[i])) wrong++;
  expect(wrong).toBe(0);
  const all = await client.mget(...keys);
  expect(all.length).toBe(values.length);
  expect(all.every((v, i) => v!.equals(values[i]))).toBe(true);
  expect(await client.del(...keys)).toBe(values.length);
});

test('nested arrays, nulls (bulk and array), integers and error replies inside arrays', async () => {
  await using client = await RespClient.connect(redis.port);
  const script = "return {1, {2, {3, 'deep', false}}, {}, redis.error_reply('MYERR inner'), -7}";
  expect(await client.command(['EVAL', script, 0])).toEqual([
    1,
    [2, [3, Buffer.from('deep'), null]],
    [],
    new RespError('MYERR inner'),
    -7,
  ]);
  expect(await client.command(['BLPOP', 'no-such-list', '0.01'])).toBeNull(); // *-1
  expect(await client.mget('no-such-a', 'no-such-b')).toEqual([null, null]);
  expect(await client.get('no-such-key')).toBeNull();
  expect(await client.command(['INCRBY', 'big-int', '9007199254740993'])).toBe(9007199254740992); // past 2^53: nearest double
});

test('error replies reject their own command only; the connection goes on', async () => {
  await using client = await RespClient.connect(redis.port);
  await client.set('a-string', 'x');
  const wrongType = await client.command(['LPUSH', 'a-string', 'y']).catch((e: unknown) => e);
  expect(wrongType).toBeInstanceOf(RespError);
  expect((wrongType as RespError).code).toBe('WRONGTYPE');
  await expect(client.command(['NO-SUCH-COMMAND'])).rejects.toMatchObject({ code: 'ERR' });
  await expect(client.incr('a-string')).rejects.toMatchObject({ code: 'ERR' });
  expect(await client.ping()).toBe('PONG');
  const replies = await client.batch().set('b', '1').incr('b').command(['LPUSH', 'b', 'z']).get('b').exec();
  expect(replies).toEqual(['OK', 2, expect.any(RespError), Buffer.from('2')]);
});

test.each([1, 4])('64 concurrent users doing INCR over %i connection(s): the count is exact', async (connections) => {
  await using client = await RespClient.connect(redis.port, '127.0.0.1', { connections });
  const key = `hits:${connections}`;
  await client.del(key);
  const seen = new Set<number>();
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      for (let i = 0; i < 200; i++) seen.add(await client.incr(key));
    }),
  );
  expect(Number((await client.get(key))!.toString())).toBe(64 * 200);
  expect(seen.size).toBe(64 * 200); // every INCR got its own reply
});

test('a 4 MiB value goes out and comes back whole', async () => {
  await using client = await RespClient.connect(redis.port);
  const big = seededBytes(4, 4 * 1024 * 1024);
  const [ok, echo, small] = await Promise.all([client.set('big', big), client.get('big'), client.ping()]);
  expect(ok).toBe('OK');
  expect(echo!.equals(big)).toBe(true);
  expect(small).toBe('PONG');
});

test('after CLIENT KILL the client reconnects: at most one command fails, with a connection error', async () => {
  await using victim = await RespClient.connect(redis.port);
  await using killer = await RespClient.connect(redis.port);
  const before = (await victim.command(['CLIENT', 'ID'])) as number;
  expect(await killer.command(['CLIENT', 'KILL', 'ID', before])).toBe(1);
  const failures: unknown[] = [];
  let after: number | null = null;
  while (after === null && failures.length < 5) {
    try {
      after = (await victim.command(['CLIENT', 'ID'])) as number;
    } catch (err) {
      failures.push(err);
    }
  }
  expect(failures.length).toBeLessThanOrEqual(1);
  for (const err of failures)
    expect(err).toMatchObject({ code: expect.stringMatching(/^(ECONNRESET|EPIPE|ENOTCONN)$/) });
  expect(after).not.toBeNull();
  expect(after).not.toBe(before);
  expect(await victim.ping()).toBe('PONG');
});
