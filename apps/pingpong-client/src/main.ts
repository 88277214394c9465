#!/usr/bin/env node
/**
 * pingpong-client: co's TCP ping-pong client. `node dist/main.js --help`.
 * @packageDocumentation
 */
import { runMain } from 'app-support';
import { runClientCli } from './cli';

runMain('pingpong-client', (argv) => runClientCli(argv));
