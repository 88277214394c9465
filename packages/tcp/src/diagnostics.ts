/**
 * Tracing on `node:diagnostics_channel`, the way undici does it: an APM or a
 * test subscribes by channel name, and nothing is built or published while a
 * channel has no subscriber (each publish is behind `hasSubscribers`). The
 * channels, and the message each carries, are listed in the package README.
 * Nothing here runs per message: only when a connection opens or closes, a
 * client connects, or a server starts or stops listening.
 */
import * as dc from 'node:diagnostics_channel';
import type { TcpError } from './errors';

/** The names of the channels this package publishes on. */
export const TcpChannels = {
  /** A connection is up: `{ connection, side, address, port, tls }`. */
  connectionOpen: 'proj:tcp:connection.open',
  /** A connection is done with: `{ connection, side, address, port, tls, bytesRead, bytesWritten, durationMs, how, error }`. */
  connectionClose: 'proj:tcp:connection.close',
  /** A `Client.connect` ended: `{ client, address, port, tls, ok, durationMs, error }`. */
  clientConnect: 'proj:tcp:client.connect',
  /** A server listens: `{ server, address, port, tls }`. */
  serverListen: 'proj:tcp:server.listen',
  /** A server stopped listening (`exit()`): `{ server, address, port }`. */
  serverExit: 'proj:tcp:server.exit',
} as const;

/** @internal */
export const connectionOpen = dc.channel(TcpChannels.connectionOpen);
/** @internal */
export const connectionClose = dc.channel(TcpChannels.connectionClose);
/** @internal */
export const clientConnect = dc.channel(TcpChannels.clientConnect);
/** @internal */
export const serverListen = dc.channel(TcpChannels.serverListen);
/** @internal */
export const serverExit = dc.channel(TcpChannels.serverExit);

/** Which end of the connection this process is: `'server'` (a `Connection`) or `'client'` (a `Client`). */
export type ConnectionSide = 'server' | 'client';

/** How a connection ended, in `proj:tcp:connection.close`. */
export type CloseHow = 'closed' | 'reset' | 'peer' | 'error';

/** The message of `proj:tcp:connection.open`. */
export interface ConnectionOpenMessage {
  /** The `Connection` or `Client`. */
  connection: object;
  /** Which end this process is. */
  side: ConnectionSide;
  /** The peer's address. */
  address: string;
  /** The peer's port. */
  port: number;
  /** Whether the connection speaks TLS. */
  tls: boolean;
}

/** The message of `proj:tcp:connection.close`. */
export interface ConnectionCloseMessage extends ConnectionOpenMessage {
  /** Bytes received on the connection (TLS: the plaintext). */
  bytesRead: number;
  /** Bytes sent on the connection (TLS: the plaintext). */
  bytesWritten: number;
  /** Milliseconds from open to close. */
  durationMs: number;
  /** `closed`: closed gracefully here; `reset`: reset here; `peer`: the peer closed; `error`: it failed (see `error`). */
  how: CloseHow;
  /** The failure, for `how === 'error'` (else `null`). */
  error: TcpError | null;
}

/** The message of `proj:tcp:client.connect`. */
export interface ClientConnectMessage {
  /** The `Client`. */
  client: object;
  /** The host it connected to, as given to the constructor. */
  address: string;
  /** The port it connected to. */
  port: number;
  /** Whether it speaks TLS. */
  tls: boolean;
  /** Whether it connected. */
  ok: boolean;
  /** Milliseconds the attempt took, name resolution and TLS handshake included. */
  durationMs: number;
  /** Why it failed (its `code`: `ECONNREFUSED`, `ETIMEDOUT`, `ABORT_ERR`, ...), or `null`. */
  error: TcpError | null;
}

/** The message of `proj:tcp:server.listen` and `proj:tcp:server.exit`. */
export interface ServerListenMessage {
  /** The `Server`. */
  server: object;
  /** Where it listens (listened). */
  address: string;
  /** Its port. */
  port: number;
  /** Whether it speaks TLS. */
  tls: boolean;
}
