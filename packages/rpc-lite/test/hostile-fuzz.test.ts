/**
 * rpc-lite fuzzing with fast-check against a live RpcServer on loopback, from
 * raw `node:net` sockets, while a well-behaved RpcClient keeps calling the
 * same server alongside:
 * - frames, valid and invalid, of every kind (requests, notifications,
 *   requests of the wrong shape with a readable msgid, unknown types,
 *   responses, values that are not arrays, bytes that are not MessagePack,
 *   length 0, length over maxFrameBytes), split into chunks at random points
 *   and written with random pauses;
 * - streams of random bytes.
 * The server must never crash (no handler failure reported, the process
 * survives), never answer with a msgid it was not sent (each msgid answered
 * at most once, with the right result or error), answer every request when
 * the stream holds nothing fatal, close the connection after a fatal frame,
 * and keep serving the well-behaved client throughout.
 */
import * as net from 'node:net';
import fc from 'fast-check';
import { Packr, Unpackr } from 'msgpackr';
import { RpcClient, RpcServer } from '../src';
import { figure } from '../../../libs/test-support/hostile';
import { recordErrors, sleep } from '../../../libs/test-support/net';
import { guardLeaks } from './helpers';

const MAX_FRAME = 16 * 1024;
const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'auto' as 'number' });

let server: RpcServer;
let port: number;
const reported: Error[] = [];

beforeAll(async () => {
  server = new RpcServer({ maxFrameBytes: MAX_FRAME, onError: (err) => void reported.push(err) })
    .handle('echo', (params: unknown[]) => params[0])
    .handle('sleep', async ([ms, v]: [number, unknown]) => {
      await sleep(ms); // a handler that works for `ms`: the scenario, not a synchronization
      return v;
    })
    .handle('fail', ([code]: [string]) => {
      throw Object.assign(new Error('asked to fail'), { code });
    })
    .handle('note', () => undefined);
  await server.start('127.0.0.1', 0);
  port = server.address()!.port;
});
afterAll(async () => {
  await server.shutdown(1000);
});

/** A well-behaved client calling echo in a loop, checking each result, until stopped. */
class GoodCaller {
  calls = 0;
  readonly failures: string[] = [];
  private _stop = false;
  private readonly _client = new RpcClient('127.0.0.1', port, { timeoutMs: 5000, connections: 2 });
  private readonly _done = this._run();

  private async _run(): Promise<void> {
    for (let i = 0; !this._stop; i++) {
      const value = { i, s: 'x'.repeat(i % 300), list: [i, -i, `${i}`] };
      try {
        const r = await this._client.call<unknown>('echo', [value]);
        if (JSON.stringify(r) !== JSON.stringify(value))
          this.failures.push(`call ${i}: wrong result ${JSON.stringify(r)}`);
        this.calls++;
      } catch (err) {
        this.failures.push(`call ${i}: ${(err as { code?: string }).code} ${(err as Error).message}`);
      }
      await sleep(1); // a client that calls again and again, not in a tight loop: the scenario, not a synchronization
    }
  }

  async stop(): Promise<{ calls: number; failures: string[] }> {
    this._stop = true;
    await this._done;
    await this._client.close();
    return { calls: this.calls, failures: this.failures };
  }
}

// ---------------------------------------------------------------------------
// Pieces of a hostile stream and what the server must answer to each.

/** What a well-behaved server answers to one piece. */
type Expect =
  | { kind: 'result'; msgid: number; result: unknown }
  | { kind: 'error'; msgid: number; code: string }
  | { kind: 'none' } // a notification: no answer, the connection goes on
  | { kind: 'fatal' }; // the server must close the connection here (nothing after it is read)

interface Piece {
  bytes: Buffer;
  expect: Expect;
  label: string;
}

function frame(body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.set(body, 4);
  return out;
}

/** MessagePack values that come back from an echo exactly as sent (no floats: -0 and NaN compare oddly). */
const valueArb: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer(),
    fc.string({ maxLength: 40 }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(
      fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__'),
      tie('value'),
      { maxKeys: 4 },
    ),
  ),
})).value;

/** A piece as plain data (so that a counterexample prints readably); {@link build} makes its bytes. */
type PieceSpec =
  | { kind: 'echo'; value: unknown }
  | { kind: 'sleep'; ms: number; value: unknown }
  | { kind: 'fail'; code: string }
  | { kind: 'missing'; method: string }
  | { kind: 'notify'; value: unknown }
  | { kind: 'notify-missing' }
  | { kind: 'bad-shape'; shape: 'method-not-string' | 'three-elements' | 'five-elements' | 'unknown-type' }
  | { kind: 'fatal'; what: FatalKind };

/** Frames past which the stream cannot be trusted: the server must close the connection. */
const FATAL = {
  'length-0': () => Buffer.from([0, 0, 0, 0]),
  'too-large': () => Buffer.from([0, 0, 0x40, 0x01]), // 16 KiB + 1
  '4-GiB': () => Buffer.from([0xff, 0xff, 0xff, 0xff]),
  'not-msgpack': () => frame(Buffer.from([0xc1, 0x00, 0x01])), // 0xc1 is never used by MessagePack
  'not-an-array': () => frame(packr.pack({ method: 'echo' })),
  string: () => frame(packr.pack('hello')),
  response: () => frame(packr.pack([1, 1, null, 'x'])),
  'no-msgid': () => frame(packr.pack([0, 'abc', 'echo', []])),
  'trailing-bytes': () => frame(Buffer.concat([packr.pack([0, 1, 'echo', []]), Buffer.from([0x01])])),
} as const;
type FatalKind = keyof typeof FATAL;

const BAD_SHAPES = {
  'method-not-string': (id: number) => [0, id, 42, []],
  'three-elements': (id: number) => [0, id, 'echo'],
  'five-elements': (id: number) => [0, id, 'echo', [], 'extra'],
  'unknown-type': (id: number) => [7, id, 'echo', []],
} as const;

/** The bytes of `spec` with msgid `id`, and what the server must answer. */
function build(spec: PieceSpec, id: number): Piece {
  const label = spec.kind === 'fatal' ? spec.what : spec.kind;
  switch (spec.kind) {
    case 'echo':
      return {
        bytes: frame(packr.pack([0, id, 'echo', [spec.value]])),
        expect: { kind: 'result', msgid: id, result: spec.value },
        label,
      };
    case 'sleep':
      return {
        bytes: frame(packr.pack([0, id, 'sleep', [spec.ms, spec.value]])),
        expect: { kind: 'result', msgid: id, result: spec.value },
        label,
      };
    case 'fail':
      return {
        bytes: frame(packr.pack([0, id, 'fail', [spec.code]])),
        expect: { kind: 'error', msgid: id, code: spec.code },
        label,
      };
    case 'missing':
      return {
        bytes: frame(packr.pack([0, id, `missing-${spec.method}`, []])),
        expect: { kind: 'error', msgid: id, code: 'METHOD_NOT_FOUND' },
        label,
      };
    case 'notify':
      return { bytes: frame(packr.pack([2, 'note', [spec.value]])), expect: { kind: 'none' }, label };
    case 'notify-missing':
      return { bytes: frame(packr.pack([2, 'nobody', []])), expect: { kind: 'none' }, label };
    case 'bad-shape':
      return {
        bytes: frame(packr.pack(BAD_SHAPES[spec.shape](id))),
        expect: { kind: 'error', msgid: id, code: 'BAD_MESSAGE' },
        label,
      };
    case 'fatal':
      return { bytes: FATAL[spec.what](), expect: { kind: 'fatal' }, label };
  }
}

const pieceArb: fc.Arbitrary<PieceSpec> = fc.oneof(
  // Requests the server answers.
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('echo' as const), value: valueArb }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('sleep' as const), ms: fc.integer({ min: 0, max: 15 }), value: valueArb }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('fail' as const), code: fc.constantFrom('E_MINE', 'HANDLER_ERROR') }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('missing' as const), method: fc.string({ maxLength: 10 }) }) },
  // Notifications: no answer.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('notify' as const), value: valueArb }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'notify-missing' as const }) },
  // The wrong shape, with a readable msgid: a BAD_MESSAGE answer, and the connection goes on.
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('bad-shape' as const),
      shape: fc.constantFrom(...(Object.keys(BAD_SHAPES) as Array<keyof typeof BAD_SHAPES>)),
    }),
  },
  // Fatal: the stream cannot be trusted past these.
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('fatal' as const),
      what: fc.constantFrom(...(Object.keys(FATAL) as FatalKind[])),
    }),
  },
);

const streamArb = fc.record({
  pieces: fc.array(pieceArb, { minLength: 1, maxLength: 25 }),
  firstMsgid: fc.nat({ max: 0xffff_ff00 }),
  /** Cut points of the whole stream (taken modulo its length). */
  cuts: fc.array(fc.nat(), { maxLength: 30 }),
  pauses: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 5 }),
  /** Close our side (FIN) when done, or reset. */
  finish: fc.constantFrom('fin', 'fin', 'reset'),
});

// ---------------------------------------------------------------------------

/** Connects, writes `chunks` with pauses, then FIN or RST; collects what comes back until the server closes. */
async function talk(
  chunks: Buffer[],
  pauses: number[],
  finish: 'fin' | 'reset',
  awaitServerClose = false,
  /** After the first chunk, wait until this many bytes came back before going on. */
  firstAnswerBytes = 0,
): Promise<{ data: Buffer; closedByServer: boolean; errors: Error[] }> {
  const sock = net.connect({ port, host: '127.0.0.1', noDelay: true, allowHalfOpen: true });
  const errors = recordErrors(sock);
  const received: Buffer[] = [];
  let ended = false;
  sock.on('data', (c: Buffer) => received.push(c));
  const closed = new Promise<void>((resolve) => {
    sock.once('end', () => {
      ended = true;
      resolve();
    });
    // A reset from the server (it closed while our later bytes were still coming) ends it too.
    sock.once('close', () => {
      if (errors.length > 0) ended = true;
      resolve();
    });
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  for (let i = 0; i < chunks.length && !sock.destroyed && !ended; i++) {
    sock.write(chunks[i]);
    if (i === 0 && firstAnswerBytes > 0) {
      const deadline = Date.now() + 3000;
      while (received.reduce((n, c) => n + c.length, 0) < firstAnswerBytes && Date.now() < deadline) await sleep(1);
    }
    // The random pauses between chunks are the scenario, not a synchronization.
    const p = pauses[i % pauses.length];
    if (p === 0) await new Promise((r) => setImmediate(r));
    else await sleep(p);
  }
  if (awaitServerClose && !ended) {
    // A fatal frame was sent: the server must close by itself, without our FIN.
    const t = setTimeout(() => sock.destroy(), 3000);
    await closed;
    clearTimeout(t);
  }
  const closedByServer = ended;
  if (finish === 'reset' && !sock.destroyed) {
    sock.resetAndDestroy();
  } else {
    sock.end();
    // The server answers what it read, then closes; give it a bounded time.
    const t = setTimeout(() => sock.destroy(), 5000);
    await closed;
    clearTimeout(t);
  }
  sock.destroy();
  return { data: Buffer.concat(received), closedByServer, errors };
}

/** Splits `data` into frames and decodes them (the server's output is trusted to be well framed: a bad frame fails). */
function responses(data: Buffer): unknown[][] {
  const out: unknown[][] = [];
  let pos = 0;
  while (pos + 4 <= data.length) {
    const len = data.readUInt32BE(pos);
    expect(len).toBeGreaterThan(0);
    expect(len).toBeLessThanOrEqual(MAX_FRAME);
    if (pos + 4 + len > data.length) break; // cut off by our own reset
    out.push(unpackr.unpack(data.subarray(pos + 4, pos + 4 + len)) as unknown[]);
    pos += 4 + len;
  }
  return out;
}

/** What the property tried, for docs/guarantees.md. */
const tried = { streams: 0, pieces: 0, bytes: 0, answers: 0, fatal: 0, byLabel: new Map<string, number>() };

async function runStream(s: typeof streamArb extends fc.Arbitrary<infer T> ? T : never): Promise<void> {
  const pieces = s.pieces.map((spec, i) => build(spec, (s.firstMsgid + i) % 0x1_0000_0000));
  const stream = Buffer.concat(pieces.map((p) => p.bytes));
  const points = [...new Set(s.cuts.map((c) => c % stream.length))].filter((c) => c > 0).sort((a, b) => a - b);
  const bounds = [0, ...points, stream.length];
  const chunks = bounds.slice(1).map((end, i) => stream.subarray(bounds[i], end));
  const fatalAt = pieces.findIndex((p) => p.expect.kind === 'fatal');
  // A fatal frame and our FIN not sent yet: the server must close by itself.
  const mustClose = fatalAt !== -1 && s.finish === 'fin';
  const { data, closedByServer } = await talk(chunks, s.pauses, s.finish, mustClose);
  expect({ mustClose, closed: closedByServer || !mustClose }).toEqual({ mustClose, closed: true });

  tried.streams++;
  tried.pieces += pieces.length;
  tried.bytes += stream.length;
  for (const p of pieces) tried.byLabel.set(p.label, (tried.byLabel.get(p.label) ?? 0) + 1);

  if (fatalAt !== -1) tried.fatal++;
  const expected = new Map<number, Expect>();
  for (const p of fatalAt === -1 ? pieces : pieces.slice(0, fatalAt)) {
    if (p.expect.kind === 'result' || p.expect.kind === 'error') expected.set(p.expect.msgid, p.expect);
  }
  const seen = new Set<number>();
  for (const r of responses(data)) {
    tried.answers++;
    expect(r.length).toBe(4);
    expect(r[0]).toBe(1);
    const msgid = r[1] as number;
    const want = expected.get(msgid);
    if (want === undefined)
      throw new Error(`answer with msgid ${msgid}, which no request before the first fatal frame carried`);
    if (seen.has(msgid)) throw new Error(`msgid ${msgid} answered twice`);
    seen.add(msgid);
    expect(r).toEqual(answerTo(want));
  }
  // Nothing fatal and a clean FIN: every request is answered, even those still running at the FIN.
  const mustAnswerAll = fatalAt === -1 && s.finish === 'fin';
  const unanswered = mustAnswerAll ? [...expected.keys()].filter((msgid) => !seen.has(msgid)) : [];
  expect(unanswered).toEqual([]);
}

/** The response a well-behaved server sends for a piece that expects one. */
function answerTo(want: Expect): unknown[] {
  switch (want.kind) {
    case 'result':
      return [1, want.msgid, null, want.result];
    case 'error':
      return [1, want.msgid, expect.objectContaining({ code: want.code }), null];
    default:
      throw new Error(`no answer is due to a piece of kind ${want.kind}`);
  }
}

const guard = { good: null as GoodCaller | null };
beforeEach(() => {
  reported.length = 0;
  guard.good = new GoodCaller();
});
afterEach(async () => {
  const r = await guard.good!.stop();
  expect(r.failures).toEqual([]);
  expect(r.calls).toBeGreaterThan(0);
  // No handler failure, no internal error: every report is a protocol error of a bad peer.
  for (const err of reported) {
    expect(['BAD_MESSAGE', 'FRAME_TOO_LARGE', 'METHOD_NOT_FOUND', 'E_MINE', 'HANDLER_ERROR']).toContain(
      (err as { code?: string }).code,
    );
    expect(err.name).toBe('RpcError');
  }
  // Every raw connection is gone; only the good client's may remain until it closes.
  const deadline = Date.now() + 3000;
  while (server.connNum() > 0 && Date.now() < deadline) await sleep(10);
  expect(server.connNum()).toBe(0);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
});
guardLeaks();

test('random valid and invalid frames, split at random points: right answers, right msgids, fatal frames close, the good client goes on', async () => {
  await fc.assert(fc.asyncProperty(streamArb, runStream), { numRuns: 200 });
  figure(
    `rpc-lite fuzz (frames): ${tried.streams} streams, ${tried.pieces} frames (${[...tried.byLabel].map(([k, v]) => `${k} ${v}`).join(', ')}), ` +
      `${tried.bytes} bytes, ${tried.answers} answers checked, ${tried.fatal} streams with a fatal frame`,
  );
}, 60_000);

const OK_ANSWER_BYTES = frame(packr.pack([1, 1, null, 'ok'])).length;

test('random byte streams: the server never crashes, answers only in well-formed frames, and goes on', async () => {
  let streams = 0;
  let bytes = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ minLength: 1, maxLength: 3000, size: 'max' }),
      fc.array(fc.nat(), { maxLength: 10 }),
      fc.boolean(),
      async (raw, cuts, withValidPrefix) => {
        // Half of the streams start with a valid request, so the garbage lands mid-connection.
        // Half of the streams start with a valid request, answered before the garbage follows
        // (a peer that keeps writing after the server closed may lose what it has not read yet).
        const prefix = withValidPrefix ? [frame(packr.pack([0, 1, 'echo', ['ok']]))] : [];
        const points = [...new Set(cuts.map((c) => c % raw.length))].filter((c) => c > 0).sort((a, b) => a - b);
        const bounds = [0, ...points, raw.length];
        const chunks = [...prefix, ...bounds.slice(1).map((end, i) => Buffer.from(raw.subarray(bounds[i], end)))];
        const { data } = await talk(chunks, [0, 1], 'fin', false, withValidPrefix ? OK_ANSWER_BYTES : 0);
        const stream = Buffer.concat(chunks);
        streams++;
        bytes += stream.length;
        const answers = responses(data);
        expect(answers.map((r) => r[0])).toEqual(answers.map(() => 1));
        // The valid request of the prefix, if any, is answered first.
        expect(answers.slice(0, prefix.length)).toEqual(prefix.map(() => [1, 1, null, 'ok']));
      },
    ),
    { numRuns: 150 },
  );
  figure(`rpc-lite fuzz (random bytes): ${streams} streams, ${bytes} bytes`);
}, 60_000);

test('a __proto__ key in params pollutes nothing and the echo comes back without it', async () => {
  const params = JSON.parse('[{"__proto__": {"polluted": true}, "a": 1}]') as unknown[];
  const { data } = await talk([frame(packr.pack([0, 9, 'echo', params]))], [0], 'fin');
  const [r] = responses(data);
  expect(r[1]).toBe(9);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.getPrototypeOf(r[3])).toBe(Object.prototype);
});
