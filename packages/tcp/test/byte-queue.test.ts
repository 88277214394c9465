/**
 * The read queue against a flat copy of the same bytes: whatever the chunking,
 * `read` gives the bytes in order and `indexOf` finds what a plain search of
 * the flat bytes finds (including across chunk ends, and within `end`), and
 * `takeThrough` takes a line only through its first delimiter. The short cuts
 * for the head chunk (a read inside it, a one-byte delimiter in it) and the
 * general loop must agree.
 */
import * as fc from 'fast-check';
import { ByteQueue } from '../src/byte-queue';

/** Where `delim` first starts in `flat[from..end)`, ending by `end`; `-1` if nowhere. */
function flatIndexOf(flat: Buffer, delim: Uint8Array, from: number, end: number): number {
  return flat.subarray(0, end).indexOf(delim, from);
}

const op = fc.oneof(
  fc.record({ kind: fc.constant('push' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 8, max: 3 }) }),
  fc.record({ kind: fc.constant('read' as const), n: fc.integer({ min: 1, max: 12 }) }),
  fc.record({
    kind: fc.constant('find' as const),
    delim: fc.uint8Array({ minLength: 1, maxLength: 3, max: 3 }),
    from: fc.integer({ min: 0, max: 24 }),
    /** How far before the end of what is held the search ends. */
    cut: fc.integer({ min: 0, max: 10 }),
  }),
  fc.record({
    kind: fc.constant('take' as const),
    delim: fc.uint8Array({ minLength: 1, maxLength: 3, max: 3 }),
    limit: fc.integer({ min: 0, max: 12 }),
  }),
);

test('read, indexOf and takeThrough agree with a flat copy of the bytes, however they were chunked', () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const q = new ByteQueue();
      let flat = Buffer.alloc(0);
      for (const o of ops) {
        if (o.kind === 'push') {
          q.push(Buffer.from(o.bytes));
          flat = Buffer.concat([flat, o.bytes]);
        } else if (o.kind === 'read') {
          const n = Math.min(o.n, q.length);
          if (n === 0) continue;
          const dst = Buffer.alloc(n);
          expect(q.read(dst, n)).toBe(n);
          expect(dst).toEqual(flat.subarray(0, n));
          flat = flat.subarray(n);
        } else if (o.kind === 'take') {
          const dst = Buffer.alloc(16);
          const got = q.takeThrough(dst, o.delim, Math.min(o.limit, q.length));
          if (got > 0) {
            // It took exactly the bytes through the first delimiter.
            expect(flat.indexOf(o.delim)).toBe(got - o.delim.length);
            expect(dst.subarray(0, got)).toEqual(flat.subarray(0, got));
            flat = flat.subarray(got);
          } else {
            // It looked at -got bytes, no more than allowed, and no delimiter ends in them.
            expect(-got).toBeLessThanOrEqual(Math.min(o.limit, q.length));
            expect(flat.subarray(0, -got).indexOf(o.delim)).toBe(-1);
          }
        } else {
          const end = Math.max(0, q.length - o.cut);
          expect(q.indexOf(o.delim, o.from, end)).toBe(flatIndexOf(flat, o.delim, o.from, end));
        }
        expect(q.length).toBe(flat.length);
      }
    }),
    { numRuns: 2000 },
  );
});

test('takeThrough with a one-byte delimiter, four bytes at a time: stops at the first delimiter, whatever the bytes around it and wherever the line starts', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 255 }),
      // Bytes near the delimiter in value and in bit pattern: what a word-at-a-time test could mistake for it.
      fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 120 }),
      fc.integer({ min: 0, max: 7 }),
      fc.integer({ min: 0, max: 64 }),
      (delim, picks, skip, limit) => {
        const bytes = Buffer.from(
          picks.map(
            (k, i) =>
              [
                delim,
                delim ^ 1,
                (delim + 1) & 0xff,
                (delim - 1) & 0xff,
                delim ^ 0x80,
                0,
                0xff,
                0x80,
                0x01,
                (i * 37) & 0xff,
              ][k],
          ),
        );
        const q = new ByteQueue();
        q.push(bytes);
        const start = Math.min(skip, bytes.length);
        if (start > 0) q.read(Buffer.alloc(start), start);
        const flat = bytes.subarray(start);
        const dst = Buffer.alloc(64);
        const max = Math.min(limit, flat.length);
        const got = q.takeThrough(dst, Buffer.from([delim]), max);
        const at = flat.subarray(0, max).indexOf(delim);
        if (at >= 0) {
          expect(got).toBe(at + 1);
          expect(dst.subarray(0, got)).toEqual(flat.subarray(0, got));
          expect(q.length).toBe(flat.length - got);
        } else {
          // It looked at every byte it was allowed to (-0 and 0 alike when none).
          expect(got <= 0 && -got === max).toBe(true);
          expect(q.length).toBe(flat.length);
        }
      },
    ),
    { numRuns: 5000 },
  );
});

test.each([
  {
    name: 'a one-byte delimiter that is the first byte of the second chunk, at the very end',
    chunks: [[0, 1], [2]],
    delim: [2],
    end: 3,
    at: 2,
  },
  { name: 'a one-byte delimiter past the end searched', chunks: [[0, 1], [2]], delim: [2], end: 2, at: -1 },
  {
    name: 'a delimiter across two chunks',
    chunks: [
      [0, 13],
      [10, 5],
    ],
    delim: [13, 10],
    end: 4,
    at: 1,
  },
  { name: 'a delimiter across three chunks', chunks: [[13], [10], [7]], delim: [13, 10, 7], end: 3, at: 0 },
])('$name', ({ chunks, delim, end, at }) => {
  const q = new ByteQueue();
  for (const c of chunks) q.push(Buffer.from(c));
  expect(q.indexOf(Uint8Array.from(delim), 0, end)).toBe(at);
});
