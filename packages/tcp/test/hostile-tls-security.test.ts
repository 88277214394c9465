/**
 * TLS security defaults of @proj/tcp, against real TLS peers on loopback:
 * - a Client verifies the server's certificate and host name unless told
 *   `rejectUnauthorized: false` (self-signed, unknown CA, wrong name: refused);
 * - TLS 1.2 is the minimum both ways: our Server refuses a TLSv1.1-only
 *   client, our Client refuses a TLSv1.1-only server.
 *
 * On TLS 1.1: Node 20's OpenSSL 3 also refuses TLS 1.1 at its default
 * security level (no SHA-1 signatures), whatever minVersion says. So the
 * TLSv1.1 peers here lower their own security level (`@SECLEVEL=0`), a control
 * handshake between two such peers proves TLS 1.1 does work between them, and
 * our Server is also tried with `@SECLEVEL=0`: what refuses TLS 1.1 there is
 * its minimum version, and the error codes say so (protocol version).
 */
import * as tls from 'node:tls';
import { Client, Server, TcpError, type Connection } from '../src';
import { makeTestCerts, type TestCerts } from '../../../libs/test-support/certs';
import { rawServer, waitFor } from '../../../libs/test-support/net';

let certs: TestCerts;
let otherCerts: TestCerts;
beforeAll(async () => {
  [certs, otherCerts] = await Promise.all([makeTestCerts(), makeTestCerts('another-ca')]);
});
afterAll(() => {
  certs.cleanup();
  otherCerts.cleanup();
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function echo(conn: Connection): Promise<void> {
  const buf = Buffer.alloc(1024);
  for (let n; (n = await conn.recv(buf, buf.length, 5000)) > 0;) if ((await conn.send(buf, n)) !== n) return;
}

/** A TLS Server of ours with the test (self-signed) certificate; `served` counts handler runs. */
async function tlsServer(
  options: ConstructorParameters<typeof Server>[0] = {},
): Promise<{ server: Server; port: number; served: () => number; errors: TcpError[] }> {
  let served = 0;
  const errors: TcpError[] = [];
  const server = new Server({ ...options, onError: (e) => void errors.push(e) }).onConnection(async (conn) => {
    served++;
    await echo(conn);
  });
  await server.start('127.0.0.1', 0, certs.keyPath, certs.certPath);
  cleanups.push(() => server.shutdown(500));
  return { server, port: server.address()!.port, served: () => served, errors };
}

async function connectClient(c: Client): Promise<boolean> {
  cleanups.push(() => c.close());
  return c.connect(3000);
}

describe('Client: certificate and host-name verification are on by default', () => {
  test('a self-signed server is refused with no TLS options at all (DEPTH_ZERO_SELF_SIGNED_CERT); nothing reaches the handler', async () => {
    const s = await tlsServer();
    const c = new Client('127.0.0.1', s.port, true);
    expect(await connectClient(c)).toBe(false);
    expect(c.lastError).toBeInstanceOf(TcpError);
    expect(c.lastError!.code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    expect(c.connected()).toBe(false);
    expect(await c.send('secret')).toBe(-1); // nothing can be sent on a refused connection
    expect(c.lastError!.code).toBe('ENOTCONN');
    expect(s.served()).toBe(0);
  });

  test('an empty options object, or rejectUnauthorized: undefined, still verifies', async () => {
    const s = await tlsServer();
    for (const opts of [{}, { rejectUnauthorized: undefined }, { servername: 'localhost' }]) {
      const c = new Client('localhost', s.port, true, opts);
      expect(await connectClient(c)).toBe(false);
      expect(c.lastError!.code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    }
  });

  test('a certificate from another CA is refused even when a CA is given', async () => {
    const s = await tlsServer();
    const c = new Client('127.0.0.1', s.port, true, { ca: otherCerts.cert });
    expect(await connectClient(c)).toBe(false);
    expect(c.lastError!.code).toMatch(
      /^(DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)$/,
    );
  });

  test('the right CA but the wrong host name is refused (ERR_TLS_CERT_ALTNAME_INVALID)', async () => {
    const s = await tlsServer();
    const c = new Client('127.0.0.1', s.port, true, { ca: certs.cert, servername: 'bank.example' });
    expect(await connectClient(c)).toBe(false);
    expect(c.lastError!.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  test('with the right CA it connects; only the explicit opt-out rejectUnauthorized: false skips verification', async () => {
    const s = await tlsServer();
    const trusting = new Client('127.0.0.1', s.port, true, { ca: certs.cert });
    expect(await connectClient(trusting)).toBe(true);
    const optedOut = new Client('127.0.0.1', s.port, true, { rejectUnauthorized: false });
    expect(await connectClient(optedOut)).toBe(true);
    for (const c of [trusting, optedOut]) {
      expect(await c.send('ping')).toBe(4);
      const buf = Buffer.alloc(4);
      expect(await c.recvn(buf, 4, 3000)).toBe(4);
    }
  });

  test('a copied Client keeps verification on (new Client(other))', async () => {
    const s = await tlsServer();
    const copy = new Client(new Client('127.0.0.1', s.port, true));
    expect(await connectClient(copy)).toBe(false);
    expect(copy.lastError!.code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
  });
});

describe('TLS 1.2 is the minimum', () => {
  const TLS11_ONLY = { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' } as const;

  /** Handshakes a TLSv1.1-only client against `port`; resolves the protocol or the error code. */
  function tls11Client(port: number): Promise<string> {
    return handshake(port, { rejectUnauthorized: false, ...TLS11_ONLY });
  }

  /** Handshakes a raw TLS client against `port`; resolves the protocol agreed or the error code. */
  function handshake(port: number, options: tls.ConnectionOptions): Promise<string> {
    return new Promise((resolve) => {
      const c = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ...options });
      c.once('secureConnect', () => {
        const protocol = c.getProtocol() ?? '?';
        c.destroy();
        resolve(protocol);
      });
      c.once('error', (err: NodeJS.ErrnoException) => {
        c.destroy();
        resolve(err.code ?? err.message);
      });
    });
  }

  /** A raw TLSv1.1-only server. */
  async function tls11Server(): Promise<number> {
    const raw = await rawServer((sock) => sock.end('hi'), '127.0.0.1', {
      tls: { key: certs.key, cert: certs.cert, ...TLS11_ONLY },
    });
    cleanups.push(() => raw.close());
    return raw.port;
  }

  test('control: two TLSv1.1 peers at security level 0 do handshake in TLS 1.1 here', async () => {
    expect(await tls11Client(await tls11Server())).toBe('TLSv1.1');
  });

  test('our Server refuses a TLSv1.1-only client (protocol version), reports it, and goes on serving TLS 1.2+', async () => {
    for (const options of [{}, { tls: { ciphers: 'DEFAULT@SECLEVEL=0' } }]) {
      const s = await tlsServer(options);
      expect(await tls11Client(s.port)).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
      await waitFor(() => s.errors.length > 0, 'the refused handshake to be reported');
      expect(s.errors[0].code).toBe('ERR_SSL_UNSUPPORTED_PROTOCOL');
      expect(s.served()).toBe(0);
      // TLS 1.2 and 1.3 clients are served.
      for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const)
        expect(await handshake(s.port, { ca: certs.cert, maxVersion })).toBe(maxVersion);
      const c = new Client('127.0.0.1', s.port, true, { ca: certs.cert });
      expect(await connectClient(c)).toBe(true);
    }
  });

  test('our Client refuses a TLSv1.1-only server, even with verification off', async () => {
    const port = await tls11Server();
    for (const opts of [{ ca: certs.cert }, { rejectUnauthorized: false }]) {
      const c = new Client('127.0.0.1', port, true, opts);
      expect(await connectClient(c)).toBe(false);
      expect(c.lastError).toBeInstanceOf(TcpError);
      expect(c.lastError!.code).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
    }
  });
});
