import { RpcClient, RpcError, RpcServer } from '@proj/rpc-lite';

export async function backpressure(log: (line: string) => void = console.log): Promise<void> {
  // A server that stops reading: one request at a time, and the first one waits for `open()`.
  let open = (): void => {};
  const gate = new Promise<void>((resolve) => (open = resolve));
  const server = new RpcServer({ maxInFlight: 1 }).handle('store', async ([blob]: [Uint8Array]) => {
    await gate;
    return blob.length;
  });
  await server.start('127.0.0.1', 0);

  // The client queues at most 1 MiB for it; 32 MiB of calls are tried, each allowed 300 ms.
  await using client = new RpcClient('127.0.0.1', server.address()!.port, { maxQueuedBytes: 1024 * 1024 });
  const blob = new Uint8Array(512 * 1024);
  const calls = Array.from({ length: 64 }, () => client.call('store', [blob], { timeoutMs: 300 }).catch((err: RpcError) => err));
  const failed = (await Promise.all(calls)).filter((r): r is RpcError => r instanceof RpcError);
  log(`timed out: ${failed.filter((e) => e.code === 'TIMEOUT').length} of ${calls.length}`); // timed out: 64 of 64
  // Those that found no room in the 1 MiB were never sent: memory stayed bounded.
  log(`some never sent: ${failed.some((e) => e.message.includes('no room'))}`); // some never sent: true

  open(); // the server reads again
  log(`stored: ${await client.call('store', [new Uint8Array(3)], { timeoutMs: 5000 })}`); // stored: 3
  await server.shutdown(1000);
}
