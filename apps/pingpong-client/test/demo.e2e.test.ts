/**
 * The demo script (what `npm run demo` runs after building) end to end: it
 * starts the server, runs the client plain and TLS, stops the server, exits 0,
 * and leaves no process behind.
 */
import { workerDistributions } from '@proj/tcp';
import {
  CLIENT_MAIN,
  DEMO_MAIN,
  SERVER_MAIN,
  isRunning,
  requireBuilt,
  runApp,
  stopAllApps,
} from '../../../libs/test-support/apps';

beforeAll(() => requireBuilt(SERVER_MAIN, CLIENT_MAIN, DEMO_MAIN));

afterEach(async () => {
  expect(await stopAllApps()).toBe(0);
});

test('the demo runs plain TCP then TLS, stops the server and exits 0 by itself', async () => {
  const demo = await runApp(DEMO_MAIN, ['--bench-seconds', '1'], 90_000);
  expect(demo.stderr).toBe('');
  expect(demo.exit).toEqual({ code: 0, signal: null });
  const out = demo.stdout;
  expect(out).toMatch(/^== 1\/2 plain TCP =+$/m);
  expect(out).toMatch(/^== 2\/2 TLS =+$/m);
  expect(out).toMatch(/^ {2}server \| listening on 127\.0\.0\.1:\d+ \(tcp\)$/m);
  expect(out).toMatch(/^ {2}server \| listening on 127\.0\.0\.1:\d+ \(tls\)$/m);
  // The TLS client verifies the server's generated certificate.
  expect(out).toMatch(/^\$ node apps\/pingpong-client\/dist\/main\.js --port \d+ --ca \S+cert\.pem /m);
  expect(out.match(/^ {2}client \| done: 12\/12 round trips ok/gm)).toHaveLength(2);
  expect(out.match(/^ {2}client \| round trips\/s: [\d,]+$/gm)).toHaveLength(2);
  expect(out.match(/^server exited with code 0$/gm)).toHaveLength(2);
  // The server ran on worker threads where this Node can, and the demo says how connections were spread.
  if ((await workerDistributions()).length > 0) {
    expect(out).toMatch(/^workers: the server ran on 2 worker threads; how connections were spread:$/m);
    expect(out.match(/^ {2}(plain TCP|TLS): connections per worker \((handoff|reuseport)\): \d+, \d+$/gm)).toHaveLength(
      2,
    );
  } else {
    expect(out).toMatch(/^workers: Node\.js v[\d.]+ cannot spread connections over worker threads/m);
  }
  expect(out).toMatch(/^demo finished: every step worked$/m);
  // Every process it started is gone.
  const pids = [...out.matchAll(/\[pid (\d+)\]$/gm)].map((m) => Number(m[1]));
  expect(pids).toHaveLength(6);
  for (const pid of pids) expect(isRunning(pid)).toBe(false);
}, 100_000);

test('a bad option: one line and exit code 2', async () => {
  const demo = await runApp(DEMO_MAIN, ['--bench-seconds', 'x']);
  expect(demo.exit.code).toBe(2);
  expect(demo.stderr).toMatch(/^demo: --bench-seconds must be an integer from 1 to 86400, got "x" \(see --help\)\n$/);
});
