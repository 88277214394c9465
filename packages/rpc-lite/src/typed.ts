import { callOptionsError, type RpcCallOptions } from './client/client-options';
import { RpcError, RpcErrorCode } from './errors';
import type { RpcHandler } from './context';

/**
 * Names that a proxy made by {@link RpcClient.proxy} keeps for itself, so
 * that they never become calls: `then` (a proxy is not thenable, so
 * `await client.proxy()` calls nothing), `toJSON`, `inspect`, its own `with`,
 * and the names every plain object has (`toString`, `valueOf`, ...). A remote
 * method with one of these names is called with {@link RpcClient.call}.
 */
export type RpcProxyReservedName =
  | 'then'
  | 'with'
  | 'toJSON'
  | 'inspect'
  | 'constructor'
  | 'toString'
  | 'toLocaleString'
  | 'valueOf'
  | 'hasOwnProperty'
  | 'isPrototypeOf'
  | 'propertyIsEnumerable';

/**
 * The client side of a method of type `F`: the same arguments, and a promise
 * of its result (`Promise<R>` and `R` both give `Promise<R>`).
 */
export type RpcProxyMethod<F> = F extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;

/**
 * What {@link RpcClient.proxy} returns for an interface `Api`: a function
 * `m(...args)` for every method `m` of `Api` (other than the
 * {@link RpcProxyReservedName}s), which is `client.call('m', args, options)`;
 * and {@link RpcProxyOptions.with} for other call options. Properties of `Api`
 * that are not methods are left out. The functions need no `this`:
 * `const { add } = api` works.
 *
 * @example
 * ```ts
 * interface Api { add(a: number, b: number): number }
 * const api: RpcProxy<Api> = client.proxy<Api>();
 * const sum: number = await api.add(2, 3);
 * ```
 */
export type RpcProxy<Api> = {
  readonly [
    K in keyof Api as K extends symbol
      ? never
      : K extends RpcProxyReservedName
        ? never
        : // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any function, as TypeScript's own ReturnType constrains it
          NonNullable<Api[K]> extends (...args: any) => any
          ? K
          : never
  ]-?: RpcProxyMethod<NonNullable<Api[K]>>;
} & RpcProxyOptions<Api>;

/** The part of an {@link RpcProxy} that is not the methods of `Api`. */
export interface RpcProxyOptions<Api> {
  /**
   * A proxy of the same client whose calls take `options` (merged over the
   * defaults of this proxy: the keys given replace theirs, `undefined` ones
   * do not). This one is not changed. It needs no `this`.
   *
   * @param options - `timeoutMs`, `signal`: see {@link RpcCallOptions}.
   * @throws TypeError/RangeError for an unknown option or a bad value, at once.
   */
  with(this: void, options: RpcCallOptions): RpcProxy<Api>;
}

/**
 * The server side of a method of type `F`: the same arguments; it may return
 * the result or a promise of it, whichever of the two `F` declares.
 */
export type RpcImplementationMethod<F> = F extends (...args: infer A) => infer R
  ? (...args: A) => Awaited<R> | Promise<Awaited<R>>
  : F;

/**
 * What {@link RpcServer.implement} takes for an interface `Api`: `Api`, except
 * that each method may be sync or async whatever `Api` declares (the caller
 * gets a promise either way).
 */
export type RpcImplementation<Api> = { [K in keyof Api]: RpcImplementationMethod<Api[K]> };

/** What a proxy calls: `RpcClient`, seen from here (no import cycle). @internal */
export interface RpcCaller {
  call(method: string, params: unknown, options?: RpcCallOptions): Promise<unknown>;
}

/** A proxy's methods take any arguments; its `with` is one of them. */
type ProxyFunction = (...args: never[]) => unknown;

/** Names that are never calls and read as `undefined` (Symbol keys too). */
const UNDEFINED_NAMES: ReadonlySet<string> = new Set(['then', 'toJSON', 'inspect']);

/**
 * The target of every proxy: an empty frozen plain object. Names it inherits
 * (`toString`, `valueOf`, ...) read as a plain object's; nothing can be set on
 * a proxy; `util.inspect` shows it as `{}` without reading through the proxy.
 */
const PROXY_TARGET: object = Object.freeze({});

/**
 * The `get` trap of one proxy: a function per method name, made once and
 * kept, so that a call costs a map lookup and `call` itself.
 */
class ProxyMethods implements ProxyHandler<object> {
  private readonly _functions = new Map<string, ProxyFunction>();

  constructor(
    private readonly _client: RpcCaller,
    /** Checked, copied, `undefined` when empty (so `call` checks nothing). */
    private readonly _options: RpcCallOptions | undefined,
  ) {}

  get(target: object, key: string | symbol, receiver: unknown): unknown {
    if (typeof key === 'symbol') return undefined;
    const known = this._functions.get(key);
    if (known !== undefined) return known;
    if (UNDEFINED_NAMES.has(key)) return undefined;
    if (key in target) return Reflect.get(target, key, receiver) as unknown;
    const fn = key === 'with' ? this._withFunction() : this._methodFunction(key);
    this._functions.set(key, fn);
    return fn;
  }

  private _methodFunction(method: string): ProxyFunction {
    const client = this._client;
    const options = this._options;
    // The rest array is the call's params: nothing else is allocated here per call.
    return (...args: unknown[]) => client.call(method, args, options);
  }

  private _withFunction(): ProxyFunction {
    return (options: RpcCallOptions) => createProxy(this._client, mergedOptions(this._options, options));
  }
}

/**
 * `base` with the keys of `over` whose value is not `undefined` put over it;
 * `undefined` when there is no option at all.
 * @throws TypeError/RangeError when `over` is not valid call options.
 */
function mergedOptions(base: RpcCallOptions | undefined, over: RpcCallOptions | undefined): RpcCallOptions | undefined {
  if (over === undefined) return base;
  const bad = callOptionsError(over);
  if (bad !== null) throw bad;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value !== undefined) out[key] = value;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

function createProxy(client: RpcCaller, options: RpcCallOptions | undefined): object {
  return new Proxy(PROXY_TARGET, new ProxyMethods(client, options));
}

/**
 * The proxy {@link RpcClient.proxy} returns.
 * @throws TypeError/RangeError when `defaults` is not valid call options. @internal
 */
export function rpcProxy<Api>(client: RpcCaller, defaults: RpcCallOptions | undefined): RpcProxy<Api> {
  return createProxy(client, mergedOptions(undefined, defaults)) as RpcProxy<Api>;
}

/** Some realm's `Object.prototype` (a vm context has its own): where the walk for methods stops. */
function isObjectPrototype(o: object): boolean {
  return o === Object.prototype || (Object.getPrototypeOf(o) === null && Object.hasOwn(o, '__proto__'));
}

function describe(v: unknown): string {
  if (v === null) return 'nil';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'function') return 'a function';
  return typeof v === 'object' ? 'an object' : typeof v;
}

/**
 * The handlers that serve the methods of `impl`, by name: its own enumerable
 * function-valued data properties, then the methods on its prototype chain
 * up to `Object.prototype` (not included; `constructor` skipped), the nearest
 * one of a name winning as a property lookup would. Each calls the method
 * with `this` bound to `impl` and the params (an array) as its arguments; any
 * other params fail with `BAD_MESSAGE`.
 *
 * @throws TypeError when `impl` is not an object (a function or an array is
 *   not one here) or has no method. @internal
 */
export function implementationHandlers(impl: unknown): Map<string, RpcHandler> {
  if (impl === null || typeof impl !== 'object' || Array.isArray(impl)) {
    throw new TypeError(`implement() takes an object whose methods are the RPC methods, got ${describe(impl)}`);
  }
  const target: object = impl;
  const seen = new Set<string>();
  const handlers = new Map<string, RpcHandler>();
  for (
    let o: object | null = target;
    o !== null && !isObjectPrototype(o);
    o = Object.getPrototypeOf(o) as object | null
  ) {
    const own = o === target;
    for (const name of Object.getOwnPropertyNames(o)) {
      if (seen.has(name)) continue;
      // A property of any kind hides those of the same name further up, as in a lookup.
      seen.add(name);
      if (name === '' || name === 'constructor') continue;
      const d = Object.getOwnPropertyDescriptor(o, name)!;
      // Data properties only: a getter is not run to find out whether it gives a function.
      if (typeof d.value !== 'function' || (own && d.enumerable !== true)) continue;
      handlers.set(name, methodHandler(name, d.value as (...args: unknown[]) => unknown, target));
    }
  }
  if (handlers.size === 0) throw new TypeError('implement() was given an object with no methods');
  return handlers;
}

function methodHandler(name: string, method: (...args: unknown[]) => unknown, impl: object): RpcHandler {
  return (params: unknown) => {
    if (!Array.isArray(params)) {
      throw new RpcError(
        RpcErrorCode.BAD_MESSAGE,
        `"${name}" takes its arguments as an array (msgpack-rpc params), got ${describe(params)}`,
        { method: name },
      );
    }
    return Reflect.apply(method, impl, params);
  };
}
