/**
 * `Server` with `proxyProtocol`, on real sockets, plain and TLS: the header
 * is read before TLS and before the handler, `conn.peer()` is the client it
 * names, the bytes after it reach the handler (none lost, whatever arrived
 * with the header), and a bad, late or untrusted header resets the connection
 * before the handler runs or `connNum()` counts it, with `ERR_PROXY_PROTOCOL`.
 */
import { Server, TcpErrorCode, encodeProxyHeader, fastPaths, type ProxyHeaderInit } from '../src';
import { compileProxyFrom, proxyAllowed } from '../src/proxy-accept';
import { makeTestCerts, type TestCerts } from '../../../libs/test-support/certs';
import { closeAllRaw, connectAndRead, patternSlice, waitFor } from '../../../libs/test-support/net';
import { ProxyEcho, closedHow, connectWith, echoThrough, tlsAfterHeader } from './proxy-helpers';

const CLIENT: ProxyHeaderInit = {
  version: 2,
  command: 'PROXY',
  protocol: 'TCP4',
  source: { address: '203.0.113.9', port: 40001 },
  destination: { address: '192.0.2.10', port: 443 },
  tlvs: [{ type: 0x02, value: Buffer.from('api.example') }],
};
const V1 = encodeProxyHeader({ ...CLIENT, version: 1, tlvs: [] });
const V2 = encodeProxyHeader(CLIENT);

let certs: TestCerts;
const servers: ProxyEcho[] = [];
beforeAll(async () => {
  certs = await makeTestCerts();
});
afterAll(() => certs.cleanup());
afterEach(async () => {
  for (const s of servers.splice(0)) await s.server.shutdown(1000);
  expect(await closeAllRaw()).toEqual([]);
});

async function start(...args: Parameters<typeof ProxyEcho.start>): Promise<ProxyEcho> {
  const s = await ProxyEcho.start(...args);
  servers.push(s);
  return s;
}

describe.each([
  ['plain', false],
  ['TLS', true],
])('%s', (_name, useTls) => {
  const c = (): TestCerts | null => (useTls ? certs : null);

  test.each([
    ['v1', V1],
    ['v2', V2],
  ])(
    'a %s header: peer() is the client it names, conn.proxy says the rest, 1 MiB echoes intact',
    async (version, header) => {
      const s = await start({ proxyProtocol: 'any' }, c());
      const data = patternSlice(0, 1024 * 1024);
      const sock = useTls ? await tlsAfterHeader(s.port, header, certs) : await connectWith(s.port, header);
      const via = `127.0.0.1:${sock.localPort ?? (sock as unknown as { _parent: { localPort: number } })._parent.localPort}`;
      const back = await echoThrough(sock, data);
      expect(back.equals(data)).toBe(true);
      await waitFor(() => s.seen.length === 1, 'the handler to finish');
      const seen = s.seen[0];
      expect(seen.peer).toBe('203.0.113.9:40001');
      expect(seen.proxy).toMatchObject({
        version: version === 'v1' ? 1 : 2,
        command: 'PROXY',
        protocol: 'TCP4',
        source: CLIENT.source,
        destination: CLIENT.destination,
        via,
      });
      if (version === 'v2') expect(Buffer.from(seen.proxy!.tlvs[0].value).toString()).toBe('api.example');
      // Reading the header first costs no fast path: plain connections read through onread, TLS ones decrypt into it.
      expect(seen.onread).toBe(useTls ? fastPaths().tlsOnread : fastPaths().onreadAccept);
      expect(seen.bytes.equals(data)).toBe(true);
      expect(s.errors).toEqual([]);
    },
  );

  test('the header and the first bytes in one write: those bytes are the first the handler reads', async () => {
    const s = await start({ proxyProtocol: 'v2' }, c());
    let sock;
    if (useTls) {
      // The ClientHello follows the header in the same segment (corked).
      sock = await tlsAfterHeader(s.port, V2, certs, '127.0.0.1', true);
    } else {
      sock = await connectWith(s.port, Buffer.concat([V2, Buffer.from('first bytes|')]));
    }
    const back = await echoThrough(sock, Buffer.from('then more'));
    expect(back.toString()).toBe(useTls ? 'then more' : 'first bytes|then more');
    await waitFor(() => s.seen.length === 1, 'the handler to finish');
    expect(s.seen[0].peer).toBe('203.0.113.9:40001');
  });

  test('LOCAL (a health check) and UNKNOWN: peer() stays the socket peer', async () => {
    const s = await start({ proxyProtocol: 'any' }, c());
    const local = encodeProxyHeader({
      version: 2,
      command: 'LOCAL',
      protocol: 'UNKNOWN',
      source: null,
      destination: null,
    });
    const unknown = encodeProxyHeader({
      version: 1,
      command: 'PROXY',
      protocol: 'UNKNOWN',
      source: null,
      destination: null,
    });
    for (const header of [local, unknown]) {
      const sock = useTls ? await tlsAfterHeader(s.port, header, certs) : await connectWith(s.port, header);
      await echoThrough(sock, Buffer.from('x'));
    }
    await waitFor(() => s.seen.length === 2, 'both handlers to finish');
    for (const seen of s.seen) {
      expect(seen.peer).toBe(seen.proxy!.via);
      expect(seen.peer).toMatch(/^127\.0\.0\.1:\d+$/);
    }
    expect(s.seen.map((x) => x.proxy!.command).sort()).toEqual(['LOCAL', 'PROXY']);
  });

  test('no header: reset, the handler never runs, connNum never counts it, ERR_PROXY_PROTOCOL says why', async () => {
    const s = await start({ proxyProtocol: 'any' }, c());
    let maxConns = 0;
    const sampler = setInterval(() => (maxConns = Math.max(maxConns, s.server.connNum())), 1);
    const sock = await connectWith(s.port, Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    expect(await closedHow(sock)).toBe('reset');
    clearInterval(sampler);
    await waitFor(() => s.errors.length === 1, 'the error report');
    expect(s.errors[0].code).toBe(TcpErrorCode.ERR_PROXY_PROTOCOL);
    expect(s.errors[0].message).toMatch(
      /not a PROXY v1 or v2 header: it starts with byte 0x47; the connection was reset/,
    );
    expect(s.errors[0].address).toBe('127.0.0.1');
    expect(s.handlers).toBe(0);
    expect(maxConns).toBe(0);
  });

  test('a header that does not end within proxyHeaderTimeoutMs is reset', async () => {
    const s = await start({ proxyProtocol: 'v1', proxyHeaderTimeoutMs: 100 }, c());
    const sock = await connectWith(s.port, Buffer.from('PROXY TCP4 1.2.3.4 '));
    expect(await closedHow(sock)).toBe('reset');
    await waitFor(() => s.errors.length === 1, 'the error report');
    expect(s.errors[0].message).toMatch(/no complete PROXY header within 100 ms \(19 bytes came/);
    expect(s.handlers).toBe(0);
  });

  test('FIN before the header ends: reset and reported', async () => {
    const s = await start({ proxyProtocol: 'v2' }, c());
    const sock = await connectWith(s.port, V2.subarray(0, 20));
    sock.end();
    await closedHow(sock);
    await waitFor(() => s.errors.length === 1, 'the error report');
    expect(s.errors[0].message).toMatch(/closed the connection after 20 bytes, before its PROXY header ended/);
    expect(s.handlers).toBe(0);
  });

  test('proxyFrom: a peer outside it is reset before a byte is read; one inside it is served', async () => {
    const refused = await start({ proxyProtocol: 'any', proxyFrom: ['10.0.0.0/8', 'fd00::/8'] }, c());
    const got = await connectAndRead(refused.port);
    expect([got.how, got.error?.code, got.data.length]).toEqual(['error', 'ECONNRESET', 0]);
    await waitFor(() => refused.errors.length === 1, 'the error report');
    expect(refused.errors[0].message).toMatch(/connection from 127\.0\.0\.1 refused: not in proxyFrom/);
    expect(refused.handlers).toBe(0);
    const allowed = await start({ proxyProtocol: 'any', proxyFrom: ['::ffff:127.0.0.0/104'] }, c());
    const ok = useTls ? await tlsAfterHeader(allowed.port, V1, certs) : await connectWith(allowed.port, V1);
    await echoThrough(ok, Buffer.from('hi'));
    await waitFor(() => allowed.seen.length === 1, 'the handler');
    expect(allowed.seen[0].peer).toBe('203.0.113.9:40001');
  });

  test('shutdown() resets connections still sending their header', async () => {
    const s = await ProxyEcho.start({ proxyProtocol: 'v2' }, c());
    const sock = await connectWith(s.port, V2.subarray(0, 5));
    await waitFor(
      () => (s.server as unknown as { _proxyGate: { pending: number } })._proxyGate.pending === 1,
      'the header read to start',
    );
    const how = closedHow(sock);
    await s.server.shutdown(1000);
    expect(await how).toBe('reset');
    expect(s.handlers).toBe(0);
  });
});

test('IPv6: a v2 TCP6 header over ::1, and proxyFrom with an IPv6 block', async () => {
  const s = await start({ proxyProtocol: 'v2', proxyFrom: ['::1/128'] }, null, '::1');
  const header = encodeProxyHeader({
    version: 2,
    command: 'PROXY',
    protocol: 'TCP6',
    source: { address: '2001:db8::5', port: 7 },
    destination: { address: '::1', port: 8 },
  });
  const sock = await connectWith(s.port, header, '::1');
  await echoThrough(sock, Buffer.from('six'));
  await waitFor(() => s.seen.length === 1, 'the handler');
  expect(s.seen[0].peer).toBe('[2001:db8::5]:7');
  expect(s.seen[0].proxy!.via).toMatch(/^\[::1\]:\d+$/);
});

test('a header alone, then the data: the connection keeps the onread fast path where it is on', async () => {
  const s = await start({ proxyProtocol: 'v1' });
  const sock = await connectWith(s.port, V1);
  await waitFor(() => s.server.connNum() === 1, 'the connection to be made');
  await echoThrough(sock, Buffer.from('later'));
  await waitFor(() => s.seen.length === 1, 'the handler');
  expect(s.seen[0].onread).toBe(fastPaths().onreadAccept);
  expect(s.seen[0].bytes.toString()).toBe('later');
});

test('without proxyProtocol conn.proxy is null and a header is the application bytes', async () => {
  const s = await start({});
  const sock = await connectWith(s.port, V1);
  await echoThrough(sock, Buffer.from('!'));
  await waitFor(() => s.seen.length === 1, 'the handler');
  expect(s.seen[0].proxy).toBeNull();
  expect(s.seen[0].bytes.toString()).toBe(`${Buffer.from(V1).toString()}!`);
});

test('options are checked at once', () => {
  expect(() => new Server({ proxyProtocol: 'v3' as 'v1' })).toThrow(/proxyProtocol must be 'v1', 'v2' or 'any'/);
  expect(() => new Server({ proxyProtocol: 'v1', proxyHeaderTimeoutMs: 0 })).toThrow(RangeError);
  expect(() => new Server({ proxyProtocol: 'v1', proxyFrom: ['10.0.0.0/33'] })).toThrow(
    /"10.0.0.0\/33" is not an IPv4 or IPv6/,
  );
  expect(() => new Server({ proxyProtocol: 'v1', proxyFrom: ['example.com'] })).toThrow(TypeError);
  expect(() => new Server({ proxyProtocol: 'v1', proxyFrom: '10.0.0.1' as unknown as string[] })).toThrow(/array/);
  expect(() => new Server({ proxyFrom: ['10.0.0.1'] })).toThrow(/need proxyProtocol/);
});

test('proxyFrom matching: IPv4, IPv6, CIDR, IPv4-mapped IPv6 on either side', () => {
  const allow = compileProxyFrom(['10.1.0.0/16', '192.0.2.7', 'fd00::/8', '::ffff:198.51.100.0/120']);
  const cases: Array<[string, boolean]> = [
    ['10.1.200.3', true],
    ['10.2.0.1', false],
    ['::ffff:10.1.0.9', true],
    ['192.0.2.7', true],
    ['192.0.2.8', false],
    ['fd12::1', true],
    ['fe80::1', false],
    ['198.51.100.200', true],
    ['::ffff:198.51.101.1', false],
  ];
  for (const [address, ok] of cases) expect([address, proxyAllowed(allow, address)]).toEqual([address, ok]);
  expect(proxyAllowed(allow, undefined)).toBe(false);
});
