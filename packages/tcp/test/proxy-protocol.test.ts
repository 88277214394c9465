/**
 * The PROXY header parser and encoder, straight on bytes: every split point
 * of valid v1 and v2 headers, truncation at every byte, bad signatures, v1
 * without CRLF within 107 bytes, lone CR and LF, v2 lengths past the bound,
 * TLVs that overrun, CRC32C right and wrong, and encode -> parse round trips.
 */
import * as fc from 'fast-check';
import {
  PROXY_INVALID,
  PROXY_NEED_MORE,
  PP2_TYPE,
  ProxyHeaderParser,
  V2_MAX_BYTES,
  V2_SIGNATURE,
  crc32c,
  encodeProxyHeader,
  type ProxyHeaderInit,
  type ProxyProtocolVersion,
} from '../src/proxy-protocol';

const APP = Buffer.from('GET / HTTP/1.1\r\n');

/** Feeds `bytes` in the pieces `cuts` makes; the parser's last answer and the bytes it did not take. */
function feedSplit(
  bytes: Uint8Array,
  cuts: number[],
  accept: ProxyProtocolVersion = 'any',
): { p: ProxyHeaderParser; r: number; rest: Buffer } {
  const p = new ProxyHeaderParser(accept);
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    if (to <= from) continue;
    const r = p.feed(bytes, from, to);
    if (r >= 0) return { p, r, rest: Buffer.from(bytes.subarray(from + r)) };
    if (r === PROXY_INVALID) return { p, r, rest: Buffer.alloc(0) };
    from = to;
  }
  return { p, r: PROXY_NEED_MORE, rest: Buffer.alloc(0) };
}

const V1_TCP4 = Buffer.from('PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n');
const V1_TCP6 = Buffer.from('PROXY TCP6 2001:db8::1 2001:db8::2 65535 0\r\n');
const V1_UNKNOWN = Buffer.from('PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n');
const V2_TCP4: ProxyHeaderInit = {
  version: 2,
  command: 'PROXY',
  protocol: 'TCP4',
  source: { address: '203.0.113.7', port: 51234 },
  destination: { address: '192.0.2.1', port: 443 },
  tlvs: [
    { type: PP2_TYPE.ALPN, value: Buffer.from('h2') },
    { type: PP2_TYPE.UNIQUE_ID, value: Buffer.alloc(128, 7) },
    { type: PP2_TYPE.SSL, value: Buffer.from([1, 0, 0, 0, 0, 0x21, 0, 7, ...Buffer.from('TLSv1.3')]) },
    { type: PP2_TYPE.CRC32C, value: new Uint8Array(4) },
  ],
};
const VALID: Array<[string, Uint8Array]> = [
  ['v1 TCP4', V1_TCP4],
  ['v1 TCP6', V1_TCP6],
  ['v1 UNKNOWN', V1_UNKNOWN],
  ['v2 TCP4 with TLVs and CRC32C', encodeProxyHeader(V2_TCP4)],
  [
    'v2 TCP6',
    encodeProxyHeader({
      version: 2,
      command: 'PROXY',
      protocol: 'TCP6',
      source: { address: '2001:db8::7', port: 1 },
      destination: { address: '::1', port: 2 },
    }),
  ],
  [
    'v2 LOCAL',
    encodeProxyHeader({ version: 2, command: 'LOCAL', protocol: 'UNKNOWN', source: null, destination: null }),
  ],
  [
    'v2 UNIX',
    encodeProxyHeader({
      version: 2,
      command: 'PROXY',
      protocol: 'UNIX',
      source: { address: '/run/a.sock', port: 0 },
      destination: { address: '/run/b', port: 0 },
    }),
  ],
];

describe('PROXY header parser', () => {
  let tried = 0;
  afterAll(() => console.log(`PROXY parser: ${tried} inputs tried`));

  test.each(VALID)(
    '%s: every split point into two and three pieces gives the same header and keeps the bytes after it',
    (_name, header) => {
      const whole = Buffer.concat([header, APP]);
      const once = feedSplit(whole, []);
      expect(once.r).toBe(header.length);
      expect(once.rest).toEqual(APP);
      for (let a = 1; a < whole.length; a++) {
        const two = feedSplit(whole, [a]);
        tried++;
        expect(two.p.info).toEqual(once.p.info);
        expect(two.rest).toEqual(APP);
        for (let b = a + 1; b < whole.length; b += 7) {
          const three = feedSplit(whole, [a, b]);
          tried++;
          expect(three.p.info).toEqual(once.p.info);
          expect(three.rest).toEqual(APP);
        }
      }
      // One byte at a time.
      const bytewise = feedSplit(
        whole,
        Array.from({ length: whole.length }, (_, i) => i),
      );
      expect(bytewise.p.info).toEqual(once.p.info);
      expect(bytewise.rest).toEqual(APP);
    },
  );

  test.each(VALID)(
    '%s: cut short at every byte, the parser asks for more and holds no more than it was given',
    (_name, header) => {
      for (let n = 0; n < header.length; n++) {
        const { p, r } = feedSplit(header.subarray(0, n), []);
        tried++;
        expect(r).toBe(PROXY_NEED_MORE);
        expect(p.taken).toBe(n);
      }
    },
  );

  test('what each version accepts', () => {
    const v2 = encodeProxyHeader(V2_TCP4);
    expect(feedSplit(V1_TCP4, [], 'v1').p.info?.version).toBe(1);
    expect(feedSplit(v2, [], 'v2').p.info?.version).toBe(2);
    const v1AsV2 = feedSplit(V1_TCP4, [], 'v2');
    expect(v1AsV2.r).toBe(PROXY_INVALID);
    expect(v1AsV2.p.error).toMatch(/not a PROXY v2 header: it starts with byte 0x50/);
    const v2AsV1 = feedSplit(v2, [], 'v1');
    expect(v2AsV1.p.error).toMatch(/not a PROXY v1 header/);
  });

  test('the fields of a v1 and a v2 header', () => {
    expect(feedSplit(V1_TCP4, []).p.info).toEqual({
      version: 1,
      command: 'PROXY',
      protocol: 'TCP4',
      source: { address: '192.0.2.1', port: 56324 },
      destination: { address: '198.51.100.2', port: 443 },
      tlvs: [],
    });
    expect(feedSplit(V1_UNKNOWN, []).p.info).toMatchObject({ protocol: 'UNKNOWN', source: null, destination: null });
    const v2 = feedSplit(encodeProxyHeader(V2_TCP4), []).p.info!;
    expect(v2).toMatchObject({
      version: 2,
      command: 'PROXY',
      protocol: 'TCP4',
      source: V2_TCP4.source,
      destination: V2_TCP4.destination,
    });
    expect(v2.tlvs.map((t) => t.type)).toEqual([PP2_TYPE.ALPN, PP2_TYPE.UNIQUE_ID, PP2_TYPE.SSL, PP2_TYPE.CRC32C]);
    expect(Buffer.from(v2.tlvs[0].value).toString()).toBe('h2');
  });

  test('a wrong first byte, a wrong signature byte anywhere, a wrong version or command', () => {
    const bad = feedSplit(Buffer.from('GET / HTTP/1.1\r\n'), []);
    expect(bad.r).toBe(PROXY_INVALID);
    expect(bad.p.error).toMatch(/not a PROXY v1 or v2 header: it starts with byte 0x47/);
    for (const header of [V1_TCP4.subarray(0, 6), V2_SIGNATURE]) {
      for (let i = 1; i < header.length; i++) {
        const wrong = Buffer.from(header);
        wrong[i] ^= 0x20;
        const r = feedSplit(wrong, []);
        tried++;
        expect(r.r).toBe(PROXY_INVALID);
        expect(r.p.error).toMatch(new RegExp(`bad signature at byte ${i}`));
        expect(r.p.taken).toBe(i);
      }
    }
    const v2 = Buffer.from(encodeProxyHeader(V2_TCP4));
    v2[12] = 0x11;
    expect(feedSplit(v2, []).p.error).toMatch(/version 1 in byte 12/);
    v2[12] = 0x22;
    expect(feedSplit(v2, []).p.error).toMatch(/command 2/);
  });

  test('v1: no CRLF within 107 bytes, a lone CR, a lone LF, bad fields', () => {
    const long = Buffer.from(`PROXY UNKNOWN ${'x'.repeat(200)}`);
    const r = feedSplit(long, []);
    expect(r.r).toBe(PROXY_INVALID);
    expect(r.p.error).toMatch(/no CRLF within 107 bytes/);
    expect(r.p.taken).toBe(107);
    // 107 bytes exactly with CRLF is fine.
    const max = Buffer.from(`PROXY UNKNOWN ${'x'.repeat(107 - 16)}\r\n`);
    expect(max.length).toBe(107);
    expect(feedSplit(max, []).r).toBe(107);
    expect(feedSplit(Buffer.from('PROXY TCP4 1.2.3.4\r1.2.3.4 1 2\r\n'), []).p.error).toMatch(/CR without LF/);
    expect(feedSplit(Buffer.from('PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n'), []).p.error).toMatch(/LF without CR/);
    expect(feedSplit(Buffer.from('PROXY \n'), []).p.error).toMatch(/LF without CR/);
    const fields: Array<[string, RegExp]> = [
      ['PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n', /protocol "TCP5"/],
      ['PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n', /3 fields/],
      ['PROXY TCP4 1.2.3.4  1.2.3.4 1 2\r\n', /fields/],
      ['PROXY TCP4 ::1 1.2.3.4 1 2\r\n', /not IPv4/],
      ['PROXY TCP6 1.2.3.4 ::1 1 2\r\n', /not IPv6/],
      ['PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n', /port/],
      ['PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n', /port/],
      ['PROXY TCP4 1.2.3.4 1.2.3.4 -1 2\r\n', /port/],
      ['PROXY \r\n', /protocol ""/],
    ];
    for (const [line, why] of fields) {
      const got = feedSplit(Buffer.from(line), []);
      tried++;
      expect(got.r).toBe(PROXY_INVALID);
      expect(got.p.error).toMatch(why);
    }
  });

  test('v2: a length past the bound is refused after 16 bytes; lengths too short for the addresses', () => {
    const header = Buffer.from(encodeProxyHeader(V2_TCP4));
    header.writeUInt16BE(V2_MAX_BYTES - 16 + 1, 14);
    const r = feedSplit(header, []);
    expect(r.r).toBe(PROXY_INVALID);
    expect(r.p.taken).toBe(16);
    expect(r.p.error).toMatch(new RegExp(`${V2_MAX_BYTES + 1} bytes long, more than the ${V2_MAX_BYTES}`));
    const short = Buffer.from(header.subarray(0, 16 + 11));
    short.writeUInt16BE(11, 14);
    expect(feedSplit(short, []).p.error).toMatch(/too short for its addresses: 11 bytes, needs 12/);
    const udp = Buffer.from(encodeProxyHeader({ ...V2_TCP4, tlvs: [] }));
    udp[13] = 0x12;
    expect(feedSplit(udp, []).p.error).toMatch(/datagram/);
    udp[13] = 0x41;
    expect(feedSplit(udp, []).p.error).toMatch(/address family 4/);
  });

  test('v2: TLVs whose lengths overrun their block, at the top and inside SSL', () => {
    const base = encodeProxyHeader({
      ...V2_TCP4,
      tlvs: [{ type: PP2_TYPE.AUTHORITY, value: Buffer.from('example.com') }],
    });
    for (let extra = 1; extra < 300; extra += 37) {
      const h = Buffer.from(base);
      h.writeUInt16BE(11 + extra, 16 + 12 + 1);
      const r = feedSplit(h, []);
      tried++;
      expect(r.r).toBe(PROXY_INVALID);
      expect(r.p.error).toMatch(new RegExp(`past the end of its block by ${extra}`));
    }
    // A TLV cut inside its own type and length.
    const cut = Buffer.concat([base, Buffer.from([0x04, 0x00])]);
    cut.writeUInt16BE(cut.length - 16, 14);
    expect(feedSplit(cut, []).p.error).toMatch(/cut short: 2 bytes left/);
    const ssl = Buffer.from(
      encodeProxyHeader({
        ...V2_TCP4,
        tlvs: [{ type: PP2_TYPE.SSL, value: Buffer.from([1, 0, 0, 0, 0, 0x22, 0, 9, 0x41]) }],
      }),
    );
    expect(feedSplit(ssl, []).p.error).toMatch(/SSL field: TLV of type 0x22 .* past the end of its block by 8/);
    const longId = encodeProxyHeader({ ...V2_TCP4, tlvs: [{ type: PP2_TYPE.UNIQUE_ID, value: Buffer.alloc(129) }] });
    expect(feedSplit(longId, []).p.error).toMatch(/UNIQUE_ID of 129 bytes/);
  });

  test('v2: CRC32C checked when present, right and wrong', () => {
    // The check value of CRC-32C (RFC 3720): "123456789" -> 0xe3069283.
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    const good = Buffer.from(encodeProxyHeader(V2_TCP4));
    expect(feedSplit(good, []).r).toBe(good.length);
    let flipped = 0;
    for (let i = 16; i < good.length; i += 5) {
      const bad = Buffer.from(good);
      bad[i] ^= 0x01;
      const r = feedSplit(bad, []);
      tried++;
      // A flip in a TLV's length makes it overrun instead; either way it is refused.
      expect(r.r).toBe(PROXY_INVALID);
      if (/CRC32C is/.test(r.p.error)) flipped++;
    }
    expect(flipped).toBeGreaterThan(20);
    const wrongSize = encodeProxyHeader({ ...V2_TCP4, tlvs: [{ type: PP2_TYPE.NOOP, value: new Uint8Array(0) }] });
    const w = Buffer.from(wrongSize);
    w[16 + 12] = PP2_TYPE.CRC32C;
    expect(feedSplit(w, []).p.error).toMatch(/CRC32C field of 0 bytes/);
  });

  test('UNSPEC with a block that is not TLVs is accepted as the specification says (ignored)', () => {
    const h = Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x00, 0x00, 0x02, 0xff, 0xff])]);
    const r = feedSplit(h, []);
    expect(r.r).toBe(h.length);
    expect(r.p.info).toMatchObject({ version: 2, command: 'PROXY', protocol: 'UNKNOWN', source: null, tlvs: [] });
  });

  test('a finished parser refuses more bytes', () => {
    const p = new ProxyHeaderParser('any');
    expect(p.feed(V1_TCP4)).toBe(V1_TCP4.length);
    expect(() => p.feed(V1_TCP4)).toThrow(/done/);
  });

  test('encode -> parse round trips, v1 and v2, any split point (property)', () => {
    const port = fc.integer({ min: 0, max: 65535 });
    const v4 = fc.ipV4();
    const v6 = fc.ipV6();
    const tlv = fc.record({
      type: fc.constantFrom(PP2_TYPE.ALPN, PP2_TYPE.AUTHORITY, PP2_TYPE.NOOP, PP2_TYPE.NETNS, 0xe0),
      value: fc.uint8Array({ maxLength: 40 }),
    });
    const endpoints = fc.oneof(
      fc.record({
        protocol: fc.constant('TCP4' as const),
        source: fc.record({ address: v4, port }),
        destination: fc.record({ address: v4, port }),
      }),
      fc.record({
        protocol: fc.constant('TCP6' as const),
        source: fc.record({ address: v6, port }),
        destination: fc.record({ address: v6, port }),
      }),
      fc.record({
        protocol: fc.constant('UNKNOWN' as const),
        source: fc.constant(null),
        destination: fc.constant(null),
      }),
    );
    fc.assert(
      fc.property(
        endpoints,
        fc.constantFrom(1 as const, 2 as const),
        fc.array(tlv, { maxLength: 4 }),
        fc.boolean(),
        fc.nat(),
        (ep, version, tlvs, crc, cutSeed) => {
          tried++;
          const withCrc = crc ? [...tlvs, { type: PP2_TYPE.CRC32C, value: new Uint8Array(4) }] : tlvs;
          const init: ProxyHeaderInit = { version, command: 'PROXY', ...ep, tlvs: version === 2 ? withCrc : [] };
          const bytes = encodeProxyHeader(init);
          const whole = Buffer.concat([bytes, APP]);
          const cut = 1 + (cutSeed % (whole.length - 1));
          const { p, r, rest } = feedSplit(whole, [cut]);
          expect(p.error).toBe('');
          expect(r).toBeGreaterThanOrEqual(0);
          expect(rest).toEqual(APP);
          const info = p.info!;
          expect(info.version).toBe(version);
          expect(info.protocol).toBe(ep.protocol);
          if (ep.source !== null) {
            // Addresses come back in the form Node writes them: compare as bytes.
            expect(
              encodeProxyHeader({ ...init, tlvs: [], version: 2, source: info.source, destination: info.destination }),
            ).toEqual(encodeProxyHeader({ ...init, tlvs: [], version: 2 }));
          }
          if (version === 2)
            expect(info.tlvs.map((t) => [t.type, Buffer.from(t.value).toString('hex')])).toEqual(
              init.tlvs!.map((t) => [
                t.type,
                t.type === PP2_TYPE.CRC32C
                  ? Buffer.from(info.tlvs.find((x) => x.type === PP2_TYPE.CRC32C)!.value).toString('hex')
                  : Buffer.from(t.value).toString('hex'),
              ]),
            );
        },
      ),
      { numRuns: 500 },
    );
  });

  test('the encoder refuses what a version cannot say, and bad fields', () => {
    expect(() =>
      encodeProxyHeader({ version: 1, command: 'LOCAL', protocol: 'UNKNOWN', source: null, destination: null }),
    ).toThrow(/no LOCAL/);
    expect(() =>
      encodeProxyHeader({
        version: 1,
        command: 'PROXY',
        protocol: 'UNIX',
        source: { address: '/a', port: 0 },
        destination: { address: '/b', port: 0 },
      }),
    ).toThrow(/UNIX/);
    expect(() => encodeProxyHeader({ ...V2_TCP4, version: 1 })).toThrow(/no TLVs/);
    expect(() => encodeProxyHeader({ ...V2_TCP4, source: { address: '::1', port: 1 } })).toThrow(TypeError);
    expect(() => encodeProxyHeader({ ...V2_TCP4, source: { address: '1.2.3.4', port: 70000 } })).toThrow(RangeError);
    expect(() => encodeProxyHeader({ ...V2_TCP4, version: 3 as 2 })).toThrow(/version must be 1 or 2/);
    expect(
      Buffer.from(
        encodeProxyHeader({ version: 1, command: 'PROXY', protocol: 'UNKNOWN', source: null, destination: null }),
      ).toString(),
    ).toBe('PROXY UNKNOWN\r\n');
  });
});
