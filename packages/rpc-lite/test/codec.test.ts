import { MessageCodec } from '../src/wire/codec';
import { BadMessageError } from '../src/errors';

const codec = new MessageCodec();

function decode(bytes: number[] | Uint8Array): unknown {
  const buf = Uint8Array.from(bytes);
  return codec.decode(buf, 0, buf.length);
}

function badMessage(bytes: number[] | Uint8Array): BadMessageError {
  let thrown: unknown = null;
  try {
    decode(bytes);
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(BadMessageError);
  expect((thrown as BadMessageError).code).toBe('BAD_MESSAGE');
  return thrown as BadMessageError;
}

// [0, 1, "echo", ["hi"]] packed by hand, byte by byte (MessagePack spec).
const ECHO_REQUEST = [
  0x94, //                          fixarray, 4 elements
  0x00, //                          positive fixint 0: request
  0x01, //                          positive fixint 1: msgid
  0xa4,
  0x65,
  0x63,
  0x68,
  0x6f, //  fixstr(4) "echo"
  0x91, //                          fixarray, 1 element
  0xa2,
  0x68,
  0x69, //              fixstr(2) "hi"
];

describe('MessageCodec: the wire format', () => {
  test('a hand-packed request decodes, and encoding gives the same bytes', () => {
    expect(decode(ECHO_REQUEST)).toEqual([0, 1, 'echo', ['hi']]);
    expect([...codec.encode([0, 1, 'echo', ['hi']])]).toEqual(ECHO_REQUEST);
  });

  test('responses and notifications', () => {
    // [1, 1, nil, "hi"]
    expect([...codec.encode([1, 1, null, 'hi'])]).toEqual([0x94, 0x01, 0x01, 0xc0, 0xa2, 0x68, 0x69]);
    // [1, 7, {"code": "X", "message": ""}, nil]
    const err = [
      0x94,
      0x01,
      0x07,
      0x82,
      0xa4,
      ...Buffer.from('code'),
      0xa1,
      0x58,
      0xa7,
      ...Buffer.from('message'),
      0xa0,
      0xc0,
    ];
    expect(decode(err)).toEqual([1, 7, { code: 'X', message: '' }, null]);
    // msgpackr writes every map with a map16 header (0xde, 2 bytes of count): valid, if not minimal.
    expect([...codec.encode([1, 7, { code: 'X', message: '' }, null])]).toEqual([
      0x94,
      0x01,
      0x07,
      0xde,
      0x00,
      0x02,
      ...err.slice(4),
    ]);
    // [2, "log", [1]]
    expect(decode([0x93, 0x02, 0xa3, ...Buffer.from('log'), 0x91, 0x01])).toEqual([2, 'log', [1]]);
  });

  test('undefined goes out as nil; msgids in wider encodings are read as numbers', () => {
    expect([...codec.encode([1, 2, null, undefined])]).toEqual([0x94, 0x01, 0x02, 0xc0, 0xc0]);
    // msgid 5 as uint32 (0xce) and as uint64 (0xcf), which some peers send
    expect(decode([0x94, 0x00, 0xce, 0, 0, 0, 5, 0xa1, 0x66, 0xc0])).toEqual([0, 5, 'f', null]);
    expect(decode([0x94, 0x00, 0xcf, 0, 0, 0, 0, 0, 0, 0, 5, 0xa1, 0x66, 0xc0])).toEqual([0, 5, 'f', null]);
    // the largest msgid, 2^32 - 1
    expect(decode([0x94, 0x00, 0xce, 0xff, 0xff, 0xff, 0xff, 0xa1, 0x66, 0xc0])).toEqual([0, 0xffffffff, 'f', null]);
  });

  test('binary values are views of the frame, not copies', () => {
    const bytes = Buffer.from(codec.encode([1, 3, null, Buffer.from([1, 2, 3])]));
    const [, , , result] = codec.decode(bytes, 0, bytes.length) as unknown[];
    expect(Buffer.isBuffer(result)).toBe(true);
    expect([...(result as Uint8Array)]).toEqual([1, 2, 3]);
    expect((result as Buffer).buffer).toBe(bytes.buffer);
  });

  test('decodes a range inside a larger buffer', () => {
    const buf = Buffer.from([0xff, 0xff, ...ECHO_REQUEST, 0xff]);
    expect(codec.decode(buf, 2, 2 + ECHO_REQUEST.length)).toEqual([0, 1, 'echo', ['hi']]);
  });
});

describe('MessageCodec: bad messages', () => {
  test('bytes that are not MessagePack: no msgid', () => {
    expect(badMessage([0xc1]).msgid).toBeUndefined(); // 0xc1 is never used
    expect(badMessage([0x94, 0x00]).msgid).toBeUndefined(); // truncated
    expect(badMessage([...ECHO_REQUEST, 0x00]).msgid).toBeUndefined(); // two values in one frame
    expect(badMessage([0xdd, 0xff, 0xff, 0xff, 0xff]).msgid).toBeUndefined(); // array32 of 4G elements, no bytes
  });

  test('values of the wrong shape', () => {
    expect(badMessage([0xa2, 0x68, 0x69]).msgid).toBeUndefined(); // "hi"
    expect(badMessage([0x90]).msgid).toBeUndefined(); // []
    expect(badMessage([0x94, 0x00, 0xa1, 0x78, 0xa1, 0x66, 0xc0]).msgid).toBeUndefined(); // msgid "x"
    expect(badMessage([0x94, 0x00, 0xff, 0xa1, 0x66, 0xc0]).msgid).toBeUndefined(); // msgid -1
    expect(badMessage([0x94, 0x00, 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0xa1, 0x66, 0xc0]).msgid).toBeUndefined(); // msgid 1.5
    // msgid known: the peer can be answered
    expect(badMessage([0x93, 0x00, 0x09, 0xa1, 0x66]).msgid).toBe(9); // 3 elements
    expect(badMessage([0x94, 0x00, 0x09, 0x05, 0xc0]).msgid).toBe(9); // method 5
    expect(badMessage([0x94, 0x01, 0x09, 0x05, 0xc0]).msgid).toBe(9); // response error 5
    expect(badMessage([0x92, 0x02, 0xa1, 0x66]).msgid).toBeUndefined(); // notification of 2 elements
    expect(badMessage([0x93, 0x02, 0x05, 0xc0]).msgid).toBeUndefined(); // notification method 5
  });

  test('an unknown message type carries the msgid when there is one', () => {
    expect(badMessage([0x94, 0x05, 0x07, 0xa1, 0x66, 0xc0]).msgid).toBe(7);
    expect(badMessage([0x91, 0x05]).msgid).toBeUndefined();
    expect(badMessage([0x92, 0xa1, 0x30, 0x07]).msgid).toBe(7); // type "0" (a string)
  });

  test('a map key __proto__ does not pollute prototypes', () => {
    const bytes = [0x94, 0x00, 0x01, 0xa1, 0x66, 0x81, 0xa9, ...Buffer.from('__proto__'), 0x81, 0xa1, 0x78, 0x01];
    const [, , , params] = decode(bytes) as [number, number, string, Record<string, unknown>];
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    expect(Object.getPrototypeOf(params)).toBe(Object.prototype);
  });
});
