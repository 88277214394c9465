/**
 * Child process of the connection soak: one @proj/tcp Server on loopback
 * answering 8-byte pings with the same 8 bytes (ping-pong), for as long as
 * each client stays. Driven over IPC by conn-soak.ts.
 */
import { Server, type Connection } from '@proj/tcp';
import { serveParent } from './child-side';
import { Counts } from './stats';

const errors = new Counts();
let roundTrips = 0;
let handlerEnds = 0;
const endCodes = new Counts();

async function pingPong(conn: Connection): Promise<void> {
  const buf = Buffer.allocUnsafe(8);
  for (;;) {
    const n = await conn.recvn(buf, 8);
    if (n !== 8) {
      endCodes.add(n === 0 ? 'EOF' : (conn.lastError?.code ?? 'EIO'));
      break;
    }
    if ((await conn.send(buf, 8)) !== 8) {
      endCodes.add(`send:${conn.lastError?.code ?? 'EIO'}`);
      break;
    }
    roundTrips++;
  }
  handlerEnds++;
}

async function main(): Promise<void> {
  const server = new Server({ onError: (err) => errors.add(err.code) }).onConnection(pingPong);
  await server.start('127.0.0.1', 0);
  serveParent({
    port: server.address()!.port,
    connNum: () => server.connNum(),
    errors,
    counters: () => ({
      roundTrips,
      handlerEnds,
      ...Object.fromEntries([...endCodes.byCode].map(([k, v]) => [`end:${k}`, v])),
    }),
    shutdown: () => server.shutdown(5000),
  });
}

void main();
