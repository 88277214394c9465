/**
 * A real HAProxy (2.6) in front of our servers, with the config blocks of
 * docs/load-balancer.md: `send-proxy`, `send-proxy-v2` with health checks
 * (`check-send-proxy`: LOCAL headers) and `balance roundrobin` over two
 * servers, and `send-proxy-v2-ssl` with TLS between the client and our server
 * through HAProxy in TCP mode. Clients connect from 127.0.0.2, so their
 * address differs from HAProxy's (127.0.0.1): `conn.peer()` must be the
 * client's address and port in each case.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { makeTestCerts, type TestCerts } from '../../../libs/test-support/certs';
import { freePort } from '../../../libs/test-support/apps';
import { Haproxy, docConfig, haproxyAvailable, stopAllHaproxy, withPorts } from '../../../libs/test-support/haproxy';
import { closeAllRaw, recordErrors, waitFor } from '../../../libs/test-support/net';
import { ProxyEcho, echoThrough } from './proxy-helpers';

const CLIENT_IP = '127.0.0.2';
if (!haproxyAvailable()) throw new Error('haproxy is not installed: .ci/run installs it (apt-get install haproxy)');

let certs: TestCerts;
const servers: ProxyEcho[] = [];
beforeAll(async () => {
  certs = await makeTestCerts();
});
afterAll(() => certs.cleanup());
afterEach(async () => {
  expect(await stopAllHaproxy()).toBe(0);
  for (const s of servers.splice(0)) await s.server.shutdown(1000);
  expect(await closeAllRaw()).toEqual([]);
});

async function ours(...args: Parameters<typeof ProxyEcho.start>): Promise<ProxyEcho> {
  const s = await ProxyEcho.start(...args);
  servers.push(s);
  return s;
}

/** A client from 127.0.0.2 through HAProxy: echoes `text`, returns its local port. */
async function clientThrough(port: number, text: string): Promise<number> {
  const sock = net.connect({ host: '127.0.0.1', port, localAddress: CLIENT_IP });
  recordErrors(sock);
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  const local = sock.localPort!;
  expect((await echoThrough(sock, Buffer.from(text))).toString()).toBe(text);
  return local;
}

test("send-proxy (v1): peer() is the client, destination is HAProxy's frontend", async () => {
  const app = await ours({ proxyProtocol: 'v1', proxyFrom: ['127.0.0.1'] });
  const front = await freePort();
  const h = await Haproxy.start(withPorts(docConfig('send-proxy'), { 8080: front, 9001: app.port }), [front]);
  const local = await clientThrough(front, 'hello v1');
  await waitFor(() => app.seen.length === 1, 'the handler');
  const seen = app.seen[0];
  expect(seen.peer).toBe(`${CLIENT_IP}:${local}`);
  expect(seen.proxy).toMatchObject({
    version: 1,
    command: 'PROXY',
    protocol: 'TCP4',
    destination: { address: '127.0.0.1', port: front },
  });
  expect(seen.proxy!.via).toMatch(/^127\.0\.0\.1:\d+$/);
  expect(seen.bytes.toString()).toBe('hello v1');
  expect(app.errors).toEqual([]);
  await h.stop();
});

test('send-proxy-v2, balance roundrobin over two servers, health checks with LOCAL headers', async () => {
  const a = await ours({ proxyProtocol: 'v2' });
  const b = await ours({ proxyProtocol: 'v2' });
  const front = await freePort();
  const h = await Haproxy.start(withPorts(docConfig('send-proxy-v2'), { 8080: front, 9001: a.port, 9002: b.port }), [
    front,
  ]);
  // Each server's first health check: a LOCAL header, the peer HAProxy itself.
  const isCheck = (s: ProxyEcho['seen'][number]): boolean => s.proxy?.command === 'LOCAL';
  await waitFor(() => a.seen.some(isCheck) && b.seen.some(isCheck), 'a health check on each server', 8000);
  for (const s of [...a.seen, ...b.seen].filter(isCheck)) {
    expect(s.proxy).toMatchObject({ version: 2, protocol: 'UNKNOWN', source: null });
    expect(s.peer).toBe(s.proxy!.via);
  }
  const locals: number[] = [];
  for (let i = 0; i < 4; i++) locals.push(await clientThrough(front, `call ${i}`));
  const relayed = (s: ProxyEcho): ProxyEcho['seen'] => s.seen.filter((x) => x.proxy?.command === 'PROXY');
  await waitFor(() => relayed(a).length + relayed(b).length === 4, 'every client handler');
  // Round robin: two each.
  expect([relayed(a).length, relayed(b).length]).toEqual([2, 2]);
  const peers = [...relayed(a), ...relayed(b)].map((s) => s.peer).sort();
  expect(peers).toEqual(locals.map((p) => `${CLIENT_IP}:${p}`).sort());
  for (const s of [...relayed(a), ...relayed(b)])
    expect(s.proxy).toMatchObject({ version: 2, protocol: 'TCP4', destination: { port: front } });
  expect([...a.errors, ...b.errors]).toEqual([]);
  await h.stop();
});

test('send-proxy-v2-ssl: TLS from the client to our server through HAProxy in TCP mode', async () => {
  const app = await ours({ proxyProtocol: 'any' }, certs);
  const front = await freePort();
  const h = await Haproxy.start(withPorts(docConfig('send-proxy-v2-ssl'), { 8443: front, 9443: app.port }), [front]);
  for (let i = 0; i < 3; i++) {
    const tcp = net.connect({ host: '127.0.0.1', port: front, localAddress: CLIENT_IP });
    recordErrors(tcp);
    const sock = tls.connect({ socket: tcp, ca: certs.cert, servername: 'localhost' });
    recordErrors(sock);
    await new Promise<void>((resolve, reject) => {
      sock.once('secureConnect', resolve);
      sock.once('error', reject);
    });
    const local = sock.localPort!;
    expect(sock.authorized).toBe(true);
    expect((await echoThrough(sock, Buffer.from(`secret ${i}`))).toString()).toBe(`secret ${i}`);
    await waitFor(() => app.seen.length === i + 1, 'the handler');
    const seen = app.seen[i];
    expect(seen.peer).toBe(`${CLIENT_IP}:${local}`);
    expect(seen.bytes.toString()).toBe(`secret ${i}`);
    // PP2_TYPE_SSL: the client's connection to HAProxy was not TLS at HAProxy (TCP mode): client flags 0.
    const ssl = seen.proxy!.tlvs.find((t) => t.type === 0x20);
    expect(ssl).toBeDefined();
    expect(ssl!.value[0]).toBe(0);
  }
  expect(app.errors).toEqual([]);
  await h.stop();
});
