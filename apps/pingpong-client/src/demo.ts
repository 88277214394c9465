#!/usr/bin/env node
/**
 * The pingpong demo (`npm run demo` at the root): server and client as child
 * processes, plain TCP then TLS. `node dist/demo.js --help`.
 * @packageDocumentation
 */
import { parseDemoArgs, runDemo } from './demo-runner';

// A reader that went away (`| head`, or Nx killed by Ctrl-C before the app
// printed its totals) must not crash the app mid-shutdown: such lines are dropped.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

const parsed = parseDemoArgs(process.argv.slice(2));
if ('print' in parsed) {
  (parsed.code === 0 ? process.stdout : process.stderr).write(`${parsed.print}\n`);
  process.exitCode = parsed.code;
} else {
  runDemo(parsed).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`demo: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
