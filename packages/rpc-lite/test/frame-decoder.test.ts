import fc from 'fast-check';
import { FrameDecoder } from '../src/wire/frame-decoder';
import { readFrameLength, writeFrameLength } from '../src/wire/frame-header';
import { RpcError } from '../src/errors';

/** Frames `bodies` into one stream: 4-byte big-endian length, then the bytes. */
function frames(...bodies: Uint8Array[]): Buffer {
  const parts: Buffer[] = [];
  for (const body of bodies) {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(body.length);
    parts.push(header, Buffer.from(body));
  }
  return Buffer.concat(parts);
}

/** Feeds `chunks` to a decoder and collects copies of the frames it hands out. */
function decodeChunks(decoder: FrameDecoder, chunks: Uint8Array[]): Buffer[] {
  const out: Buffer[] = [];
  for (const chunk of chunks) {
    // Reuse one scratch buffer per chunk, as a socket reader does: the decoder must not keep views of it.
    const scratch = Buffer.alloc(chunk.length + 3, 0xee);
    scratch.set(chunk, 3);
    decoder.push(scratch, 3, 3 + chunk.length, (bytes, start, end) =>
      out.push(Buffer.from(bytes.subarray(start, end))),
    );
    scratch.fill(0xdd);
  }
  return out;
}

const bodies = [Buffer.from('a'), Buffer.from('hello world'), Buffer.alloc(300, 7), Buffer.from([0x94, 0, 1, 0xa4])];

describe('readFrameLength / writeFrameLength', () => {
  test('round-trips big-endian lengths up to 2^32 - 1', () => {
    const buf = new Uint8Array(6);
    for (const n of [1, 255, 256, 65535, 65536, 0x01020304, 0xffffffff]) {
      writeFrameLength(buf, 2, n);
      expect(Buffer.from(buf).readUInt32BE(2)).toBe(n);
      expect(readFrameLength(buf, 2, 0xffffffff)).toBe(n);
    }
  });

  test('rejects 0 with BAD_MESSAGE and more than the bound with FRAME_TOO_LARGE', () => {
    expect(() => readFrameLength(new Uint8Array([0, 0, 0, 0]), 0, 100)).toThrow(
      expect.objectContaining({ code: 'BAD_MESSAGE' }),
    );
    expect(() => readFrameLength(new Uint8Array([0, 0, 0, 101]), 0, 100)).toThrow(
      expect.objectContaining({ code: 'FRAME_TOO_LARGE' }),
    );
    expect(() => readFrameLength(new Uint8Array([0xff, 0xff, 0xff, 0xff]), 0, 100)).toThrow(RpcError);
    expect(readFrameLength(new Uint8Array([0, 0, 0, 100]), 0, 100)).toBe(100);
  });
});

describe('FrameDecoder', () => {
  test('several frames in one chunk come out as views, in order', () => {
    const stream = frames(...bodies);
    const views: Array<{ bytes: Uint8Array; start: number; end: number }> = [];
    new FrameDecoder(1024).push(stream, 0, stream.length, (bytes, start, end) => views.push({ bytes, start, end }));
    expect(views.map((v) => Buffer.from(v.bytes.subarray(v.start, v.end)))).toEqual(bodies);
    // No copy when a frame lies inside the chunk: the view is the chunk itself.
    for (const v of views) expect(v.bytes).toBe(stream);
  });

  test('a stream split at every byte boundary gives the same frames', () => {
    const stream = frames(...bodies);
    for (let cut = 0; cut <= stream.length; cut++) {
      const got = decodeChunks(new FrameDecoder(1024), [stream.subarray(0, cut), stream.subarray(cut)]);
      expect(got).toEqual(bodies);
    }
  });

  test('a stream split at every pair of boundaries gives the same frames', () => {
    const stream = frames(Buffer.from('xy'), Buffer.from('abcdef'), Buffer.from('z'));
    const expected = [Buffer.from('xy'), Buffer.from('abcdef'), Buffer.from('z')];
    for (let a = 0; a <= stream.length; a++) {
      for (let b = a; b <= stream.length; b++) {
        const got = decodeChunks(new FrameDecoder(64), [
          stream.subarray(0, a),
          stream.subarray(a, b),
          stream.subarray(b),
        ]);
        expect(got).toEqual(expected);
      }
    }
  });

  test('one byte at a time', () => {
    const stream = frames(...bodies);
    const decoder = new FrameDecoder(1024);
    const chunks = [...stream].map((b) => Uint8Array.of(b));
    expect(decodeChunks(decoder, chunks)).toEqual(bodies);
    expect(decoder.buffered).toBe(0);
  });

  test('buffered counts a partial frame', () => {
    const stream = frames(Buffer.from('hello'));
    const decoder = new FrameDecoder(1024);
    decoder.push(stream, 0, 2, () => {});
    expect(decoder.buffered).toBe(2);
    decoder.push(stream, 2, 6, () => {});
    expect(decoder.buffered).toBe(6);
  });

  test('a frame of exactly maxFrameBytes passes; one more byte is FRAME_TOO_LARGE before any body byte is read', () => {
    const ok = frames(Buffer.alloc(16, 1));
    expect(decodeChunks(new FrameDecoder(16), [ok])).toEqual([Buffer.alloc(16, 1)]);

    const decoder = new FrameDecoder(16);
    // Only the header arrives: the decoder refuses it before the 17 body bytes exist.
    expect(() => decoder.push(Uint8Array.of(0, 0, 0, 17), 0, 4, () => {})).toThrow(
      expect.objectContaining({ code: 'FRAME_TOO_LARGE' }),
    );
    // The stream has lost its framing: later input is refused too.
    expect(() => decoder.push(Uint8Array.of(1), 0, 1, () => {})).toThrow(
      expect.objectContaining({ code: 'FRAME_TOO_LARGE' }),
    );
  });

  test('a 4 GiB length is refused without allocating it', () => {
    const decoder = new FrameDecoder(1024);
    expect(() => decoder.push(Uint8Array.of(0xff, 0xff, 0xff, 0xff), 0, 4, () => {})).toThrow(
      expect.objectContaining({ code: 'FRAME_TOO_LARGE' }),
    );
  });

  test('length 0 is BAD_MESSAGE; the frames before it were handed out', () => {
    const stream = Buffer.concat([frames(Buffer.from('ok')), Buffer.from([0, 0, 0, 0]), frames(Buffer.from('never'))]);
    const got: string[] = [];
    expect(() =>
      new FrameDecoder(64).push(stream, 0, stream.length, (b, s, e) =>
        got.push(Buffer.from(b.subarray(s, e)).toString()),
      ),
    ).toThrow(expect.objectContaining({ code: 'BAD_MESSAGE' }));
    expect(got).toEqual(['ok']);
  });

  test('a bad length split across chunks is caught when its last header byte arrives', () => {
    const decoder = new FrameDecoder(64);
    decoder.push(Uint8Array.of(0, 0), 0, 2, () => {});
    expect(() => decoder.push(Uint8Array.of(1, 0), 0, 2, () => {})).toThrow(
      expect.objectContaining({ code: 'FRAME_TOO_LARGE' }),
    );
  });

  test('rejects a bad maxFrameBytes', () => {
    expect(() => new FrameDecoder(0)).toThrow(RangeError);
    expect(() => new FrameDecoder(2 ** 32)).toThrow(RangeError);
    expect(() => new FrameDecoder(1.5)).toThrow(RangeError);
  });

  test('property: any frames, any chunking, come out unchanged', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 200 }), { maxLength: 12 }),
        fc.array(fc.nat(300), { maxLength: 20 }),
        (bodyList, cuts) => {
          const stream = frames(...bodyList);
          const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
          const chunks: Uint8Array[] = [];
          let prev = 0;
          for (const p of points) {
            chunks.push(stream.subarray(prev, p));
            prev = p;
          }
          chunks.push(stream.subarray(prev));
          const got = decodeChunks(new FrameDecoder(200), chunks);
          expect(got).toEqual(bodyList.map((b) => Buffer.from(b)));
        },
      ),
      { numRuns: 300 },
    );
  });
});
