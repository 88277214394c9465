/**
 * The frame reader of both sides, fed bytes straight from a fake source (no
 * socket): every chunking gives the same frames, views stay valid, the length
 * is checked before anything is allocated, memory follows what arrives.
 */
import fc from 'fast-check';
import { FrameReader, SLAB_BYTES, type FrameSource, type IdleRead } from '../src/wire/frame-reader';
import { SlabPool } from '../src/wire/slab-pool';

/** Frames `bodies` into one stream: 4-byte big-endian length, then the bytes. */
function frames(...bodies: Uint8Array[]): Buffer {
  return Buffer.concat(
    bodies.flatMap((body) => [
      Buffer.from([body.length >>> 24, (body.length >>> 16) & 0xff, (body.length >>> 8) & 0xff, body.length & 0xff]),
      Buffer.from(body),
    ]),
  );
}

/** A source that hands out `stream` in pieces no longer than `cuts` say (then the rest), then 0 (closed). Records every read. */
class ChunkedSource implements FrameSource {
  readonly reads: Array<{ kind: 'recv' | 'recvn'; room: number }> = [];
  private _pos = 0;
  private _cut = 0;
  constructor(
    private readonly _stream: Uint8Array,
    private readonly _cuts: number[] = [],
  ) {}

  recv(buf: Uint8Array, n: number): Promise<number> {
    this.reads.push({ kind: 'recv', room: n });
    const piece = this._cut < this._cuts.length ? this._cuts[this._cut++] : Infinity;
    const take = Math.min(n, piece, this._stream.length - this._pos);
    buf.set(this._stream.subarray(this._pos, this._pos + take));
    this._pos += take;
    return Promise.resolve(take);
  }

  recvn(buf: Uint8Array, n: number): Promise<number> {
    this.reads.push({ kind: 'recvn', room: n });
    if (this._stream.length - this._pos < n) return Promise.resolve(0);
    buf.set(this._stream.subarray(this._pos, this._pos + n));
    this._pos += n;
    return Promise.resolve(n);
  }
}

/** Reads every frame until the source is exhausted; returns views (not copies) of them. */
async function readAll(reader: FrameReader, source: FrameSource): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (;;) {
    while (reader.next()) out.push(reader.bytes.subarray(reader.start, reader.end));
    if ((await reader.fill(source)) <= 0) return out;
  }
}

const bodies = [Buffer.from('a'), Buffer.from('hello world'), Buffer.alloc(300, 7), Buffer.from([0x94, 0, 1, 0xa4])];

test.each<IdleRead>(['header', 'slab'])(
  'frames come out whole whatever the pieces they arrive in, as views that stay valid (idle: %s)',
  async (idle) => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 40_000 }), { maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 70_000 }), { maxLength: 20 }),
        async (bodyList, cuts) => {
          const reader = new FrameReader(64 * 1024, new SlabPool(SLAB_BYTES), idle);
          const got = await readAll(reader, new ChunkedSource(frames(...bodyList), cuts));
          // All the views at the end: no frame was overwritten by a later read.
          expect(got.map((b) => Buffer.from(b))).toEqual(bodyList.map((b) => Buffer.from(b)));
          expect(reader.buffered).toBe(0);
        },
      ),
      { numRuns: 150 },
    );
  },
);

test('one read brings every frame that has come: frames inside it are views of one slab, no copy', async () => {
  const source = new ChunkedSource(frames(...bodies));
  const reader = new FrameReader(1024, new SlabPool(SLAB_BYTES), 'slab');
  const got = await readAll(reader, source);
  expect(got.map((b) => Buffer.from(b))).toEqual(bodies);
  expect(new Set(got.map((b) => b.buffer)).size).toBe(1);
  // One read for all of it, then the one that sees the close.
  expect(source.reads.map((r) => r.kind)).toEqual(['recv', 'recv']);
  expect(source.reads[0].room).toBe(SLAB_BYTES);
});

test("idle: 'header' holds nothing between frames: it waits for the next header in 4 bytes of its own", async () => {
  const source = new ChunkedSource(frames(...bodies));
  const reader = new FrameReader(1024, new SlabPool(SLAB_BYTES), 'header');
  const got = await readAll(reader, source);
  expect(got.map((b) => Buffer.from(b))).toEqual(bodies);
  // The first header alone, then one read for the rest, then the close (seen waiting for a header).
  expect(source.reads).toEqual([
    { kind: 'recvn', room: 4 },
    { kind: 'recv', room: SLAB_BYTES },
    { kind: 'recvn', room: 4 },
  ]);
});

test('the length is checked before anything is read or allocated for the body; the reader then refuses input', async () => {
  const source = new ChunkedSource(Buffer.from([0, 0, 0, 17, 1, 2, 3]));
  const reader = new FrameReader(16, new SlabPool(SLAB_BYTES), 'header');
  await expect(reader.fill(source)).rejects.toMatchObject({ code: 'FRAME_TOO_LARGE' });
  expect(source.reads).toEqual([{ kind: 'recvn', room: 4 }]);
  await expect(reader.fill(source)).rejects.toMatchObject({ code: 'FRAME_TOO_LARGE' });
  expect(source.reads).toHaveLength(1);

  const zero = new FrameReader(16, new SlabPool(SLAB_BYTES), 'header');
  const afterOne = new ChunkedSource(frames(Buffer.from('ok'), Buffer.alloc(0)));
  expect(await zero.fill(afterOne)).toBeGreaterThan(0);
  expect(zero.next()).toBe(true);
  expect(() => zero.next()).toThrow(expect.objectContaining({ code: 'BAD_MESSAGE' }));
});

test('a large frame is gathered in a buffer that grows as its bytes arrive, never past twice what came', async () => {
  const body = Buffer.alloc(3 * 1024 * 1024 + 5, 0x5a);
  const source = new ChunkedSource(
    frames(body),
    Array.from({ length: 1000 }, () => 40_000),
  );
  const reader = new FrameReader(4 * 1024 * 1024, new SlabPool(SLAB_BYTES), 'header');
  const got = await readAll(reader, source);
  expect(got).toHaveLength(1);
  expect(Buffer.compare(Buffer.from(got[0]), body)).toBe(0);
  // Each read is offered room up to the buffer's end, and the buffer is at most 64 KiB or twice what had come.
  let came = 0;
  for (const r of source.reads.filter((x) => x.kind === 'recv')) {
    expect(came + r.room).toBeLessThanOrEqual(Math.max(64 * 1024, 2 * came));
    came += Math.min(r.room, 40_000);
  }
});

test('announcing a large frame and sending nothing holds no more than 64 KiB', async () => {
  const source = new ChunkedSource(Buffer.from([0x00, 0x40, 0x00, 0x00, 1]));
  const reader = new FrameReader(4 * 1024 * 1024, new SlabPool(SLAB_BYTES), 'header');
  expect(await reader.fill(source)).toBe(1);
  expect(reader.next()).toBe(false);
  expect(reader.buffered).toBe(5);
  expect(source.reads[1]).toEqual({ kind: 'recv', room: 64 * 1024 });
});

test('a small frame cut by the end of a slab moves, once, to a slab with room for all of it', async () => {
  const list = Array.from({ length: 70 }, (_, i) => Buffer.alloc(1000, i)); // 70,280 bytes: more than a slab
  const reader = new FrameReader(SLAB_BYTES, new SlabPool(SLAB_BYTES), 'header');
  const got = await readAll(reader, new ChunkedSource(frames(...list)));
  expect(got.map((b) => Buffer.from(b))).toEqual(list);
  expect(new Set(got.map((b) => b.buffer)).size).toBe(2);
});
