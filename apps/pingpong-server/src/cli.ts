import { TcpErrorCode, type TcpError } from '@proj/tcp';
import { UsageError, hostPort } from 'app-support';
import { SERVER_USAGE, parseServerArgs, type ServerArgs } from './args';
import { PingPongServer } from './pingpong-server';
import { SELF_SIGNED_NAMES, generateSelfSignedCert, type GeneratedCert } from './self-signed';

/** Where the CLI writes; tests pass their own. */
export interface CliOutput {
  /** A line for stdout (a function, not a method: the CLI hands it on detached). */
  out: (line: string) => void;
  /** A line for stderr. */
  err: (line: string) => void;
}

const stdio: CliOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** Exit codes of the CLI. */
export const ServerExitCode = {
  /** Stopped by SIGINT/SIGTERM after a graceful shutdown, or `--help`. */
  OK: 0,
  /** Could not start (port in use, ...) or was forced down by a second signal. */
  FAILED: 1,
  /** Bad command line or unusable key/certificate. */
  USAGE: 2,
} as const;

/**
 * Runs the pingpong server until SIGINT or SIGTERM, then shuts it down
 * gracefully and prints the totals.
 *
 * @param argv - the arguments after the script name.
 * @returns the exit code (see {@link ServerExitCode}).
 */
export async function runServerCli(argv: readonly string[], io: CliOutput = stdio): Promise<number> {
  let args: ServerArgs;
  try {
    args = parseServerArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`pingpong-server: ${err.message} (see --help for usage)`);
    return ServerExitCode.USAGE;
  }
  if (args.help) {
    io.out(SERVER_USAGE);
    return ServerExitCode.OK;
  }

  let generated: GeneratedCert | null = null;
  let keyPath = args.keyPath;
  let certPath = args.certPath;
  if (args.ssl && keyPath === undefined) {
    generated = await generateSelfSignedCert();
    keyPath = generated.keyPath;
    certPath = generated.certPath;
    io.out(`generated a self-signed certificate for ${SELF_SIGNED_NAMES.join(', ')} (deleted when the server stops):`);
    io.out(`  cert: ${certPath}   (clients trust it with --ca ${certPath})`);
    io.out(`  key:  ${keyPath}`);
  }
  try {
    return await serve(args, keyPath, certPath, io);
  } finally {
    generated?.cleanup();
  }
}

async function serve(
  args: ServerArgs,
  keyPath: string | undefined,
  certPath: string | undefined,
  io: CliOutput,
): Promise<number> {
  const server = new PingPongServer({
    quiet: args.quiet,
    log: io.out,
    workers: args.workers,
    ...(args.proxyProtocol === undefined ? {} : { proxyProtocol: args.proxyProtocol }),
  });
  let where: { ip: string; port: number };
  try {
    where = await server.start(args.ip, args.port, keyPath, certPath);
  } catch (err) {
    const e = err as TcpError;
    io.err(`pingpong-server: ${e.message}`);
    return e.code === TcpErrorCode.ERR_TLS_CONFIG ? ServerExitCode.USAGE : ServerExitCode.FAILED;
  }
  const startedAt = Date.now();
  io.out(`listening on ${hostPort(where.ip, where.port)} (${args.ssl ? 'tls' : 'tcp'})`);
  if (args.proxyProtocol !== undefined)
    io.out(`every connection must begin with a PROXY header (${args.proxyProtocol})`);
  if (args.workers !== undefined) io.out(`workers: ${describeWorkers(args.workers)} (${server.distribution})`);
  io.out('replies "pong" to every "ping"; Ctrl-C or SIGTERM stops it');

  let last = '';
  const stats =
    args.statsIntervalMs > 0
      ? setInterval(() => {
          const t = server.totals();
          const line = `connections: ${t.live} open, ${t.connections} since start; pings: ${t.pings}`;
          // Only when something changed: an idle server stays quiet.
          if (line !== last) io.out(line);
          last = line;
        }, args.statsIntervalMs)
      : null;

  const signal = await nextSignal();
  if (stats !== null) clearInterval(stats);
  io.out(`${signal}: shutting down (closing ${server.connNum()} connections, reset after ${args.graceMs} ms)`);

  let forced = false;
  const force = (again: NodeJS.Signals): void => {
    forced = true;
    io.err(`${again} again: not waiting for connections any more`);
    process.exit(ServerExitCode.FAILED);
  };
  process.once('SIGINT', force).once('SIGTERM', force);
  await server.stop(args.graceMs);
  process.off('SIGINT', force).off('SIGTERM', force);

  const t = server.totals();
  const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
  io.out(`totals: ${t.connections} connections, ${t.pings} pings, ${t.errors} errors in ${seconds} s`);
  if (t.perWorker !== undefined) {
    io.out(
      `connections per worker (${server.distribution}): ${t.perWorker.length === 0 ? 'none' : t.perWorker.join(', ')}`,
    );
  }
  return forced ? ServerExitCode.FAILED : ServerExitCode.OK;
}

function describeWorkers(w: number | 'auto'): string {
  return w === 'auto' ? 'one thread per core' : `${w} thread${w === 1 ? '' : 's'}`;
}

/** Resolves with the first SIGINT or SIGTERM, then stops listening for them. */
function nextSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', on).off('SIGTERM', on);
      resolve(signal);
    };
    process.on('SIGINT', on).on('SIGTERM', on);
  });
}
