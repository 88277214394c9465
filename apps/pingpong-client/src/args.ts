import { readFileSync } from 'node:fs';
import { UsageError, describeFileError, integerOption, parseOptions } from 'app-support';

/** What the command line asked for, checked and with defaults filled in. */
export interface ClientArgs {
  /** Server host name or address. Default `127.0.0.1`. */
  ip: string;
  /** Server port. Default `7788`. */
  port: number;
  /** Speak TLS. Default `false`; implied by `--ca` and `--insecure`. */
  ssl: boolean;
  /** `--ca`: path of the PEM certificate(s) to trust instead of Node's bundled roots. */
  caPath?: string;
  /** The contents of `caPath`. */
  ca?: Buffer;
  /** Name checked against the server's certificate (and sent in SNI). Default: `ip`. */
  servername?: string;
  /** Skip certificate verification (`--insecure`). Default `false`. */
  insecure: boolean;
  /** Concurrent tasks. Default `8`, or `64` with `--bench`. */
  clients: number;
  /** Ping/pong rounds per task. Default `3`. */
  rounds: number;
  /** Pause between a task's rounds, ms. Default `3000`. */
  intervalMs: number;
  /** Benchmark instead of the ping rounds. Default `false`. */
  bench: boolean;
  /** How long the benchmark runs, seconds. Default `10`. */
  seconds: number;
  /** Time allowed for a connect (TLS handshake included) and for a pong, ms. Default `3000`. */
  timeoutMs: number;
  /** Retries of a failed round trip before it counts as failed. Default `5`. */
  retries: number;
  /** No per-round-trip lines. Default `false`. */
  quiet: boolean;
  /** `--help`: print {@link CLIENT_USAGE} and exit 0. */
  help: boolean;
}

/** The `--help` text. */
export const CLIENT_USAGE = `usage: pingpong-client [options]

N async tasks share pooled Clients (Pool/PoolGuard), send "ping" and wait for "pong"
(co's TCP client example on @proj/tcp and @proj/pool).

options:
  --ip <host>             server host name or address                 default 127.0.0.1
  --port <n>              server port                                 default 7788
  --ssl                   speak TLS; the certificate is verified      default off
  --ca <file>             PEM certificate(s) to trust (implies --ssl) default Node's roots
  --servername <name>     name the certificate must match             default --ip
  --insecure              TLS without verifying the certificate (implies --ssl; prints a warning)
  --clients <n>           concurrent tasks                            default 8 (64 with --bench)
  --rounds <n>            ping/pong rounds per task                   default 3
  --interval-ms <n>       pause between a task's rounds               default 3000
  --bench                 drive the server as fast as it can instead  default off
  --seconds <n>           how long --bench runs                       default 10
  --timeout-ms <n>        connect (with TLS handshake) and pong timeout  default 3000
  --retries <n>           retries of a failed round trip (delay 100 ms doubling, at most 2 s)  default 5
  --quiet                 no line per round trip                      default off
  -h, --help              this text

exit code: 0 round trips succeeded, 1 none did (or TLS verification failed), 2 bad options`;

const OPTIONS = {
  ip: { type: 'string' },
  port: { type: 'string' },
  ssl: { type: 'boolean' },
  ca: { type: 'string' },
  servername: { type: 'string' },
  insecure: { type: 'boolean' },
  clients: { type: 'string' },
  rounds: { type: 'string' },
  'interval-ms': { type: 'string' },
  bench: { type: 'boolean' },
  seconds: { type: 'string' },
  'timeout-ms': { type: 'string' },
  retries: { type: 'string' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const MAX_MS = 2 ** 31 - 1;

/**
 * Parses and checks the client's command line; reads the `--ca` file.
 *
 * @param argv - the arguments after the script name (`process.argv.slice(2)`).
 * @throws UsageError for an unknown option, a bad value or a `--ca` file that cannot be read.
 */
export function parseClientArgs(argv: readonly string[]): ClientArgs {
  const values = parseOptions(argv, OPTIONS);
  const ip = values.ip ?? '127.0.0.1';
  if (ip.trim() === '') throw new UsageError('--ip must not be empty');
  const insecure = Boolean(values.insecure);
  const caPath = values.ca;
  if (insecure && caPath !== undefined) {
    throw new UsageError(
      '--ca and --insecure contradict each other: --ca verifies with that certificate, --insecure does not verify',
    );
  }
  let ca: Buffer | undefined;
  if (caPath !== undefined) {
    try {
      ca = readFileSync(caPath);
    } catch (err) {
      throw new UsageError(`--ca ${caPath}: ${describeFileError(err)}`);
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`--ca ${caPath}: not a PEM certificate`);
  }
  if (values.servername !== undefined && values.servername.trim() === '')
    throw new UsageError('--servername must not be empty');
  const bench = Boolean(values.bench);
  return {
    ip,
    port: integerOption('--port', values.port, 7788, 1, 65535),
    ssl: Boolean(values.ssl) || insecure || caPath !== undefined,
    caPath,
    ca,
    servername: values.servername,
    insecure,
    clients: integerOption('--clients', values.clients, bench ? 64 : 8, 1, 10_000),
    rounds: integerOption('--rounds', values.rounds, 3, 1, 1_000_000),
    intervalMs: integerOption('--interval-ms', values['interval-ms'], 3000, 0, MAX_MS),
    bench,
    seconds: integerOption('--seconds', values.seconds, 10, 1, 24 * 3600),
    timeoutMs: integerOption('--timeout-ms', values['timeout-ms'], 3000, 1, MAX_MS),
    retries: integerOption('--retries', values.retries, 5, 0, 1000),
    quiet: Boolean(values.quiet),
    help: Boolean(values.help),
  };
}
