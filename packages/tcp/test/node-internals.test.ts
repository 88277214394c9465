/**
 * The fast paths that rely on Node internals are in use wherever Node has what
 * they need, so that a silent fall back to the slow path fails here; and
 * `PROJ_TCP_NO_INTERNALS=1` (CI runs the suites a second time with it), the
 * permission model and `--pending-deprecation` turn them off without a word
 * on stderr. Child processes import the built package as a consumer does.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Client, NO_INTERNALS_ENV, fastPaths } from '../src';
import { makeTestCerts, type TestCerts } from '../../../test-support/certs';
import { guardLeaks, pair } from './helpers';

guardLeaks();

const run = promisify(execFile);
const packageRoot = path.join(__dirname, '..');
const repoRoot = path.join(packageRoot, '..', '..');
const internalsOff = process.env[NO_INTERNALS_ENV] === '1';
const nodeMajor = Number(process.versions.node.split('.')[0]);

let certs: TestCerts;
beforeAll(async () => {
  certs = await makeTestCerts();
  if (!existsSync(path.join(packageRoot, 'dist', 'index.js'))) {
    await run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(packageRoot, 'tsconfig.lib.json')], {
      cwd: repoRoot,
      timeout: 60_000,
    });
  }
}, 70_000);
afterAll(() => certs.cleanup());

describe(`in this process (${NO_INTERNALS_ENV}=${process.env[NO_INTERNALS_ENV] ?? ''}, Node ${process.versions.node})`, () => {
  test('fastPaths() reports the paths in use and why the others are off', () => {
    if (internalsOff) {
      expect(fastPaths()).toEqual({ directWrite: false, onreadAccept: false, reason: `${NO_INTERNALS_ENV}=1` });
    } else {
      // Every Node line we support has the internals: their absence is a regression to look into.
      expect(fastPaths()).toEqual({ directWrite: true, onreadAccept: true, reason: '' });
    }
  });

  test('a plain Connection reads through onread and writes to its handle directly (when the paths are on)', async () => {
    const p = await pair({ name: 'Connection over TCP', side: 'Connection', tls: false });
    try {
      expect(p.ours._fastPathsInUse()).toEqual({ directWrite: !internalsOff, onread: !internalsOff });
      expect(await p.ours.send('direct')).toBe(6);
    } finally {
      await p.close();
    }
  });

  test('a plain Client reads through onread (public API) and writes directly (when the paths are on)', async () => {
    const p = await pair({ name: 'Client over TCP', side: 'Client', tls: false });
    try {
      expect(p.ours).toBeInstanceOf(Client);
      expect(p.ours._fastPathsInUse()).toEqual({ directWrite: !internalsOff, onread: true });
    } finally {
      await p.close();
    }
  });

  test('TLS uses neither: its bytes go through the TLS socket', async () => {
    const p = await pair({ name: 'Connection over TLS', side: 'Connection', tls: true }, certs);
    try {
      expect(p.ours._fastPathsInUse()).toEqual({ directWrite: false, onread: false });
    } finally {
      await p.close();
    }
  });
});

/** Runs a script against the built package in a child `node`; returns its stdout's last line as JSON and its stderr. */
async function child(flags: string[], env: Record<string, string>, script: string): Promise<{ out: Record<string, unknown>; stderr: string }> {
  const { stdout, stderr } = await run(process.execPath, [...flags, '-e', script], {
    cwd: repoRoot,
    timeout: 20_000,
    env: { ...process.env, [NO_INTERNALS_ENV]: '', NODE_OPTIONS: '', FORCE_COLOR: '0', ...env },
  });
  return { out: JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>, stderr };
}

/** Imports the package, does a ping-pong over plain TCP, prints fastPaths(). */
const PING_PONG = `
const { Server, Client, fastPaths } = require('@proj/tcp');
(async () => {
  const server = new Server().onConnection(async (conn) => {
    const buf = Buffer.alloc(4);
    if ((await conn.recvn(buf, 4, 2000)) === 4) await conn.send('pong');
  });
  await server.start('127.0.0.1', 0);
  const c = new Client('127.0.0.1', server.address().port);
  await c.connect(2000);
  await c.send('ping');
  const buf = Buffer.alloc(4);
  const n = await c.recvn(buf, 4, 2000);
  c.close();
  await server.shutdown(1000);
  console.log(JSON.stringify({ ...fastPaths(), reply: n === 4 ? buf.toString() : n }));
})();
`;

describe('a consumer process', () => {
  test('by default: the fast paths are on, a ping-pong works, nothing is printed', async () => {
    const { out, stderr } = await child([], {}, PING_PONG);
    expect(stderr).toBe('');
    expect(out).toEqual({ directWrite: true, onreadAccept: true, reason: '', reply: 'pong' });
  });

  test(`${NO_INTERNALS_ENV}=1: the portable path, the same ping-pong`, async () => {
    const { out, stderr } = await child([], { [NO_INTERNALS_ENV]: '1' }, PING_PONG);
    expect(stderr).toBe('');
    expect(out).toEqual({ directWrite: false, onreadAccept: false, reason: `${NO_INTERNALS_ENV}=1`, reply: 'pong' });
  });

  test('--pending-deprecation: no DEP0111 warning (the paths turn off instead), the same ping-pong', async () => {
    const { out, stderr } = await child(['--pending-deprecation'], {}, PING_PONG);
    expect(stderr).toBe('');
    expect(out).toMatchObject({ directWrite: false, onreadAccept: false, reply: 'pong' });
    expect(out.reason).toContain('--pending-deprecation');
  });

  test('the permission model: importing prints nothing and the paths are off', async () => {
    const flag = nodeMajor >= 22 ? '--permission' : '--experimental-permission';
    const { out, stderr } = await child(
      [flag, `--allow-fs-read=*`],
      {},
      `const { fastPaths } = require('@proj/tcp'); console.log(JSON.stringify(fastPaths()));`,
    );
    // Node 20 announces its experimental permission model itself; nothing else may appear.
    expect(stderr.split('\n').filter((l) => l !== '' && !/ExperimentalWarning|--trace-warnings/.test(l))).toEqual([]);
    expect(out).toMatchObject({ directWrite: false, onreadAccept: false });
    expect(out.reason).toContain('permission');
  });
});
