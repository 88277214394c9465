import { UsageError, formatMs, hostPort } from 'app-support';
import { CLIENT_USAGE, parseClientArgs, type ClientArgs } from './args';
import { fmtInt, runBench } from './bench';
import { ClientPool } from './client-pool';
import { runPingRounds } from './ping-rounds';
import { makeProtoClient } from './round-trip';

/** Where the CLI writes; tests pass their own. */
export interface CliOutput {
  /** A line for stdout (a function, not a method: the CLI hands it on detached). */
  out: (line: string) => void;
  /** A line for stderr. */
  err: (line: string) => void;
  /** Rewrites the current stdout line; only when stdout is a terminal. */
  progress?: (text: string) => void;
}

/** Exit codes of the CLI. */
export const ClientExitCode = {
  /** At least one round trip succeeded (or `--help`). */
  OK: 0,
  /** No round trip succeeded, or the server's certificate was not trusted. */
  FAILED: 1,
  /** Bad command line. */
  USAGE: 2,
} as const;

function stdio(): CliOutput {
  const tty = process.stdout.isTTY === true;
  let inProgress = false;
  const endProgress = (): void => {
    if (inProgress) process.stdout.write('\n');
    inProgress = false;
  };
  return {
    out: (line) => {
      endProgress();
      process.stdout.write(`${line}\n`);
    },
    err: (line) => {
      endProgress();
      process.stderr.write(`${line}\n`);
    },
    progress: tty
      ? (text) => {
          inProgress = true;
          process.stdout.write(`\r\x1b[2K${text}`);
        }
      : undefined,
  };
}

/**
 * Runs the pingpong client: the ping rounds, or the benchmark with `--bench`.
 * Ctrl-C stops it early and still prints the summary.
 *
 * @param argv - the arguments after the script name.
 * @returns the exit code (see {@link ClientExitCode}).
 */
export async function runClientCli(argv: readonly string[], io: CliOutput = stdio()): Promise<number> {
  let args: ClientArgs;
  try {
    args = parseClientArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`pingpong-client: ${err.message} (see --help for usage)`);
    return ClientExitCode.USAGE;
  }
  if (args.help) {
    io.out(CLIENT_USAGE);
    return ClientExitCode.OK;
  }
  if (args.insecure) {
    io.err(
      "warning: --insecure: the server's certificate is NOT verified; anyone between here and the server can impersonate it",
    );
  }

  const proto = makeProtoClient(args);
  const clients = new ClientPool(proto);
  const interrupt = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    io.err(`${signal}: stopping`);
    interrupt.abort();
    // Wake tasks waiting on a pong at once; their failures are not reported.
    void clients.closeAll();
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  const target = hostPort(args.ip, args.port);
  const transport = args.ssl ? (args.insecure ? 'tls, certificate NOT verified' : 'tls') : 'tcp';
  try {
    if (args.bench) {
      io.out(`bench: ${args.clients} clients for ${args.seconds} s against ${target} (${transport})`);
      const r = await runBench(args, clients, { line: io.out, progress: io.progress }, interrupt.signal);
      if (r.fatal) io.err(`pingpong-client: ${r.fatal.message}`);
      const l = r.latency;
      io.out(
        `round trips: ${r.roundTrips} in ${(r.elapsedMs / 1000).toFixed(1)} s, ${r.errors} errors, ${clients.made} connections`,
      );
      io.out(`round trips/s: ${fmtInt(r.perSecond)}`);
      io.out(`latency: p50 ${formatMs(l.percentile(50))}, p99 ${formatMs(l.percentile(99))}, max ${formatMs(l.max)}`);
      return r.roundTrips > 0 && r.fatal === null ? ClientExitCode.OK : ClientExitCode.FAILED;
    }
    io.out(
      `${count(args.clients, 'task')} x ${count(args.rounds, 'round')}, ${args.intervalMs} ms apart, sharing a pool of clients to ${target} (${transport})`,
    );
    const s = await runPingRounds(args, clients, io.out, interrupt.signal);
    if (s.fatal) io.err(`pingpong-client: ${s.fatal.message}`);
    const total = args.clients * args.rounds;
    const parts = [`${s.ok}/${total} round trips ok`];
    if (s.failed > 0) parts.push(`${s.failed} failed`);
    if (s.skipped > 0) parts.push(`${s.skipped} not run`);
    io.out(
      `done: ${parts.join(', ')} in ${(s.elapsedMs / 1000).toFixed(1)} s over ${count(clients.made, 'connection')}` +
        (s.ok > 0 ? `; latency p50 ${formatMs(s.latency.percentile(50))}, max ${formatMs(s.latency.max)}` : ''),
    );
    return s.ok > 0 && s.fatal === null ? ClientExitCode.OK : ClientExitCode.FAILED;
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    await clients.closeAll();
  }
}

/** `count(1, 'task')` → `"1 task"`, `count(2, 'task')` → `"2 tasks"`. */
function count(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
