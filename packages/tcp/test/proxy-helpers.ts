/**
 * A server behind the PROXY protocol for the tests: it records what each
 * handler saw (peer, header, first bytes), echoes until the peer closes, and
 * records every error it reports.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { type Connection, type ProxyInfo, Server, type ServerOptions, type TcpError } from '../src';
import type { TestCerts } from '../../../libs/test-support/certs';
import { recordErrors } from '../../../libs/test-support/net';

/** What one handler saw. */
export interface Seen {
  peer: string;
  proxy: ProxyInfo | null;
  /** Every byte the handler received, in order (it echoed each back). */
  bytes: Buffer;
  onread: boolean;
}

export class ProxyEcho {
  readonly seen: Seen[] = [];
  /** The first 100 errors reported (a flood's reports are counted, not kept: they would be the memory measured). */
  readonly errors: TcpError[] = [];
  /** Every error reported, by code. */
  readonly errorCodes = new Map<string, number>();
  /** How many errors were reported, and the last one. */
  errorCount = 0;
  lastError: TcpError | null = null;
  /** Handlers that started (a refused connection must never count here). */
  handlers = 0;
  private constructor(
    readonly server: Server,
    readonly port: number,
    readonly host: string,
  ) {}

  static async start(options: ServerOptions, certs: TestCerts | null = null, host = '127.0.0.1'): Promise<ProxyEcho> {
    // eslint-disable-next-line prefer-const -- assigned once the server has started
    let echo: ProxyEcho;
    const errors: TcpError[] = [];
    const codes = new Map<string, number>();
    const onError = (err: TcpError): void => {
      echo.errorCount++;
      echo.lastError = err;
      codes.set(err.code, (codes.get(err.code) ?? 0) + 1);
      if (errors.length < 100) errors.push(err);
    };
    const server = new Server({ ...options, onError }).onConnection(async (conn: Connection) => {
      echo.handlers++;
      const got: Buffer[] = [];
      const buf = Buffer.alloc(16 * 1024);
      for (let n; (n = await conn.recv(buf, buf.length, 10_000)) > 0;) {
        got.push(Buffer.from(buf.subarray(0, n)));
        if ((await conn.send(buf, n, 10_000)) <= 0) break;
      }
      echo.seen.push({
        peer: conn.peer(),
        proxy: conn.proxy,
        bytes: Buffer.concat(got),
        onread: conn._fastPathsInUse().onread,
      });
    });
    if (certs === null) await server.start(host, 0);
    else await server.start(host, 0, certs.keyPath, certs.certPath);
    echo = new ProxyEcho(server, server.address()!.port, host);
    (echo as { errors: TcpError[] }).errors = errors;
    (echo as { errorCodes: Map<string, number> }).errorCodes = codes;
    return echo;
  }
}

/** Connects, writes `header` (and `then`, in the same write when `together`), and returns the socket. */
export function connectWith(port: number, header: Uint8Array, host = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host });
    recordErrors(sock);
    sock.once('error', reject);
    sock.once('connect', () => {
      sock.off('error', reject);
      if (header.length > 0) sock.write(header);
      resolve(sock);
    });
  });
}

/** Sends `data` and reads back as many bytes (an echo), then ends and waits for the close. */
export async function echoThrough(sock: net.Socket, data: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  const done = new Promise<void>((resolve, reject) => {
    sock.on('data', (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= data.length) resolve();
    });
    sock.once('close', () =>
      got >= data.length ? resolve() : reject(new Error(`closed after ${got} of ${data.length} echoed bytes`)),
    );
  });
  sock.write(data);
  await done;
  const closed = new Promise<void>((resolve) => (sock.closed ? resolve() : sock.once('close', () => resolve())));
  sock.end();
  await closed;
  return Buffer.concat(chunks);
}

/**
 * Writes the header on a TCP connection, then makes a TLS connection over it;
 * resolves after the handshake. `together`: the header and the ClientHello go
 * out in one write, so the server reads both at once.
 */
export function tlsAfterHeader(
  port: number,
  header: Uint8Array,
  certs: TestCerts,
  host = '127.0.0.1',
  together = false,
): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const raw = net.connect({ port, host });
    recordErrors(raw);
    raw.once('error', reject);
    raw.once('connect', () => {
      raw.off('error', reject);
      if (together) raw.cork();
      raw.write(header);
      const sock = tls.connect({ socket: raw, ca: certs.cert, servername: 'localhost' });
      if (together) setImmediate(() => raw.uncork());
      sock.once('error', reject);
      sock.once('secureConnect', () => {
        sock.off('error', reject);
        recordErrors(sock);
        resolve(sock);
      });
    });
  });
}

/** Resolves once `sock` closes, saying whether the peer reset it. */
export function closedHow(sock: net.Socket): Promise<'reset' | 'closed'> {
  return new Promise((resolve) => {
    const errors = recordErrors(sock);
    const done = (): void =>
      resolve(errors.some((e) => (e as NodeJS.ErrnoException).code === 'ECONNRESET') ? 'reset' : 'closed');
    if (sock.closed) done();
    else sock.once('close', done);
    sock.resume();
  });
}
