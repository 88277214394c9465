/**
 * Byte level, no network: the read queue (ByteQueue) and the read state
 * machine of a channel (what `_onBytes` does with a waiting `recv`/`recvn`,
 * the queue, the shared read buffer and the pause bound), fed bytes directly
 * in every split, as ws tests its receiver. The socket under the channel is a
 * real `net.Socket` that is never connected: it only takes the listeners and
 * records pause/resume.
 */
import * as net from 'node:net';
import fc from 'fast-check';
import { TcpError } from '../src';
import { Channel } from '../src/channel';
import { ByteQueue } from '../src/byte-queue';

/** `n` bytes counting from `from` (mod 256): any shift, loss or repeat shows. */
function bytes(from: number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (from + i) & 0xff;
  return b;
}

describe('ByteQueue', () => {
  test('reads across chunk boundaries, in order, and counts what it holds', () => {
    const q = new ByteQueue();
    q.push(bytes(0, 3));
    q.push(bytes(3, 1));
    q.push(bytes(4, 6));
    expect(q.length).toBe(10);
    const out = Buffer.alloc(10);
    expect(q.read(out, 2)).toBe(2); // inside the first chunk
    expect(q.read(out.subarray(2), 5)).toBe(5); // rest of the first, all of the second, part of the third
    expect(q.length).toBe(3);
    expect(q.read(out.subarray(7), 3)).toBe(3); // exactly to the end
    expect(q.length).toBe(0);
    expect(out.equals(bytes(0, 10))).toBe(true);
  });

  test('grows its ring past its first size with chunks still held, keeping their order', () => {
    const q = new ByteQueue();
    const out = Buffer.alloc(1);
    let next = 0;
    let read = 0;
    // Interleaved so that head wraps around the ring before each growth.
    for (let i = 0; i < 100; i++) {
      q.push(bytes(next, 1));
      next++;
      q.push(bytes(next, 1));
      next++;
      q.read(out, 1);
      expect(out[0]).toBe(read++ & 0xff);
    }
    expect(q.length).toBe(100);
    while (q.length > 0) {
      q.read(out, 1);
      expect(out[0]).toBe(read++ & 0xff);
    }
    expect(read).toBe(200);
  });

  test('clear drops everything; the queue works again afterwards', () => {
    const q = new ByteQueue();
    q.push(bytes(0, 5));
    q.read(Buffer.alloc(2), 2);
    q.clear();
    expect(q.length).toBe(0);
    q.push(bytes(9, 2));
    const out = Buffer.alloc(2);
    q.read(out, 2);
    expect(out.equals(bytes(9, 2))).toBe(true);
  });

  test('any chunking in, any read sizes out: the same bytes in the same order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 70 }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.integer({ min: 1, max: 90 }), { minLength: 1, maxLength: 40 }),
        (chunkSizes, readSizes) => {
          const total = chunkSizes.reduce((a, b) => a + b, 0);
          const q = new ByteQueue();
          let at = 0;
          for (const size of chunkSizes) {
            q.push(bytes(at, size));
            at += size;
          }
          const out = Buffer.alloc(total);
          let got = 0;
          for (let i = 0; got < total; i++) {
            const n = Math.min(readSizes[i % readSizes.length], total - got);
            q.read(out.subarray(got), n);
            got += n;
            expect(q.length).toBe(total - got);
          }
          expect(out.equals(bytes(0, total))).toBe(true);
        },
      ),
    );
  });
});

/** A channel over an unconnected socket, fed by the test through `_onBytes`. */
class FedChannel extends Channel {
  readonly sock = new net.Socket();

  constructor(maxReadBufferBytes: number) {
    super('server', maxReadBufferBytes);
    this._attach(this.sock, this.sock, true);
  }

  /** Bytes arriving as `'data'` delivers them: a chunk the channel may keep. */
  owned(chunk: Buffer): void {
    this._reader._onBytes(chunk, chunk.length, true);
  }

  /** Bytes arriving through `onread`: the shared buffer, overwritten right after the call. */
  shared(chunk: Buffer): void {
    const scratch = Buffer.alloc(chunk.length + 8, 0xee);
    chunk.copy(scratch);
    this._reader._onBytes(scratch, chunk.length, false);
    scratch.fill(0xdd); // the next read reuses the shared buffer
  }

  /** The peer's FIN. */
  end(): void {
    this._reader._onEnd();
  }

  close(): void {
    this._detach(new TcpError('ENOTCONN', 'the test is over'), true);
  }

  /** The connection goes and another comes in its place, as a Client's reconnect does. */
  reconnect(): void {
    this.close();
    this._attach(this.sock, this.sock, true);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  _where(): { address?: string; port?: number } {
    return {};
  }

  protected _closedHere(): boolean {
    return false;
  }
}

describe('the read state machine', () => {
  let ch: FedChannel;
  beforeEach(() => {
    ch = new FedChannel(64);
  });
  afterEach(() => ch.close());

  test.each(['owned', 'shared'] as const)(
    'a waiting recv takes what fits; the rest is queued for the next call (%s)',
    async (how) => {
      const buf = Buffer.alloc(4);
      const pending = ch.recv(buf, 4);
      ch[how](bytes(0, 10));
      expect(await pending).toBe(4);
      expect(buf.equals(bytes(0, 4))).toBe(true);
      const rest = Buffer.alloc(16);
      expect(await ch.recv(rest, 16)).toBe(6); // answered from the queue at once
      expect(rest.subarray(0, 6).equals(bytes(4, 6))).toBe(true);
    },
  );

  test.each(['owned', 'shared'] as const)(
    'a waiting recvn completes only with its n bytes, however they are split (%s)',
    async (how) => {
      const buf = Buffer.alloc(10);
      let settled = false;
      const pending = ch.recvn(buf, 10).then((n) => {
        settled = true;
        return n;
      });
      for (let i = 0; i < 9; i++) ch[how](bytes(i, 1));
      await Promise.resolve();
      expect(settled).toBe(false);
      ch[how](bytes(9, 3)); // the last byte and two more
      expect(await pending).toBe(10);
      expect(buf.equals(bytes(0, 10))).toBe(true);
      const rest = Buffer.alloc(2);
      expect(await ch.recvn(rest, 2)).toBe(2);
      expect(rest.equals(bytes(10, 2))).toBe(true);
    },
  );

  test('a recvn that times out consumes nothing: the next call gets its partial bytes, in order', async () => {
    const buf = Buffer.alloc(8);
    const pending = ch.recvn(buf, 8, 0);
    ch.shared(bytes(0, 5));
    expect(await pending).toBe(-1);
    expect(ch.lastError?.code).toBe('ETIMEDOUT');
    ch.shared(bytes(5, 3));
    expect(await ch.recvn(buf, 8)).toBe(8);
    expect(buf.equals(bytes(0, 8))).toBe(true);
  });

  test.each(['owned', 'shared'] as const)(
    'a waiting recvn gathers its bytes in the caller buffer, behind those queued before it: the queue does not grow (%s)',
    async (how) => {
      ch[how](bytes(0, 3)); // queued before the call
      const buf = Buffer.alloc(20);
      const pending = ch.recvn(buf, 20);
      for (let i = 3; i < 19; i += 4) {
        ch[how](bytes(i, 4));
        expect(ch._readState().queued).toBe(3);
      }
      ch[how](bytes(19, 5)); // the last byte and four more
      expect(await pending).toBe(20);
      expect(buf.equals(bytes(0, 20))).toBe(true);
      expect(ch._readState().queued).toBe(4);
    },
  );

  test('a recvn cut short by the peer FIN gives back what it gathered, behind what was queued: recv then reads it all, in order', async () => {
    ch.shared(bytes(0, 3));
    const buf = Buffer.alloc(10);
    const pending = ch.recvn(buf, 10);
    ch.shared(bytes(3, 2));
    ch.shared(bytes(5, 2));
    ch.end();
    expect(await pending).toBe(0);
    const rest = Buffer.alloc(16);
    expect(await ch.recv(rest, 16)).toBe(7);
    expect(rest.subarray(0, 7).equals(bytes(0, 7))).toBe(true);
    expect(await ch.recv(rest, 16)).toBe(0);
  });

  test('unasked bytes past the bound pause the socket; reading below it resumes', async () => {
    expect(ch.sock.isPaused()).toBe(false);
    for (let i = 0; i < 8; i++) ch.shared(bytes(i * 8, 8)); // 64 bytes: the bound
    expect(ch.sock.isPaused()).toBe(true);
    const buf = Buffer.alloc(64);
    expect(await ch.recv(buf, 1)).toBe(1);
    expect(ch.sock.isPaused()).toBe(false);
    expect(await ch.recv(buf, 64)).toBe(63);
    expect(buf.subarray(0, 63).equals(bytes(1, 63))).toBe(true);
  });

  test('a recvn larger than the bound still completes: its bytes are needed whatever the bound', async () => {
    const buf = Buffer.alloc(256);
    const pending = ch.recvn(buf, 256);
    for (let i = 0; i < 32; i++) ch.shared(bytes(i * 8, 8));
    expect(await pending).toBe(256);
    expect(buf.equals(bytes(0, 256))).toBe(true);
  });

  test('any arrival split, any mix of recv and recvn sizes: every byte once, in order (both arrival kinds)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 40 }), fc.boolean()), { minLength: 1, maxLength: 30 }),
        fc.array(fc.tuple(fc.integer({ min: 1, max: 50 }), fc.boolean()), { minLength: 1, maxLength: 30 }),
        async (arrivals, reads) => {
          const c = new FedChannel(32);
          try {
            const total = arrivals.reduce((a, [n]) => a + n, 0);
            const got: Buffer[] = [];
            let received = 0;
            let next = 0;
            let arrival = 0;
            for (let i = 0; received < total; i++) {
              const [size, exact] = reads[i % reads.length];
              const n = exact ? Math.min(size, total - received) : size;
              const buf = Buffer.alloc(n);
              const pending = exact ? c.recvn(buf, n) : c.recv(buf, n);
              let result: number | null = null;
              void pending.then((r) => (result = r));
              // Feed arrivals until the call settles.
              while ((await Promise.resolve(), result === null)) {
                const [len, owned] = arrivals[arrival++];
                if (owned) c.owned(bytes(next, len));
                else c.shared(bytes(next, len));
                next += len;
              }
              const r = result as number;
              expect(r).toBeGreaterThan(0);
              if (exact) expect(r).toBe(n);
              got.push(buf.subarray(0, r));
              received += r;
            }
            expect(Buffer.concat(got).equals(bytes(0, total))).toBe(true);
          } finally {
            c.close();
          }
        },
      ),
      { numRuns: 200 },
    );
  });
  test('what tryRecvUntil searched is not searched again, unless bytes were taken or the connection changed since', async () => {
    const buf = Buffer.alloc(16);
    const line = async (): Promise<string> => buf.toString('latin1', 0, await ch.recvUntil(buf, '\n'));
    ch.owned(Buffer.from('ab'));
    expect(ch.tryRecvUntil(buf, '\n')).toBe(0);
    ch.shared(Buffer.from('c\n'));
    const copyScan = jest.spyOn(ByteQueue.prototype, 'takeThrough');
    const search = jest.spyOn(ByteQueue.prototype, 'indexOf');
    try {
      expect(await line()).toBe('abc\n');
      // One search, from the first byte not yet searched; "ab" is not scanned again.
      expect(copyScan).not.toHaveBeenCalled();
      expect(search).toHaveBeenCalledTimes(1);
      expect(search.mock.calls[0][1]).toBe(2);
    } finally {
      copyScan.mockRestore();
      search.mockRestore();
    }
    // A recv takes a byte: the newline that comes next stands where the search had already been.
    ch.owned(Buffer.from('ab'));
    expect(ch.tryRecvUntil(buf, '\n')).toBe(0);
    expect(await ch.recv(buf, 1)).toBe(1);
    ch.owned(Buffer.from('\nzz\n'));
    expect(await line()).toBe('b\n');
    expect(await line()).toBe('zz\n');
    // The connection is replaced: its queue starts again from nothing.
    ch.owned(Buffer.from('ab'));
    expect(ch.tryRecvUntil(buf, '\n')).toBe(0);
    ch.reconnect();
    ch.owned(Buffer.from('x\nyy\n'));
    expect(await line()).toBe('x\n');
    expect(await line()).toBe('yy\n');
  });

  test('tryRecvUntil, recvUntil and recv mixed, any arrival split, two delimiters: every byte once, in order, each line cut at its first delimiter', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom('a', 'b', '\r', '\n'), { minLength: 1, maxLength: 120 }),
        fc.array(fc.tuple(fc.integer({ min: 1, max: 9 }), fc.boolean()), { minLength: 1, maxLength: 20 }),
        fc.array(fc.constantFrom('try \n', 'try \r\n', 'until \n', 'until \r\n', 'recv'), {
          minLength: 1,
          maxLength: 20,
        }),
        async (chars, arrivals, steps) => {
          const text = Buffer.from(chars.join(''), 'latin1');
          const c = new FedChannel(1024);
          try {
            let fed = 0;
            let arrival = 0;
            /** Delivers the next arrival; false when everything has come. */
            const feed = (): boolean => {
              if (fed === text.length) return false;
              const [len, owned] = arrivals[arrival++ % arrivals.length];
              const chunk = Buffer.from(text.subarray(fed, Math.min(text.length, fed + len)));
              fed += chunk.length;
              if (owned) c.owned(chunk);
              else c.shared(chunk);
              return true;
            };
            const got: Buffer[] = [];
            const buf = Buffer.alloc(16);
            /** A line read up to `delim`: it ends there, and no earlier delimiter was passed over. */
            const line = (n: number, delim: string): void => {
              const taken = Buffer.from(buf.subarray(0, n));
              expect(taken.indexOf(delim, 0, 'latin1')).toBe(n - delim.length);
              got.push(taken);
            };
            let eof = false;
            for (let i = 0; !eof; i++) {
              const [how, delim = ''] = steps[i % steps.length].split(' ');
              if (how === 'try') {
                const n = c.tryRecvUntil(buf, delim);
                if (n > 0) line(n, delim);
                else if (n < 0) expect(c.lastError?.code).toBe('ERR_NO_DELIMITER');
                else if (!feed()) {
                  c.end();
                  eof = true;
                }
              } else if (how === 'until') {
                let result: number | null = null;
                void c.recvUntil(buf, delim).then((r) => (result = r));
                while ((await Promise.resolve(), result === null)) if (!feed()) c.end();
                const n = result as number;
                if (n > 0) line(n, delim);
                else if (n < 0) expect(c.lastError?.code).toBe('ERR_NO_DELIMITER');
                else eof = true;
              } else if (c._readState().queued > 0) {
                const n = await c.recv(buf, 1 + (i % 3));
                got.push(Buffer.from(buf.subarray(0, n)));
              } else if (!feed()) {
                c.end();
                eof = true;
              }
            }
            // What no line took is left for recv.
            for (let n; (n = await c.recv(buf, 16)) > 0;) got.push(Buffer.from(buf.subarray(0, n)));
            expect(Buffer.concat(got).equals(text)).toBe(true);
          } finally {
            c.close();
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
