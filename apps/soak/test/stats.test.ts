// The soak's report figures: bucketed percentiles within 2%, counts by code.
import { Counts, Histogram } from '../src/stats';

test('Histogram: percentiles within 2% of the exact ones, max and mean exact, in constant memory', () => {
  const h = new Histogram();
  expect(h.summary()).toEqual({ p50: 0, p99: 0, max: 0, mean: 0 });
  for (let i = 1; i <= 10_000; i++) h.add(i / 100); // 0.01 ms to 100 ms
  const s = h.summary();
  expect(s.p50).toBeGreaterThanOrEqual(50);
  expect(s.p50).toBeLessThanOrEqual(50 * 1.02);
  expect(s.p99).toBeGreaterThanOrEqual(99);
  expect(s.p99).toBeLessThanOrEqual(99 * 1.02);
  expect(s.max).toBe(100);
  expect(s.mean).toBeCloseTo(50.005, 6);
  expect(h.count).toBe(10_000);
});

test('Counts: totals, and the codes most frequent first', () => {
  const c = new Counts();
  expect(c.toString()).toBe('none');
  c.add('TIMEOUT');
  c.add('CONNECTION_CLOSED', 3);
  c.add('TIMEOUT');
  expect(c.total).toBe(5);
  expect(c.toJSON()).toEqual({ CONNECTION_CLOSED: 3, TIMEOUT: 2 });
  expect(c.toString()).toBe('CONNECTION_CLOSED 3, TIMEOUT 2');
});
