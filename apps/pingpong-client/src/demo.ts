#!/usr/bin/env node
/**
 * The pingpong demo (`npm run demo` at the root): server and client as child
 * processes, plain TCP then TLS. `node dist/demo.js --help`.
 * @packageDocumentation
 */
import { runMain } from 'app-support';
import { parseDemoArgs, runDemo } from './demo-runner';

runMain('demo', async (argv) => {
  const parsed = parseDemoArgs(argv);
  if (!('print' in parsed)) return runDemo(parsed);
  (parsed.code === 0 ? process.stdout : process.stderr).write(`${parsed.print}\n`);
  return parsed.code;
});
