/** Typed calls end to end on loopback: `RpcServer.implement` and `RpcClient.proxy`. */
import * as util from 'node:util';
import { RpcError, RpcErrorCode, RpcServer } from '../src';
import { closedAfterEach, guardLeaks, rejection, sleep, until } from './helpers';

const { client, serve } = closedAfterEach(1000);
guardLeaks();

interface Calc {
  add(a: number, b: number): number;
  scale(x: number): Promise<number>;
  greet(name: string): Promise<string>;
  fail(code: string, message: string): Promise<void>;
  slow(ms: number, value: string): Promise<string>;
}

class Greeter {
  protected readonly greeting = 'hello';

  async greet(name: string): Promise<string> {
    await sleep(1); // a method that really waits before it answers: the scenario, not a synchronization
    return `${this.greeting} ${name}`;
  }

  async slow(_ms: number, _value: string): Promise<string> {
    throw new Error('the subclass has its own slow()');
  }
}

/** Methods on two prototypes and one own arrow-function field; `this` is the instance. */
class CalcService extends Greeter implements Calc {
  factor = 10;
  readonly calls: string[] = [];
  /** How many slow() calls have started running. */
  slowStarted = 0;
  add = (a: number, b: number): number => a + b;

  get notAMethod(): () => string {
    throw new Error('a getter is never run to find methods');
  }

  async scale(x: number): Promise<number> {
    this.calls.push('scale');
    return x * this.factor;
  }

  async fail(code: string, message: string): Promise<void> {
    throw Object.assign(new Error(message), { code });
  }

  override async slow(ms: number, value: string): Promise<string> {
    this.slowStarted++;
    await sleep(ms); // a method that works for `ms`: the scenario, not a synchronization
    return value;
  }
}

describe('implement + proxy', () => {
  test('a class instance: own fields, its methods and its base class methods, with this bound', async () => {
    const service = new CalcService();
    const s = await serve((server) => server.implement<Calc>(service));
    const calc = client(s.port).proxy<Calc>();
    expect(await calc.add(2, 3)).toBe(5);
    expect(await calc.scale(4)).toBe(40);
    expect(await calc.greet('Ada')).toBe('hello Ada');
    expect(await calc.slow(1, 'own')).toBe('own'); // the subclass's, not the base class's
    expect(service.calls).toEqual(['scale']);
    // Methods called one after another or all at once, over one connection.
    expect(await Promise.all(Array.from({ length: 50 }, (_, i) => calc.add(i, i)))).toEqual(
      Array.from({ length: 50 }, (_, i) => 2 * i),
    );
    expect(s.server.connNum()).toBe(1);
  });

  test('what is not served: constructor, Object.prototype methods, getters, data fields', async () => {
    const s = await serve((server) => server.implement(new CalcService()));
    const c = client(s.port);
    for (const name of ['constructor', 'toString', 'hasOwnProperty', 'notAMethod', 'factor', 'calls', 'greeting']) {
      const err = await rejection(c.call(name, []));
      expect([name, err.code, err.remote]).toEqual([name, RpcErrorCode.METHOD_NOT_FOUND, true]);
    }
  });

  test('a plain object: its own enumerable function properties, sync and async, this bound', async () => {
    const impl = {
      base: 100,
      add(a: number, b: number): number {
        return this.base + a + b;
      },
      greet: async (name: string) => `hi ${name}`,
      label: 'not a method',
    };
    Object.defineProperty(impl, 'hidden', { value: () => 'hidden', enumerable: false });
    const s = await serve((server) => server.implement(impl));
    const c = client(s.port);
    const api = c.proxy<typeof impl & { hidden(): string }>();
    expect(await api.add(1, 2)).toBe(103);
    expect(await api.greet('Bo')).toBe('hi Bo');
    expect((await rejection(api.hidden())).code).toBe(RpcErrorCode.METHOD_NOT_FOUND);
    expect((await rejection(c.call('label'))).code).toBe(RpcErrorCode.METHOD_NOT_FOUND);
  });

  test('an object without a prototype, and one made from a prototype object', async () => {
    const bare = Object.assign(Object.create(null) as object, { ping: () => 'pong' });
    const derived = Object.assign(Object.create({ inherited: (x: number) => x + 1 }) as object, { own: () => 'own' });
    const s = await serve((server) => server.implement(bare).implement(derived));
    const api = client(s.port).proxy<{ ping(): string; inherited(x: number): number; own(): string }>();
    expect(await Promise.all([api.ping(), api.inherited(1), api.own()])).toEqual(['pong', 2, 'own']);
  });

  test("a method's error reaches the caller as an RpcError with remote true and the method's code", async () => {
    interface Failing {
      fail(code: string, message: string): Promise<void>;
      boom(): void;
      plain(): void;
      ok(): string;
    }
    const s = await serve((server) =>
      server.implement<Failing>({
        fail: async (code, message) => {
          throw Object.assign(new Error(message), { code });
        },
        boom: () => {
          throw Object.assign(new Error('sync'), { code: 'E_SYNC' });
        },
        plain: () => {
          throw new Error('no code');
        },
        ok: () => 'ok',
      }),
    );
    const api = client(s.port).proxy<Failing>();
    const failed = await rejection(api.fail('E_NO_USER', 'no user 7'));
    expect(failed).toBeInstanceOf(RpcError);
    expect([failed.code, failed.message, failed.remote, failed.method]).toEqual([
      'E_NO_USER',
      'no user 7',
      true,
      'fail',
    ]);
    const sync = await rejection(api.boom());
    expect([sync.code, sync.message, sync.remote]).toEqual(['E_SYNC', 'sync', true]);
    const plain = await rejection(api.plain());
    expect([plain.code, plain.message, plain.remote]).toEqual([RpcErrorCode.HANDLER_ERROR, 'no code', true]);
    expect(await api.ok()).toBe('ok'); // the connection goes on
  });

  test('params that are not an array: BAD_MESSAGE from the server (remote), as documented', async () => {
    const s = await serve((server) => server.implement<Calc>(new CalcService()));
    const c = client(s.port);
    for (const params of [5, 'x', null, { a: 1, b: 2 }]) {
      const err = await rejection(c.call('add', params));
      expect([err.code, err.remote, err.method]).toEqual([RpcErrorCode.BAD_MESSAGE, true, 'add']);
      expect(err.message).toMatch(/^"add" takes its arguments as an array \(msgpack-rpc params\), got /);
    }
    expect((await rejection(c.call('add', 5))).message).toBe(
      '"add" takes its arguments as an array (msgpack-rpc params), got number',
    );
    // A notification has nobody to answer: the server reports it.
    await c.notify('add', 5);
    await until(() => s.errors.length > 0);
    expect(s.errors.map((e) => (e.err as RpcError).code)).toEqual([RpcErrorCode.BAD_MESSAGE]);
    // Too few or too many arguments are the method's business: they are passed as they came.
    expect(await c.call('add', [1])).toBeNaN();
    expect(await c.call('add', [1, 2, 3])).toBe(3);
  });

  test('implement goes through handle: a later handle replaces a method, and implement replaces a handler', async () => {
    const s = await serve((server) =>
      server
        .handle('greet', () => 'from handle')
        .implement<Calc>(new CalcService())
        .handle('add', () => 'replaced'),
    );
    const calc = client(s.port).proxy<Calc>();
    expect(await calc.greet('x')).toBe('hello x');
    expect(await calc.add(1, 2)).toBe('replaced');
  });
});

describe('call options', () => {
  test('.with({ timeoutMs }) times out a slow method with TIMEOUT (local); the proxy itself is unchanged', async () => {
    const s = await serve((server) => server.implement<Calc>(new CalcService()));
    const calc = client(s.port).proxy<Calc>();
    const hurried = calc.with({ timeoutMs: 30 });
    const err = await rejection(hurried.slow(300, 'late'));
    expect([err.code, err.remote, err.method]).toEqual([RpcErrorCode.TIMEOUT, false, 'slow']);
    expect(await calc.slow(50, 'in time')).toBe('in time');
    expect(await hurried.add(1, 2)).toBe(3);
  });

  test('.with({ signal }): aborted before or during the call gives ABORTED (local)', async () => {
    const service = new CalcService();
    const s = await serve((server) => server.implement<Calc>(service));
    const calc = client(s.port).proxy<Calc>();
    const before = await rejection(calc.with({ signal: AbortSignal.abort() }).add(1, 2));
    expect([before.code, before.remote]).toEqual([RpcErrorCode.ABORTED, false]);
    const controller = new AbortController();
    const pending = calc.with({ signal: controller.signal }).slow(300, 'late');
    await until(() => service.slowStarted === 1); // the call is under way: the server runs it
    controller.abort();
    const during = await rejection(pending);
    expect([during.code, during.remote]).toEqual([RpcErrorCode.ABORTED, false]);
  });

  test('the defaults of proxy(defaults) apply to every call; with() merges over them', async () => {
    const s = await serve((server) => server.implement<Calc>(new CalcService()));
    const c = client(s.port, { timeoutMs: 5000 });
    const hurried = c.proxy<Calc>({ timeoutMs: 30 });
    expect((await rejection(hurried.slow(300, 'late'))).code).toBe(RpcErrorCode.TIMEOUT);
    // A signal given later keeps the default time limit, and so does an undefined timeoutMs.
    const signal = new AbortController().signal;
    expect((await rejection(hurried.with({ signal }).slow(300, 'late'))).code).toBe(RpcErrorCode.TIMEOUT);
    expect((await rejection(hurried.with({ timeoutMs: undefined }).slow(300, 'late'))).code).toBe(RpcErrorCode.TIMEOUT);
    // A time limit given later replaces it.
    expect(await hurried.with({ timeoutMs: 2000 }).slow(60, 'given time')).toBe('given time');
    expect(await hurried.with({ signal }).with({ timeoutMs: -1 }).slow(60, 'no limit')).toBe('no limit');
    // The defaults are copied: changing the object afterwards changes nothing.
    const defaults: { timeoutMs?: number } = { timeoutMs: 30 };
    const copied = c.proxy<Calc>(defaults);
    defaults.timeoutMs = 5000;
    expect((await rejection(copied.slow(300, 'late'))).code).toBe(RpcErrorCode.TIMEOUT);
  });

  test('bad defaults or with() options throw at once', () => {
    const c = client(1);
    expect(() => c.proxy<Calc>({ retries: 3 } as object)).toThrow(
      new TypeError('unknown call option "retries"; known: timeoutMs, signal'),
    );
    expect(() => c.proxy<Calc>({ timeoutMs: Number.NaN })).toThrow(RangeError);
    expect(() => c.proxy<Calc>(null as unknown as object)).toThrow(TypeError);
    expect(() => c.proxy<Calc>().with({ signal: 'no' as unknown as AbortSignal })).toThrow(
      new TypeError('signal must be an AbortSignal'),
    );
  });
});

describe('the proxy object', () => {
  test('not thenable, no remote call for then/toJSON/inspect/Symbol keys/Object.prototype names, not even a connection', async () => {
    const called: string[] = [];
    const s = await serve((server) => {
      for (const name of ['then', 'toJSON', 'inspect', 'toString', 'valueOf', 'constructor', 'asymmetricMatch']) {
        server.handle(name, () => called.push(name));
      }
    });
    // One connection: one ordered stream, on which the sentinel call below comes after anything the proxy sent.
    const c = client(s.port, { connections: 1 });
    const calls = jest.spyOn(c, 'call'); // every remote call of a proxy, and so every connection it makes, starts here
    const api = c.proxy<Calc>();
    const maybeThenable: unknown = api; // as `await` sees any value
    const awaited: unknown = await maybeThenable;
    expect(awaited === api).toBe(true);
    expect(await Promise.resolve(api).then((v) => v === api)).toBe(true);
    const loose = api as unknown as Record<string | symbol, unknown>;
    expect([
      loose.then,
      loose.toJSON,
      loose.inspect,
      loose[Symbol.iterator],
      loose[Symbol.toPrimitive],
      loose[util.inspect.custom],
    ]).toEqual(Array(6).fill(undefined));
    expect(JSON.stringify(api)).toBe('{}');
    expect(JSON.stringify({ api })).toBe('{"api":{}}');
    expect(String(api as unknown)).toBe('[object Object]');
    expect(`${api as unknown as string}`).toBe('[object Object]');
    // Node 26 shows the proxy as such ("Proxy({})"); earlier lines show its target.
    expect(util.inspect(api)).toMatch(/^(\{\}|Proxy\(\{\}\))$/);
    expect(Object.keys(api)).toEqual([]);
    expect(loose.constructor).toBe(Object);
    expect(Object.prototype.hasOwnProperty.call(api, 'add')).toBe(false);
    expect(util.types.isProxy(api)).toBe(true);
    expect(calls).not.toHaveBeenCalled();
    expect(s.server.connNum()).toBe(0);
    // A sentinel call on the same stream: once it is answered, whatever was sent before it has been served.
    expect((await rejection(c.call('sentinel'))).code).toBe(RpcErrorCode.METHOD_NOT_FOUND);
    expect(calls.mock.calls).toEqual([['sentinel']]);
    expect(called).toEqual([]);
    expect(s.server.connNum()).toBe(1); // the sentinel's, the only one
    calls.mockRestore();
  });

  test('a function per method name, made once; it needs no this; the proxy cannot be changed', async () => {
    const s = await serve((server) => server.implement<Calc>(new CalcService()));
    const api = client(s.port).proxy<Calc>();
    expect(api.add).toBe(api.add);
    expect(api.with).toBe(api.with);
    expect(api.with({}) === api).toBe(false);
    const { add, scale } = api;
    expect(await Promise.all([add(1, 2), scale(2)])).toEqual([3, 20]);
    expect(() => {
      (api as unknown as Record<string, unknown>).add = () => 0;
    }).toThrow(TypeError);
    expect(api.add).toBe(add);
  });

  test('any other name is a remote method: one Api does not declare gets METHOD_NOT_FOUND from the server', async () => {
    const s = await serve((server) => server.implement<Calc>(new CalcService()));
    const api = client(s.port).proxy<Record<string, (...args: unknown[]) => unknown>>();
    const err = await rejection(api.subtract(1, 2));
    expect([err.code, err.remote, err.method]).toEqual([RpcErrorCode.METHOD_NOT_FOUND, true, 'subtract']);
  });
});

describe('bad implementations', () => {
  test('not an object, or an object with no method: TypeError at once, nothing registered', async () => {
    const server = new RpcServer();
    const implement = (impl: unknown) => () => server.implement(impl as object);
    for (const impl of [null, undefined, 5, 'add', true, Symbol('x'), () => 1, class {}, [() => 1]]) {
      expect(implement(impl)).toThrow(TypeError);
      expect(implement(impl)).toThrow(/^implement\(\) takes an object whose methods are the RPC methods, got /);
    }
    expect(implement(5)).toThrow('implement() takes an object whose methods are the RPC methods, got number');
    const accessorOnly = Object.defineProperty({}, 'add', { get: () => () => 1, enumerable: true });
    for (const impl of [
      {},
      { add: 1 },
      new (class {})(),
      new (class {
        x = 1;
      })(),
      accessorOnly,
      Object.create(null) as object,
    ]) {
      expect(implement(impl)).toThrow(new TypeError('implement() was given an object with no methods'));
    }
    // Nothing was registered by the failed calls: a server started now has no method.
    server.handle('probe', () => 'ok');
    await server.start('127.0.0.1', 0);
    const c = client(server.address()!.port);
    expect(await c.call('probe')).toBe('ok');
    expect((await rejection(c.call('add', [1]))).code).toBe(RpcErrorCode.METHOD_NOT_FOUND);
    await server.shutdown(1000);
  });
});
