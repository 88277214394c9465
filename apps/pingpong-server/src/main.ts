#!/usr/bin/env node
/**
 * pingpong-server: co's TCP ping-pong server. `node dist/main.js --help`.
 * @packageDocumentation
 */
import { runServerCli } from './cli';

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
