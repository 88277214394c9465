/**
 * recvUntil: bytes up to and including a delimiter, over real loopback
 * sockets (TCP and TLS, both sides), with the delimiter split across chunks
 * at every point; a full buffer, a timeout and an abort consume nothing.
 * tryRecvUntil, the same without waiting, and the recvUntil that follows it.
 */
import fc from 'fast-check';
import { readToEnd, waitFor } from '../../../libs/test-support/net';
import { ByteQueue } from '../src/byte-queue';
import { describeConnectedPairs, guardLeaks, type Pair, VARIANTS } from './helpers';

guardLeaks();

/** Writes `parts` one by one, waiting for each to be read by our side before the next, so each arrives alone. */
async function trickle(p: Pair, parts: string[]): Promise<void> {
  for (const part of parts) {
    const before = p.ours.bytesRead;
    p.peer.write(part);
    await waitFor(() => p.ours.bytesRead >= before + Buffer.byteLength(part), 'the part to arrive');
  }
}

describeConnectedPairs(VARIANTS, (p) => {
  test('lines, one at a time, whatever the chunking; the rest stays for the next call', async () => {
    p.peer.write('PING\r\nSET k v\r\n');
    p.peer.write('GE');
    p.peer.write('T k\r\nrest');
    const buf = Buffer.alloc(64);
    const lines: string[] = [];
    for (let i = 0; i < 3; i++) {
      const n = await p.ours.recvUntil(buf, '\r\n', 2000);
      expect(n).toBeGreaterThan(0);
      lines.push(buf.toString('latin1', 0, n));
    }
    expect(lines).toEqual(['PING\r\n', 'SET k v\r\n', 'GET k\r\n']);
    expect(await p.ours.recvn(buf, 4, 2000)).toBe(4);
    expect(buf.toString('latin1', 0, 4)).toBe('rest');
  });

  test('short and long lines mixed, in one burst, are each read whole and in order', async () => {
    // Lengths on both sides of the short-line scan (64 bytes), so the reader
    // goes from its one-pass copy to indexOf and back.
    const lengths = [3, 70, 2, 200, 64, 65, 63, 1, 500, 10, 10, 130, 40, 66, 2];
    const lines = lengths.map((len, i) => `${String.fromCharCode(97 + (i % 26)).repeat(len)}\r\n`);
    p.peer.write(lines.join(''));
    const buf = Buffer.alloc(1024);
    for (const want of lines) {
      const n = await p.ours.recvUntil(buf, '\r\n', 5000);
      expect(buf.toString('latin1', 0, n)).toBe(want);
    }
    p.peer.write('\n\n');
    expect(await p.ours.recvUntil(buf, 0x0a, 5000)).toBe(1);
    expect(await p.ours.recvUntil(buf, 0x0a, 5000)).toBe(1);
  });

  test('a multi-byte delimiter split across arrivals, and a one-byte one given as a number', async () => {
    const buf = Buffer.alloc(64);
    const pending = p.ours.recvUntil(buf, Buffer.from('\r\n\r\n'), 5000);
    await trickle(p, ['HTTP/1.1 200 OK\r', '\n', '\r', '\nbody']);
    const n = await pending;
    expect(buf.toString('latin1', 0, n)).toBe('HTTP/1.1 200 OK\r\n\r\n');
    p.peer.write('x;y;');
    const m = await p.ours.recvUntil(buf, 0x3b, 2000);
    expect(buf.toString('latin1', 0, m)).toBe('bodyx;');
  });

  test('bad arguments throw, and nothing is read', async () => {
    const buf = Buffer.alloc(8);
    expect(() => p.ours.recvUntil(buf, 256)).toThrow(RangeError);
    expect(() => p.ours.recvUntil(buf, -1)).toThrow(RangeError);
    expect(() => p.ours.recvUntil(buf, '')).toThrow(RangeError);
    expect(() => p.ours.recvUntil(Buffer.alloc(32), Buffer.alloc(17))).toThrow(RangeError);
    expect(() => p.ours.recvUntil(Buffer.alloc(2), 'abc')).toThrow(RangeError);
    expect(() => p.ours.recvUntil(buf, {} as never)).toThrow(TypeError);
    expect(() => p.ours.recvUntil('buf' as never, '\n')).toThrow(TypeError);
    expect(() => p.ours.recvUntil(buf, '\n', 'soon' as never)).toThrow(TypeError);
    expect(() => p.ours.recvUntil(buf, '\n', { signal: 'stop' as never })).toThrow(TypeError);
    p.peer.write('ok\n');
    const n = await p.ours.recvUntil(buf, '\n', 2000);
    expect(buf.toString('latin1', 0, n)).toBe('ok\n');
  });

  test('a full buffer without the delimiter is ERR_NO_DELIMITER and consumes nothing', async () => {
    p.peer.write('0123456789');
    const small = Buffer.alloc(8);
    await waitFor(() => p.ours.bytesRead >= 10, 'the bytes to arrive');
    expect(await p.ours.recvUntil(small, '\n', 2000)).toBe(-1);
    expect(p.ours.lastError?.code).toBe('ERR_NO_DELIMITER');
    // While waiting, too: the buffer fills as bytes come.
    const waiting = p.ours.recvUntil(Buffer.alloc(12), '\n', 5000);
    p.peer.write('abc');
    expect(await waiting).toBe(-1);
    expect(p.ours.lastError?.code).toBe('ERR_NO_DELIMITER');
    const big = Buffer.alloc(32);
    p.peer.write('\n');
    const n = await p.ours.recvUntil(big, '\n', 2000);
    expect(big.toString('latin1', 0, n)).toBe('0123456789abc\n');
  });

  test('a timeout or an abort consumes nothing; a signal aborted already fails at once', async () => {
    const buf = Buffer.alloc(32);
    p.peer.write('partial');
    await waitFor(() => p.ours.bytesRead >= 7, 'the bytes to arrive');
    expect(await p.ours.recvUntil(buf, '\n', 20)).toBe(-1);
    expect(p.ours.lastError?.code).toBe('ETIMEDOUT');
    const ac = new AbortController();
    const pending = p.ours.recvUntil(buf, '\n', { signal: ac.signal });
    ac.abort(new Error('user gave up'));
    expect(await pending).toBe(-1);
    expect(p.ours.lastError).toMatchObject({ code: 'ABORT_ERR', cause: ac.signal.reason });
    expect(await p.ours.recvUntil(buf, '\n', { signal: ac.signal })).toBe(-1);
    p.peer.write(' line\n');
    const n = await p.ours.recvUntil(buf, '\n', { ms: 2000 });
    expect(buf.toString('latin1', 0, n)).toBe('partial line\n');
  });

  test('the peer closes before a delimiter: 0, and what came is left for recv', async () => {
    p.peer.end('no newline');
    const buf = Buffer.alloc(32);
    expect(await p.ours.recvUntil(buf, '\n', 2000)).toBe(0);
    expect(await p.ours.recv(buf, 32, 2000)).toBe(10);
    expect(buf.toString('latin1', 0, 10)).toBe('no newline');
    const end = readToEnd(p.peer);
    if ('disconnect' in p.ours) p.ours.disconnect();
    else await p.ours.close();
    await end;
  });

  test('tryRecvUntil: takes the lines already here without waiting; 0 when the next is not all here, and recvUntil waits for its rest', async () => {
    const buf = Buffer.alloc(64);
    expect(p.ours.tryRecvUntil(buf, '\n')).toBe(0); // nothing has come
    p.peer.write('a\nbb\r\nccc');
    await waitFor(() => p.ours.bytesRead >= 9, 'the bytes to arrive');
    expect(p.ours.tryRecvUntil(buf, 0x0a)).toBe(2);
    expect(buf.toString('latin1', 0, 2)).toBe('a\n');
    expect(p.ours.tryRecvUntil(buf, '\r\n')).toBe(4);
    expect(buf.toString('latin1', 0, 4)).toBe('bb\r\n');
    expect(p.ours.tryRecvUntil(buf, '\n')).toBe(0); // "ccc" stays
    const pending = p.ours.recvUntil(buf, '\n', 5000);
    p.peer.write('c\nd');
    expect(await pending).toBe(5);
    expect(buf.toString('latin1', 0, 5)).toBe('cccc\n');
    expect(p.ours.tryRecvUntil(buf, '\n')).toBe(0);
    expect(await p.ours.recv(buf, 64, 2000)).toBe(1);
    expect(buf.toString('latin1', 0, 1)).toBe('d');
  });

  test('tryRecvUntil: a delimiter split across arrivals after tryRecvUntil said 0; bytes taken in between, or another delimiter, are searched afresh', async () => {
    const buf = Buffer.alloc(64);
    await trickle(p, ['abc\r']);
    expect(p.ours.tryRecvUntil(buf, '\r\n')).toBe(0);
    await trickle(p, ['\n']);
    expect(await p.ours.recvUntil(buf, '\r\n', 5000)).toBe(5);
    expect(buf.toString('latin1', 0, 5)).toBe('abc\r\n');
    // The search said "no delimiter starts before offset 2"; a recv then takes a byte.
    await trickle(p, ['xy\r']);
    expect(p.ours.tryRecvUntil(buf, '\r\n')).toBe(0);
    expect(await p.ours.recv(buf, 1, 2000)).toBe(1);
    await trickle(p, ['\n']);
    expect(await p.ours.recvUntil(buf, '\r\n', 5000)).toBe(3);
    expect(buf.toString('latin1', 0, 3)).toBe('y\r\n');
    // Searched for one delimiter, read up to another.
    await trickle(p, ['k;v']);
    expect(p.ours.tryRecvUntil(buf, '\n')).toBe(0);
    expect(await p.ours.recvUntil(buf, ';', 5000)).toBe(2);
    expect(buf.toString('latin1', 0, 2)).toBe('k;');
  });

  test('tryRecvUntil: a full buffer without the delimiter is -1 ERR_NO_DELIMITER, consuming nothing; bad arguments throw', async () => {
    p.peer.write('0123456789');
    await waitFor(() => p.ours.bytesRead >= 10, 'the bytes to arrive');
    expect(p.ours.tryRecvUntil(Buffer.alloc(8), '\n')).toBe(-1);
    expect(p.ours.lastError?.code).toBe('ERR_NO_DELIMITER');
    expect(() => p.ours.tryRecvUntil(Buffer.alloc(8), 256)).toThrow(RangeError);
    expect(() => p.ours.tryRecvUntil(Buffer.alloc(2), 'abc')).toThrow(RangeError);
    expect(() => p.ours.tryRecvUntil('buf' as never, '\n')).toThrow(TypeError);
    expect(() => p.ours.tryRecvUntil(Buffer.alloc(8), {} as never)).toThrow(TypeError);
    const buf = Buffer.alloc(32);
    expect(p.ours.tryRecvUntil(buf, '\n')).toBe(0);
    p.peer.write('\n');
    expect(await p.ours.recvUntil(buf, '\n', 2000)).toBe(11);
    expect(buf.toString('latin1', 0, 11)).toBe('0123456789\n');
  });

  test('tryRecvUntil: while a recv waits, or a reader holds conn.readable, it throws ERR_CONCURRENT_RECV and takes nothing', async () => {
    const buf = Buffer.alloc(32);
    const pending = p.ours.recvUntil(buf, '\n', 5000);
    expect(() => p.ours.tryRecvUntil(Buffer.alloc(8), '\n')).toThrow(
      expect.objectContaining({ code: 'ERR_CONCURRENT_RECV' }),
    );
    p.peer.write('one\ntwo\n');
    expect(await pending).toBe(4);
    const reader = p.ours.readable.getReader();
    expect(() => p.ours.tryRecvUntil(buf, '\n')).toThrow(expect.objectContaining({ code: 'ERR_CONCURRENT_RECV' }));
    reader.releaseLock();
    await waitFor(() => p.ours.bytesRead >= 8, 'the second line to arrive');
    expect(p.ours.tryRecvUntil(buf, '\n')).toBe(4);
    expect(buf.toString('latin1', 0, 4)).toBe('two\n');
  });

  test('tryRecvUntil: the peer closes after a partial line: tryRecvUntil 0, recvUntil 0, and the bytes are left for recv', async () => {
    const received = readToEnd(p.peer);
    p.peer.end('last\npartial');
    const buf = Buffer.alloc(32);
    expect(await p.ours.recvUntil(buf, '\n', 2000)).toBe(5);
    await waitFor(() => p.ours.bytesRead >= 12, 'the bytes to arrive');
    expect(p.ours.tryRecvUntil(buf, '\n')).toBe(0);
    expect(await p.ours.recvUntil(buf, '\n', 2000)).toBe(0);
    expect(await p.ours.recv(buf, 32, 2000)).toBe(7);
    expect(buf.toString('latin1', 0, 7)).toBe('partial');
    if ('disconnect' in p.ours) p.ours.disconnect();
    else await p.ours.close();
    expect((await received).how).toBe('end');
  });
});

describe('ByteQueue.indexOf', () => {
  test('finds a delimiter at any split of any chunking, starting from any offset already ruled out', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...'ab\r\n'.split('')), { minLength: 0, maxLength: 60 }),
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 20 }),
        fc.constantFrom('\n', '\r\n', '\r\n\r\n', 'ab'),
        fc.integer({ min: 0, max: 5 }),
        (chars, cuts, delim, consumed) => {
          const text = chars.join('');
          const q = new ByteQueue();
          let at = 0;
          for (let i = 0; at < text.length; i++) {
            const size = cuts[i % cuts.length];
            q.push(Buffer.from(text.slice(at, at + size), 'latin1'));
            at += size;
          }
          const skip = Math.min(consumed, text.length);
          if (skip > 0) q.read(Buffer.alloc(skip), skip);
          const rest = text.slice(skip);
          const d = Buffer.from(delim, 'latin1');
          const want = rest.indexOf(delim);
          expect(q.indexOf(d, 0, rest.length)).toBe(want);
          // Resuming from a later offset finds the first one at or after it.
          for (let from = 0; from <= rest.length; from++) {
            expect(q.indexOf(d, from, rest.length)).toBe(rest.indexOf(delim, from));
          }
        },
      ),
    );
  });
});
