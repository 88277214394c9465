/**
 * The rolling restart under load, as a test: a real HAProxy (the
 * `rolling-restart` config of docs/load-balancer.md) in front of two rpc-lite
 * servers in child processes, a client calling at full speed through it, and
 * each server restarted in turn three times. With the drain (`rpc.goaway`):
 * zero failed calls, every answer right, the client's heap flat. Without it
 * (`goAway: false`): calls are lost, and the test counts them, which shows
 * the first half could fail.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { collectGarbage } from '../../../libs/test-support/hostile';
import { rollingRestart, type RollingReport } from '../src/rolling-restart';

const built = join(__dirname, '../dist/rolling-server.js');
if (!existsSync(built))
  throw new Error(`${built} is missing: run the tests through Nx (npx nx run soak:test), which builds first`);

const lines: string[] = [];
const log = (line: string): void => void lines.push(line);
function summary(r: RollingReport): string {
  return `${r.drain ? 'with' : 'without'} the drain: ${r.restarts} restarts, ${r.calls} calls, ${r.failed} failed ${JSON.stringify(r.failedByCode)}, ${r.wrong} wrong, heap ${(r.heapWarm / 1048576).toFixed(1)} -> ${(r.heapEnd / 1048576).toFixed(1)} MiB`;
}

test('with rpc.goaway: six restarts under load, zero failed calls, every answer right, memory flat', async () => {
  const r = await rollingRestart({ rounds: 3, drain: true, callers: 32, gc: collectGarbage, log });
  console.log(summary(r));
  expect(r.restarts).toBe(6);
  expect(r.calls).toBeGreaterThan(5000);
  expect(r.failedByCode).toEqual({});
  expect(r.wrong).toBe(0);
  expect(r.ok).toBe(r.calls);
  // Flat: what is left after a collection does not grow with the calls made.
  expect(r.heapEnd - r.heapWarm).toBeLessThan(8 * 1048576);
}, 180_000);

test('without the drain message the same restarts lose calls (counted)', async () => {
  const r = await rollingRestart({ rounds: 2, drain: false, callers: 32, gc: collectGarbage, log });
  console.log(summary(r));
  expect(r.restarts).toBe(4);
  expect(r.wrong).toBe(0);
  expect(r.failed).toBeGreaterThan(0);
  expect(Object.keys(r.failedByCode)).toEqual(['CONNECTION_CLOSED']);
}, 180_000);
