/**
 * A server process of the rpc-lite workers benchmark: `node workers-server.js <n>`
 * is an RpcServer with n worker threads serving workers-service.js. Prints its
 * port once listening; exits when stdin ends.
 */
import { join } from 'node:path';
import { RpcServer } from '@proj/rpc-lite';

async function main(): Promise<void> {
  const server = new RpcServer({ workers: Number(process.argv[2]), service: join(__dirname, 'workers-service.js') });
  await server.start('127.0.0.1', 0);
  process.stdout.write(`${server.address()!.port}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => void server.shutdown(1000).then(() => process.exit(0)));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
