/**
 * The benchmark's server process: an rpc-lite echo server and a grpc-js echo
 * server on 127.0.0.1 (plain TCP, insecure credentials). Prints their ports as
 * one JSON line, then serves until its stdin closes.
 */
import * as grpc from '@grpc/grpc-js';
import { RpcServer } from '@proj/rpc-lite';
import { grpcEchoService } from './echo-service';

async function main(): Promise<void> {
  const rpc = new RpcServer().handle('echo', (params: unknown) => params);
  await rpc.start('127.0.0.1', 0);

  const server = new grpc.Server();
  server.addService(grpcEchoService, {
    echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, call.request),
  });
  const grpcPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
  );

  process.stdout.write(`${JSON.stringify({ rpc: rpc.address()!.port, grpc: grpcPort })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => {
    server.forceShutdown();
    void rpc.shutdown(500).then(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
