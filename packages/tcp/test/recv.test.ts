/**
 * recv/recvn: return values (> 0 / n, 0 on FIN, < 0 on RST and timeout),
 * what a timed-out call leaves behind (nothing consumed), n smaller than what
 * is buffered, default n, argument checks and the one-pending-recv rule, for
 * Connection and Client, over TCP and TLS, against a raw peer socket.
 */
import { TcpError } from '../src';
import { pattern, resetSocket, waitFor } from '../../../test-support/net';
import { describeConnectedPairs, guardLeaks, IPV6_VARIANTS, MiB, type Pair, stoppedReading, VARIANTS } from './helpers';

guardLeaks();

describeConnectedPairs([...VARIANTS, ...IPV6_VARIANTS], (p) => {
  test('recv returns the bytes that came, copied to buf[0..]', async () => {
    const buf = Buffer.alloc(16, 0xee);
    p.peer.write('hello');
    const n = await p.ours.recv(buf, 16, 2000);
    expect(n).toBe(5);
    expect(buf.subarray(0, 5).toString()).toBe('hello');
    expect(buf[5]).toBe(0xee); // nothing past n written
  });

  test('recvn returns n once all n bytes came in pieces', async () => {
    const buf = Buffer.alloc(12);
    const got = p.ours.recvn(buf, 12, 3000);
    let sent = 0;
    for (const piece of ['abc', 'defg', 'hijkl']) {
      p.peer.write(piece);
      sent += piece.length;
      // Each piece is taken in before the next is written, so they come as separate reads.
      await waitFor(() => p.ours.bytesRead === sent, `our side to receive ${sent} bytes`);
    }
    expect(await got).toBe(12);
    expect(buf.toString()).toBe('abcdefghijkl');
  });

  test('recv(buf, n) with n < available returns n and keeps the rest, both when waiting and when buffered', async () => {
    const buf = Buffer.alloc(64);
    // Waiting: the recv is pending when the bytes come.
    const first = p.ours.recv(buf, 3, 2000);
    p.peer.write('0123456789');
    expect(await first).toBe(3);
    expect(buf.subarray(0, 3).toString()).toBe('012');
    expect(await collect(p, 7)).toBe('3456789');
    // Buffered: the bytes are already queued when recv is called.
    p.peer.write('abcdefghij');
    await waitFor(() => p.ours._readState().queued === 10, 'the bytes to be queued');
    expect(await p.ours.recv(buf, 4, 2000)).toBe(4);
    expect(buf.subarray(0, 4).toString()).toBe('abcd');
    expect(await collect(p, 6)).toBe('efghij');
  });

  test('n defaults to buf.length for recv and recvn', async () => {
    p.peer.write('abcdefghij');
    const small = Buffer.alloc(4);
    expect(await p.ours.recv(small)).toBe(4);
    expect(small.toString()).toBe('abcd');
    const six = Buffer.alloc(6);
    expect(await p.ours.recvn(six)).toBe(6);
    expect(six.toString()).toBe('efghij');
  });

  test('peer FIN: bytes sent before it come first, then recv and recvn return 0, and keep returning 0', async () => {
    p.peer.end('bye');
    // Both are there before the first recv: the bytes, and the FIN behind them.
    await waitFor(() => p.ours._readState().eof, 'the FIN to arrive behind the bytes');
    expect(p.ours.bytesRead).toBe(3);
    const buf = Buffer.alloc(16);
    expect(await p.ours.recv(buf, 16, 2000)).toBe(3);
    expect(buf.subarray(0, 3).toString()).toBe('bye');
    expect(await p.ours.recv(buf, 16, 2000)).toBe(0);
    expect(await p.ours.recvn(buf, 4, 2000)).toBe(0);
    expect(await p.ours.recv(buf, 16)).toBe(0);
  });

  test('a recv pending when the peer sends FIN resolves 0', async () => {
    const buf = Buffer.alloc(16);
    // The recv is pending from the moment the call returns; the FIN can only come after.
    const pending = p.ours.recv(buf, 16, 3000);
    p.peer.end();
    expect(await pending).toBe(0);
  });

  test('recvn returns 0 when FIN comes after a partial message, pending or not', async () => {
    const buf = Buffer.alloc(10);
    const pending = p.ours.recvn(buf, 10, 3000);
    p.peer.write('abcd');
    await waitFor(() => p.ours.bytesRead === 4, 'the partial message to arrive before the FIN');
    p.peer.end();
    expect(await pending).toBe(0);
    // And when the FIN is already there when recvn is called.
    expect(await p.ours.recvn(buf, 10, 1000)).toBe(0);
  });

  test('peer RST: bytes already received come first, then recv returns < 0 with ECONNRESET', async () => {
    p.peer.write('abc');
    await waitFor(() => p.ours.bytesRead === 3, 'the bytes to be read (queued) before the reset comes');
    resetSocket(p.peer);
    await waitFor(() => p.ours.lastError !== null, 'the reset to reach our side');
    const buf = Buffer.alloc(16);
    expect(await p.ours.recv(buf, 16, 2000)).toBe(3);
    expect(buf.subarray(0, 3).toString()).toBe('abc');
    expect(await p.ours.recv(buf, 16, 2000)).toBeLessThan(0);
    expect(p.ours.lastError?.code).toBe('ECONNRESET');
    expect(p.ours.strerror()).not.toBe('');
    expect(await p.ours.recvn(buf, 4, 2000)).toBeLessThan(0);
  });

  test('a recv and a recvn pending at RST resolve < 0 with ECONNRESET', async () => {
    const buf = Buffer.alloc(16);
    const pending = p.ours.recvn(buf, 16, 3000);
    p.peer.write('abc'); // a partial message, then the reset
    await waitFor(() => p.ours.bytesRead === 3, 'the partial message to arrive before the reset');
    resetSocket(p.peer);
    expect(await pending).toBeLessThan(0);
    expect(p.ours.lastError).toBeInstanceOf(TcpError);
    expect(p.ours.lastError?.code).toBe('ECONNRESET');
  });

  test('a timed-out recvn consumes nothing: the next recvn gets every byte, in order', async () => {
    const message = pattern(0, 10);
    const buf = Buffer.alloc(10);
    p.peer.write(message.subarray(0, 3));
    expect(await p.ours.recvn(buf, 10, 50)).toBe(-1);
    expect(p.ours.lastError?.code).toBe('ETIMEDOUT');
    expect(p.ours.strerror()).not.toBe('');
    p.peer.write(message.subarray(3));
    expect(await p.ours.recvn(buf, 10, 2000)).toBe(10);
    expect(buf).toEqual(message);
  });

  test('a timed-out recv consumes nothing: bytes that come later go to the next call', async () => {
    const buf = Buffer.alloc(8);
    expect(await p.ours.recv(buf, 8, 30)).toBe(-1);
    expect(p.ours.lastError?.code).toBe('ETIMEDOUT');
    p.peer.write('late');
    expect(await p.ours.recv(buf, 8, 2000)).toBe(4);
    expect(buf.subarray(0, 4).toString()).toBe('late');
  });

  test('ms = 0 times out at once when nothing is buffered, and returns buffered bytes when there are some', async () => {
    const buf = Buffer.alloc(8);
    expect(await p.ours.recv(buf, 8, 0)).toBe(-1);
    expect(p.ours.lastError?.code).toBe('ETIMEDOUT');
    p.peer.write('now');
    await waitFor(() => p.ours._readState().queued === 3, 'the bytes to be queued');
    expect(await p.ours.recvn(buf, 3, 0)).toBe(3);
    expect(buf.subarray(0, 3).toString()).toBe('now');
  });

  test('many timed-out recvn calls on a message that trickles in lose and duplicate nothing', async () => {
    const message = pattern(1000, 64);
    const buf = Buffer.alloc(64);
    let timeouts = 0;
    let result = 0;
    let sent = 0;
    while (result !== 64) {
      if (sent < 64) {
        p.peer.write(message.subarray(sent, sent + 8));
        sent += 8;
      }
      result = await p.ours.recvn(buf, 64, 5);
      if (result < 0) {
        expect(p.ours.lastError?.code).toBe('ETIMEDOUT');
        timeouts++;
      }
      expect(timeouts).toBeLessThan(1000);
    }
    expect(timeouts).toBeGreaterThan(0);
    expect(buf).toEqual(message);
    expect(await p.ours.recv(buf, 64, 30)).toBe(-1); // nothing extra
  });

  test('bad arguments throw RangeError/TypeError', async () => {
    const buf = Buffer.alloc(4);
    for (const call of [
      () => p.ours.recv(buf, 5),
      () => p.ours.recv(buf, -1),
      () => p.ours.recv(buf, 0),
      () => p.ours.recv(buf, 1.5),
      () => p.ours.recvn(buf, 5),
      () => p.ours.recvn(buf, -1),
      () => p.ours.recvn(buf, 0),
    ]) {
      await expectThrow(call, RangeError);
    }
    for (const call of [
      () => p.ours.recv('abcd' as never, 2),
      () => p.ours.recv(null as never, 2),
      () => p.ours.recv([1, 2, 3] as never, 2),
      () => p.ours.recvn({ length: 4 } as never, 2),
      () => p.ours.recv(buf, 2, '10' as never),
      () => p.ours.recvn(buf, 2, NaN),
    ]) {
      await expectThrow(call, TypeError);
    }
    // The channel still works afterwards.
    p.peer.write('ok');
    expect(await p.ours.recvn(buf, 2, 2000)).toBe(2);
  });

  test('a second recv or recvn while one is pending rejects with ERR_CONCURRENT_RECV; the first goes on', async () => {
    const buf = Buffer.alloc(8);
    const first = p.ours.recv(buf, 8, 3000);
    const second = p.ours.recv(Buffer.alloc(8), 8, 3000);
    await expect(second).rejects.toBeInstanceOf(TcpError);
    await expect(second).rejects.toMatchObject({ code: 'ERR_CONCURRENT_RECV' });
    await expect(p.ours.recvn(Buffer.alloc(8), 8, 3000)).rejects.toMatchObject({ code: 'ERR_CONCURRENT_RECV' });
    p.peer.write('first');
    expect(await first).toBe(5);
    expect(buf.subarray(0, 5).toString()).toBe('first');
    // A pending recvn blocks a recv the same way.
    const exact = p.ours.recvn(buf, 4, 3000);
    await expect(p.ours.recv(Buffer.alloc(8))).rejects.toMatchObject({ code: 'ERR_CONCURRENT_RECV' });
    p.peer.write('four');
    expect(await exact).toBe(4);
  });

  test('a recv and a send may be pending at the same time (full duplex)', async () => {
    const big = pattern(0, 8 * MiB);
    const buf = Buffer.alloc(16);
    p.peer.pause(); // the peer reads nothing yet, so the send has to wait
    let recvDone = false;
    let sendDone = false;
    const recvP = p.ours.recv(buf, 16, 5000).then((n) => ((recvDone = true), n));
    const sendP = p.ours.send(big, big.length, 5000).then((n) => ((sendDone = true), n));
    // Once the peer stops taking bytes, the rest of the 8 MiB waits on backpressure.
    await waitFor(() => stoppedReading(p.peer), 'the peer to stop taking bytes');
    expect(recvDone).toBe(false);
    expect(sendDone).toBe(false);
    p.peer.write('reply');
    expect(await recvP).toBe(5);
    expect(buf.subarray(0, 5).toString()).toBe('reply');
    expect(sendDone).toBe(false);
    // Now the peer reads everything and the send completes.
    let received = 0;
    p.peer.on('data', (chunk: Buffer) => (received += chunk.length));
    p.peer.resume();
    expect(await sendP).toBe(big.length);
    await waitFor(() => received === big.length, 'the peer to get every byte');
  });
});

/** Reads until `count` bytes came (they may come in more than one recv); returns them as a string. */
async function collect(p: Pair, count: number): Promise<string> {
  const out: Buffer[] = [];
  const buf = Buffer.alloc(count);
  let got = 0;
  while (got < count) {
    const n = await p.ours.recv(buf, count - got, 2000);
    if (n <= 0) throw new Error(`recv returned ${n} (${p.ours.strerror()}) after ${got} of ${count} bytes`);
    out.push(Buffer.from(buf.subarray(0, n)));
    got += n;
  }
  return Buffer.concat(out).toString();
}

/**
 * The contract says bad arguments throw; a call that returns a rejected
 * promise instead is accepted too (an async implementation throws that way).
 */
async function expectThrow(call: () => unknown, type: typeof RangeError | typeof TypeError): Promise<void> {
  let error: unknown;
  try {
    await call();
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(type);
}
