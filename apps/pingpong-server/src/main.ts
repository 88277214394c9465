#!/usr/bin/env node
/**
 * pingpong-server: co's TCP ping-pong server. `node dist/main.js --help`.
 * @packageDocumentation
 */
import { runServerCli } from './cli';

// A reader that went away (`| head`, or Nx killed by Ctrl-C before the app
// printed its totals) must not crash the app mid-shutdown: such lines are dropped.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

runServerCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Everything is closed by now, so the process ends by itself; this unref'd
    // timer only fires if something unexpected still holds it open.
    setTimeout(() => process.exit(code), 2000).unref();
  },
  (err: unknown) => {
    process.stderr.write(`pingpong-server: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
