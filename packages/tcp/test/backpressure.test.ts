/**
 * Backpressure both ways, the third guarantee:
 * - a peer that does not read makes send wait, and a send with a timeout
 *   gives up with ETIMEDOUT;
 * - a flood that the application does not read pauses the socket: the peer's
 *   writes stop being accepted and this process's memory stays bounded, and
 *   reading afterwards still gets every byte in order.
 * Connection and Client, TCP and TLS, against a raw peer socket.
 */
import type * as net from 'node:net';
import { firstPatternMismatch, pattern, patternSlice, readToEnd, waitFor } from '../../../libs/test-support/net';
import { describeConnectedPairs, guardLeaks, MiB, stoppedReading, VARIANTS } from './helpers';

guardLeaks();

describeConnectedPairs(VARIANTS, (p) => {
  test('a peer that does not read makes send wait; once it reads, send resolves n and every byte arrives', async () => {
    const data = pattern(0, 16 * MiB); // far more than the kernel buffers (a few MiB here)
    p.peer.pause();
    let settled: number | null = null;
    const sending = p.ours.send(data).then((n) => (settled = n));
    // The peer has filled what it reads ahead: the rest of the 16 MiB cannot all fit in the
    // kernel's buffers, so the send must still be waiting.
    await waitFor(() => stoppedReading(p.peer), 'the peer to stop taking bytes');
    expect(settled).toBeNull();
    const reading = readToEnd(p.peer);
    p.peer.resume();
    expect(await sending).toBe(data.length);
    if ('disconnect' in p.ours) p.ours.disconnect();
    else await p.ours.close();
    const r = await reading;
    expect(r.data.length).toBe(data.length);
    expect(firstPatternMismatch(r.data, 0)).toBe(-1);
  });

  test('send with ms = 100 to a peer that does not read resolves <= 0 with ETIMEDOUT', async () => {
    const data = pattern(0, 16 * MiB);
    p.peer.pause();
    const n = await p.ours.send(data, data.length, 100);
    expect(n).toBeLessThanOrEqual(0);
    expect(p.ours.lastError?.code).toBe('ETIMEDOUT');
    expect(p.ours.strerror()).not.toBe('');
    // After a failed send only close/reset mean anything; they must not throw.
    if ('disconnect' in p.ours) p.ours.disconnect();
    else await p.ours.close();
  });

  test('a recvn larger than the read bound still completes, after the socket paused at the bound', async () => {
    const size = 2 * MiB; // the default bound is 256 KiB
    p.peer.write(pattern(5, size));
    // Bytes queue up to the bound, and the socket stops reading there.
    await waitFor(() => p.ours._readState().paused, 'our socket to pause at the read bound');
    expect(p.ours._readState().queued).toBeGreaterThanOrEqual(256 * 1024);
    expect(p.ours._readState().queued).toBeLessThan(size);
    const buf = Buffer.alloc(size);
    expect(await p.ours.recvn(buf, size, 5000)).toBe(size);
    expect(firstPatternMismatch(buf, 5)).toBe(-1);
  });

  test('a flood the application does not read pauses the socket: peer writes stall, memory stays bounded, then every byte comes in order', async () => {
    const total = 64 * MiB;
    const chunkSize = 256 * 1024;
    const peer = p.peer;
    const before = process.memoryUsage().arrayBuffers;
    let pushed = 0; // bytes the peer's socket has accepted from the writer loop
    let lastProgress = Date.now();
    let waitingForDrain = false;
    const writer = (async () => {
      while (pushed < total) {
        const ok = peer.write(patternSlice(pushed, chunkSize));
        pushed += chunkSize;
        lastProgress = Date.now();
        if (!ok) {
          waitingForDrain = true;
          await waitForDrainOrClose(peer);
          waitingForDrain = false;
          lastProgress = Date.now();
        }
      }
      peer.end();
    })();

    // The application reads nothing until the peer has stopped making progress.
    await waitFor(
      () => pushed >= total || (waitingForDrain && Date.now() - lastProgress > 300),
      'the peer to stall',
      10_000,
    );
    const grown = process.memoryUsage().arrayBuffers - before;
    expect(pushed).toBeLessThan(total); // the peer could not push everything: someone stopped reading
    expect(waitingForDrain).toBe(true);
    expect(peer.writableLength).toBeGreaterThan(0); // its own buffer is full: the kernel's are too
    expect(grown).toBeLessThan(8 * MiB);

    // Now read everything: every byte, in order, then EOF.
    const buf = Buffer.alloc(64 * 1024);
    let offset = 0;
    for (;;) {
      const n = await p.ours.recv(buf, buf.length, 5000);
      if (n === 0) break;
      if (n < 0) throw new Error(`recv failed after ${offset} bytes: ${p.ours.strerror()}`);
      const bad = firstPatternMismatch(buf, offset, n);
      if (bad >= 0) throw new Error(`byte ${offset + bad} is wrong`);
      offset += n;
    }
    await writer;
    expect(offset).toBe(total);
  });
});

function waitForDrainOrClose(sock: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      sock.off('drain', done);
      sock.off('close', done);
      resolve();
    };
    sock.on('drain', done);
    sock.on('close', done);
  });
}
