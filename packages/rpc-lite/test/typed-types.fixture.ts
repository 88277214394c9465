// Compile-time checks of the typed API (src/typed.ts): never run (Jest runs *.test.ts only), but
// type-checked by the project's tsconfig.json (`typecheck`, ESLint) and by typed-types.test.ts, which
// asserts that it compiles with no error (so every @ts-expect-error below still meets an error: a type
// that got too loose fails) and that each @ts-expect-error line is the only one with an error once they
// are removed (so each one catches what it says). One expected error per line, on the line after its
// comment.
import { RpcClient, RpcServer, type RpcCallOptions, type RpcProxy } from '../src';

/** The value's type is T: the argument is checked against it, the check is the whole point. */
function accept<T>(_value: T): void {}

interface Api {
  add(a: number, b: number): number;
  greet(name: string): Promise<string>;
  maybe?(flag: boolean): string;
  /** Not a method: not on the proxy, and an implementation may carry it as it likes. */
  version: string;
}

interface Reserved {
  then(): void;
  with(): void;
  toJSON(): string;
  ping(): 'pong';
}

class ApiService implements Api {
  version = '1';

  add(a: number, b: number): number {
    return a + b;
  }

  async greet(name: string): Promise<string> {
    return `hello ${name}`;
  }
}

export async function clientSide(client: RpcClient, options: RpcCallOptions): Promise<void> {
  const api: RpcProxy<Api> = client.proxy<Api>({ timeoutMs: 100 });
  accept<number>(await api.add(1, 2));
  accept<Promise<number>>(api.add(1, 2));
  accept<string>(await api.greet('Ada'));
  accept<string>(await api.maybe(true));
  accept<number>(await api.with(options).add(1, 2));
  accept<number>(
    await api
      .with({ signal: AbortSignal.timeout(10) })
      .with({ timeoutMs: 5 })
      .add(1, 2),
  );
  const { add } = api;
  accept<number>(await add(3, 4));
  accept<'pong'>(await client.proxy<Reserved>().ping());

  // @ts-expect-error -- a string where a number goes
  await api.add('1', 2);
  // @ts-expect-error -- too few arguments
  await api.add(1);
  // @ts-expect-error -- too many arguments
  await api.add(1, 2, 3);
  // @ts-expect-error -- the result is a number
  accept<string>(await api.add(1, 2));
  // @ts-expect-error -- a method gives a promise, even when Api declares a plain value
  accept<number>(api.add(1, 2));
  // @ts-expect-error -- Api has no such method
  accept<unknown>(api.subtract);
  // @ts-expect-error -- not a method of Api, so not on the proxy
  accept<unknown>(api.version);
  // @ts-expect-error -- a proxy is not thenable, whatever Api says
  accept<unknown>(client.proxy<Reserved>().then);
  // @ts-expect-error -- `with` is the proxy's own: it takes call options
  client.proxy<Reserved>().with();
  // @ts-expect-error -- toJSON is never a remote method
  accept<unknown>(client.proxy<Reserved>().toJSON);
  // @ts-expect-error -- not a call option
  api.with({ retries: 3 });
  // @ts-expect-error -- timeoutMs is a number
  client.proxy<Api>({ timeoutMs: '5' });
}

/** Private and protected members do not get in the way, with or without a type argument; greet is sync here. */
class GuardedService {
  version = '2';
  private readonly _offset = 0;
  protected readonly greeting = 'hi';

  add(a: number, b: number): number {
    return a + b + this._offset;
  }

  greet(name: string): string {
    return `${this.greeting} ${name}`;
  }
}

export function serverSide(server: RpcServer): void {
  server.implement<Api>(new ApiService());
  server.implement(new ApiService());
  server.implement<Api>(new GuardedService());
  server.implement(new GuardedService());
  server.implement<Api>({ add: (a, b) => a + b, greet: async (name) => name, version: '1' });
  // A method may be async where Api declares a value, or sync where it declares a promise.
  server.implement<Api>({ add: async (a, b) => a + b, greet: (name) => name, version: '1' });
  server.implement<Api>({ add: (a, b) => a + b, greet: (name) => name, maybe: (flag) => String(flag), version: '1' });

  // @ts-expect-error -- greet is missing
  server.implement<Api>({ add: (a, b) => a + b, version: '1' });
  // @ts-expect-error -- add takes numbers
  server.implement<Api>({ add: (a: string, b: number) => a + b, greet: async (name) => name, version: '1' });
  // @ts-expect-error -- add gives a number
  server.implement<Api>({ add: () => 'three', greet: async (name) => name, version: '1' });
  // @ts-expect-error -- greet gives a string, not a promise of a number
  server.implement<Api>({ add: (a, b) => a + b, greet: async () => 3, version: '1' });
  // @ts-expect-error -- maybe, when given, has Api's signature
  server.implement<Api>({ add: (a, b) => a + b, greet: (name) => name, maybe: (flag: string) => flag, version: '1' });
  // @ts-expect-error -- not an object
  server.implement(5);
}
