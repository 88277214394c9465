/** End to end on loopback: RpcClient against RpcServer. */
import { RpcClient, RpcError, RpcErrorCode, RpcServer, type RpcContext } from '../src';
import { closedAfterEach, guardLeaks, rejection, sleep, startServer, until } from './helpers';

const { client, serve, own } = closedAfterEach(1000);
guardLeaks();

/** Serves echo, add and later; `started` (if given) is told each time a 'later' call starts running. */
function echoServer(server: RpcServer, started?: () => void): void {
  server
    .handle('echo', (params: unknown) => params)
    .handle('add', ([a, b]: [number, number]) => a + b)
    .handle('later', async ([ms, v]: [number, unknown], ctx) => {
      started?.();
      // A handler that works for `ms` (the scenario, not a synchronization).
      // Stops early when the client goes away, as a long handler should.
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ms);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(t);
          resolve();
        });
      });
      return v;
    });
}

describe('calls', () => {
  test('round trip on 127.0.0.1 with MessagePack values', async () => {
    const s = await serve(echoServer);
    const c = client(s.port);
    expect(await c.call('add', [2, 3])).toBe(5);
    const value = {
      s: 'héllo',
      n: -1.5,
      big: 2 ** 40,
      list: [1, null, true],
      bin: Buffer.from([1, 2, 3]),
      nested: { a: {} },
    };
    const [back] = await c.call<[unknown]>('echo', [value]);
    expect(back).toEqual({ ...value, bin: new Uint8Array([1, 2, 3]) });
    expect(await c.call('echo')).toEqual([]); // params default to []
    expect(await c.call('echo', 'not an array')).toBe('not an array');
  });

  test('binary results stay intact while later answers arrive on the same connection', async () => {
    const s = await serve(echoServer);
    const c = client(s.port);
    const first = await Promise.all(Array.from({ length: 20 }, (_, i) => c.call('echo', Buffer.alloc(100, i))));
    await Promise.all(Array.from({ length: 50 }, (_, i) => c.call('echo', Buffer.alloc(3000, 0xff - i))));
    first.forEach((b: Buffer, i) => expect(b.equals(Buffer.alloc(100, i))).toBe(true));
  });

  test('round trip on ::1', async () => {
    const s = await serve(echoServer, {}, '::1');
    const c = client(s.port, {}, '::1');
    expect(await c.call('echo', ['v6'])).toEqual(['v6']);
  });

  test('many calls in flight on one connection, completing out of order, each gets its own answer', async () => {
    const s = await serve(echoServer);
    const c = client(s.port);
    const n = 500;
    const delays = Array.from({ length: n }, (_, i) => (i * 7919) % 40);
    const results = await Promise.all(delays.map((ms, i) => c.call('later', [ms, i])));
    expect(results).toEqual(delays.map((_, i) => i));
    expect(s.server.connNum()).toBe(1);
  });

  test('connections: 3 spreads calls over three connections', async () => {
    const peers = new Set<string>();
    const s = await serve((server) =>
      server.handle('who', async (_p, ctx: RpcContext) => {
        peers.add(ctx.peer);
        await sleep(5); // a handler that takes a while: the scenario, not a synchronization
        return ctx.peer;
      }),
    );
    const c = client(s.port, { connections: 3 });
    await Promise.all(Array.from({ length: 60 }, () => c.call('who')));
    expect(peers.size).toBe(3);
    expect(s.server.connNum()).toBe(3);
    // Later calls reuse them.
    await Promise.all(Array.from({ length: 30 }, () => c.call('who')));
    expect(peers.size).toBe(3);
  });

  test('the handler context: method, msgid, peer', async () => {
    let seen: RpcContext | null = null;
    const s = await serve((server) =>
      server.handle('ctx', (_p, ctx) => {
        seen = ctx;
        return [ctx.method, ctx.msgid];
      }),
    );
    const c = client(s.port);
    const [method, msgid] = await c.call<[string, number]>('ctx');
    expect(method).toBe('ctx');
    expect(typeof msgid).toBe('number');
    expect(seen!.peer).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  test('notify reaches the handler; nothing comes back', async () => {
    const got: unknown[] = [];
    let arrived!: () => void;
    const done = new Promise<void>((resolve) => (arrived = resolve));
    const s = await serve((server) =>
      server.handle('log', (params, ctx) => {
        got.push([params, ctx.msgid]);
        arrived();
      }),
    );
    const c = client(s.port);
    await c.notify('log', ['line']);
    await done;
    expect(got).toEqual([[['line'], null]]);
  });
});

describe('errors from the server', () => {
  test('METHOD_NOT_FOUND, HANDLER_ERROR, a handler code of its own; fields of RpcError', async () => {
    const s = await serve((server) =>
      server
        .handle('boom', () => {
          throw new Error('it broke');
        })
        .handle('coded', async () => {
          throw Object.assign(new Error('no such user'), { code: 'E_NO_USER' });
        })
        .handle('string', () => {
          // eslint-disable-next-line @typescript-eslint/only-throw-error -- the case under test: a handler that throws a bare string
          throw 'plain string';
        }),
    );
    const c = client(s.port);
    const missing = await rejection(c.call('nope'));
    expect(missing.code).toBe('METHOD_NOT_FOUND');
    expect(missing.method).toBe('nope');
    expect(missing.address).toBe('127.0.0.1');
    expect(missing.port).toBe(s.port);

    const boom = await rejection(c.call('boom'));
    expect([boom.code, boom.message]).toEqual(['HANDLER_ERROR', 'it broke']);
    expect(boom.name).toBe('RpcError');

    const coded = await rejection(c.call('coded'));
    expect([coded.code, coded.message]).toEqual(['E_NO_USER', 'no such user']);

    const str = await rejection(c.call('string'));
    expect([str.code, str.message]).toEqual(['HANDLER_ERROR', 'plain string']);
    // The connection is fine after all that.
    expect(s.server.connNum()).toBe(1);
  });

  test('remote tells what the peer reported from what failed here: a handler that throws TIMEOUT is not a timeout', async () => {
    const s = await serve(
      (server) => {
        echoServer(server);
        server
          .handle('fakeTimeout', () => {
            throw Object.assign(new Error('the database timed out'), { code: RpcErrorCode.TIMEOUT });
          })
          .handle('big', () => 'x'.repeat(2000));
      },
      { maxFrameBytes: 1024 },
    );
    const c = client(s.port, { maxFrameBytes: 1024 });
    const theirs = await rejection(c.call('fakeTimeout'));
    const ours = await rejection(c.call('later', [5000, 'late'], { timeoutMs: 20 }));
    expect([theirs.code, theirs.remote, theirs.message]).toEqual([
      RpcErrorCode.TIMEOUT,
      true,
      'the database timed out',
    ]);
    expect([ours.code, ours.remote]).toEqual([RpcErrorCode.TIMEOUT, false]);
    // The server's own answers are remote too; what this client refused or lost is not.
    expect([(await rejection(c.call('nope'))).code, (await rejection(c.call('nope'))).remote]).toEqual([
      RpcErrorCode.METHOD_NOT_FOUND,
      true,
    ]);
    const tooLargeThere = await rejection(c.call('big'));
    expect([tooLargeThere.code, tooLargeThere.remote]).toEqual([RpcErrorCode.FRAME_TOO_LARGE, true]);
    const tooLargeHere = await rejection(c.call('echo', ['x'.repeat(2000)]));
    expect([tooLargeHere.code, tooLargeHere.remote]).toEqual([RpcErrorCode.FRAME_TOO_LARGE, false]);
    const aborted = await rejection(c.call('echo', [], { signal: AbortSignal.abort() }));
    expect([aborted.code, aborted.remote]).toEqual([RpcErrorCode.ABORTED, false]);
    await c.close();
    const closed = await rejection(c.call('echo'));
    expect([closed.code, closed.remote]).toEqual([RpcErrorCode.CONNECTION_CLOSED, false]);
    expect(new RpcError('X', 'made here').remote).toBe(false);
  });

  test('a request over the client maxFrameBytes is refused before it is sent', async () => {
    const s = await serve(echoServer);
    const c = client(s.port, { maxFrameBytes: 100 });
    expect(await c.call('echo', ['small'])).toEqual(['small']);
    const err = await rejection(c.call('echo', ['x'.repeat(200)]));
    expect(err.code).toBe('FRAME_TOO_LARGE');
    const note = await rejection(c.notify('echo', ['x'.repeat(200)]));
    expect(note.code).toBe('FRAME_TOO_LARGE');
    // Nothing reached the server, and the same connection goes on.
    expect(await c.call('echo', ['still'])).toEqual(['still']);
    expect(s.errors).toEqual([]);
    expect(s.server.connNum()).toBe(1);
  });

  test('params that have no MessagePack form: BAD_MESSAGE, nothing sent', async () => {
    const s = await serve(echoServer);
    const c = client(s.port);
    const err = await rejection(c.call('echo', [10n ** 30n]));
    expect(err.code).toBe('BAD_MESSAGE');
    expect(await c.call('echo', [1])).toEqual([1]);
  });

  test('a response over the client maxFrameBytes closes that connection; the next call reconnects', async () => {
    const s = await serve((server) => {
      echoServer(server);
      server.handle('big', () => 'x'.repeat(2000));
    });
    const c = client(s.port, { maxFrameBytes: 1024 });
    const pending = rejection(c.call('later', [200, 'cut short']));
    const err = await rejection(c.call('big'));
    expect(err.code).toBe('CONNECTION_CLOSED');
    expect(((err.cause as RpcError).cause as RpcError).code).toBe('FRAME_TOO_LARGE');
    expect((await pending).code).toBe('CONNECTION_CLOSED');
    expect(await c.call('echo', ['again'])).toEqual(['again']);
  });
});

describe('options', () => {
  test('unknown options and bad values are rejected in the constructors', () => {
    expect(() => new RpcServer({ maxFrameByte: 10 } as never)).toThrow(/unknown RpcServer option "maxFrameByte"/);
    expect(() => new RpcServer({ maxFrameBytes: 10 })).toThrow(RangeError);
    expect(() => new RpcServer({ maxFrameBytes: 2 ** 32 })).toThrow(RangeError);
    expect(() => new RpcServer({ maxInFlight: 0 })).toThrow(RangeError);
    expect(() => new RpcServer({ onError: 'x' } as never)).toThrow(TypeError);
    expect(() => new RpcClient('127.0.0.1', 1, { timeout: 5 } as never)).toThrow(/unknown RpcClient option "timeout"/);
    expect(() => new RpcClient('127.0.0.1', 1, { connections: 0 })).toThrow(RangeError);
    expect(() => new RpcClient('127.0.0.1', 1, { connectTimeoutMs: -1 })).toThrow(RangeError);
    expect(() => new RpcClient('127.0.0.1', 1, { ssl: true, tls: { cafile: 'x' } as never })).toThrow(/cafile/);
    expect(() => new RpcClient('127.0.0.1', 1, { tls: { servername: 'x' } })).toThrow(/without ssl/);
    expect(() => new RpcClient('127.0.0.1', 0)).toThrow(RangeError);
    expect(() => new RpcServer().handle('', () => 1)).toThrow(TypeError);
  });

  test('bad call options reject', async () => {
    const c = client(1);
    await expect(c.call('x', [], { timeout: 1 } as never)).rejects.toThrow(/unknown call option/);
    await expect(c.call('x', [], { signal: {} as never })).rejects.toThrow(TypeError);
    await expect(c.call('x', [], { timeoutMs: 2 ** 40 })).rejects.toThrow(RangeError);
  });
});

describe('closing', () => {
  test('close() rejects pending calls and later ones with CONNECTION_CLOSED; it is idempotent', async () => {
    let started = 0;
    const s = await serve((server) => echoServer(server, () => started++));
    const c = client(s.port, { connections: 2 });
    expect(await c.call('echo', [1])).toEqual([1]);
    const pending = [rejection(c.call('later', [5000, 'a'])), rejection(c.call('later', [5000, 'b']))];
    await until(() => started === 2); // both calls are running on the server
    await Promise.all([c.close(), c.close()]);
    for (const p of pending) expect((await p).code).toBe('CONNECTION_CLOSED');
    expect((await rejection(c.call('echo'))).code).toBe('CONNECTION_CLOSED');
    expect((await rejection(c.notify('echo'))).code).toBe('CONNECTION_CLOSED');
  });

  test('await using closes the client', async () => {
    const s = await serve(echoServer);
    let kept: RpcClient;
    {
      await using c = new RpcClient('127.0.0.1', s.port);
      kept = c;
      expect(await c.call('add', [1, 1])).toBe(2);
    }
    expect((await rejection(kept.call('add', [1, 1]))).code).toBe('CONNECTION_CLOSED');
  });

  test('ctx.signal aborts when the client goes away', async () => {
    let aborted!: () => void;
    const wasAborted = new Promise<void>((resolve) => (aborted = resolve));
    let started = 0;
    const s = await serve((server) =>
      server.handle('wait', (_p, ctx) => {
        started++;
        return new Promise((resolve) =>
          ctx.signal.addEventListener('abort', () => {
            aborted();
            resolve(null);
          }),
        );
      }),
    );
    const c = client(s.port);
    const pending = rejection(c.call('wait'));
    await until(() => started === 1); // the handler runs, listening on its signal
    await c.close();
    await wasAborted;
    expect((await pending).code).toBe('CONNECTION_CLOSED');
  });

  test('shutdown lets calls in flight finish and be answered', async () => {
    let started = 0;
    const s = await startServer((server) => echoServer(server, () => started++));
    const c = client(s.port);
    const slow = c.call('later', [100, 'finished']);
    await until(() => started === 1); // in flight: its handler runs
    await s.server.shutdown(2000);
    expect(await slow).toBe('finished');
    expect(s.server.connNum()).toBe(0);
    expect(s.server.address()).toBeNull();
  });

  test('shutdown(ms) resets connections whose calls outlast the grace period', async () => {
    let started = 0;
    const s = await startServer((server) =>
      server.handle('forever', () => {
        started++;
        return new Promise(() => {});
      }),
    );
    const c = client(s.port);
    const stuck = rejection(c.call('forever'));
    await until(() => started === 1); // in flight: its handler runs
    const t0 = Date.now();
    await s.server.shutdown(100);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect((await stuck).code).toBe('CONNECTION_CLOSED');
  });
});

describe('what the server reports without onError', () => {
  test('a failed notification handler becomes a process warning (not a write to stderr); a bad client is not reported', async () => {
    const warnings = jest.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const stderr = jest.spyOn(process.stderr, 'write');
    try {
      let failed!: () => void;
      const handlerFailed = new Promise<void>((resolve) => (failed = resolve));
      const server = new RpcServer()
        .handle('echo', (p: unknown) => p)
        .handle('note', () => {
          failed();
          throw Object.assign(new Error('disk full'), { code: 'E_DISK' });
        });
      await server.start('127.0.0.1', 0);
      own(server);
      const c = client(server.address()!.port);
      await c.notify('nobody', []); // no handler: a bad client's doing, dropped
      await c.notify('note', []);
      await handlerFailed;
      expect(await c.call('echo', [1])).toEqual([1]); // the notifications came before this answer
      expect(warnings.mock.calls).toEqual([
        [
          expect.stringMatching(/^notification handler for "note" failed: disk full \(client 127\.0\.0\.1:\d+\)$/),
          { type: 'RpcError', code: 'E_DISK' },
        ],
      ]);
      expect(stderr).not.toHaveBeenCalled();
    } finally {
      warnings.mockRestore();
      stderr.mockRestore();
    }
  });

  test('with onError, no warning: the hook hears of it all', async () => {
    const warnings = jest.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      let told!: (err: Error) => void;
      const heard = new Promise<Error>((resolve) => (told = resolve));
      const server = new RpcServer({ onError: (err) => told(err) }).handle('note', () => {
        throw new Error('nope');
      });
      await server.start('127.0.0.1', 0);
      own(server);
      await client(server.address()!.port).notify('note', []);
      expect(await heard).toMatchObject({ name: 'RpcError', code: RpcErrorCode.HANDLER_ERROR, remote: false });
      expect(warnings).not.toHaveBeenCalled();
    } finally {
      warnings.mockRestore();
    }
  });
});

describe('server backpressure', () => {
  test('maxInFlight bounds the requests of one connection running at once', async () => {
    let running = 0;
    let most = 0;
    const s = await serve(
      (server) =>
        server.handle('work', async () => {
          running++;
          most = Math.max(most, running);
          await sleep(5); // a handler that takes a while: the scenario, not a synchronization
          running--;
          return 'ok';
        }),
      { maxInFlight: 3 },
    );
    const c = client(s.port);
    const all = await Promise.all(Array.from({ length: 30 }, () => c.call('work')));
    expect(all.every((r) => r === 'ok')).toBe(true);
    expect(most).toBe(3);
  });
});

test('large requests (up to maxFrameBytes) arrive whole and byte for byte, many at once', async () => {
  const s = await serve(echoServer);
  const c = client(s.port, { connections: 2 });
  const sizes = [64 * 1024 - 16, 64 * 1024 + 1, 200_000, 1024 * 1024, 3 * 1024 * 1024];
  const blobs = sizes.map((size, i) => {
    const b = Buffer.allocUnsafe(size);
    for (let j = 0; j < size; j++) b[j] = (j * 31 + i) & 0xff;
    return b;
  });
  const answers = (await Promise.all(blobs.map((b) => c.call('echo', [b])))) as Array<[Uint8Array]>;
  answers.forEach(([got], i) => expect(Buffer.compare(Buffer.from(got), blobs[i])).toBe(0));
});
