import { RpcClient, RpcError, RpcServer } from '@proj/rpc-lite';

export async function quickStart(log: (line: string) => void = console.log): Promise<void> {
  const server = new RpcServer({ maxInFlight: 256 })
    .handle('add', ([a, b]: [number, number]) => a + b)
    .handle('user', async ([id]: [number]) => {
      if (id !== 1) throw Object.assign(new Error(`no user ${id}`), { code: 'E_NO_USER' });
      return { id, name: 'Ada' };
    })
    .handle('log', ([line]: [string]) => log(`server log: ${line}`));
  await server.start('127.0.0.1', 0);

  await using client = new RpcClient('127.0.0.1', server.address()!.port, { timeoutMs: 5000 });
  log(`add: ${await client.call('add', [2, 3])}`); // add: 5
  const users = await Promise.all([client.call('user', [1]), client.call('user', [2]).catch((err: RpcError) => err.code)]);
  log(`users: ${JSON.stringify(users)}`); // users: [{"id":1,"name":"Ada"},"E_NO_USER"]
  await client.notify('log', ['hello']); // no answer; the server logs "server log: hello"
  try {
    await client.call('missing');
  } catch (err) {
    if (err instanceof RpcError) log(`missing: ${err.code}`); // missing: METHOD_NOT_FOUND
  }
  await server.shutdown(1000);
}
