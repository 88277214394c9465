/**
 * The RESP client of examples/resp-client.ts against a real `redis-server`
 * (started by the test on a free loopback port, stopped by its pid): binary
 * values with CRLF inside, nested arrays, null replies, error replies,
 * concurrent INCR users, a 4 MiB value, and a reconnect after CLIENT KILL.
 */
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

/** A small seeded generator (mulberry32): a failing case is the same on every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random bytes, with CRLF (and lone CR, LF, `$`, `*`) put in often. */
function binaryValue(next: () => number): Buffer {
  const len = Math.floor(next() * 300);
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = Math.floor(next() * 256);
  for (let i = 0; i + 1 < len; i += 1 + Math.floor(next() * 40)) {
    const pick = Math.floor(next() * 4);
    if (pick === 0) b.write('\r\n', i, 'latin1');
    else b[i] = [13, 10, 0x24, 0x2a][pick];
  }
  return b;
}

test('10,000 random binary values with CRLF inside: SET and GET, pipelined, and back in one MGET', async () => {
  const next = random(20261207);
  const values = Array.from({ length: 10_000 }, () => binaryValue(next));
  const keys = values.map((_, i) => Buffer.concat([Buffer.from(`bin:${i}:`), binaryValue(next).subarray(0, 8)]));
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
  expect(await client.command(['EVAL', script, 0])).toEqual([1, [2, [3, Buffer.from('deep'), null]], [], new RespError('MYERR inner'), -7]);
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
  const next = random(4);
  const big = Buffer.alloc(4 * 1024 * 1024);
  for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(Math.floor(next() * 2 ** 32), i);
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
  for (const err of failures) expect(err).toMatchObject({ code: expect.stringMatching(/^(ECONNRESET|EPIPE|ENOTCONN)$/) });
  expect(after).not.toBeNull();
  expect(after).not.toBe(before);
  expect(await victim.ping()).toBe('PONG');
});
