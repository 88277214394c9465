/**
 * The echo service of the benchmark, for both systems: an rpc-lite method
 * and a gRPC unary method defined by hand (no .proto file, no proto-loader),
 * whose messages are Buffers passed through as they are.
 */
import * as grpc from '@grpc/grpc-js';

const asIs = (b: Buffer): Buffer => b;

/** `/bench.Echo/Echo`: a unary method whose request and response are raw bytes. */
export const grpcEchoService: grpc.ServiceDefinition = {
  echo: {
    path: '/bench.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: asIs,
    requestDeserialize: asIs,
    responseSerialize: asIs,
    responseDeserialize: asIs,
  },
};

/** The gRPC client class for {@link grpcEchoService}. */
export const GrpcEchoClient = grpc.makeGenericClientConstructor(grpcEchoService, 'Echo');
