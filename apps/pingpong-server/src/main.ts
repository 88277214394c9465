#!/usr/bin/env node
/**
 * pingpong-server: co's TCP ping-pong server. `node dist/main.js --help`.
 * @packageDocumentation
 */
import { runMain } from 'app-support';
import { runServerCli } from './cli';

runMain('pingpong-server', (argv) => runServerCli(argv));
