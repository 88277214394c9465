/**
 * The wire format, pinned from a raw `net.Socket` with bytes packed by hand,
 * and what the server does with bad frames.
 */
import { unpack } from 'msgpackr';
import { RpcClient } from '../src';
import { RawPeer, frame, guardLeaks, sleep, startServer, type Started } from './helpers';

const str = (s: string): number[] => [0xa0 | s.length, ...Buffer.from(s)];

// [0, 1, "echo", ["hi"]]
const ECHO_HI = [0x94, 0x00, 0x01, ...str('echo'), 0x91, ...str('hi')];

let s: Started;
const notes: unknown[] = [];
let peers: RawPeer[] = [];

beforeEach(async () => {
  notes.length = 0;
  s = await startServer(
    (server) =>
      server
        .handle('echo', (params: unknown) => params)
        .handle('fail', () => {
          throw new Error('secret internals');
        })
        .handle('later', async ([ms, v]: [number, unknown]) => {
          await sleep(ms); // a handler that works for `ms`: the scenario, not a synchronization
          return v;
        })
        .handle('note', (params) => {
          notes.push(params);
        }),
    { maxFrameBytes: 1024 },
  );
});

afterEach(async () => {
  for (const p of peers) p.destroy();
  peers = [];
  await s.server.shutdown(1000);
});
guardLeaks();

async function peer(): Promise<RawPeer> {
  const p = await RawPeer.connect(s.port);
  peers.push(p);
  return p;
}

describe('the wire format, by hand', () => {
  test('[0, 1, "echo", ["hi"]] is answered with exactly [1, 1, nil, ["hi"]]', async () => {
    const p = await peer();
    p.write(frame(ECHO_HI));
    const header = await p.bytes(4);
    expect([...header]).toEqual([0, 0, 0, 8]);
    expect([...(await p.bytes(8))]).toEqual([0x94, 0x01, 0x01, 0xc0, 0x91, ...str('hi')]);
  });

  test('a notification [2, "note", [7]] runs its handler and gets no answer', async () => {
    const p = await peer();
    p.write(frame([0x93, 0x02, ...str('note'), 0x91, 0x07]));
    p.write(frame(ECHO_HI)); // answered after the notification ran: nothing came in between
    expect(unpack(await p.frame())).toEqual([1, 1, null, ['hi']]);
    expect(notes).toEqual([[7]]);
  });

  test('an unknown method: [1, msgid, {code: "METHOD_NOT_FOUND", message}, nil]', async () => {
    const p = await peer();
    p.write(frame([0x94, 0x00, 0x05, ...str('nope'), 0x90]));
    const [type, msgid, error, result] = unpack(await p.frame()) as [number, number, Record<string, string>, unknown];
    expect([type, msgid, result]).toEqual([1, 5, null]);
    expect(error.code).toBe('METHOD_NOT_FOUND');
    expect(Object.keys(error).sort()).toEqual(['code', 'message']);
  });

  test('a handler error is {code: "HANDLER_ERROR", message}: no stack trace on the wire', async () => {
    const p = await peer();
    p.write(frame([0x94, 0x00, 0x06, ...str('fail'), 0x90]));
    const body = await p.frame();
    expect(unpack(body)).toEqual([1, 6, { code: 'HANDLER_ERROR', message: 'secret internals' }, null]);
    expect(body.toString('latin1')).not.toMatch(/\bat |\.ts:|\.js:/);
  });

  test('pipelined requests in one write are answered as each finishes, out of order', async () => {
    const p = await peer();
    // [0, 1, "later", [60, "slow"]], [0, 2, "later", [0, "fast"]], [0, 3, "echo", []]
    p.write(
      Buffer.concat([
        frame([0x94, 0x00, 0x01, ...str('later'), 0x92, 60, ...str('slow')]),
        frame([0x94, 0x00, 0x02, ...str('later'), 0x92, 0, ...str('fast')]),
        frame([0x94, 0x00, 0x03, ...str('echo'), 0x90]),
      ]),
    );
    const got = [unpack(await p.frame()), unpack(await p.frame()), unpack(await p.frame())];
    expect(got).toEqual([
      [1, 3, null, []],
      [1, 2, null, 'fast'],
      [1, 1, null, 'slow'],
    ]);
  });

  test('a request dribbled in one byte at a time', async () => {
    const p = await peer();
    for (const b of frame(ECHO_HI)) {
      p.write([b]);
      await sleep(1); // bytes that come apart in time: the scenario, not a synchronization
    }
    expect(unpack(await p.frame())).toEqual([1, 1, null, ['hi']]);
  });

  test('a client that sends and then closes its side still gets its answers', async () => {
    const p = await peer();
    p.write(frame([0x94, 0x00, 0x01, ...str('later'), 0x92, 30, ...str('done')]));
    p.sock.end();
    expect(unpack(await p.frame())).toEqual([1, 1, null, 'done']);
    expect(await p.endsWithin()).toBe(true);
  });
});

describe('bad frames from a peer', () => {
  /** While `bad` is being dealt with, a well-behaved client on the same server goes on being served. */
  async function othersUnaffected(run: () => Promise<void>): Promise<void> {
    await using client = new RpcClient('127.0.0.1', s.port);
    expect(await client.call('echo', ['before'])).toEqual(['before']);
    await run();
    expect(await client.call('echo', ['after'])).toEqual(['after']);
  }

  test('length 0: the connection is closed, the error reported', async () => {
    await othersUnaffected(async () => {
      const p = await peer();
      p.write([0, 0, 0, 0]);
      expect(await p.endsWithin()).toBe(true);
    });
    expect(s.errors.map((e) => (e.err as { code?: string }).code)).toEqual(['BAD_MESSAGE']);
    expect(s.errors[0].peer).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  test('length over maxFrameBytes: closed at the header, before the body is read or allocated', async () => {
    await othersUnaffected(async () => {
      const p = await peer();
      p.write([0, 0, 4, 1]); // 1025 > 1024, and no body follows
      expect(await p.endsWithin()).toBe(true);
      const q = await peer();
      q.write([0xff, 0xff, 0xff, 0xff]);
      expect(await q.endsWithin()).toBe(true);
    });
    expect(s.errors.map((e) => (e.err as { code?: string }).code)).toEqual(['FRAME_TOO_LARGE', 'FRAME_TOO_LARGE']);
  });

  test('bytes that are not MessagePack: closed (no msgid to answer)', async () => {
    await othersUnaffected(async () => {
      const p = await peer();
      p.write(frame([0xc1, 0xc1]));
      expect(await p.endsWithin()).toBe(true);
    });
    expect(s.errors.map((e) => (e.err as { code?: string }).code)).toEqual(['BAD_MESSAGE']);
  });

  test('answers queued before a bad frame still go out before the close', async () => {
    const p = await peer();
    p.write(Buffer.concat([frame(ECHO_HI), Buffer.from([0, 0, 0, 0])]));
    expect(unpack(await p.frame())).toEqual([1, 1, null, ['hi']]);
    expect(await p.endsWithin()).toBe(true);
  });

  test('a wrong shape with a readable msgid gets a BAD_MESSAGE answer; the connection goes on', async () => {
    const p = await peer();
    p.write(frame([0x94, 0x00, 0x09, 0x05, 0xc0])); // [0, 9, 5, nil]: method not a string
    const [type, msgid, error] = unpack(await p.frame()) as [number, number, { code: string }];
    expect([type, msgid, error.code]).toEqual([1, 9, 'BAD_MESSAGE']);
    p.write(frame([0x93, 0x00, 0x0a, ...str('echo')])); // [0, 10, "echo"]: 3 elements
    expect((unpack(await p.frame()) as unknown[]).slice(0, 2)).toEqual([1, 10]);
    p.write(frame(ECHO_HI));
    expect(unpack(await p.frame())).toEqual([1, 1, null, ['hi']]);
  });

  test('an unknown message type with a msgid gets a BAD_MESSAGE answer', async () => {
    const p = await peer();
    p.write(frame([0x94, 0x07, 0x03, ...str('x'), 0xc0])); // [7, 3, "x", nil]
    const [type, msgid, error] = unpack(await p.frame()) as [number, number, { code: string; message: string }];
    expect([type, msgid, error.code]).toEqual([1, 3, 'BAD_MESSAGE']);
    expect(error.message).toMatch(/unknown message type 7/);
  });

  test('a value that is not an array, or a response sent to the server: closed', async () => {
    await othersUnaffected(async () => {
      const p = await peer();
      p.write(frame(str('hello')));
      expect(await p.endsWithin()).toBe(true);
      const q = await peer();
      q.write(frame([0x94, 0x01, 0x01, 0xc0, 0xc0])); // [1, 1, nil, nil]
      expect(await q.endsWithin()).toBe(true);
      const r = await peer();
      r.write(frame([0x94, 0x01, 0x05, 0x07, 0xc0])); // [1, 5, 7, nil]: a malformed response is not answered either
      expect(await r.endsWithin()).toBe(true);
    });
    expect(s.errors).toHaveLength(3);
  });

  test('a result too large for a frame becomes a FRAME_TOO_LARGE answer', async () => {
    const p = await peer();
    // [0, 4, "echo", [<bin 1000>]] fits (1013 bytes); the answer would too, so ask for two of them.
    const bin = [0xc5, 0x03, 0xe8, ...new Array<number>(1000).fill(0x61)];
    p.write(frame([0x94, 0x00, 0x04, ...str('echo'), 0x91, ...bin]));
    expect((unpack(await p.frame()) as unknown[]).slice(0, 2)).toEqual([1, 4]);
    s.server.handle('big', () => 'x'.repeat(2000));
    p.write(frame([0x94, 0x00, 0x05, ...str('big'), 0x90]));
    const [, msgid, error] = unpack(await p.frame()) as [number, number, { code: string }];
    expect([msgid, error.code]).toEqual([5, 'FRAME_TOO_LARGE']);
  });
});
