/** TLS end to end, with the test certificate (self-signed for localhost, 127.0.0.1 and ::1). */
import { RpcClient, RpcError, RpcServer } from '../src';
import { makeTestCerts, type TestCerts } from '../../../libs/test-support/certs';
import { guardLeaks } from './helpers';

let certs: TestCerts;
let server: RpcServer;
let port: number;
const tlsErrors: Error[] = [];

beforeAll(async () => {
  certs = await makeTestCerts();
  server = new RpcServer({ onError: (err) => tlsErrors.push(err) }).handle('echo', (p: unknown) => p);
  await server.start('127.0.0.1', 0, certs.keyPath, certs.certPath);
  port = server.address()!.port;
});

afterAll(async () => {
  await server.shutdown(1000);
  certs.cleanup();
});
guardLeaks();

test('calls over TLS, the certificate verified against the given CA', async () => {
  await using c = new RpcClient('127.0.0.1', port, { ssl: true, tls: { ca: certs.cert }, connections: 2 });
  const answers = await Promise.all(
    Array.from({ length: 50 }, (_, i) => c.call<[number, string]>('echo', [i, 'x'.repeat(i * 100)])),
  );
  expect(answers.map((a) => a[0])).toEqual(Array.from({ length: 50 }, (_, i) => i));
  expect(await c.call('echo', [Buffer.alloc(100_000, 7)])).toEqual([new Uint8Array(100_000).fill(7)]);
});

test('verification is on by default: an unknown self-signed certificate is CONNECT_FAILED', async () => {
  await using c = new RpcClient('127.0.0.1', port, { ssl: true });
  const err = (await c.call('echo').catch((e: unknown) => e)) as RpcError;
  expect(err).toBeInstanceOf(RpcError);
  expect(err.code).toBe('CONNECT_FAILED');
  expect((err.cause as { code?: string }).code).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY/);
});

test('a wrong servername fails verification; rejectUnauthorized: false opts out', async () => {
  {
    await using c = new RpcClient('127.0.0.1', port, { ssl: true, tls: { ca: certs.cert, servername: 'example.com' } });
    expect(((await c.call('echo').catch((e: unknown) => e)) as RpcError).code).toBe('CONNECT_FAILED');
  }
  {
    await using c = new RpcClient('127.0.0.1', port, { ssl: true, tls: { rejectUnauthorized: false } });
    expect(await c.call('echo', ['trusting'])).toEqual(['trusting']);
  }
});

test('TLS on ::1', async () => {
  const v6 = new RpcServer().handle('echo', (p: unknown) => p);
  await v6.start('::1', 0, certs.keyPath, certs.certPath);
  try {
    await using c = new RpcClient('::1', v6.address()!.port, { ssl: true, tls: { ca: certs.cert } });
    expect(await c.call('echo', ['v6 tls'])).toEqual(['v6 tls']);
  } finally {
    await v6.shutdown(1000);
  }
});
