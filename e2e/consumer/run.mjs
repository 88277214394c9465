#!/usr/bin/env node
// The consumer test: the three packages as a user gets them from a registry.
//
//   npx nx run consumer-e2e:consumer-test --outputStyle=static   (or: node e2e/consumer/run.mjs)
//
// 1. Starts a real local registry (verdaccio: 127.0.0.1, a port the OS picks,
//    storage in a temp folder, no uplinks) and logs in to it.
// 2. Publishes @proj/tcp, @proj/pool and @proj/rpc-lite the way a maintainer
//    does: `nx release publish --registry=<local>` (which builds each package
//    first, then runs `npm publish` in the package root, whose prepack builds too).
// 3. In new projects under os.tmpdir(), outside the workspace, with a project
//    .npmrc that sends only the @proj scope to the local registry (everything
//    else comes from the usual npm registry):
//    - installs @proj/rpc-lite alone, runs an RPC echo from ESM;
//    - installs @proj/tcp alone, runs a ping-pong from CommonJS, and checks that
//      --enable-source-maps points into the package's TypeScript source;
//    - installs @proj/pool alone, runs a pool of plain objects from CommonJS;
//    - installs the three with typescript and @types/node, type-checks a strict
//      module-nodenext file that holds Server, Client, Pool/PoolGuard, RpcServer
//      and RpcClient with `await using`, runs it, and type-checks the public types
//      under moduleResolution bundler and node10 too.
// 4. Stops the registry and removes every temp folder, pass or fail.
//
// Prints one line per check, then "consumer-test: PASS|FAIL" and "consumer: N passed, N failed";
// exits 0 only when every check passed.
//
// Environment:
//   VERDACCIO_NODE   the node binary that runs verdaccio (default: this one; see registry.mjs)
//   CONSUMER_KEEP=1  keep the temp folder for a look after a failure (the registry still stops)
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
  copyFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { gunzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const fixtures = path.join(here, 'fixtures');
const PACKAGES = [
  { name: '@proj/tcp', dir: 'packages/tcp' },
  { name: '@proj/pool', dir: 'packages/pool' },
  { name: '@proj/rpc-lite', dir: 'packages/rpc-lite' },
];
const started = Date.now();
const keep = process.env.CONSUMER_KEEP === '1';

// ---------------------------------------------------------------- bookkeeping

const results = [];
function pass(name, detail = '') {
  results.push({ name, ok: true });
  console.log(`  ok   ${name}${detail ? `: ${detail}` : ''}`);
}
function fail(name, err) {
  results.push({ name, ok: false });
  console.log(`  FAIL ${name}: ${err instanceof Error ? err.message : err}`);
}
/** Runs one check; a failed one stops the run (the later ones build on it). */
async function check(name, fn) {
  try {
    const detail = await fn();
    pass(name, detail);
  } catch (err) {
    fail(name, err);
    throw new Stop();
  }
}
class Stop extends Error {}
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;

// ------------------------------------------------------------------- processes

/**
 * The environment for every child: no npm_* settings inherited from an `npm run`
 * around us (npm_config_local_prefix and the like would point installs back at the
 * workspace), no Nx task variables, nothing phones home.
 */
function childEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) || /^NX_TASK_/.test(k) || k === 'INIT_CWD') continue;
    env[k] = v;
  }
  const merged = {
    ...env,
    NX_NO_CLOUD: 'true',
    NX_DAEMON: 'false',
    NX_TUI: 'false',
    NO_UPDATE_NOTIFIER: '1',
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
    FORCE_COLOR: '0',
    ...extra,
  };
  for (const k of Object.keys(merged)) if (merged[k] === undefined) delete merged[k];
  return merged;
}

const children = new Set();

/** Runs a command to its end; rejects with its output when it fails or outlives timeoutMs. */
function run(cmd, args, { cwd, env = childEnv(), timeoutMs = 180_000 } = {}) {
  return new Promise((resolve, reject) => {
    // Its own process group, so that a timeout or a signal ends what it started too.
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    children.add(child);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => {
      out += `\n[killed after ${secs(timeoutMs)}]`;
      killGroup(child);
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      children.delete(child);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      if (code === 0) return resolve(out);
      const shown = [cmd, ...args].map((a) => (a.includes(' ') ? JSON.stringify(a) : a)).join(' ');
      reject(
        new Error(
          `\`${shown}\` in ${cwd} exited ${code ?? signal}\n${indent(out.trim().split('\n').slice(-60).join('\n'))}`,
        ),
      );
    });
  });
}
function killGroup(child) {
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}
const indent = (s) => s.replace(/^/gm, '       | ');

/** The last line of a fixture's output, parsed as JSON. */
const lastJson = (out) => JSON.parse(out.trim().split('\n').pop());

/** GETs a URL's body as bytes. */
function download(url) {
  return new Promise((resolve, reject) => {
    const req = request(url, { timeout: 15_000 }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () =>
        res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`GET ${url}: ${res.statusCode}`)),
      );
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** The files of a .tgz (ustar): [{ name, size }], names without npm's "package/" prefix. */
function tarFiles(tgz) {
  const tar = gunzipSync(tgz);
  const files = [];
  for (let off = 0; off + 512 <= tar.length;) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const field = (a, b) => h.toString('utf8', a, b).replace(/\0.*$/s, '');
    const size = parseInt(field(124, 136).trim() || '0', 8);
    const prefix = field(345, 500);
    const name = (prefix ? `${prefix}/` : '') + field(0, 100);
    if (h[156] === 0x30 || h[156] === 0) files.push({ name: name.replace(/^package\//, ''), size });
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

function http(method, url, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = request(
      url,
      {
        method,
        headers: {
          accept: 'application/json',
          ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}),
          ...headers,
        },
        timeout: 15_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          let json;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode, json, text });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: timed out`)));
    req.on('error', reject);
    req.end(data);
  });
}

// -------------------------------------------------------------------- registry

/** Starts verdaccio with storage under `dir`; resolves { port, child, log }. */
function startRegistry(dir) {
  const storage = path.join(dir, 'storage');
  mkdirSync(storage, { recursive: true });
  const config = path.join(dir, 'config.yaml');
  // No uplinks: the registry knows only what is published to it. Nothing is
  // proxied, no web UI, no audit middleware.
  writeFileSync(
    config,
    [
      `storage: ${JSON.stringify(storage)}`,
      'auth:',
      '  htpasswd:',
      `    file: ${JSON.stringify(path.join(dir, 'htpasswd'))}`,
      '    max_users: 10',
      'uplinks: {}',
      'packages:',
      "  '@*/*':",
      '    access: $all',
      '    publish: $authenticated',
      "  '**':",
      '    access: $all',
      '    publish: $authenticated',
      'web:',
      '  enable: false',
      'server:',
      '  keepAliveTimeout: 5',
      'max_body_size: 20mb',
      'log: { type: stdout, format: pretty, level: warn }',
      '',
    ].join('\n'),
  );
  const node = process.env.VERDACCIO_NODE || process.execPath;
  const child = spawn(node, [path.join(here, 'registry.mjs'), config], {
    cwd: root,
    env: childEnv(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.add(child);
  let log = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`verdaccio did not start in 30 s\n${indent(log)}`)), 30_000);
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d) => (log += d));
    child.stdout.on('data', (d) => {
      log += d;
      const m = /\{"port":(\d+)\}/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), child, node, log: () => log });
      }
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', (code, signal) => {
      children.delete(child);
      clearTimeout(timer);
      reject(new Error(`verdaccio exited (${code ?? signal}) before it listened\n${indent(log)}`));
    });
  });
}

function stopChild(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.stdin?.end();
    child.kill('SIGTERM');
  });
}

// --------------------------------------------------------------- the projects

function makeProject(dir, name, registryUrl, type) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'package.json'),
    `${JSON.stringify({ name, version: '1.0.0', private: true, ...(type ? { type } : {}) }, null, 2)}\n`,
  );
  // Only the @proj scope goes to the local registry; everything else to the usual one.
  writeFileSync(path.join(dir, '.npmrc'), `@proj:registry=${registryUrl}\n`);
}

function npmInstall(dir, specs) {
  return run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...specs], { cwd: dir });
}

/** Checks what a published package holds, as installed in a consumer project. */
function inspectInstalled(dir, name, version) {
  const pkgDir = path.join(dir, 'node_modules', ...name.split('/'));
  const pkg = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
  assert(pkg.version === version, `${name}: installed ${pkg.version}, expected ${version}`);
  for (const f of ['LICENSE', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/index.js.map'])
    assert(existsSync(path.join(pkgDir, f)), `${name}: ${f} is missing from the package`);
  for (const f of ['src', 'test', 'bench', 'tsconfig.lib.json', 'jest.config.js'])
    assert(!existsSync(path.join(pkgDir, f)), `${name}: ${f} should not be in the package`);
  for (const deps of [pkg.dependencies ?? {}, pkg.peerDependencies ?? {}])
    for (const [dep, range] of Object.entries(deps))
      if (dep.startsWith('@proj/'))
        assert(/^[\^~]?\d+\.\d+\.\d+/.test(range), `${name}: depends on ${dep}@"${range}", not a real version range`);
  const maps = readdirSync(path.join(pkgDir, 'dist')).filter((f) => f.endsWith('.js.map'));
  for (const f of maps) {
    const map = JSON.parse(readFileSync(path.join(pkgDir, 'dist', f), 'utf8'));
    const content = map.sourcesContent ?? [];
    assert(
      map.sources.length > 0 && map.sources.every((_, i) => typeof content[i] === 'string' && content[i].length > 0),
      `${name}: dist/${f} has no sourcesContent for ${map.sources.join(', ')}`,
    );
  }
  const js = readdirSync(path.join(pkgDir, 'dist')).filter((f) => f.endsWith('.js'));
  assert(maps.length === js.length, `${name}: ${js.length} .js files but ${maps.length} source maps`);
  return pkg;
}

// ------------------------------------------------------------------------ main

/** The workspace's `nx` command (what `npx nx` runs). */
function nxBin() {
  const dir = path.join(root, 'node_modules', 'nx');
  const { bin } = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
  return path.join(dir, typeof bin === 'string' ? bin : bin.nx);
}

let tmp;
let registry;
const tarballs = [];

async function main() {
  console.log(`consumer-test: node ${process.version}, npm ${(await run('npm', ['--version'], { cwd: root })).trim()}`);
  tmp = mkdtempSync(path.join(os.tmpdir(), 'proj-consumer-'));
  const versions = Object.fromEntries(
    PACKAGES.map(({ name, dir }) => [
      name,
      JSON.parse(readFileSync(path.join(root, dir, 'package.json'), 'utf8')).version,
    ]),
  );

  await check('local registry started', async () => {
    registry = await startRegistry(path.join(tmp, 'registry'));
    const ping = await http('GET', `http://127.0.0.1:${registry.port}/-/ping`);
    assert(ping.status === 200, `ping answered ${ping.status}`);
    const nodeVersion = (await run(registry.node, ['--version'], { cwd: root })).trim();
    return `verdaccio on http://127.0.0.1:${registry.port}/ (node ${nodeVersion}), no uplinks, storage in ${tmp}`;
  });
  const registryUrl = `http://127.0.0.1:${registry.port}/`;

  // `npm adduser`/`npm login` against verdaccio, as one HTTP call: the token goes
  // into a user config of our own, next to whatever the user's config already says.
  let userconfig;
  await check('maintainer logged in to the local registry', async () => {
    const name = 'maintainer';
    const res = await http('PUT', `${registryUrl}-/user/org.couchdb.user:${name}`, {
      _id: `org.couchdb.user:${name}`,
      name,
      password: `pw-${process.pid}-${Date.now()}`,
      type: 'user',
      roles: [],
      date: new Date().toISOString(),
    });
    assert(res.status === 201 && res.json?.token, `adduser answered ${res.status}: ${res.text}`);
    const mine = (await run('npm', ['config', 'get', 'userconfig'], { cwd: tmp })).trim();
    const base = mine && existsSync(mine) ? `${readFileSync(mine, 'utf8').trimEnd()}\n` : '';
    userconfig = path.join(tmp, 'publisher.npmrc');
    writeFileSync(userconfig, `${base}//127.0.0.1:${registry.port}/:_authToken=${res.json.token}\n`, { mode: 0o600 });
  });

  await check('nx release publish to the local registry', async () => {
    const t0 = Date.now();
    await run(process.execPath, [nxBin(), 'release', 'publish', `--registry=${registryUrl}`], {
      cwd: root,
      // Nx's cache stays on here even when CI turns it off: the outer run builds each
      // package (nx-release-publish depends on build), and each package's prepack then asks
      // Nx for the same build again, which it can restore instead of compiling it again.
      env: childEnv({ NPM_CONFIG_USERCONFIG: userconfig, NX_SKIP_NX_CACHE: undefined }),
      timeoutMs: 300_000,
    });
    const lines = [];
    for (const { name } of PACKAGES) {
      const res = await http('GET', `${registryUrl}${name.replace('/', '%2f')}`);
      assert(res.status === 200, `${name} is not on the registry (${res.status})`);
      const v = res.json.versions?.[versions[name]];
      assert(
        v,
        `${name}@${versions[name]} is not on the registry (has ${Object.keys(res.json.versions ?? {}).join(', ')})`,
      );
      assert(
        res.json['dist-tags']?.latest === versions[name],
        `${name}: dist-tag latest is ${res.json['dist-tags']?.latest}`,
      );
      const tgz = await download(v.dist.tarball);
      const files = tarFiles(tgz);
      const names = files.map((f) => f.name);
      for (const want of ['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts'])
        assert(names.includes(want), `${name}: the tarball has no ${want}`);
      const unpacked = files.reduce((n, f) => n + f.size, 0);
      const kinds = {};
      for (const n of names) {
        const k = n.startsWith('dist/') ? `dist/*${n.match(/(\.d\.ts|\.js\.map|\.js)$/)?.[1] ?? ''}` : n;
        kinds[k] = (kinds[k] ?? 0) + 1;
      }
      tarballs.push(
        `${name}@${versions[name]}: ${(tgz.length / 1024).toFixed(1)} kB tarball, ${(unpacked / 1024).toFixed(1)} kB unpacked, ` +
          `${files.length} files (${Object.entries(kinds)
            .map(([k, n]) => (n > 1 ? `${n} ${k}` : k))
            .join(', ')})`,
      );
      lines.push(`${name}@${versions[name]}`);
    }
    return `${lines.join(', ')} in ${secs(Date.now() - t0)}\n${tarballs.map((t) => `         ${t}`).join('\n')}`;
  });

  // ESM, @proj/rpc-lite alone: its @proj dependencies must come with it.
  const esm = path.join(tmp, 'esm-rpc');
  makeProject(esm, 'consumer-esm-rpc', registryUrl, 'module');
  await check('npm install @proj/rpc-lite (alone)', async () => {
    const t0 = Date.now();
    await npmInstall(esm, ['@proj/rpc-lite']);
    const deps = JSON.parse(readFileSync(path.join(esm, 'package.json'), 'utf8')).dependencies;
    assert(Object.keys(deps).join() === '@proj/rpc-lite', `dependencies: ${JSON.stringify(deps)}`);
    for (const { name } of PACKAGES) inspectInstalled(esm, name, versions[name]);
    return `brought @proj/tcp and @proj/pool with it; dist, README.md, LICENSE, maps with sourcesContent, no src/test (${secs(Date.now() - t0)})`;
  });
  await check('ESM: RPC echo with @proj/rpc-lite', async () => {
    copyFileSync(path.join(fixtures, 'esm-echo.mjs'), path.join(esm, 'echo.mjs'));
    const out = lastJson(await run(process.execPath, ['echo.mjs'], { cwd: esm, timeoutMs: 30_000 }));
    assert(out.ok, 'no ok');
    for (const [p, where] of Object.entries(out.where))
      assert(where.startsWith(path.join(esm, 'node_modules')), `${p} resolved to ${where}, outside the project`);
    return "echo, 20 concurrent calls, a remote error; all from the project's node_modules";
  });

  // CommonJS, @proj/tcp alone.
  const cjs = path.join(tmp, 'cjs-tcp');
  makeProject(cjs, 'consumer-cjs-tcp', registryUrl, 'commonjs');
  await check('npm install @proj/tcp (alone)', async () => {
    await npmInstall(cjs, ['@proj/tcp']);
    inspectInstalled(cjs, '@proj/tcp', versions['@proj/tcp']);
  });
  await check('CommonJS: ping-pong with @proj/tcp', async () => {
    copyFileSync(path.join(fixtures, 'cjs-pingpong.cjs'), path.join(cjs, 'pingpong.cjs'));
    const out = lastJson(await run(process.execPath, ['pingpong.cjs'], { cwd: cjs, timeoutMs: 30_000 }));
    assert(out.ok && out.rounds === 10, JSON.stringify(out));
    assert(out.where.startsWith(path.join(cjs, 'node_modules')), `resolved to ${out.where}`);
    return `${out.rounds} rounds on loopback`;
  });
  await check('source maps: a stack from inside @proj/tcp points at its .ts source', async () => {
    copyFileSync(path.join(fixtures, 'sourcemap.cjs'), path.join(cjs, 'sourcemap.cjs'));
    const out = lastJson(
      await run(process.execPath, ['--enable-source-maps', 'sourcemap.cjs'], { cwd: cjs, timeoutMs: 30_000 }),
    );
    assert(out.frame && /@proj[\\/]tcp[\\/]src[\\/]\w[\w-]*\.ts:\d+:\d+/.test(out.frame), `frame: ${out.frame}`);
    return out.frame.replace(cjs, '<project>');
  });

  // CommonJS, @proj/pool alone.
  const pool = path.join(tmp, 'cjs-pool');
  makeProject(pool, 'consumer-cjs-pool', registryUrl, 'commonjs');
  await check('npm install @proj/pool (alone)', async () => {
    await npmInstall(pool, ['@proj/pool']);
    inspectInstalled(pool, '@proj/pool', versions['@proj/pool']);
    assert(
      !existsSync(path.join(pool, 'node_modules', '@proj', 'tcp')),
      '@proj/pool brought @proj/tcp (a devDependency) with it',
    );
  });
  await check('CommonJS: a pool of plain objects with @proj/pool', async () => {
    copyFileSync(path.join(fixtures, 'cjs-pool.cjs'), path.join(pool, 'pool.cjs'));
    const out = lastJson(await run(process.execPath, ['pool.cjs'], { cwd: pool, timeoutMs: 30_000 }));
    assert(out.ok, JSON.stringify(out));
    assert(out.where.startsWith(path.join(pool, 'node_modules')), `resolved to ${out.where}`);
    return 'acquire, release, reset, close';
  });

  // Strict TypeScript: the three packages with typescript and @types/node.
  const ts = path.join(tmp, 'ts-all');
  makeProject(ts, 'consumer-ts', registryUrl, 'module');
  const tsVersion = JSON.parse(
    readFileSync(path.join(root, 'node_modules', 'typescript', 'package.json'), 'utf8'),
  ).version;
  const typesNode = JSON.parse(
    readFileSync(path.join(root, 'node_modules', '@types', 'node', 'package.json'), 'utf8'),
  ).version;
  await check('npm install the three packages, typescript and @types/node', async () => {
    const t0 = Date.now();
    await npmInstall(ts, [
      '@proj/tcp',
      '@proj/pool',
      '@proj/rpc-lite',
      `typescript@${tsVersion}`,
      `@types/node@${typesNode}`,
    ]);
    return `typescript ${tsVersion}, @types/node ${typesNode} (${secs(Date.now() - t0)})`;
  });
  await check('strict TypeScript (module nodenext, skipLibCheck off) with `await using`: tsc', async () => {
    mkdirSync(path.join(ts, 'src'));
    copyFileSync(path.join(fixtures, 'tsconfig.json'), path.join(ts, 'tsconfig.json'));
    copyFileSync(path.join(fixtures, 'types.ts'), path.join(ts, 'src', 'types.ts'));
    copyFileSync(path.join(fixtures, 'dispose.mts'), path.join(ts, 'src', 'dispose.mts'));
    await run(process.execPath, [path.join(ts, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], {
      cwd: ts,
      timeoutMs: 120_000,
    });
    return 'Server, Client, Pool, PoolGuard, RpcServer, RpcClient';
  });
  await check('strict TypeScript with `await using`: run', async () => {
    const out = lastJson(await run(process.execPath, ['dist/dispose.mjs'], { cwd: ts, timeoutMs: 30_000 }));
    assert(out.ok, JSON.stringify(out));
    return 'each resource released when its block ended';
  });
  for (const [label, options] of [
    ['bundler', { module: 'esnext', moduleResolution: 'bundler' }],
    ['node10', { module: 'commonjs', moduleResolution: 'node10', ignoreDeprecations: '6.0' }],
  ]) {
    await check(`TypeScript types resolve under moduleResolution ${label}`, async () => {
      const file = `tsconfig.${label}.json`;
      writeFileSync(
        path.join(ts, file),
        JSON.stringify({
          compilerOptions: {
            ...options,
            target: 'es2022',
            lib: ['es2022', 'esnext.disposable'],
            types: ['node'],
            strict: true,
            skipLibCheck: false,
            noEmit: true,
          },
          files: ['src/types.ts'],
        }),
      );
      await run(process.execPath, [path.join(ts, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', file], {
        cwd: ts,
        timeoutMs: 120_000,
      });
    });
  }
}

async function cleanup() {
  for (const child of children) if (child !== registry?.child) killGroup(child);
  if (registry) await stopChild(registry.child);
  if (tmp && !keep) rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
  if (tmp && keep) console.log(`consumer-test: kept ${tmp}`);
}

let cleaning;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.log(`consumer-test: ${sig}, cleaning up`);
    cleaning ??= cleanup().finally(() => process.exit(130));
  });
}

try {
  await main();
} catch (err) {
  if (!(err instanceof Stop)) fail('consumer test', err?.stack ?? err);
} finally {
  cleaning ??= cleanup();
  await cleaning;
}
const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
const ok = failed === 0 && passed > 0;
console.log(
  `consumer-test: ${ok ? 'PASS' : 'FAIL'} in ${secs(Date.now() - started)}` +
    `; registry stopped, temp folders ${keep ? 'kept' : 'removed'}`,
);
console.log(`consumer: ${passed} passed, ${failed} failed`);
process.exitCode = ok ? 0 : 1;
