/**
 * pingpong-client against pingpong-server, both as child processes
 * (`node dist/main.js`) on a free loopback port, plain and TLS.
 */
import {
  App,
  CLIENT_MAIN,
  SERVER_MAIN,
  freePort,
  isRunning,
  requireBuilt,
  runApp,
  startServer,
  stopAllApps,
} from '../../../libs/test-support/apps';

jest.setTimeout(40_000);

beforeAll(() => requireBuilt(SERVER_MAIN, CLIENT_MAIN));

afterEach(async () => {
  expect(await stopAllApps()).toBe(0);
});

/** SIGTERM the server: exit code 0, gone, and the pings it counted. */
async function stopServer(app: App): Promise<number> {
  expect(await app.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  expect(isRunning(app.pid)).toBe(false);
  const totals = app.stdout.match(/^totals: (\d+) connections, (\d+) pings, (\d+) errors/m);
  expect(totals).not.toBeNull();
  return Number(totals![2]);
}

/** The bench's closing figures. */
function benchFigures(stdout: string): { perSecond: number; p50: number; p99: number; max: number } {
  const rate = stdout.match(/^round trips\/s: ([\d,]+)$/m);
  const lat = stdout.match(/^latency: p50 ([\d.]+) ms, p99 ([\d.]+) ms, max ([\d.]+) ms$/m);
  expect(rate).not.toBeNull();
  expect(lat).not.toBeNull();
  const [p50, p99, max] = lat!.slice(1).map(Number);
  return { perSecond: Number(rate![1].replace(/,/g, '')), p50, p99, max };
}

describe('plain TCP', () => {
  test('every task gets its pongs over pooled connections', async () => {
    const server = await startServer(['--quiet']);
    const client = await runApp(CLIENT_MAIN, [
      '--port',
      String(server.port),
      '--clients',
      '3',
      '--rounds',
      '2',
      '--interval-ms',
      '50',
    ]);
    expect(client.exit.code).toBe(0);
    expect(client.stderr).toBe('');
    expect(client.stdout).toMatch(/^done: 6\/6 round trips ok in [\d.]+ s over [1-3] connections?; latency p50/m);
    expect(client.stdout.match(/: ping -> pong in /g)).toHaveLength(6);
    for (let t = 1; t <= 3; t++) expect(client.stdout).toMatch(new RegExp(`^task ${t} round 2/2: ping -> pong`, 'm'));
    expect(await stopServer(server.app)).toBe(6);
  });

  test('--bench --seconds 2 prints progress, round trips/s and p50/p99/max', async () => {
    const server = await startServer(['--quiet']);
    const client = await runApp(CLIENT_MAIN, [
      '--port',
      String(server.port),
      '--bench',
      '--seconds',
      '2',
      '--clients',
      '8',
    ]);
    expect(client.exit.code).toBe(0);
    expect(client.stdout).toMatch(/^bench: 8 clients for 2 s against 127\.0\.0\.1:\d+ \(tcp\)$/m);
    // Not a terminal: a progress line per second, no carriage returns. (The
    // line due at the very end may lose the race with the end of the run.)
    expect(client.stdout).not.toContain('\r');
    // The first tick is due at 1.0 s; a loaded machine may run it a little late.
    expect(client.stdout).toMatch(/^ +1\.\d s +[\d,]+ round trips\/s +\([\d,]+ total\)$/m);
    const f = benchFigures(client.stdout);
    expect(f.perSecond).toBeGreaterThan(0);
    expect(f.p50).toBeLessThanOrEqual(f.p99);
    expect(f.p99).toBeLessThanOrEqual(f.max);
    const [, roundTrips] = client.stdout.match(/^round trips: (\d+) in [\d.]+ s, 0 errors, 8 connections$/m)!;
    expect(await stopServer(server.app)).toBe(Number(roundTrips));
  });

  test('no server yet: failures are reported and retried, and it connects once the server is up', async () => {
    const port = await freePort();
    const client = new App(CLIENT_MAIN, ['--port', String(port), '--clients', '2', '--rounds', '1', '--retries', '8']);
    // The server starts only once the client has failed and is waiting to retry.
    await client.waitFor(/retry 1\/8 in \d+ ms/);
    // startServer passes --port 0; the later --port wins.
    const server = await startServer(['--port', String(port), '--quiet']);
    expect((await client.exited).code).toBe(0);
    expect(client.stdout).toMatch(/connect failed: .*ECONNREFUSED/);
    expect(client.stdout).toMatch(/^done: 2\/2 round trips ok/m);
    expect(server.port).toBe(port);
    await stopServer(server.app);
  });

  test('no server at all: exit code 1 once the retries are spent', async () => {
    const port = await freePort();
    const client = await runApp(CLIENT_MAIN, [
      '--port',
      String(port),
      '--clients',
      '1',
      '--rounds',
      '1',
      '--retries',
      '1',
    ]);
    expect(client.exit.code).toBe(1);
    expect(client.stdout).toMatch(/connect failed: connect to 127\.0\.0\.1:\d+ failed: .*\[ECONNREFUSED\]/);
    expect(client.stdout).toMatch(/^done: 0\/1 round trips ok, 1 failed/m);
  });
});

describe('TLS', () => {
  test("--ssl --ca <the server's generated certificate>: pongs, verified", async () => {
    const server = await startServer(['--ssl', '--quiet']);
    const args = [
      '--port',
      String(server.port),
      '--ca',
      server.certPath!,
      '--clients',
      '2',
      '--rounds',
      '2',
      '--interval-ms',
      '20',
    ];
    const client = await runApp(CLIENT_MAIN, args);
    expect(client.exit.code).toBe(0);
    expect(client.stdout).toMatch(/\(tls\)$/m);
    expect(client.stdout).toMatch(/^done: 4\/4 round trips ok/m);
    expect(await stopServer(server.app)).toBe(4);
  });

  test('--bench over TLS prints its figures', async () => {
    const server = await startServer(['--ssl', '--quiet']);
    const client = await runApp(CLIENT_MAIN, [
      '--port',
      String(server.port),
      '--ca',
      server.certPath!,
      '--bench',
      '--seconds',
      '1',
      '--clients',
      '4',
    ]);
    expect(client.exit.code).toBe(0);
    expect(benchFigures(client.stdout).perSecond).toBeGreaterThan(0);
    await stopServer(server.app);
  });

  test('--ssl without --ca: verification stays on, so a self-signed server is refused at once with a hint (exit 1)', async () => {
    const server = await startServer(['--ssl', '--quiet']);
    const started = Date.now();
    const client = await runApp(CLIENT_MAIN, [
      '--port',
      String(server.port),
      '--ssl',
      '--clients',
      '3',
      '--rounds',
      '2',
    ]);
    expect(client.exit.code).toBe(1);
    // Not retried: a retry cannot make the certificate trusted.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(client.stdout).not.toMatch(/retry/);
    expect(client.stderr).toMatch(
      /^pingpong-client: connect failed: .*pass --ca <the server's cert\.pem> .*\[DEPTH_ZERO_SELF_SIGNED_CERT\]\n$/,
    );
    expect(await stopServer(server.app)).toBe(0);
  });

  test('--insecure: works, with a warning', async () => {
    const server = await startServer(['--ssl', '--quiet']);
    const client = await runApp(CLIENT_MAIN, [
      '--port',
      String(server.port),
      '--insecure',
      '--clients',
      '1',
      '--rounds',
      '1',
    ]);
    expect(client.exit.code).toBe(0);
    expect(client.stderr).toMatch(/^warning: --insecure: the server's certificate is NOT verified/);
    expect(client.stdout).toMatch(/certificate NOT verified/);
    await stopServer(server.app);
  });

  test('a plain client against a TLS server times out with a hint', async () => {
    const server = await startServer(['--ssl', '--quiet']);
    const client = await runApp(CLIENT_MAIN, [
      '--port',
      String(server.port),
      '--clients',
      '1',
      '--rounds',
      '1',
      '--retries',
      '0',
      '--timeout-ms',
      '300',
    ]);
    expect(client.exit.code).toBe(1);
    expect(client.stdout).toMatch(/if the server speaks TLS, add --ssl/);
    await stopServer(server.app);
  });
});

describe('bad options: one line on stderr, exit code 2', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['--port abc', ['--port', 'abc'], /--port must be an integer from 1 to 65535, got "abc"/],
    ['--clients 0', ['--clients', '0'], /--clients must be an integer from 1/],
    ['a missing --ca file', ['--ca', '/nonexistent/ca.pem'], /--ca \/nonexistent\/ca\.pem: no such file/],
    ['a --ca file that is not PEM', ['--ca', __filename], /not a PEM certificate/],
    ['--ca with --insecure', ['--ca', __filename, '--insecure'], /--ca and --insecure contradict/],
    ['an unknown option', ['--count', '3'], /Unknown option '--count'/],
  ];
  test.each(cases)('%s', async (_name, args, message) => {
    const app = await runApp(CLIENT_MAIN, args);
    expect(app.exit.code).toBe(2);
    expect(app.stdout).toBe('');
    expect(app.stderr).toMatch(message);
    expect(app.stderr).toMatch(/^pingpong-client: [^\n]+ \(see --help for usage\)\n$/);
  });

  test('--help lists every option and exits 0', async () => {
    const app = await runApp(CLIENT_MAIN, ['--help']);
    expect(app.exit.code).toBe(0);
    for (const opt of [
      '--ip',
      '--port',
      '--ssl',
      '--ca',
      '--insecure',
      '--clients',
      '--rounds',
      '--interval-ms',
      '--bench',
      '--seconds',
    ]) {
      expect(app.stdout).toContain(opt);
    }
  });
});
