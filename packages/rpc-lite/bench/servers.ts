/**
 * The benchmark's server process: an rpc-lite echo server, the wire-format
 * baseline's echo server and a grpc-js echo server on 127.0.0.1 (plain TCP,
 * insecure credentials). Prints their ports as one JSON line, then serves
 * until its stdin closes; a line `cpu` on stdin is answered with the CPU time
 * the process has used, in microseconds (the servers are measured one at a
 * time, so a difference of two is one server's).
 */
import { createInterface } from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import { RpcServer } from '@proj/rpc-lite';
import { grpcEchoService } from './echo-service';
import { startWireServer } from './wire-baseline';

async function main(): Promise<void> {
  const rpc = new RpcServer().handle('echo', (params: unknown) => params);
  await rpc.start('127.0.0.1', 0);
  const wire = await startWireServer({ echo: (params: unknown) => params });

  const server = new grpc.Server();
  server.addService(grpcEchoService, {
    echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) =>
      callback(null, call.request),
  });
  const grpcPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) =>
      err ? reject(err) : resolve(port),
    ),
  );

  process.stdout.write(
    `${JSON.stringify({ rpc: rpc.address()!.port, wire: (wire.address() as { port: number }).port, grpc: grpcPort })}\n`,
  );
  const commands = createInterface({ input: process.stdin });
  commands.on('line', (command) => {
    if (command !== 'cpu') return;
    const { user, system } = process.cpuUsage();
    process.stdout.write(`${user + system}\n`);
  });
  commands.on('close', () => {
    server.forceShutdown();
    wire.close();
    void rpc.shutdown(500).then(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
