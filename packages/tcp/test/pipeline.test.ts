/**
 * Pipeline over real loopback sockets: a turn's requests in one write, replies
 * to the right callers, maxInFlight, timeouts and aborts before and after a
 * request was sent, failures of the connection, close, and bad arguments.
 */
import { Client, Pipeline, TcpAbortError, TcpError } from '../src';
import { rawServer } from '../../../test-support/net';
import { guardLeaks, serve } from './helpers';
import { linePeer, linePipeline, payloadOf, replyOf, type LinePeer } from './pipeline-peer';

let peer: LinePeer;
beforeEach(async () => {
  peer = await linePeer();
});
afterEach(async () => {
  await peer.close();
});
// After the peer's afterEach in the file, so it runs once the peer is closed.
guardLeaks();

/** Counts the writes a Client makes through send and sendv. */
function countWrites(c: Client): { writes: number } {
  const counter = { writes: 0 };
  const send = c.send.bind(c);
  const sendv = c.sendv.bind(c);
  c.send = (...args: Parameters<Client['send']>) => (counter.writes++, send(...args));
  c.sendv = (...args: Parameters<Client['sendv']>) => (counter.writes++, sendv(...args));
  return counter;
}

/** Answers requests as they come until `n` were answered (with maxInFlight, later ones come only once earlier ones are answered). */
async function answerAll(n: number): Promise<void> {
  while (peer.answered < n) {
    await peer.receivedAtLeast(peer.answered + 1);
    await peer.answerNext();
  }
}

test("a turn's requests go out in one write, and each caller gets its own reply", async () => {
  const { c, pipe } = await linePipeline(peer.port);
  const counter = countWrites(c);
  const replies = Array.from({ length: 100 }, (_, i) =>
    pipe.request(i % 3 === 0 ? `Q${i}\n` : i % 3 === 1 ? Buffer.from(`Q${i}\n`) : ['Q', Buffer.from(String(i)), '\n']),
  );
  expect(pipe.waiting).toBe(100);
  const answered = answerAll(100);
  const got = await Promise.all(replies);
  await answered;
  expect(counter.writes).toBe(1);
  expect(got).toEqual(Array.from({ length: 100 }, (_, i) => ({ id: i, payload: payloadOf(i) })));
  expect(peer.received).toEqual(Array.from({ length: 100 }, (_, i) => i));
  await pipe.close();
  expect(c.connected()).toBe(false);
});

test('requests made while a write is out go together in the next one; replies split at every byte still match', async () => {
  const { c, pipe } = await linePipeline(peer.port);
  const counter = countWrites(c);
  const first = pipe.request('Q0\n');
  await peer.receivedAtLeast(1);
  const later = [1, 2, 3].map((i) => pipe.request(`Q${i}\n`));
  await peer.receivedAtLeast(4);
  for (let i = 0; i < 4; i++) {
    const len = replyOf(i).length;
    await peer.answerNext(Array.from({ length: len }, (_, k) => k));
  }
  expect(await first).toEqual({ id: 0, payload: payloadOf(0) });
  expect((await Promise.all(later)).map((r) => r.id)).toEqual([1, 2, 3]);
  expect(counter.writes).toBe(2);
  await pipe.close();
});

test('a request of up to 16 KiB is copied when made: the caller may reuse its buffer at once', async () => {
  const { pipe } = await linePipeline(peer.port);
  const scratch = Buffer.alloc(16);
  const reqs = [];
  for (let i = 0; i < 50; i++) {
    const n = scratch.write(`Q${i}\n`);
    reqs.push(pipe.request(scratch.subarray(0, n)));
    scratch.fill(0x21); // written over before the turn's write
  }
  await answerAll(50);
  expect((await Promise.all(reqs)).map((r) => r.id)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  await pipe.close();
});

test('large requests (bytes and strings past the copy limit) go out whole and in order among small ones', async () => {
  const big = Buffer.alloc(40_000, 0x20);
  const bigString = ' '.repeat(30_000);
  const counted = await rawServer((sock) => {
    let seen = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      seen = Buffer.concat([seen, d]);
      if (seen.length === 3 + 40_000 + 30_000 + 3 + 3) {
        const middle = seen.subarray(3, -6).every((b) => b === 0x20);
        sock.write(
          `${JSON.stringify(seen.subarray(0, 3).toString())}|${JSON.stringify(seen.subarray(-6).toString())}|${middle}\n`,
        );
      }
    });
  });
  const c2 = new Client('127.0.0.1', counted.port);
  try {
    expect(await c2.connect(5000)).toBe(true);
    const line = Buffer.alloc(64);
    const pipe2 = new Pipeline(c2, async (conn) => {
      const n = await conn.recvUntil(line, '\n');
      if (n <= 0) throw conn.lastError ?? new Error('closed');
      return line.toString('utf8', 0, n - 1);
    });
    const both = pipe2.request(['ab\n', big, bigString, 'cd\n', 'ef\n']);
    expect(await both).toBe('"ab\\n"|"cd\\nef\\n"|true');
    await pipe2.close();
  } finally {
    c2.close();
    await counted.close();
  }
});

test('maxInFlight: past it a request waits unsent for room, then goes', async () => {
  const { pipe } = await linePipeline(peer.port, 2);
  const reqs = [0, 1, 2, 3, 4].map((i) => pipe.request(`Q${i}\n`));
  await peer.receivedAtLeast(2);
  expect(pipe.inFlight).toBe(2);
  expect(pipe.waiting).toBe(3);
  await peer.answerNext();
  await peer.receivedAtLeast(3);
  expect(peer.received).toEqual([0, 1, 2]);
  await answerAll(5);
  expect((await Promise.all(reqs)).map((r) => r.id)).toEqual([0, 1, 2, 3, 4]);
  expect(pipe.inFlight + pipe.waiting).toBe(0);
  await pipe.close();
});

test('a request that times out or is aborted before it was sent is removed, never sent; the pipeline goes on', async () => {
  const { pipe } = await linePipeline(peer.port, 1);
  const first = pipe.request('Q0\n');
  await peer.receivedAtLeast(1);
  const timedOut = pipe.request('Q1\n', 1);
  const ac = new AbortController();
  const aborted = pipe.request('Q2\n', { signal: ac.signal });
  const third = pipe.request('Q3\n', { ms: 60_000 });
  await expect(timedOut).rejects.toMatchObject({ name: 'TcpError', code: 'ETIMEDOUT' });
  ac.abort(new Error('changed my mind'));
  const err = await aborted.catch((e: unknown) => e);
  expect(err).toBeInstanceOf(TcpAbortError);
  expect(err).toMatchObject({ code: 'ABORT_ERR', cause: new Error('changed my mind') });
  expect(pipe.waiting).toBe(1);
  await answerAll(2);
  expect(await first).toEqual({ id: 0, payload: payloadOf(0) });
  expect(await third).toEqual({ id: 3, payload: payloadOf(3) });
  expect(peer.received).toEqual([0, 3]);
  expect(pipe.closed).toBe(false);
  await pipe.close();
});

test('a request that times out after it was sent fails every request in flight and closes the pipeline', async () => {
  const { c, pipe } = await linePipeline(peer.port);
  const others = [pipe.request('Q0\n'), pipe.request('Q1\n', 1), pipe.request('Q2\n')];
  const settled = await Promise.allSettled(others);
  const errors = settled.map((s) => (s.status === 'rejected' ? (s.reason as TcpError) : null));
  expect(errors.every((e) => e instanceof TcpError && e.code === 'ETIMEDOUT')).toBe(true);
  expect(new Set(errors).size).toBe(1); // one error, the one that failed the pipeline
  expect(pipe.closed).toBe(true);
  expect(pipe.lastError).toBe(errors[0]);
  expect(c.connected()).toBe(false);
  const late = await pipe.request('Q9\n').catch((e: unknown) => e);
  expect(late).toMatchObject({ code: 'ERR_PIPELINE_CLOSED', cause: errors[0] });
});

test('a request aborted after it was sent fails the pipeline; its late reply goes to nobody', async () => {
  const { pipe } = await linePipeline(peer.port);
  const ac = new AbortController();
  const first = pipe.request('Q0\n', { signal: ac.signal });
  const second = pipe.request('Q1\n');
  await peer.receivedAtLeast(2);
  ac.abort();
  await expect(first).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
  await expect(second).rejects.toBe(pipe.lastError);
  expect(pipe.closed).toBe(true);
});

test('the peer closing in the middle of a reply fails every request in flight, and those waiting for room', async () => {
  const { pipe } = await linePipeline(peer.port, 2);
  const reqs = [0, 1, 2].map((i) => pipe.request(`Q${i}\n`));
  await peer.receivedAtLeast(2);
  await peer.answerNext();
  const sock = await peer.sock();
  sock.end(replyOf(1).slice(0, 3));
  expect(await reqs[0]).toEqual({ id: 0, payload: payloadOf(0) });
  await expect(reqs[1]).rejects.toThrow('the peer closed the connection');
  await expect(reqs[2]).rejects.toBe(pipe.lastError);
  expect(pipe.closed).toBe(true);
  expect(peer.received).toEqual([0, 1]);
});

test('a failed write fails the request with the connection error', async () => {
  const { c, pipe } = await linePipeline(peer.port);
  c.close();
  const err = await pipe.request('Q0\n').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(TcpError);
  expect((err as TcpError).code).toBe('ENOTCONN');
  expect(pipe.closed).toBe(true);
});

test('a readReply that throws on bytes that are not a reply fails the pipeline with its error', async () => {
  const c = new Client('127.0.0.1', peer.port);
  expect(await c.connect(5000)).toBe(true);
  const buf = Buffer.alloc(64);
  const pipe = new Pipeline(c, async (conn) => {
    const n = await conn.recvUntil(buf, '\n');
    if (n <= 0) throw conn.lastError ?? new Error('closed');
    if (buf[0] !== 0x41) throw new Error('not a reply');
    return n;
  });
  const reqs = [pipe.request('Q0\n'), pipe.request('Q1\n')];
  await peer.receivedAtLeast(2);
  (await peer.sock()).write('garbage\n');
  await expect(reqs[0]).rejects.toThrow('not a reply');
  await expect(reqs[1]).rejects.toThrow('not a reply');
  expect(pipe.closed).toBe(true);
});

test('close() lets the requests already made be answered, refuses new ones, then closes the connection', async () => {
  const { c, pipe } = await linePipeline(peer.port);
  const reqs = [pipe.request('Q0\n'), pipe.request('Q1\n')];
  const closing = pipe.close();
  await expect(pipe.request('Q2\n')).rejects.toMatchObject({ code: 'ERR_PIPELINE_CLOSED' });
  await answerAll(2);
  await closing;
  expect((await Promise.all(reqs)).map((r) => r.id)).toEqual([0, 1]);
  expect(c.connected()).toBe(false);
  await pipe.close(); // again: nothing happens
});

test('await using closes the pipeline and its connection', async () => {
  let c!: Client;
  {
    const made = await linePipeline(peer.port);
    c = made.c;
    await using pipe = made.pipe;
    const r = pipe.request('Q7\n');
    await answerAll(1);
    expect((await r).id).toBe(7);
  }
  expect(c.connected()).toBe(false);
});

test('a signal already aborted fails the request at once; nothing is sent', async () => {
  const { pipe } = await linePipeline(peer.port);
  const ac = new AbortController();
  ac.abort('no');
  await expect(pipe.request('Q0\n', { signal: ac.signal })).rejects.toMatchObject({ code: 'ABORT_ERR', cause: 'no' });
  const r = pipe.request('Q1\n');
  await answerAll(1);
  expect((await r).id).toBe(1);
  expect(peer.received).toEqual([1]);
  await pipe.close();
});

test('timeouts are honoured as given: Infinity and values past the timer limit wait for the reply', async () => {
  const { pipe } = await linePipeline(peer.port);
  const a = pipe.request('Q0\n', Infinity);
  const b = pipe.request('Q1\n', { ms: 2 ** 31 + 10 });
  const c = pipe.request('Q2\n', 2 ** 40);
  await answerAll(3);
  expect((await Promise.all([a, b, c])).map((r) => r.id)).toEqual([0, 1, 2]);
  await pipe.close();
});

test('bad arguments and unknown option keys throw at once', async () => {
  const { c, pipe } = await linePipeline(peer.port);
  const read = (): Promise<number> => Promise.resolve(1);
  expect(() => new Pipeline({} as Client, read)).toThrow(TypeError);
  expect(() => new Pipeline(c, 5 as unknown as typeof read)).toThrow(TypeError);
  expect(() => new Pipeline(c, read, { maxInflight: 3 } as object)).toThrow(/unknown Pipeline option 'maxInflight'/);
  expect(() => new Pipeline(c, read, { maxInFlight: 0 })).toThrow(RangeError);
  expect(() => new Pipeline(c, read, { maxInFlight: 1.5 })).toThrow(RangeError);
  expect(() => pipe.request(42 as unknown as string)).toThrow(TypeError);
  expect(() => pipe.request(['Q', 42] as unknown as string[])).toThrow(/request\[1\]/);
  expect(() => pipe.request('Q0\n', { ms: 5, timeout: 3 } as object)).toThrow(/unknown request option 'timeout'/);
  expect(() => pipe.request('Q0\n', Number.NaN)).toThrow(TypeError);
  expect(() => pipe.request('Q0\n', { signal: 'x' as unknown as AbortSignal })).toThrow(TypeError);
  expect(pipe.waiting).toBe(0);
  await pipe.close();
});

test("a server's Connection can drive a pipeline too (requests from the server side)", async () => {
  const served = await serve();
  const sock = new Client('127.0.0.1', served.port);
  try {
    expect(await sock.connect(5000)).toBe(true);
    const conn = await served.nextConn();
    const buf = Buffer.alloc(64);
    const pipe = new Pipeline(conn, async (cn) => {
      const n = await cn.recvUntil(buf, '\n');
      if (n <= 0) throw cn.lastError ?? new Error('closed');
      return buf.toString('utf8', 0, n - 1);
    });
    const asked = [pipe.request('a\n'), pipe.request('b\n')];
    const line = Buffer.alloc(64);
    for (let i = 0; i < 2; i++) {
      const n = await sock.recvUntil(line, '\n', 5000);
      expect(await sock.send(`re:${line.toString('utf8', 0, n - 1)}\n`)).toBeGreaterThan(0);
    }
    expect(await Promise.all(asked)).toEqual(['re:a', 're:b']);
    await pipe.close();
  } finally {
    sock.close();
    await served.shutdown();
  }
});

test('a request hands its context to readReply; isError rejects that request alone and the pipeline goes on', async () => {
  const c = new Client('127.0.0.1', peer.port);
  expect(await c.connect(5000)).toBe(true);
  const line = Buffer.alloc(256);
  const readLine = async (conn: Client): Promise<string> => {
    const n = await conn.recvUntil(line, '\n');
    if (n <= 0) throw conn.lastError ?? new Error('closed');
    return line.toString('latin1', 0, n - 1);
  };
  const contexts: (number | undefined)[] = [];
  const pipe = new Pipeline<string | string[] | Error, Client, number>(
    c,
    async (conn, count) => {
      contexts.push(count);
      if (count === undefined) {
        const text = await readLine(conn);
        return text.startsWith('A3:') ? new Error(text) : text;
      }
      const all: string[] = [];
      for (let i = 0; i < count; i++) all.push(await readLine(conn));
      return all;
    },
    { isError: (r) => r instanceof Error },
  );
  const one = pipe.request('Q0\n');
  const two = pipe.request('Q1\nQ2\n', undefined, 2);
  const bad = pipe.request('Q3\n').catch((e: unknown) => e);
  const after = pipe.request('Q4\n');
  await answerAll(5);
  expect(await one).toBe(replyOf(0).trim());
  expect(await two).toEqual([replyOf(1).trim(), replyOf(2).trim()]);
  expect(await bad).toEqual(new Error(replyOf(3).trim()));
  expect(await after).toBe(replyOf(4).trim());
  expect(contexts).toEqual([undefined, 2, undefined, undefined]);
  expect(pipe.closed).toBe(false);
  await pipe.close();
  expect(() => new Pipeline(c, () => 1, { isError: 3 } as unknown as object)).toThrow(TypeError);
});
