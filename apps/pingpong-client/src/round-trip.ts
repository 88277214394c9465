import { Client, type ClientTlsOptions } from '@proj/tcp';
import type { ClientArgs } from './args';

/** What every round trip sends. */
export const PING: Buffer = Buffer.from('ping');
/** What the server answers. */
export const PONG: Buffer = Buffer.from('pong');

/**
 * Failures a retry cannot fix: the server's certificate is not trusted or not
 * for this name. The client stops at once and says what to pass.
 */
const TLS_TRUST_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** One successful round trip. */
export interface RoundTripOk {
  ok: true;
  /** From `send` to the pong, ms (the connect, if any, is not counted). */
  ms: number;
  /** Whether this round trip had to connect first. */
  connected: boolean;
}

/** One failed round trip. */
export interface RoundTripFailed {
  ok: false;
  /** Which step failed. */
  stage: 'connect' | 'send' | 'recv';
  /** Stable code: the `TcpError` code, `ECLOSED` (the server closed) or `EBADREPLY`. */
  code: string;
  /** One line saying what happened, for people. */
  message: string;
  /** A retry cannot help (TLS trust); stop. */
  fatal: boolean;
}

/** The outcome of {@link roundTrip}. */
export type RoundTripResult = RoundTripOk | RoundTripFailed;

/**
 * The client that every pooled one copies (co's `proto`): address, port and
 * TLS settings from the command line.
 */
export function makeProtoClient(args: ClientArgs): Client {
  const tls: ClientTlsOptions = {};
  if (args.ca !== undefined) tls.ca = args.ca;
  if (args.servername !== undefined) tls.servername = args.servername;
  if (args.insecure) tls.rejectUnauthorized = false;
  return new Client(args.ip, args.port, args.ssl, tls);
}

/**
 * One ping/pong on `client`, connecting first if it is not connected (a
 * pooled client the server has closed reads as not connected).
 *
 * @param buf - scratch space of at least 4 bytes for the reply.
 * @param timeoutMs - for the connect and for the pong.
 */
export async function roundTrip(client: Client, buf: Buffer, timeoutMs: number): Promise<RoundTripResult> {
  let connected = false;
  if (!client.connected()) {
    if (!(await client.connect(timeoutMs))) return failed('connect', client);
    connected = true;
  }
  const t0 = performance.now();
  if ((await client.send(PING)) <= 0) return failed('send', client);
  const r = await client.recvn(buf, 4, timeoutMs);
  const ms = performance.now() - t0;
  if (r === 0) {
    return { ok: false, stage: 'recv', code: 'ECLOSED', message: 'the server closed the connection', fatal: false };
  }
  if (r < 0) {
    // A TLS server waits for a whole record and never answers a plain "ping".
    const plainToTls = connected && !client.useSsl && client.lastError?.code === 'ETIMEDOUT';
    return failed('recv', client, plainToTls ? 'no pong on a new connection: if the server speaks TLS, add --ssl' : '');
  }
  if (buf[0] !== PONG[0] || buf[1] !== PONG[1] || buf[2] !== PONG[2] || buf[3] !== PONG[3]) {
    // 0x15/0x16 start TLS records: a TLS server answering plain bytes.
    const hint = buf[0] === 0x15 || buf[0] === 0x16 ? ' (the server seems to speak TLS: add --ssl)' : '';
    return {
      ok: false,
      stage: 'recv',
      code: 'EBADREPLY',
      message: `unexpected reply 0x${buf.subarray(0, 4).toString('hex')} instead of "pong"${hint}`,
      fatal: false,
    };
  }
  return { ok: true, ms, connected };
}

function failed(stage: RoundTripFailed['stage'], client: Client, hint = ''): RoundTripFailed {
  const err = client.lastError;
  const code = err?.code ?? 'EIO';
  const fatal = stage === 'connect' && TLS_TRUST_CODES.has(code);
  let message = `${stage} failed: ${client.strerror() || code}`;
  if (fatal) {
    message +=
      code === 'ERR_TLS_CERT_ALTNAME_INVALID'
        ? ' — the certificate is not for this name: pass --servername <name on the certificate>'
        : " — the server's certificate is not trusted: pass --ca <the server's cert.pem> (or --insecure to skip verification)";
  } else if (stage === 'connect' && code === 'ETIMEDOUT' && client.useSsl) {
    message += ' (does the server speak TLS? drop --ssl if not)';
  } else if (hint !== '') {
    message += ` (${hint})`;
  }
  return { ok: false, stage, code, message: `${message} [${code}]`, fatal };
}

/** Delay before retry `attempt` (1, 2, ...): 100 ms doubling, at most 2 s, with ±20% jitter. */
export function retryDelayMs(attempt: number): number {
  const base = Math.min(100 * 2 ** (attempt - 1), 2000);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}
