/**
 * sendv: several buffers as one write, with send's guarantees (every chunk
 * reusable once it resolves, backpressure, timeout), on both sides, TCP and
 * TLS; and the byte counters bytesRead/bytesWritten.
 */
import { TcpError } from '../src';
import { firstPatternMismatch, pattern, readToEnd } from '../../../test-support/net';
import { describeConnectedPairs, guardLeaks, MiB, VARIANTS } from './helpers';

guardLeaks();

describeConnectedPairs(VARIANTS, (p) => {
  async function closeAndRead(reading: ReturnType<typeof readToEnd>): Promise<Buffer> {
    if ('disconnect' in p.ours) p.ours.disconnect();
    else await p.ours.close();
    const r = await reading;
    expect(r.how).toBe('end');
    return r.data;
  }

  test('the chunks arrive in order as one stream; the total is returned; strings go as UTF-8; counters add up', async () => {
    const reading = readToEnd(p.peer);
    const header = Buffer.from([0, 0, 0, 5]);
    expect(await p.ours.sendv([header, 'héllo'.slice(0, 4), new Uint8Array([0x21])])).toBe(4 + 5 + 1);
    expect(await p.ours.sendv([])).toBe(0);
    expect(await p.ours.sendv(['', Buffer.alloc(0)])).toBe(0);
    expect(await p.ours.sendv(['x'], { ms: 1000 })).toBe(1);
    expect(p.ours.bytesWritten).toBe(11);
    p.peer.write('abc');
    const buf = Buffer.alloc(3);
    expect(await p.ours.recvn(buf, 3, 2000)).toBe(3);
    expect(p.ours.bytesRead).toBe(3);
    const data = await closeAndRead(reading);
    expect(data.equals(Buffer.concat([header, Buffer.from('héll'), Buffer.from([0x21]), Buffer.from('x')]))).toBe(true);
  });

  test('a resolved sendv has let go of every chunk: overwriting them at once does not change what the peer gets', async () => {
    const reading = readToEnd(p.peer, 1); // slow reader: the writes cannot complete at once
    const a = pattern(0, 2 * MiB);
    const b = pattern(2 * MiB, 3 * MiB + 7);
    const c = pattern(5 * MiB + 7, 100);
    expect(await p.ours.sendv([a, b, c], 20_000)).toBe(a.length + b.length + c.length);
    a.fill(0xaa);
    b.fill(0xbb);
    c.fill(0xcc);
    const data = await closeAndRead(reading);
    expect(data.length).toBe(5 * MiB + 107);
    expect(firstPatternMismatch(data, 0)).toBe(-1);
  });

  test('a peer that does not read: sendv waits, times out with ETIMEDOUT and resets; a send meanwhile is ERR_CONCURRENT_SEND', async () => {
    p.peer.pause();
    const big = pattern(0, 16 * MiB);
    const pending = p.ours.sendv([big.subarray(0, 8 * MiB), big.subarray(8 * MiB)], 200);
    await expect(p.ours.send('x')).rejects.toMatchObject({ code: 'ERR_CONCURRENT_SEND' });
    await expect(p.ours.sendv(['x'])).rejects.toBeInstanceOf(TcpError);
    expect(await pending).toBe(-1);
    expect(p.ours.lastError?.code).toBe('ETIMEDOUT');
    expect(await p.ours.sendv(['late'])).toBeLessThanOrEqual(0);
  });

  test('bad arguments throw TypeError and send nothing', async () => {
    expect(() => p.ours.sendv('abc' as never)).toThrow(TypeError);
    expect(() => p.ours.sendv([Buffer.from('a'), 42 as never])).toThrow(TypeError);
    expect(() => p.ours.sendv([Buffer.from('a')], 'soon' as never)).toThrow(TypeError);
    const reading = readToEnd(p.peer);
    expect(await p.ours.sendv(['ok'])).toBe(2);
    expect((await closeAndRead(reading)).toString()).toBe('ok');
  });
});
