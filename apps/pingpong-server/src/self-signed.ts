import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as selfsigned from 'selfsigned';

/** A generated key and certificate on disk, in a folder of their own. */
export interface GeneratedCert {
  /** The temporary folder holding both files. */
  dir: string;
  /** Path of the private key (PEM, mode 0600). */
  keyPath: string;
  /** Path of the certificate (PEM); clients trust it with `--ca <certPath>`. */
  certPath: string;
  /** Removes the folder and both files. Safe to call many times. */
  cleanup(): void;
}

/** Names the generated certificate is valid for. */
export const SELF_SIGNED_NAMES = ['localhost', '127.0.0.1', '::1'] as const;

/**
 * Generates a self-signed certificate for localhost, 127.0.0.1 and ::1 (an EC
 * P-256 key: instant to make, unlike RSA) valid for 30 days, and writes it
 * into a new temporary folder.
 *
 * @param prefix - start of the folder's name under the system's temp folder.
 */
export async function generateSelfSignedCert(prefix = 'pingpong-server-'): Promise<GeneratedCert> {
  const notBeforeDate = new Date(Date.now() - 60_000); // a little slack for clock skew
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate: new Date(notBeforeDate.getTime() + 30 * 24 * 3600 * 1000),
    extensions: [
      // Self-signed: the certificate is its own CA, so a client can pass it as --ca.
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', keyCertSign: true, digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  writeFileSync(keyPath, pems.private, { mode: 0o600 });
  writeFileSync(certPath, pems.cert);
  return { dir, keyPath, certPath, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
