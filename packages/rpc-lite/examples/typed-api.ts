import { RpcClient, RpcError, RpcServer } from '@proj/rpc-lite';

// The methods, in a module that both sides import: the server implements them, the client calls them.
export interface Calculator {
  add(a: number, b: number): number;
  divide(a: number, b: number): Promise<number>;
  slowEcho(text: string, ms: number): Promise<string>;
}

class CalculatorService implements Calculator {
  add(a: number, b: number): number {
    return a + b;
  }

  async divide(a: number, b: number): Promise<number> {
    if (b === 0) throw Object.assign(new Error(`${a} / 0`), { code: 'E_DIVIDE_BY_ZERO' });
    return a / b;
  }

  async slowEcho(text: string, ms: number): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return text;
  }
}

export async function typedApi(log: (line: string) => void = console.log): Promise<void> {
  const server = new RpcServer().implement<Calculator>(new CalculatorService()); // add, divide, slowEcho
  await server.start('127.0.0.1', 0);

  await using client = new RpcClient('127.0.0.1', server.address()!.port);
  const calc = client.proxy<Calculator>({ timeoutMs: 5000 });
  const sum: number = await calc.add(2, 3); // calc.add('2', 3) does not compile
  log(`add: ${sum}`); // add: 5
  log(`divide: ${await calc.divide(1, 4)}`); // divide: 0.25
  try {
    await calc.divide(1, 0);
  } catch (err) {
    if (err instanceof RpcError) log(`divide by 0: ${err.code}, remote ${err.remote}`); // divide by 0: E_DIVIDE_BY_ZERO, remote true
  }
  const hurried = calc.with({ timeoutMs: 50 }); // the same methods, with other call options
  await hurried.slowEcho('late', 200).catch((err: RpcError) => log(`slowEcho: ${err.code}, remote ${err.remote}`)); // slowEcho: TIMEOUT, remote false
  await server.shutdown(1000);
}
