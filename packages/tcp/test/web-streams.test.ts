/**
 * conn.readable / conn.writable as WHATWG streams, on real loopback sockets
 * (both sides, TCP and TLS): BYOB and default readers, EOF, the lock rules
 * against recv/send, FIN on close, backpressure, a pipe through
 * CompressionStream/DecompressionStream, and stream.Duplex.fromWeb.
 */
import { Duplex } from 'node:stream';
import { CompressionStream, DecompressionStream, ReadableStream } from 'node:stream/web';
import { gunzipSync, gzipSync } from 'node:zlib';
import { pattern, readToEnd, waitFor } from '../../../libs/test-support/net';
import { describeConnectedPairs, guardLeaks, MiB, pair, VARIANTS } from './helpers';

guardLeaks();

async function drain(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

const setup = describeConnectedPairs(VARIANTS, (p) => {
  test("a BYOB reader reads into its own buffer; the stream ends at the peer's FIN", async () => {
    const reader = p.ours.readable.getReader({ mode: 'byob' });
    p.peer.end('hello, byob');
    let got = '';
    for (;;) {
      const { value, done } = await reader.read(new Uint8Array(4));
      if (done) break;
      expect(value.byteLength).toBeLessThanOrEqual(4);
      got += Buffer.from(value).toString();
    }
    expect(got).toBe('hello, byob');
    reader.releaseLock();
  });

  test('recv while a reader holds readable is ERR_CONCURRENT_RECV; after releaseLock recv works, nothing lost', async () => {
    const reader = p.ours.readable.getReader();
    await expect(p.ours.recv(Buffer.alloc(4))).rejects.toMatchObject({ code: 'ERR_CONCURRENT_RECV' });
    await expect(p.ours.recvUntil(Buffer.alloc(4), '\n')).rejects.toMatchObject({ code: 'ERR_CONCURRENT_RECV' });
    p.peer.write('abcdef');
    const first = await reader.read();
    expect(first.done).toBe(false);
    reader.releaseLock();
    p.peer.write('ghi');
    const rest = Buffer.alloc(64);
    const taken = Buffer.from(first.value!).toString();
    let more = '';
    while (taken.length + more.length < 9) {
      const n = await p.ours.recv(rest, 64, 2000);
      expect(n).toBeGreaterThan(0);
      more += rest.toString('utf8', 0, n);
    }
    expect(taken + more).toBe('abcdefghi');
  });

  test('writable: writes arrive in order; send while a writer holds it is ERR_CONCURRENT_SEND; close sends FIN and reading goes on', async () => {
    const reading = readToEnd(p.peer);
    const writer = p.ours.writable.getWriter();
    await expect(p.ours.send('x')).rejects.toMatchObject({ code: 'ERR_CONCURRENT_SEND' });
    await writer.write(Buffer.from('one '));
    await writer.write(new Uint8Array(Buffer.from('two')));
    p.peer.write('reply');
    await waitFor(() => p.ours.bytesRead >= 5, 'the reply to arrive');
    await writer.close();
    const r = await reading;
    expect(r.how).toBe('end');
    expect(r.data.toString()).toBe('one two');
    // Half-closed: the reading side goes on.
    const buf = Buffer.alloc(16);
    const n = await p.ours.recv(buf, 16, 2000);
    expect(buf.toString('utf8', 0, n)).toBe('reply');
  });

  test('a reader that does not read holds the peer back: our socket pauses at its bound', async () => {
    const reader = p.ours.readable.getReader();
    p.peer.write(pattern(0, 8 * MiB));
    await waitFor(() => p.ours._readState().paused, 'our socket to pause');
    expect(p.ours._readState().queued).toBeLessThan(2 * MiB);
    await reader.cancel();
    reader.releaseLock();
    const buf = Buffer.alloc(1024);
    expect(await p.ours.recvn(buf, 1024, 2000)).toBe(1024); // what the stream did not read is still there
  });
});

test('pipes through DecompressionStream and CompressionStream, both directions', async () => {
  const p = await pair({ name: 'Client over TLS', side: 'Client', tls: true }, setup.certs);
  try {
    const text = 'co-style sockets, web streams. '.repeat(2000);
    // In: the peer sends gzip; our readable, piped through DecompressionStream, gives the text.
    p.peer.end(gzipSync(text));
    const inflated = await drain(p.ours.readable.pipeThrough(new DecompressionStream('gzip')));
    expect(inflated.toString()).toBe(text);
    // Out: the text, gzipped by CompressionStream, piped into our writable; the peer gunzips it.
    const reading = readToEnd(p.peer);
    await ReadableStream.from([Buffer.from(text)])
      .pipeThrough(new CompressionStream('gzip'))
      .pipeTo(p.ours.writable);
    const r = await reading;
    expect(gunzipSync(r.data).toString()).toBe(text);
  } finally {
    await p.close();
  }
});

test('stream.Duplex.fromWeb makes a Node duplex of the pair, both directions', async () => {
  const p = await pair({ name: 'Connection over TCP', side: 'Connection', tls: false }, setup.certs);
  try {
    const duplex = Duplex.fromWeb({ readable: p.ours.readable, writable: p.ours.writable });
    const peerGot = readToEnd(p.peer);
    duplex.end('from the duplex');
    p.peer.end('to the duplex');
    const parts: Buffer[] = [];
    for await (const chunk of duplex) parts.push(chunk as Buffer);
    expect(Buffer.concat(parts).toString()).toBe('to the duplex');
    expect((await peerGot).data.toString()).toBe('from the duplex');
  } finally {
    await p.close();
  }
});
