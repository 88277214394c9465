/**
 * Security defaults of rpc-lite, on loopback with real TLS:
 * - RpcClient verifies the server's certificate and host name unless told
 *   `tls: { rejectUnauthorized: false }`; a refused server never sees a request;
 * - frame limits are enforced before allocation: a length header announcing
 *   4 GiB allocates nothing and closes the connection, on the server and on
 *   the client; memory is measured.
 */
import * as net from 'node:net';
import { RpcClient, RpcError, RpcServer } from '../src';
import { makeTestCerts, type TestCerts } from '../../../libs/test-support/certs';
import { MemoryWatch, MiB } from '../../../libs/test-support/hostile';
import { rawServer, readToEnd, recordErrors, sleep, waitFor } from '../../../libs/test-support/net';
import { guardLeaks } from './helpers';

let certs: TestCerts;
beforeAll(async () => {
  certs = await makeTestCerts();
});
afterAll(() => certs.cleanup());

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
guardLeaks();

async function tlsRpcServer(): Promise<{ server: RpcServer; port: number; calls: () => number }> {
  let calls = 0;
  const server = new RpcServer({ onError: () => {} }).handle('echo', (p: unknown[]) => {
    calls++;
    return p[0];
  });
  await server.start('127.0.0.1', 0, certs.keyPath, certs.certPath);
  cleanups.push(() => server.shutdown(500));
  return { server, port: server.address()!.port, calls: () => calls };
}

function client(port: number, options: ConstructorParameters<typeof RpcClient>[2]): RpcClient {
  const c = new RpcClient('127.0.0.1', port, { connectTimeoutMs: 3000, timeoutMs: 5000, ...options });
  cleanups.push(() => c.close());
  return c;
}

/** The codes along an error's chain of causes. */
function causeCodes(err: unknown): string[] {
  const codes: string[] = [];
  for (
    let e = err as { code?: string; cause?: unknown } | undefined;
    e !== undefined && codes.length < 10;
    e = e.cause as typeof e
  ) {
    if (typeof e.code === 'string') codes.push(e.code);
  }
  return codes;
}

async function callError(c: RpcClient): Promise<RpcError> {
  try {
    await c.call('echo', ['secret']);
  } catch (err) {
    return err as RpcError;
  }
  throw new Error('the call succeeded');
}

describe('RpcClient: certificate and host-name verification are on by default', () => {
  test('ssl: true with no tls options: a self-signed server is refused (CONNECT_FAILED, cause DEPTH_ZERO_SELF_SIGNED_CERT); no request reaches it', async () => {
    const s = await tlsRpcServer();
    const err = await callError(client(s.port, { ssl: true }));
    expect(err).toBeInstanceOf(RpcError);
    expect(err.code).toBe('CONNECT_FAILED');
    expect((err.cause as { code?: string }).code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    expect(s.calls()).toBe(0);
  });

  test('the right CA but the wrong host name is refused (cause ERR_TLS_CERT_ALTNAME_INVALID)', async () => {
    const s = await tlsRpcServer();
    const err = await callError(client(s.port, { ssl: true, tls: { ca: certs.cert, servername: 'bank.example' } }));
    expect(err.code).toBe('CONNECT_FAILED');
    expect((err.cause as { code?: string }).code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    expect(s.calls()).toBe(0);
  });

  test('with the CA it works; only the explicit rejectUnauthorized: false skips verification', async () => {
    const s = await tlsRpcServer();
    expect(await client(s.port, { ssl: true, tls: { ca: certs.cert } }).call('echo', ['a'])).toBe('a');
    expect(await client(s.port, { ssl: true, tls: { rejectUnauthorized: false } }).call('echo', ['b'])).toBe('b');
    expect(s.calls()).toBe(2);
  });

  test('a plain RpcClient to a TLS server fails with a clear code instead of hanging', async () => {
    const s = await tlsRpcServer();
    const c = client(s.port, { timeoutMs: 2000 });
    const err = await callError(c);
    expect(['CONNECTION_CLOSED', 'TIMEOUT']).toContain(err.code);
    expect(s.calls()).toBe(0);
  });
});

describe('frame limits are enforced before allocation', () => {
  test('server: 200 connections each announcing a 4 GiB frame allocate nothing; each is closed and reported FRAME_TOO_LARGE', async () => {
    const errors: RpcError[] = [];
    const server = new RpcServer({ onError: (e) => void errors.push(e as RpcError) }).handle(
      'echo',
      (p: unknown[]) => p[0],
    );
    await server.start('127.0.0.1', 0);
    cleanups.push(() => server.shutdown(500));
    const port = server.address()!.port;
    const watch = new MemoryWatch(5);
    const peers = await Promise.all(
      Array.from({ length: 200 }, async () => {
        const s = net.connect({ port, host: '127.0.0.1' });
        recordErrors(s);
        await new Promise((r) => s.once('connect', r));
        const ending = readToEnd(s);
        s.write(Buffer.from([0xff, 0xff, 0xff, 0xff]));
        return ending;
      }),
    );
    const mem = watch.stop();
    for (const r of peers) expect(r.data.length).toBe(0); // closed, nothing answered
    await waitFor(() => errors.length === 200, 'every oversized frame to be reported');
    expect(new Set(errors.map((e) => e.code))).toEqual(new Set(['FRAME_TOO_LARGE']));
    await waitFor(() => server.connNum() === 0, 'every connection to close');
    // 200 allocations of 4 GiB would be 800 GiB; of even 4 MiB, 800 MiB.
    expect(mem.peakGrowth.arrayBuffers).toBeLessThan(16 * MiB);
    // The server goes on.
    expect(await client(port, {}).call('echo', [1])).toBe(1);
  });

  test('client: a server answering with a 4 GiB frame header: the call fails with CONNECTION_CLOSED (cause FRAME_TOO_LARGE), nothing allocated', async () => {
    const raw = await rawServer((sock) => sock.once('data', () => sock.write(Buffer.from([0xff, 0xff, 0xff, 0xff]))));
    cleanups.push(() => raw.close());
    const c = client(raw.port, {});
    const watch = new MemoryWatch(5);
    const err = await callError(c);
    const mem = watch.stop();
    expect(err.code).toBe('CONNECTION_CLOSED');
    expect(causeCodes(err)).toContain('FRAME_TOO_LARGE');
    expect(mem.peakGrowth.arrayBuffers).toBeLessThan(16 * MiB);
    await waitFor(() => raw.sockets.size === 0, 'the client to drop the connection');
  });

  // Regression: a header announcing a frame up to maxFrameBytes used to reserve the whole frame
  // before any of its body had come (200 connections x 4 bytes -> +800 MiB of ArrayBuffer memory).
  // The server now reads a large body into a buffer that grows as the bytes arrive.
  test('server: 200 connections announcing a maxFrameBytes frame and sending no body hold no more than 64 MiB', async () => {
    const server = new RpcServer({ onError: () => {} }).handle('echo', (p: unknown[]) => p[0]);
    await server.start('127.0.0.1', 0);
    cleanups.push(() => server.shutdown(500));
    const port = server.address()!.port;
    const socks: net.Socket[] = [];
    cleanups.push(() => socks.forEach((s) => s.destroy()));
    const watch = new MemoryWatch(5);
    for (let i = 0; i < 200; i++) {
      const s = net.connect({ port, host: '127.0.0.1' });
      recordErrors(s);
      socks.push(s);
      await new Promise((r) => s.once('connect', r));
      s.write(Buffer.from([0x00, 0x40, 0x00, 0x00])); // 4 MiB, the default maxFrameBytes: allowed
    }
    await waitFor(() => server.connNum() === 200, 'every connection to be served');
    // Kept as a sleep: the server reading a header gives no sign (no answer, no event, no
    // count), and the stream has no room for a sentinel after it (what follows is body).
    // Time for it to read all 200 headers before the last sample.
    await sleep(100);
    const mem = watch.stop();
    expect(mem.peakGrowth.arrayBuffers).toBeLessThan(64 * MiB); // was about 800 MiB
  });
});
