import { readFile } from 'node:fs/promises';
import * as tls from 'node:tls';
import { TcpError, TcpErrorCode } from './errors';
import type { ServerOptions } from './server-options';

/**
 * Reads the PEM key and certificate given to `Server.start` and checks that,
 * with the server's extra TLS options, they make a usable TLS context.
 * @throws TcpError `ERR_TLS_CONFIG`, saying which file and why.
 * @internal
 */
export async function loadTlsCredentials(
  key: string | undefined,
  ca: string | undefined,
  extra: ServerOptions['tls'],
): Promise<tls.SecureContextOptions> {
  if (!key || !ca) {
    throw new TcpError(
      TcpErrorCode.ERR_TLS_CONFIG,
      `TLS needs both a key and a certificate path; got key=${key || '(none)'} ca=${ca || '(none)'}`,
    );
  }
  let keyPem: Buffer;
  let certPem: Buffer;
  try {
    [keyPem, certPem] = await Promise.all([readFile(key), readFile(ca)]);
  } catch (err) {
    throw new TcpError(
      TcpErrorCode.ERR_TLS_CONFIG,
      `cannot read the TLS key or certificate: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  try {
    const { requestCert: _r, rejectUnauthorized: _u, ALPNProtocols: _a, ...context } = extra ?? {};
    const credentials: tls.SecureContextOptions = { minVersion: 'TLSv1.2', ...context, key: keyPem, cert: certPem };
    tls.createSecureContext(credentials);
    return credentials;
  } catch (err) {
    throw new TcpError(
      TcpErrorCode.ERR_TLS_CONFIG,
      `the TLS key ${key} and certificate ${ca} are not a usable PEM pair: ${(err as Error).message}`,
      { cause: err },
    );
  }
}
