import { existsSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { workerDistributions } from '@proj/tcp';
import { ChildApp, describeExit, integerOption, parseOptions } from 'app-support';

/** Settings of {@link runDemo}. */
export interface DemoOptions {
  /** The server's entry point. Default: `apps/pingpong-server/dist/main.js` beside this app. */
  serverMain?: string;
  /** The client's entry point. Default: this app's `dist/main.js`. */
  clientMain?: string;
  /** Length of each benchmark, seconds. Default `3`. */
  benchSeconds?: number;
  /** Where the demo writes. Default: stdout. */
  out?: (line: string) => void;
}

/** Usage of the demo script. */
export const DEMO_USAGE = `usage: node apps/pingpong-client/dist/demo.js [--bench-seconds <n>]

Starts the pingpong server and runs the client against it, plain TCP then TLS:
a few ping/pong rounds and a short benchmark each; stops the server with SIGTERM.`;

const START_TIMEOUT_MS = 20_000;
const DEFAULT_BENCH_SECONDS = 3;

/** What one part (plain or TLS) of the demo measured. */
interface PartResult {
  label: string;
  rounds: string;
  bench: string;
}

/**
 * Parses the demo's command line.
 *
 * @returns the options, or a string to print (usage or error) with its exit code.
 */
export function parseDemoArgs(argv: readonly string[]): DemoOptions | { print: string; code: number } {
  try {
    const values = parseOptions(argv, { 'bench-seconds': { type: 'string' }, help: { type: 'boolean', short: 'h' } });
    if (values.help) return { print: DEMO_USAGE, code: 0 };
    return {
      benchSeconds: integerOption('--bench-seconds', values['bench-seconds'], DEFAULT_BENCH_SECONDS, 1, 24 * 3600),
    };
  } catch (err) {
    return { print: `demo: ${(err as Error).message} (see --help)`, code: 2 };
  }
}

/**
 * The demo: starts `pingpong-server` as a child process on a free port, runs
 * `pingpong-client` against it (ping rounds, then a benchmark), stops the
 * server with SIGTERM; first over plain TCP, then over TLS with a generated
 * certificate the client verifies (`--ca`). Every child is killed on the way
 * out, even when a step fails.
 *
 * @returns `0` when every step worked, else `1`.
 */
export async function runDemo(options: DemoOptions = {}): Promise<number> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const serverMain = options.serverMain ?? resolve(__dirname, '../../pingpong-server/dist/main.js');
  const clientMain = options.clientMain ?? resolve(__dirname, 'main.js');
  const benchSeconds = options.benchSeconds ?? DEFAULT_BENCH_SECONDS;
  for (const script of [serverMain, clientMain]) {
    if (!existsSync(script)) {
      out(`demo: ${script} is missing; build first: npx nx run-many -t build -p pingpong-server pingpong-client`);
      return 1;
    }
  }

  const children = new Set<ChildApp>();
  // Commands are shown as typed from the repository's root.
  const root = resolve(__dirname, '../../..');
  const start = (name: string, script: string, args: string[]): ChildApp => {
    const app = new ChildApp(script, args, (line) => out(`  ${name} | ${line}`));
    out(`$ node ${relative(root, script)} ${args.join(' ')}   [pid ${app.pid}]`);
    children.add(app);
    void app.exited.then(() => children.delete(app));
    return app;
  };
  // Ctrl-C on the demo: the finally below stops the children.
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted = true;
    out(`demo: ${signal}, stopping`);
    for (const child of children) void child.stop('SIGTERM', 3000);
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);

  const results: PartResult[] = [];
  // The server runs on two worker threads where this Node.js can spread connections over threads.
  const distributions = await workerDistributions();
  const workerArgs = distributions.length > 0 ? ['--workers', '2'] : [];
  let spread = '';
  try {
    out('pingpong demo: apps/pingpong-server and apps/pingpong-client over loopback, plain TCP then TLS');
    out('(commands as typed from the repository root)');
    for (const [index, ssl] of [false, true].entries()) {
      const label = ssl ? 'TLS' : 'plain TCP';
      out('');
      out(`== ${index + 1}/2 ${label} ${'='.repeat(60 - label.length)}`);
      const serverArgs = ['--ip', '127.0.0.1', '--port', '0', '--quiet', '--stats-interval-ms', '1000', ...workerArgs];
      if (ssl) serverArgs.push('--ssl');
      const server = start('server', serverMain, serverArgs);
      const [, port] = await server.waitForLine(/^listening on \S+:(\d+) \((?:tcp|tls)\)$/, START_TIMEOUT_MS);
      // The last line the server prints when it starts; waiting for it keeps the output in order.
      await server.waitForLine(/SIGTERM stops it$/, START_TIMEOUT_MS);
      const tlsArgs: string[] = [];
      if (ssl) {
        const [, certPath] = await server.waitForLine(/^\s+cert: (\S+)/, START_TIMEOUT_MS);
        tlsArgs.push('--ca', certPath);
      }

      out('');
      out(`-- ping/pong: 4 tasks sharing pooled clients, 3 rounds each, 300 ms apart`);
      const rounds = start('client', clientMain, [
        '--port',
        port,
        ...tlsArgs,
        '--clients',
        '4',
        '--rounds',
        '3',
        '--interval-ms',
        '300',
      ]);
      const roundsExit = await rounds.exited;
      if (interrupted) return 1;
      if (roundsExit.code !== 0) throw new Error(`the client failed (${describeExit(roundsExit)})`);
      const done = rounds.lines.find((l) => l.startsWith('done: ')) ?? '';

      out('');
      out(`-- benchmark: 64 tasks, ${benchSeconds} s, as fast as the server answers`);
      const bench = start('client', clientMain, [
        '--port',
        port,
        ...tlsArgs,
        '--bench',
        '--seconds',
        String(benchSeconds),
        '--clients',
        '64',
      ]);
      const benchExit = await bench.exited;
      if (interrupted) return 1;
      if (benchExit.code !== 0) throw new Error(`the benchmark failed (${describeExit(benchExit)})`);
      const perSecond = bench.lines.find((l) => l.startsWith('round trips/s: ')) ?? '';
      const latency = bench.lines.find((l) => l.startsWith('latency: ')) ?? '';

      out('');
      out('-- stopping the server with SIGTERM');
      const serverExit = await server.stop('SIGTERM');
      if (interrupted) return 1;
      if (serverExit.code !== 0) throw new Error(`the server did not stop cleanly (${describeExit(serverExit)})`);
      out(`server exited with code 0`);
      const perWorker = server.lines.find((l) => l.startsWith('connections per worker'));
      if (perWorker !== undefined) spread += `\n  ${label}: ${perWorker}`;
      results.push({ label, rounds: done.replace(/^done: /, ''), bench: `${perSecond}; ${latency}` });
    }
    out('');
    out(`== summary ${'='.repeat(59)}`);
    for (const r of results) {
      out(`${r.label}:`);
      out(`  ${r.rounds}`);
      out(`  ${r.bench}`);
    }
    out(
      workerArgs.length > 0
        ? `workers: the server ran on 2 worker threads; how connections were spread:${spread}`
        : `workers: Node.js ${process.version} cannot spread connections over worker threads (handoff needs Node.js 24, reuseport 22.12): the server ran on one thread`,
    );
    out('demo finished: every step worked');
    return 0;
  } catch (err) {
    out(`demo failed: ${(err as Error).message}`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    await Promise.all([...children].map((child) => child.stop('SIGTERM', 3000)));
  }
}
