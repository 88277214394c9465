/**
 * Child process of the rolling restart: an RpcServer behind HAProxy (PROXY
 * protocol v2) on the port it is given. SIGTERM shuts it down (with the
 * `rpc.goaway` drain, or without it when told `--no-drain`) and exits.
 * Tells its parent over IPC when it listens, and answers `stats` with the
 * connections it accepted (HAProxy's health checks are among them).
 */
import { subscribe } from 'node:diagnostics_channel';
import { RpcServer } from '@proj/rpc-lite';
import { TcpChannels } from '@proj/tcp';

const port = Number(process.argv[2]);
const goAway = process.argv[3] !== '--no-drain';
let accepted = 0;
let served = 0;

subscribe(TcpChannels.connectionOpen, (m) => {
  if ((m as { side: string }).side === 'server') accepted++;
});

async function main(): Promise<void> {
  const server = new RpcServer({ proxyProtocol: 'v2', proxyFrom: ['127.0.0.1'], goAway }).handle(
    'echo',
    (p: unknown) => {
      served++;
      return p;
    },
  );
  await server.start('127.0.0.1', port);
  process.once('SIGTERM', () => {
    void server.shutdown(10_000).then(() => process.exit(0));
  });
  process.on('message', (m: { type: string }) => {
    if (m.type === 'stats') process.send!({ type: 'stats', accepted, served, connNum: server.connNum() });
  });
  // The parent gone: nobody will stop this one.
  process.once('disconnect', () => process.exit(0));
  process.send!({ type: 'ready', port });
}

void main();
