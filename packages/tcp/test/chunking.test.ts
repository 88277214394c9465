/**
 * The first guarantee: a timed-out recv/recvn consumes nothing, so whatever
 * the chunking of the stream and whenever the timeouts fall, every byte comes
 * exactly once and in order. A raw peer writes a known byte pattern split at
 * random points with random pauses; our side reads it with a random mix of
 * recv and recvn of random sizes and random short timeouts, retrying after
 * each timeout. Property-based (fast-check): a failure prints the seed and
 * the case.
 */
import fc from 'fast-check';
import { makeTestCerts, type TestCerts } from '../../../libs/test-support/certs';
import { firstPatternMismatch, pattern, sleep } from '../../../libs/test-support/net';
import { guardLeaks, IPV6_VARIANTS, pair, type Variant, VARIANTS } from './helpers';

guardLeaks();

let certs: TestCerts;
beforeAll(async () => {
  certs = await makeTestCerts();
});
afterAll(() => certs.cleanup());

interface ReadOp {
  exact: boolean;
  size: number;
  ms: number;
}

const caseArb = fc.record({
  start: fc.nat({ max: 1_000_000 }),
  length: fc.integer({ min: 1, max: 40_000 }),
  /** Where the peer splits the stream (taken modulo its length). */
  cuts: fc.array(fc.nat({ max: 40_000 }), { maxLength: 60, size: 'max' }),
  /** Pause after each chunk, in ms (0: next turn of the event loop). */
  pauses: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 10, size: 'max' }),
  /** What our side calls, used in turn. */
  reads: fc.array(
    fc.record({ exact: fc.boolean(), size: fc.integer({ min: 1, max: 5000 }), ms: fc.integer({ min: 0, max: 6 }) }),
    { minLength: 1, maxLength: 12, size: 'max' },
  ),
});

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

async function runCase(variant: Variant, c: Case): Promise<void> {
  const p = await pair(variant, certs);
  try {
    p.peer.setNoDelay(true);
    const data = pattern(c.start, c.length);
    const points = [...new Set(c.cuts.map((x) => x % c.length))].filter((x) => x > 0);
    points.sort((a, b) => a - b);
    const bounds = [0, ...points, c.length];
    const writer = (async () => {
      for (let i = 0; i + 1 < bounds.length; i++) {
        p.peer.write(data.subarray(bounds[i], bounds[i + 1]));
        const pause = c.pauses[i % c.pauses.length];
        // Part of the scenario, not a synchronization: random pauses split the stream unpredictably.
        if (pause === 0) await new Promise((r) => setImmediate(r));
        else await sleep(pause);
      }
      p.peer.end();
    })();

    const buf = Buffer.alloc(5000);
    let offset = 0;
    let calls = 0;
    let timeouts = 0;
    while (offset < c.length) {
      const op: ReadOp = c.reads[calls % c.reads.length];
      calls++;
      if (calls > 50_000) throw new Error(`no progress: ${offset} of ${c.length} bytes after ${calls} calls`);
      buf.fill(0);
      const n = op.exact
        ? await p.ours.recvn(buf, Math.min(op.size, c.length - offset), op.ms)
        : await p.ours.recv(buf, op.size, op.ms);
      if (n < 0) {
        timeouts++;
        if (p.ours.lastError?.code !== 'ETIMEDOUT') throw new Error(`read failed: ${p.ours.strerror()}`);
        continue;
      }
      if (n === 0) throw new Error(`EOF after ${offset} of ${c.length} bytes`);
      if (offset + n > c.length) throw new Error(`got ${offset + n} bytes, more than the ${c.length} sent`);
      const bad = firstPatternMismatch(buf, c.start + offset, n);
      if (bad >= 0) {
        throw new Error(
          `byte ${offset + bad} of the stream is wrong (call ${calls}, ${timeouts} timeouts so far, ${JSON.stringify(op)})`,
        );
      }
      offset += n;
    }
    await writer;
    // Nothing duplicated at the end either: the next read sees the peer's FIN.
    expect(await p.ours.recv(buf, buf.length, 3000)).toBe(0);
  } finally {
    await p.close();
  }
}

describe.each([...VARIANTS, ...IPV6_VARIANTS])('$name', (variant) => {
  test('random chunkings and random short timeouts: every byte arrives exactly once, in order', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, (c) => runCase(variant, c)),
      { numRuns: variant.tls ? 12 : 20, endOnFailure: true },
    );
  });
});
