/**
 * The client app's TLS path keeps verification on: run in-process
 * (`runClientCli` with a captured output) against a @proj/tcp TLS server with
 * a self-signed certificate on loopback. Without `--ca` or `--insecure` the
 * server is refused and never gets a ping; a wrong `--servername` is refused;
 * `--insecure` is the only way to skip verification, and it prints a warning
 * first. (The e2e suite checks the same through the built binary.)
 */
import { Server, type Connection } from '@proj/tcp';
import { runClientCli, type CliOutput } from '../src/cli';
import { makeTestCerts, type TestCerts } from '../../../libs/test-support/certs';

let certs: TestCerts;
let server: Server;
let port: number;
let pings = 0;

beforeAll(async () => {
  certs = await makeTestCerts();
  server = new Server().onConnection(async (conn: Connection) => {
    const buf = Buffer.alloc(4);
    while ((await conn.recvn(buf, 4, 5000)) === 4) {
      pings++;
      if ((await conn.send('pong')) !== 4) return;
    }
  });
  await server.start('127.0.0.1', 0, certs.keyPath, certs.certPath);
  port = server.address()!.port;
});
afterAll(async () => {
  await server.shutdown(500);
  certs.cleanup();
});
beforeEach(() => {
  pings = 0;
});

async function run(...args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliOutput = { out: (l) => void out.push(l), err: (l) => void err.push(l) };
  const code = await runClientCli(
    [
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--clients',
      '1',
      '--rounds',
      '1',
      '--interval-ms',
      '0',
      '--quiet',
      ...args,
    ],
    io,
  );
  return { code, out, err };
}

test('--ssl alone: the self-signed server is refused (DEPTH_ZERO_SELF_SIGNED_CERT), exit 1, no ping sent', async () => {
  const r = await run('--ssl');
  expect(r.code).toBe(1);
  expect(r.err.join('\n')).toMatch(/DEPTH_ZERO_SELF_SIGNED_CERT/);
  expect(pings).toBe(0);
});

test('--ca with a --servername the certificate does not name: refused (ERR_TLS_CERT_ALTNAME_INVALID), exit 1', async () => {
  const r = await run('--ca', certs.certPath, '--servername', 'bank.example');
  expect(r.code).toBe(1);
  expect(r.err.join('\n')).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID/);
  expect(pings).toBe(0);
});

test("--ca with the server's certificate: verified, served, exit 0, no warning", async () => {
  const r = await run('--ca', certs.certPath);
  expect(r.code).toBe(0);
  expect(r.err).toEqual([]);
  expect(pings).toBe(1);
});

test('--insecure is the explicit opt-out: it works and warns first', async () => {
  const r = await run('--insecure');
  expect(r.code).toBe(0);
  expect(r.err[0]).toMatch(/^warning: --insecure: the server's certificate is NOT verified/);
  expect(pings).toBe(1);
});
