import { accessSync, constants } from 'node:fs';
import { isIP } from 'node:net';
import { UsageError, describeFileError, integerOption, parseOptions } from 'app-support';

/** What the command line asked for, checked and with defaults filled in. */
export interface ServerArgs {
  /** Address to listen on. Default `127.0.0.1`. */
  ip: string;
  /** Port to listen on; `0` picks a free one. Default `7788`. */
  port: number;
  /** Speak TLS. Default `false`; implied by `--key`/`--cert`. */
  ssl: boolean;
  /** PEM private key; with `ssl` and no key/cert, a self-signed pair is generated. */
  keyPath?: string;
  /** PEM certificate that goes with `keyPath`. */
  certPath?: string;
  /** Drop the per-message and per-connection lines. Default `false`. */
  quiet: boolean;
  /** How often the connection count is printed, in ms; `0` never. Default `5000`. */
  statsIntervalMs: number;
  /** How long a shutdown waits for connections to close before resetting them. Default `2000`. */
  graceMs: number;
  /** `--proxy-protocol`: connections begin with a PROXY header of this version (behind HAProxy and the like). */
  proxyProtocol?: 'v1' | 'v2' | 'any';
  /** `--workers`: serve on this many worker threads, `'auto'` one per core. Default: one thread. */
  workers?: number | 'auto';
  /** `--help` was given: print {@link SERVER_USAGE} and exit 0. */
  help: boolean;
}

/** The `--help` text. */
export const SERVER_USAGE = `usage: pingpong-server [options]

Replies "pong" to every "ping" (co's TCP ping-pong server on @proj/tcp).

options:
  --ip <address>            address to listen on (IPv4 or IPv6)      default 127.0.0.1
  --port <n>                port, 0 for any free one                 default 7788
  --ssl                     speak TLS; without --key/--cert a self-signed
                            certificate for localhost is generated   default off
  --key <file>              PEM private key (implies --ssl)
  --cert <file>             PEM certificate (implies --ssl)
  --quiet                   no per-message / per-connection lines    default off
  --stats-interval-ms <n>   print the connection count every n ms, 0 never   default 5000
  --grace-ms <n>            on SIGINT/SIGTERM, wait this long for connections
                            to close before resetting them           default 2000
  --proxy-protocol <v>      behind a load balancer: every connection begins with
                            a PROXY header, v1, v2 or any; the lines show the
                            real client                              default off
  --workers <n|auto>        serve on n worker threads (auto: one per core);
                            needs Node.js 24 (handoff) or 22.12 (reuseport)  default off
  -h, --help                this text`;

const OPTIONS = {
  ip: { type: 'string' },
  port: { type: 'string' },
  ssl: { type: 'boolean' },
  key: { type: 'string' },
  cert: { type: 'string' },
  quiet: { type: 'boolean' },
  'stats-interval-ms': { type: 'string' },
  'grace-ms': { type: 'string' },
  'proxy-protocol': { type: 'string' },
  workers: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * Parses and checks the server's command line.
 *
 * @param argv - the arguments after the script name (`process.argv.slice(2)`).
 * @throws UsageError for an unknown option, a bad value or a key/certificate file that cannot be read.
 */
export function parseServerArgs(argv: readonly string[]): ServerArgs {
  const values = parseOptions(argv, OPTIONS);
  const ip = values.ip ?? '127.0.0.1';
  if (ip !== '' && isIP(ip) === 0) throw new UsageError(`--ip must be an IPv4 or IPv6 address, got "${ip}"`);
  const keyPath = values.key;
  const certPath = values.cert;
  if ((keyPath === undefined) !== (certPath === undefined)) {
    throw new UsageError(keyPath === undefined ? '--cert needs --key as well' : '--key needs --cert as well');
  }
  if (keyPath !== undefined) checkReadable('--key', keyPath);
  const proxy = values['proxy-protocol'];
  if (proxy !== undefined && proxy !== 'v1' && proxy !== 'v2' && proxy !== 'any') {
    throw new UsageError(`--proxy-protocol must be v1, v2 or any, got "${proxy}"`);
  }
  if (certPath !== undefined) checkReadable('--cert', certPath);
  return {
    ip,
    port: integerOption('--port', values.port, 7788, 0, 65535),
    ssl: Boolean(values.ssl) || keyPath !== undefined,
    keyPath,
    certPath,
    quiet: Boolean(values.quiet),
    statsIntervalMs: integerOption('--stats-interval-ms', values['stats-interval-ms'], 5000, 0, 2 ** 31 - 1),
    graceMs: integerOption('--grace-ms', values['grace-ms'], 2000, 0, 2 ** 31 - 1),
    ...(proxy === undefined ? {} : { proxyProtocol: proxy }),
    workers:
      values.workers === undefined || values.workers === 'auto'
        ? values.workers
        : integerOption('--workers', values.workers, 1, 1, 1024),
    help: Boolean(values.help),
  };
}

function checkReadable(name: string, path: string): void {
  try {
    accessSync(path, constants.R_OK);
  } catch (err) {
    throw new UsageError(`${name} ${path}: ${describeFileError(err)}`);
  }
}
