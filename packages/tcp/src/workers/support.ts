/**
 * What this Node.js can do to spread connections over worker threads, found
 * by trying it (never by version number).
 */
import * as net from 'node:net';
import { MessageChannel, type TransferListItem } from 'node:worker_threads';
import { TcpError, TcpErrorCode } from '../errors';

/** How connections reach their thread: `'single'` without workers (the calling thread serves them), `'handoff'` or `'reuseport'`. */
export type Distribution = 'handoff' | 'reuseport' | 'single';

let handoff: boolean | undefined;

/**
 * Whether a `net.Socket` can be put in a `postMessage` transfer list. Where
 * it cannot, Node refuses any socket as a transfer object at once
 * (`DataCloneError`, or `ERR_INVALID_TRANSFER_OBJECT`); where it can, it
 * refuses this one, which has no handle, for its state only. So a socket with
 * no handle tells, without opening anything.
 * @internal
 */
export function canHandOff(): boolean {
  if (handoff !== undefined) return handoff;
  const { port1, port2 } = new MessageChannel();
  const probe = new net.Socket();
  try {
    port1.postMessage(probe, [probe as unknown as TransferListItem]);
    handoff = true;
  } catch (err) {
    const e = err as { name?: string; code?: unknown };
    handoff = !(e.name === 'DataCloneError' || e.code === 'ERR_INVALID_TRANSFER_OBJECT');
  } finally {
    probe.destroy();
    port1.close();
    port2.close();
  }
  return handoff;
}

let reusePort: Promise<boolean> | undefined;

/**
 * Whether two sockets can listen on one port with `reusePort` (older lines
 * ignore the option, and the second gets `EADDRINUSE`). Tried once on a free
 * loopback port.
 * @internal
 */
export function canReusePort(): Promise<boolean> {
  reusePort ??= new Promise<boolean>((resolve) => {
    const a = net.createServer();
    const b = net.createServer();
    const done = (ok: boolean): void => {
      a.close();
      b.close();
      resolve(ok);
    };
    a.once('error', () => done(false));
    b.once('error', () => done(false));
    a.listen({ host: '127.0.0.1', port: 0, reusePort: true } as net.ListenOptions, () => {
      const { port } = a.address() as net.AddressInfo;
      b.listen({ host: '127.0.0.1', port, reusePort: true } as net.ListenOptions, () => done(true));
    });
  });
  return reusePort;
}

const WHERE =
  'handing a socket to a worker thread needs Node.js 24 or later; listening with reusePort needs Node.js 22.12 or later (on Linux)';

/** The distribution to use: the one asked for if this Node has it, else the best it has. @internal */
export async function chooseDistribution(asked: 'handoff' | 'reuseport' | undefined): Promise<'handoff' | 'reuseport'> {
  if (asked === 'handoff' || (asked === undefined && canHandOff())) {
    if (canHandOff()) return 'handoff';
  } else if (await canReusePort()) {
    return 'reuseport';
  }
  const what = asked === undefined ? 'spread connections over worker threads' : `use distribution '${asked}'`;
  throw new TcpError(
    TcpErrorCode.ERR_WORKERS_UNSUPPORTED,
    `Node.js ${process.version} cannot ${what}: ${WHERE}. Upgrade Node.js, or leave out the workers option to serve every connection on this thread.`,
  );
}

/** The distribution `start` will use, as far as it is known before `start`. @internal */
export function expectedDistribution(workers: number, asked: 'handoff' | 'reuseport' | undefined): Distribution {
  if (workers === 0) return 'single';
  return asked ?? (canHandOff() ? 'handoff' : 'reuseport');
}

/**
 * The ways this Node.js has to spread a `Server`'s connections over worker
 * threads (the `distribution` option), best first; empty where it has none
 * (`workers` then makes `start` reject with `ERR_WORKERS_UNSUPPORTED`).
 *
 * @example
 * ```ts
 * const workers = (await workerDistributions()).length > 0 ? 'auto' : undefined;
 * ```
 */
export async function workerDistributions(): Promise<Array<'handoff' | 'reuseport'>> {
  const out: Array<'handoff' | 'reuseport'> = [];
  if (canHandOff()) out.push('handoff');
  if (await canReusePort()) out.push('reuseport');
  return out;
}
