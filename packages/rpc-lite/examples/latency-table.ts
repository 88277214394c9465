import * as dc from 'node:diagnostics_channel';
import { RpcChannels, RpcClient, RpcServer, type CallErrorMessage, type RequestEndMessage } from '@proj/rpc-lite';

/** Nearest-rank percentile `p` (0..100) of `sorted`, ascending. */
function percentile(sorted: number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

export async function latencyTable(log: (line: string) => void = console.log): Promise<void> {
  // Per method: every call's duration (results and errors alike) and its errors, from the client's channels.
  const calls = new Map<string, { durations: number[]; errors: number }>();
  const onCallDone = (message: unknown, name: string | symbol): void => {
    const m = message as CallErrorMessage; // call.end carries the same fields but code, remote and error
    let row = calls.get(m.method);
    if (row === undefined) calls.set(m.method, (row = { durations: [], errors: 0 }));
    row.durations.push(m.durationMs);
    if (name === RpcChannels.callError) row.errors++;
  };
  // And what the server saw, from its channel.
  const served = { requests: 0, failed: new Map<string, number>() };
  const onRequestEnd = (message: unknown): void => {
    const m = message as RequestEndMessage;
    served.requests++;
    if (m.code !== null) served.failed.set(m.code, (served.failed.get(m.code) ?? 0) + 1);
  };
  dc.subscribe(RpcChannels.callEnd, onCallDone);
  dc.subscribe(RpcChannels.callError, onCallDone);
  dc.subscribe(RpcChannels.requestEnd, onRequestEnd);

  const server = new RpcServer()
    .handle('add', ([a, b]: [number, number]) => a + b)
    .handle('sleep', ([ms]: [number]) => new Promise((resolve) => setTimeout(resolve, ms, ms)))
    .handle('flaky', ([i]: [number]) => {
      if (i % 4 === 0) throw Object.assign(new Error(`unlucky ${i}`), { code: 'E_UNLUCKY' });
      return i;
    });
  await server.start('127.0.0.1', 0);
  try {
    await using client = new RpcClient('127.0.0.1', server.address()!.port, { timeoutMs: 5000 });
    // 20 rounds of 13 concurrent calls (the first round also waits for the connection).
    for (let round = 0; round < 20; round++) {
      const pending: Promise<unknown>[] = [client.call('sleep', [1 + (round % 5)])];
      for (let i = 0; i < 10; i++) pending.push(client.call('add', [round, i]));
      for (let i = 0; i < 2; i++) pending.push(client.call('flaky', [2 * round + i]));
      await Promise.allSettled(pending);
    }
  } finally {
    dc.unsubscribe(RpcChannels.callEnd, onCallDone);
    dc.unsubscribe(RpcChannels.callError, onCallDone);
    dc.unsubscribe(RpcChannels.requestEnd, onRequestEnd);
    await server.shutdown(1000);
  }

  log('method  count  p50 ms  p99 ms  max ms  errors');
  for (const [method, row] of [...calls].sort(([a], [b]) => a.localeCompare(b))) {
    const sorted = row.durations.sort((a, b) => a - b);
    const ms = (v: number): string => v.toFixed(2).padStart(6);
    log(
      `${method.padEnd(6)}  ${String(sorted.length).padStart(5)}  ${ms(percentile(sorted, 50))}  ` +
        `${ms(percentile(sorted, 99))}  ${ms(sorted[sorted.length - 1])}  ${String(row.errors).padStart(6)}`,
    );
  }
  const failures = [...served.failed].map(([code, n]) => `${code} ${n}`).join(', ');
  log(`server: ${served.requests} requests, failed: ${failures || 'none'}`);
}

if (require.main === module) {
  latencyTable().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
