/**
 * Test certificates, made at test time (none are committed): a CA and a
 * server certificate it signs for localhost, 127.0.0.1 and ::1, written to a
 * temporary folder so that `Server.start(ip, port, key, ca)` can read them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as selfsigned from 'selfsigned';

export interface TestCerts {
  /** Folder holding the files; remove it with {@link TestCerts.cleanup}. */
  dir: string;
  /** Path of the server's private key (PEM). */
  keyPath: string;
  /** Path of the server's certificate (PEM). */
  certPath: string;
  /** The server's private key (PEM). */
  key: string;
  /** The server's certificate (PEM): self-signed, so it is also the CA a client trusts. */
  cert: string;
  cleanup(): void;
}

const ALT_NAMES = [
  { type: 2, value: 'localhost' },
  { type: 7, ip: '127.0.0.1' },
  { type: 7, ip: '::1' },
];

/** Makes a self-signed certificate for localhost / 127.0.0.1 / ::1. */
export async function makeTestCerts(commonName = 'localhost'): Promise<TestCerts> {
  const pems = await selfsigned.generate([{ name: 'commonName', value: commonName }], {
    days: 2,
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', keyCertSign: true, digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      { name: 'subjectAltName', altNames: ALT_NAMES },
    ],
  } as never);
  const dir = mkdtempSync(join(tmpdir(), 'proj-certs-'));
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  writeFileSync(keyPath, pems.private);
  writeFileSync(certPath, pems.cert);
  return {
    dir,
    keyPath,
    certPath,
    key: pems.private,
    cert: pems.cert,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
