/**
 * Hostile peers of a server behind the PROXY protocol, on real sockets:
 * valid headers split at every point (each piece its own write, the next sent
 * once the server has taken the last), headers cut at every byte then FIN,
 * malformed headers of every kind, a header that trickles past the timeout,
 * 10,000 connections of garbage, and a spoofed header from outside
 * `proxyFrom`. Each bad one is reset, never reaches the handler and is never
 * counted by `connNum()`; memory stays bounded; a valid client is served
 * throughout. The inputs tried are counted.
 */
import * as crypto from 'node:crypto';
import type * as net from 'node:net';
import { TcpErrorCode, encodeProxyHeader, type ProxyHeaderInit } from '../src';
import type { ProxyGate } from '../src/proxy-accept';
import { V2_MAX_BYTES, V2_SIGNATURE } from '../src/proxy-protocol';
import { MemoryWatch, figure, mib, MiB } from '../../../libs/test-support/hostile';
import { closeAllRaw, connectAndRead, waitFor } from '../../../libs/test-support/net';
import { ProxyEcho, closedHow, connectWith, echoThrough } from './proxy-helpers';

const CLIENT: ProxyHeaderInit = {
  version: 2,
  command: 'PROXY',
  protocol: 'TCP6',
  source: { address: '2001:db8::42', port: 50123 },
  destination: { address: '2001:db8::1', port: 443 },
  tlvs: [
    { type: 0x01, value: Buffer.from('http/1.1') },
    { type: 0x05, value: Buffer.alloc(64, 0x61) },
    { type: 0x03, value: new Uint8Array(4) },
  ],
};
const V1 = encodeProxyHeader({
  version: 1,
  command: 'PROXY',
  protocol: 'TCP4',
  source: { address: '198.51.100.77', port: 65000 },
  destination: { address: '192.0.2.2', port: 80 },
});
const V2 = encodeProxyHeader(CLIENT);

let tried = 0;
let echo: ProxyEcho;
beforeEach(async () => {
  echo = await ProxyEcho.start({ proxyProtocol: 'any', proxyHeaderTimeoutMs: 3000 });
});
afterEach(async () => {
  await echo.server.shutdown(1000);
  expect(await closeAllRaw()).toEqual([]);
});
afterAll(() => {
  console.log(`hostile PROXY peers: ${tried} inputs tried`);
  figure(`hostile PROXY peers: ${tried} inputs tried over real sockets`);
});

function gate(): ProxyGate {
  return (echo.server as unknown as { _proxyGate: ProxyGate })._proxyGate;
}

/** A valid client through the same server, served as it should be. */
async function goodClientServed(): Promise<void> {
  const before = echo.seen.length;
  const sock = await connectWith(echo.port, V1);
  expect((await echoThrough(sock, Buffer.from('still served'))).toString()).toBe('still served');
  await waitFor(() => echo.seen.length === before + 1, 'the good client to be served');
  expect(echo.seen[echo.seen.length - 1].peer).toBe('198.51.100.77:65000');
}

/** Sends `bytes`, optionally FIN, and expects a reset with an ERR_PROXY_PROTOCOL report matching `why`. */
async function refused(bytes: Uint8Array, why: RegExp, fin = false): Promise<void> {
  const errorsBefore = echo.errorCount;
  const sock = await connectWith(echo.port, bytes);
  if (fin) sock.end();
  await closedHow(sock);
  await waitFor(
    () => echo.errorCount === errorsBefore + 1,
    `the error report for ${bytes.length} bytes${fin ? ' then FIN' : ''}`,
  );
  const err = echo.lastError!;
  expect(err.code).toBe(TcpErrorCode.ERR_PROXY_PROTOCOL);
  expect(err.message).toMatch(why);
  tried++;
}

test.each([
  ['v1', V1],
  ['v2', V2],
])(
  'a valid %s header split at every point, each piece its own write: the same client, the bytes after intact',
  async (_name, header) => {
    for (let cut = 1; cut < header.length; cut++) {
      const sock = await connectWith(echo.port, header.subarray(0, cut));
      sock.setNoDelay(true);
      // The second piece goes once the server holds the first: two reads, for certain.
      await waitFor(() => gate().pendingBytes() === cut, `the server to take ${cut} bytes`);
      sock.write(header.subarray(cut));
      const back = await echoThrough(sock, Buffer.from(`after ${cut}`));
      expect(back.toString()).toBe(`after ${cut}`);
      tried++;
    }
    await waitFor(() => echo.seen.length === header.length - 1, 'every handler');
    const expected = header === V1 ? '198.51.100.77:65000' : '[2001:db8::42]:50123';
    expect(new Set(echo.seen.map((s) => s.peer))).toEqual(new Set([expected]));
    expect(echo.errors).toEqual([]);
  },
);

test.each([
  ['v1', V1],
  ['v2', V2],
])('a %s header cut at every byte then FIN: reset, reported, never handled', async (_name, header) => {
  for (let n = 0; n < header.length; n++) {
    await refused(
      header.subarray(0, n),
      new RegExp(`closed the connection after ${n} bytes, before its PROXY header ended`),
      true,
    );
  }
  expect(echo.handlers).toBe(0);
  expect(echo.server.connNum()).toBe(0);
  await goodClientServed();
});

test('malformed headers of every kind are refused, each saying what was wrong', async () => {
  const longTlv = Buffer.from(V2);
  longTlv.writeUInt16BE(0xfff0, 16 + 36 + 1);
  const pastBound = Buffer.from(V2);
  pastBound.writeUInt16BE(V2_MAX_BYTES, 14);
  const badCrc = Buffer.from(V2);
  badCrc[20] ^= 0xff;
  const cases: Array<[Uint8Array, RegExp]> = [
    [Buffer.from('\x16\x03\x01\x02\x00\x01'), /not a PROXY v1 or v2 header: it starts with byte 0x16/],
    [Buffer.from('PROXZ TCP4'), /bad signature at byte 4/],
    [Buffer.concat([V2_SIGNATURE.subarray(0, 7), Buffer.from('XUIT\n')]), /bad signature at byte 7/],
    [Buffer.from(`PROXY UNKNOWN ${'a'.repeat(120)}`), /no CRLF within 107 bytes/],
    [Buffer.from('PROXY TCP4 1.1.1.1 2.2.2.2 1 2\r3'), /CR without LF/],
    [Buffer.from('PROXY TCP4 1.1.1.1 2.2.2.2 1 2\n'), /LF without CR/],
    [Buffer.from('PROXY TCP4 1.1.1.1 2.2.2.2 99999 2\r\n'), /port/],
    [pastBound, /more than the 4096 this server accepts/],
    [longTlv, /past the end of its block/],
    [badCrc, /CRC32C is 0x/],
  ];
  for (const [bytes, why] of cases) await refused(bytes, why);
  expect(echo.handlers).toBe(0);
  await goodClientServed();
});

test('a header that trickles in a byte at a time past proxyHeaderTimeoutMs is reset', async () => {
  await echo.server.shutdown(1000);
  echo = await ProxyEcho.start({ proxyProtocol: 'v1', proxyHeaderTimeoutMs: 300 });
  const sock = await connectWith(echo.port, V1.subarray(0, 1));
  sock.setNoDelay(true);
  const how = closedHow(sock);
  let sent = 1;
  // Each byte once the server holds the one before, until it gives up.
  while (!sock.destroyed && sent < V1.length - 1) {
    try {
      await waitFor(() => sock.destroyed || gate().pendingBytes() === sent, 'the server to take the byte', 2000);
    } catch {
      break;
    }
    if (sock.destroyed || gate().pending === 0) break;
    sock.write(V1.subarray(sent, sent + 1));
    sent++;
    if (sent === V1.length - 1) break;
  }
  expect(await how).toBe('reset');
  await waitFor(() => echo.errors.length === 1, 'the report');
  expect(echo.errors[0].message).toMatch(/no complete PROXY header within 300 ms/);
  expect(echo.handlers).toBe(0);
  tried++;
});

test('10,000 connections of garbage: each reset, none handled, memory bounded, a good client served after', async () => {
  const TOTAL = 10_000;
  const BATCH = 100;
  const watch = new MemoryWatch(50, { retained: true });
  const started = Date.now();
  let resets = 0;
  let served = 0;
  /** Garbage of several kinds: random bytes, a v1 start then noise, a v2 signature then a huge length or noise. */
  const garbage = (i: number): Uint8Array => {
    const noise = crypto.randomBytes(1 + (i % 200));
    switch (i % 4) {
      case 0:
        return noise[0] === 0x50 || noise[0] === 0x0d ? Buffer.concat([Buffer.from([0x41]), noise]) : noise;
      case 1:
        // No CRLF within 107 bytes, or a lone LF: refused either way, without waiting.
        return Buffer.concat([
          Buffer.from('PROXY TCP4 '),
          Buffer.from(noise.toString('base64').slice(0, 150)),
          Buffer.from('\n'),
        ]);
      case 2:
        return Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x11, 0xff, 0xff]), noise]);
      default:
        // Addresses, then a TLV that says more bytes than the header has.
        return Buffer.concat([
          V2_SIGNATURE,
          Buffer.from([0x21, 0x11, 0x00, 12 + 3]),
          crypto.randomBytes(12),
          Buffer.from([0x05, 0xff, 0xff]),
        ]);
    }
  };
  for (let from = 0; from < TOTAL; from += BATCH) {
    await Promise.all(
      Array.from({ length: BATCH }, async (_, k) => {
        let sock: net.Socket;
        try {
          sock = await connectWith(echo.port, garbage(from + k));
        } catch {
          resets++;
          return;
        }
        if ((await closedHow(sock)) === 'reset') resets++;
        tried++;
      }),
    );
    // After every tenth batch: a full collection, then what is left (what the server keeps).
    if (from % (10 * BATCH) === 0) watch.sample();
    if (from % 2000 === 0) {
      await goodClientServed();
      served++;
    }
  }
  const mem = watch.stop();
  const seconds = (Date.now() - started) / 1000;
  await waitFor(
    () => echo.errorCodes.get(TcpErrorCode.ERR_PROXY_PROTOCOL) === TOTAL,
    'every refusal to be reported',
    10_000,
  );
  expect([...echo.errorCodes.keys()]).toEqual([TcpErrorCode.ERR_PROXY_PROTOCOL]);
  expect(echo.handlers).toBe(served);
  expect(echo.server.connNum()).toBe(0);
  expect(gate().pending).toBe(0);
  // Some resets arrive after our FIN and show as a plain close; most show as ECONNRESET.
  expect(resets).toBeGreaterThan(TOTAL * 0.5);
  await goodClientServed();
  const line = `10,000 garbage connections behind proxyProtocol: ${seconds.toFixed(1)} s, ${resets} seen as resets, peak growth rss ${mib(mem.peakGrowth.rss)}, heapUsed ${mib(mem.peakGrowth.heapUsed)}, arrayBuffers ${mib(mem.peakGrowth.arrayBuffers)}; retained after collection: heapUsed ${mib(mem.retainedGrowth.heapUsed)}, arrayBuffers ${mib(mem.retainedGrowth.arrayBuffers)}`;
  console.log(line);
  figure(line);
  // 100 at a time, each holding at most one header (<= 4 KiB) until refused. What is left after a
  // collection must not grow with the count (10,000 connections kept would be > 10 MiB of sockets
  // alone); the peak, garbage included, stays within a bound far below one header per connection.
  expect(mem.retainedGrowth.arrayBuffers).toBeLessThan(2 * MiB);
  expect(mem.retainedGrowth.heapUsed).toBeLessThan(8 * MiB);
  expect(mem.peakGrowth.arrayBuffers).toBeLessThan(32 * MiB);
}, 120_000);

test('spoofing: a header from outside proxyFrom is refused before a byte is read, whatever it claims', async () => {
  await echo.server.shutdown(1000);
  echo = await ProxyEcho.start({
    proxyProtocol: 'any',
    proxyFrom: ['10.0.0.0/8', '::ffff:192.168.0.0/112', 'fd00::/8'],
  });
  for (const header of [V1, V2]) {
    // The reset may come before the connect completes on our side: either way nothing is served.
    const how = await connectWith(echo.port, header).then(closedHow, (err: NodeJS.ErrnoException) => err.code);
    expect(['reset', 'ECONNRESET']).toContain(how);
    tried++;
  }
  const silent = await connectAndRead(echo.port);
  expect([silent.how, silent.data.length]).toEqual(['error', 0]);
  await waitFor(() => echo.errors.length === 3, 'every report');
  expect(echo.errors.every((e) => /not in proxyFrom/.test(e.message))).toBe(true);
  expect(echo.handlers).toBe(0);
});
