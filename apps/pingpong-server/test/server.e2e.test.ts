/**
 * pingpong-server as a child process (`node dist/main.js`) on a free loopback
 * port, plain and TLS, talked to with @proj/tcp's Client.
 */
import { Client, workerDistributions } from '@proj/tcp';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import {
  App,
  SERVER_MAIN,
  freePort,
  isRunning,
  requireBuilt,
  runApp,
  startServer,
  stopAllApps,
} from '../../../libs/test-support/apps';
import { makeTestCerts, type TestCerts } from '../../../libs/test-support/certs';

jest.setTimeout(30_000);

beforeAll(() => requireBuilt(SERVER_MAIN));

const clients: Client[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  expect(await stopAllApps()).toBe(0);
});

/** Connects, does `n` ping/pongs, and leaves the client open. */
async function pingPong(port: number, n: number, tls?: { ca: string }): Promise<Client> {
  const c = new Client('127.0.0.1', port, tls !== undefined, tls ?? {});
  clients.push(c);
  expect(await c.connect(5000)).toBe(true);
  const buf = Buffer.alloc(8);
  for (let i = 0; i < n; i++) {
    expect(await c.send('ping')).toBe(4);
    expect(await c.recvn(buf, 4, 5000)).toBe(4);
    expect(buf.toString('latin1', 0, 4)).toBe('pong');
  }
  return c;
}

/** SIGTERM, exit code 0, the totals line, and the process gone. */
async function stopCleanly(app: App): Promise<RegExpMatchArray> {
  const exit = await app.stop('SIGTERM');
  expect(exit).toEqual({ code: 0, signal: null });
  expect(isRunning(app.pid)).toBe(false);
  const totals = app.stdout.match(/^totals: (\d+) connections, (\d+) pings, (\d+) errors in [\d.]+ s$/m);
  expect(totals).not.toBeNull();
  return totals!;
}

describe('plain TCP', () => {
  test('prints where it listens, answers every ping, and SIGTERM stops it with code 0 and its totals', async () => {
    const { app, port } = await startServer();
    expect(app.stdout).toMatch(/^listening on 127\.0\.0\.1:\d+ \(tcp\)$/m);
    const c = await pingPong(port, 3);
    await app.waitFor(/recv ping, send pong/);
    c.close();
    await app.waitFor(/closed by the client/);
    const [, conns, pings, errors] = await stopCleanly(app);
    expect([conns, pings, errors]).toEqual(['1', '3', '0']);
    expect(app.stderr).toBe('');
  });

  test('a pong for every ping, however TCP splits or merges them', async () => {
    const { app, port } = await startServer(['--quiet']);
    const sock = connect(port, '127.0.0.1');
    let got = '';
    sock.setEncoding('latin1').on('data', (s: string) => (got += s));
    await new Promise((res) => sock.once('connect', res));
    sock.write('pi');
    // Part of the scenario, not a synchronization: a pause, so that "ping" most likely reaches
    // the server in two reads (the app runs in its own process; its reads cannot be watched).
    await new Promise((res) => setTimeout(res, 50));
    sock.write('ngpingping\n');
    for (let i = 0; i < 100 && got.length < 12; i++) await new Promise((res) => setTimeout(res, 20));
    expect(got).toBe('pongpongpong');
    sock.end();
    await new Promise((res) => sock.once('close', res));
    const [, , pings] = await stopCleanly(app);
    expect(pings).toBe('3');
    expect(app.stdout).not.toMatch(/recv ping/);
  });

  test('SIGTERM closes open connections gracefully; SIGINT works the same', async () => {
    const { app, port } = await startServer(['--quiet']);
    const c = await pingPong(port, 1);
    const exit = await app.stop('SIGINT');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(app.stdout).toMatch(/^SIGINT: shutting down \(closing 1 connections/m);
    // The client sees an orderly end of stream (0), not a reset.
    expect(await c.recv(Buffer.alloc(8), 8, 5000)).toBe(0);
  });

  test('prints the connection count now and then', async () => {
    const { app, port } = await startServer(['--quiet', '--stats-interval-ms', '100']);
    await pingPong(port, 2);
    await app.waitFor(/^connections: 1 open, 1 since start; pings: 2$/m);
    await stopCleanly(app);
  });

  test('a port in use: one line on stderr, exit code 1', async () => {
    const { app, port } = await startServer(['--quiet']);
    const second = await runApp(SERVER_MAIN, ['--port', String(port)]);
    expect(second.exit.code).toBe(1);
    expect(second.stderr).toMatch(/^pingpong-server: cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
    await stopCleanly(app);
  });
});

describe('TLS', () => {
  let certs: TestCerts;
  beforeAll(async () => {
    certs = await makeTestCerts();
  });
  afterAll(() => certs.cleanup());

  test('--ssl alone generates a certificate for localhost, says where, and deletes it on exit', async () => {
    const { app, port, certPath } = await startServer(['--ssl']);
    expect(app.stdout).toMatch(/\(tls\)$/m);
    expect(certPath).toBeDefined();
    expect(app.stdout).toMatch(/^\s+key: +\S+key\.pem$/m);
    const ca = readFileSync(certPath!, 'utf8');
    await pingPong(port, 2, { ca });
    const [, conns, pings] = await stopCleanly(app);
    expect([conns, pings]).toEqual(['1', '2']);
    expect(existsSync(dirname(certPath!))).toBe(false);
  });

  test('--key/--cert: serves with that pair, and a client that does not trust it is refused', async () => {
    const { app, port } = await startServer(['--ssl', '--key', certs.keyPath, '--cert', certs.certPath]);
    expect(app.stdout).not.toMatch(/generated/);
    await pingPong(port, 1, { ca: certs.cert });
    const untrusting = new Client('127.0.0.1', port, true);
    clients.push(untrusting);
    expect(await untrusting.connect(5000)).toBe(false);
    expect(untrusting.lastError?.code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    await stopCleanly(app);
  });
});

describe('bad options: one line on stderr, exit code 2', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['--port abc', ['--port', 'abc'], /--port must be an integer from 0 to 65535, got "abc"/],
    ['--port 70000', ['--port', '70000'], /--port must be an integer/],
    [
      'a missing --cert file',
      ['--ssl', '--key', __filename, '--cert', '/nonexistent/cert.pem'],
      /--cert \/nonexistent\/cert\.pem: no such file/,
    ],
    ['--key without --cert', ['--key', __filename], /--key needs --cert/],
    ['an unknown option', ['--colour'], /Unknown option '--colour'/],
    ['a bad --ip', ['--ip', 'localhost:80'], /--ip must be an IPv4 or IPv6 address/],
  ];
  test.each(cases)('%s', async (_name, args, message) => {
    const app = await runApp(SERVER_MAIN, args);
    expect(app.exit.code).toBe(2);
    expect(app.stdout).toBe('');
    expect(app.stderr).toMatch(message);
    expect(app.stderr).toMatch(/^pingpong-server: [^\n]+ \(see --help for usage\)\n$/);
  });

  test('a key and certificate that are not PEM', async () => {
    const port = await freePort();
    const app = await runApp(SERVER_MAIN, ['--port', String(port), '--key', __filename, '--cert', __filename]);
    expect(app.exit.code).toBe(2);
    expect(app.stderr).toMatch(/^pingpong-server: [^\n]*not a usable PEM pair[^\n]*\n$/);
  });

  test('--help prints every option and exits 0', async () => {
    const app = await runApp(SERVER_MAIN, ['--help']);
    expect(app.exit.code).toBe(0);
    for (const opt of ['--ip', '--port', '--ssl', '--key', '--cert', '--quiet']) expect(app.stdout).toContain(opt);
  });
});

describe('--workers', () => {
  test('serves on 2 worker threads, plain and TLS, and says how connections were spread (or fails clearly where Node cannot)', async () => {
    if ((await workerDistributions()).length === 0) {
      const app = await runApp(SERVER_MAIN, ['--ip', '127.0.0.1', '--port', '0', '--workers', '2']);
      expect(app.exit.code).toBe(1);
      expect(app.stderr).toMatch(
        /^pingpong-server: Node\.js v\d+\.\d+\.\d+ cannot spread connections over worker threads: .*Node\.js 24 or later/m,
      );
      return;
    }
    for (const tls of [false, true]) {
      const { app, port, certPath: cert } = await startServer(['--workers', '2', '--quiet', ...(tls ? ['--ssl'] : [])]);
      await app.waitFor(/^workers: 2 threads \((handoff|reuseport)\)$/m);
      const cs: Client[] = [];
      for (let i = 0; i < 8; i++)
        cs.push(await pingPong(port, 2, tls ? { ca: readFileSync(cert!, 'utf8') } : undefined));
      for (const c of cs) c.close();
      const [, conns, pings, errors] = await stopCleanly(app);
      expect([conns, pings, errors]).toEqual(['8', '16', '0']);
      const spread = app.stdout.match(/^connections per worker \((handoff|reuseport)\): (\d+), (\d+)$/m);
      expect(spread).not.toBeNull();
      expect(Number(spread![2]) + Number(spread![3])).toBe(8);
      expect(app.stderr).toBe('');
    }
  });

  test('--workers takes a count from 1 or auto', async () => {
    const app = await runApp(SERVER_MAIN, ['--workers', 'x']);
    expect(app.exit.code).toBe(2);
    expect(app.stderr).toMatch(/--workers must be an integer/);
  });
});
