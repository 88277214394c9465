/**
 * Child process of the rpc-lite soak: an RpcServer on loopback with the
 * methods the callers use. Driven over IPC by rpc-soak.ts.
 */
import { RpcServer } from '@proj/rpc-lite';
import { serveParent } from './child-side';
import { sleep } from 'app-support';
import { Counts } from './stats';

const errors = new Counts();
const calls = new Counts();

async function main(): Promise<void> {
  const server = new RpcServer({ onError: (err) => errors.add((err as { code?: string }).code ?? err.name) })
    .handle('echo', ([data]: [Uint8Array]) => {
      calls.add('echo');
      return data;
    })
    .handle('sleep', async ([ms]: [number]) => {
      calls.add('sleep');
      await sleep(ms);
      return ms;
    })
    .handle('fail', () => {
      calls.add('fail');
      throw Object.assign(new Error('failing on purpose'), { code: 'E_SOAK' });
    })
    .handle('slow', async ([ms]: [number], ctx) => {
      calls.add('slow');
      // Stops early when the client goes away (ctx.signal), as a well-behaved handler does.
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ms);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(t);
          resolve();
        });
      });
      return ms;
    });
  await server.start('127.0.0.1', 0);
  serveParent({
    port: server.address()!.port,
    connNum: () => server.connNum(),
    errors,
    counters: () => calls.toJSON(),
    shutdown: () => server.shutdown(5000),
  });
}

void main();
