import { UsageError } from 'app-support';
import { parseClientArgs } from '../src/args';
import { LatencyRecorder } from '../src/latency';
import { retryDelayMs } from '../src/round-trip';

describe('LatencyRecorder', () => {
  test('exact nearest-rank percentiles, max and mean, past its first growth', () => {
    const r = new LatencyRecorder();
    expect([r.count, r.percentile(50), r.max, r.mean]).toEqual([0, 0, 0, 0]);
    // 1..5000 in a scrambled order.
    for (let i = 0; i < 5000; i++) r.add(((i * 7919) % 5000) + 1);
    expect(r.count).toBe(5000);
    expect(r.percentile(50)).toBe(2500);
    expect(r.percentile(99)).toBe(4950);
    expect(r.percentile(100)).toBe(5000);
    expect(r.percentile(0)).toBe(1);
    expect(r.max).toBe(5000);
    expect(r.mean).toBe(2500.5);
    r.add(0.5);
    expect(r.percentile(0)).toBe(0.5);
  });
});

test('retry delays double from 100 ms and stay at most 2 s (±20%)', () => {
  for (let attempt = 1; attempt <= 20; attempt++) {
    const base = Math.min(100 * 2 ** (attempt - 1), 2000);
    const d = retryDelayMs(attempt);
    expect(d).toBeGreaterThanOrEqual(Math.floor(base * 0.8));
    expect(d).toBeLessThanOrEqual(Math.ceil(base * 1.2));
  }
});

describe('parseClientArgs', () => {
  test('defaults, and 64 clients with --bench', () => {
    expect(parseClientArgs([])).toMatchObject({
      ip: '127.0.0.1',
      port: 7788,
      ssl: false,
      insecure: false,
      clients: 8,
      rounds: 3,
      intervalMs: 3000,
      bench: false,
      seconds: 10,
      timeoutMs: 3000,
      retries: 5,
      quiet: false,
    });
    expect(parseClientArgs(['--bench']).clients).toBe(64);
    expect(parseClientArgs(['--bench', '--clients', '2']).clients).toBe(2);
  });

  test('--insecure implies --ssl', () => {
    expect(parseClientArgs(['--insecure'])).toMatchObject({ ssl: true, insecure: true });
  });

  test.each([[['--port', '0']], [['--rounds', '-1']], [['--seconds', '0']], [['--ip', '']], [['positional']]])(
    'rejects %j',
    (argv) => {
      expect(() => parseClientArgs(argv)).toThrow(UsageError);
    },
  );
});
