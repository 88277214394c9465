/**
 * The built package is usable from both module systems, as a consumer sees it:
 * a child `node` process, run from the repository root so that the workspace
 * link `node_modules/@proj/tcp` resolves through package.json `exports` to
 * dist/, imports it with ESM `import` and with CommonJS `require`, gets the
 * classes, and does a real ping-pong on loopback with them.
 *
 * `npm test` builds first (Nx: test depends on build); run alone, this test
 * builds dist/ itself when it is missing.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const packageRoot = path.join(__dirname, '..');
const repoRoot = path.join(packageRoot, '..', '..');
const distIndex = path.join(packageRoot, 'dist', 'index.js');

beforeAll(async () => {
  if (!existsSync(distIndex)) {
    await run(
      process.execPath,
      [require.resolve('typescript/bin/tsc'), '-p', path.join(packageRoot, 'tsconfig.lib.json')],
      {
        cwd: repoRoot,
        timeout: 60_000,
      },
    );
  }
}, 70_000);

/** Runs `node` with `args` from the repository root; returns its stdout, parsed as JSON. */
async function node(args: string[]): Promise<Record<string, unknown>> {
  const env = { ...process.env, NODE_OPTIONS: '', FORCE_COLOR: '0' };
  const { stdout } = await run(process.execPath, args, { cwd: repoRoot, timeout: 15_000, env });
  return JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

/** The same script for both module systems: the classes' kinds, then a ping-pong on loopback. */
const BODY = `
  const kinds = { Server: typeof Server, Client: typeof Client, Connection: typeof Connection, TcpError: typeof TcpError };
  const server = new Server().onConnection(async (conn) => {
    const buf = Buffer.alloc(4);
    if ((await conn.recvn(buf, 4, 2000)) === 4) await conn.send('pong');
  });
  await server.start('127.0.0.1', 0);
  const c = new Client('127.0.0.1', server.address().port);
  const connected = await c.connect(2000);
  await c.send('ping');
  const buf = Buffer.alloc(4);
  const n = await c.recvn(buf, 4, 2000);
  c.close();
  await server.shutdown(1000);
  console.log(JSON.stringify({ kinds, connected, n, reply: buf.toString(), isError: new TcpError('X', 'y') instanceof Error }));
`;

const EXPECTED = {
  kinds: { Server: 'function', Client: 'function', Connection: 'function', TcpError: 'function' },
  connected: true,
  n: 4,
  reply: 'pong',
  isError: true,
};

test('ESM: import { Server, Client } from "@proj/tcp" works in a child process', async () => {
  const script = `import { Server, Client, Connection, TcpError } from '@proj/tcp';\n${BODY}`;
  expect(await node(['--input-type=module', '-e', script])).toEqual(EXPECTED);
});

test('CommonJS: require("@proj/tcp") works in a child process', async () => {
  const script = `const { Server, Client, Connection, TcpError } = require('@proj/tcp');\n(async () => {${BODY}})();`;
  expect(await node(['-e', script])).toEqual(EXPECTED);
});

test('the package resolves to the built files and ships type declarations', async () => {
  const resolved = await node([
    '-e',
    `console.log(JSON.stringify({ main: require.resolve('@proj/tcp'), pkg: require.resolve('@proj/tcp/package.json') }))`,
  ]);
  expect(resolved.main).toBe(path.join(repoRoot, 'packages', 'tcp', 'dist', 'index.js'));
  expect(resolved.pkg).toBe(path.join(repoRoot, 'packages', 'tcp', 'package.json'));
  const pkg = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as {
    types: string;
    exports: { '.': { types: string } };
  };
  const dts = readFileSync(path.join(packageRoot, pkg.exports['.'].types), 'utf8');
  for (const name of ['Server', 'Client', 'Connection', 'TcpError']) expect(dts).toContain(name);
  expect(pkg.types).toBe(pkg.exports['.'].types);
});
