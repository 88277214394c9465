/**
 * send: return values, strings, partial n, n = 0, argument checks, the
 * one-pending-send rule, and the second guarantee: once send resolves the
 * caller may overwrite its buffer at once (the peer still gets the original
 * bytes), checked with MiB-sized buffers and a peer that reads slowly so the
 * writes cannot complete synchronously. Connection and Client, TCP and TLS.
 */
import { TcpError } from '../src';
import { firstPatternMismatch, pattern, readToEnd, resetSocket, waitFor } from '../../../libs/test-support/net';
import { describeConnectedPairs, guardLeaks, MiB, VARIANTS } from './helpers';

guardLeaks();

describeConnectedPairs(VARIANTS, (p) => {
  /** Ends our side and returns everything the peer read before the FIN. */
  async function peerReceives(): Promise<Buffer> {
    const reading = readToEnd(p.peer);
    if ('disconnect' in p.ours) p.ours.disconnect();
    else await p.ours.close();
    const r = await reading;
    expect(r.how).toBe('end');
    return r.data;
  }

  test('send returns n; a string goes as UTF-8; n < length sends only n bytes; n = 0 sends nothing', async () => {
    expect(await p.ours.send(Buffer.from('abc'))).toBe(3);
    expect(await p.ours.send('héllo')).toBe(6); // 6 UTF-8 bytes
    expect(await p.ours.send(Buffer.from('0123456789'), 4)).toBe(4);
    expect(await p.ours.send('wxyz', 2)).toBe(2);
    expect(await p.ours.send(Buffer.from('never'), 0)).toBe(0);
    expect(await p.ours.send(new Uint8Array([0x21, 0x22]), 2, 1000)).toBe(2);
    expect((await peerReceives()).toString()).toBe('abchéllo0123wx!"');
  });

  test('the first n bytes of one buffer, sent again and again while its contents and n change: the peer gets each send as it was', async () => {
    const buf = Buffer.alloc(64);
    const sent: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      const n = [8, 8, 8, 3, 64, 8, 1][i % 7];
      buf.fill(i & 0xff, 0, n);
      buf[0] = 0x41 + (i % 26);
      expect(await p.ours.send(buf, n)).toBe(n);
      sent.push(Buffer.from(buf.subarray(0, n)));
    }
    // Another buffer of the same length in between, with the same n.
    const other = Buffer.alloc(64, 0x7a);
    expect(await p.ours.send(other, 8)).toBe(8);
    expect(await p.ours.send(buf, 8)).toBe(8);
    sent.push(other.subarray(0, 8), Buffer.from(buf.subarray(0, 8)));
    expect((await peerReceives()).equals(Buffer.concat(sent))).toBe(true);
  });

  test('bad arguments throw RangeError/TypeError and send nothing', async () => {
    const data = Buffer.from('abcd');
    for (const call of [
      () => p.ours.send(data, 5),
      () => p.ours.send(data, -1),
      () => p.ours.send(data, 1.5),
      () => p.ours.send('ab', 3),
    ]) {
      await expectThrow(call, RangeError);
    }
    for (const call of [
      () => p.ours.send(42 as never),
      () => p.ours.send(null as never),
      () => p.ours.send({ length: 2 } as never, 2),
      () => p.ours.send(data, 2, '10' as never),
    ]) {
      await expectThrow(call, TypeError);
    }
    expect(await p.ours.send('ok')).toBe(2);
    expect((await peerReceives()).toString()).toBe('ok');
  });

  test('a second send while one is pending rejects with ERR_CONCURRENT_SEND; the first completes', async () => {
    p.peer.pause();
    const big = pattern(0, 8 * MiB);
    const first = p.ours.send(big, big.length, 10_000);
    const second = p.ours.send('x');
    await expect(second).rejects.toBeInstanceOf(TcpError);
    await expect(second).rejects.toMatchObject({ code: 'ERR_CONCURRENT_SEND' });
    const reading = readToEnd(p.peer);
    p.peer.resume();
    expect(await first).toBe(big.length);
    expect(await p.ours.send('!')).toBe(1);
    if ('disconnect' in p.ours) p.ours.disconnect();
    else await p.ours.close();
    const r = await reading;
    expect(r.data.length).toBe(big.length + 1);
    expect(firstPatternMismatch(r.data, 0, big.length)).toBe(-1);
    expect(r.data[big.length]).toBe(0x21);
  });

  test('a resolved send has let go of the buffer: overwriting it at once does not change what the peer gets', async () => {
    const sizes = [1 * MiB, 4 * MiB, 2 * MiB, 3 * MiB + 17, 4 * MiB];
    const total = sizes.reduce((a, b) => a + b, 0);
    const reading = readToEnd(p.peer, 1); // slow reader: a pause after every chunk
    const buf = Buffer.alloc(4 * MiB);
    let offset = 0;
    for (const size of sizes) {
      pattern(offset, size).copy(buf);
      expect(await p.ours.send(buf, size, 20_000)).toBe(size);
      buf.fill(0xaa); // the caller reuses its buffer at once
      offset += size;
    }
    // A Uint8Array view into a larger buffer, overwritten the same way.
    const backing = new Uint8Array(2 * MiB + 64);
    const view = backing.subarray(64);
    view.set(pattern(offset, view.length));
    expect(await p.ours.send(view, view.length, 20_000)).toBe(view.length);
    backing.fill(0x55);
    if ('disconnect' in p.ours) p.ours.disconnect();
    else await p.ours.close();
    const r = await reading;
    expect(r.how).toBe('end');
    expect(r.data.length).toBe(total + view.length);
    expect(firstPatternMismatch(r.data, 0)).toBe(-1);
  });

  test('after the peer half-closes (FIN) our side reads 0 and can still send', async () => {
    const reading = readToEnd(p.peer);
    p.peer.end();
    const buf = Buffer.alloc(4);
    expect(await p.ours.recv(buf, 4, 2000)).toBe(0);
    expect(await p.ours.send('after-fin')).toBe(9);
    if ('disconnect' in p.ours) p.ours.disconnect();
    else await p.ours.close();
    const r = await reading;
    expect(r.data.toString()).toBe('after-fin');
  });

  test('send after the peer reset resolves <= 0 with lastError set', async () => {
    const buf = Buffer.alloc(4);
    p.peer.write('go');
    expect(await p.ours.recvn(buf, 2, 2000)).toBe(2); // fully connected (TLS: past the handshake's last message)
    resetSocket(p.peer);
    expect(await p.ours.recv(buf, 4, 2000)).toBeLessThan(0);
    expect(p.ours.lastError?.code).toBe('ECONNRESET');
    expect(await p.ours.send('late')).toBeLessThanOrEqual(0);
    expect(p.ours.lastError).toBeInstanceOf(TcpError);
    expect(p.ours.strerror()).not.toBe('');
  });

  // Regression: send() on a failed socket used to replace lastError (ECONNRESET) with ENOTCONN.
  test('send after the peer reset keeps ECONNRESET in lastError, as recv does', async () => {
    const buf = Buffer.alloc(4);
    p.peer.write('go');
    expect(await p.ours.recvn(buf, 2, 2000)).toBe(2);
    resetSocket(p.peer);
    expect(await p.ours.recv(buf, 4, 2000)).toBeLessThan(0);
    expect(await p.ours.send('late')).toBeLessThanOrEqual(0);
    expect(p.ours.lastError?.code).toBe('ECONNRESET');
  });

  test('sends racing a peer reset resolve <= 0 (never hang, never throw)', async () => {
    const chunk = pattern(0, 256 * 1024);
    let received = 0;
    p.peer.on('data', (data: Buffer) => (received += data.length));
    // The reset comes in the middle of the sends, once the peer has the first MiB.
    const resetting = (async () => {
      await waitFor(() => received >= MiB, 'the peer to receive the first MiB');
      resetSocket(p.peer);
    })();
    let result = 1;
    for (let i = 0; i < 2000 && result > 0; i++) result = await p.ours.send(chunk, chunk.length, 3000);
    await resetting;
    expect(result).toBeLessThanOrEqual(0);
    expect(['ECONNRESET', 'EPIPE', 'ENOTCONN']).toContain(p.ours.lastError?.code);
  });
});

/** Bad arguments throw; a rejected promise is accepted too (an async implementation throws that way). */
async function expectThrow(call: () => unknown, type: typeof RangeError | typeof TypeError): Promise<void> {
  let error: unknown;
  try {
    await call();
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(type);
}
