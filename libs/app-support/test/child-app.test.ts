import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ChildApp, describeExit, killAllChildApps } from '../src';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'child-app-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  expect(await killAllChildApps()).toBe(0);
});

function script(name: string, body: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, body);
  return file;
}

test('lines of both streams, in order, to onLine and to waitForLine; stdout as text; the exit code', async () => {
  const seen: string[] = [];
  const app = new ChildApp(
    script('print.js', "console.log('one\\ntwo'); console.error('oops'); process.stdout.write('three');"),
    [],
    (line, stream) => seen.push(`${stream}:${line}`),
  );
  expect(await app.waitForLine(/^tw(o)$/, 5000)).toEqual(expect.arrayContaining(['two', 'o']));
  expect(await app.exited).toEqual({ code: 0, signal: null });
  expect(seen).toEqual(expect.arrayContaining(['stdout:one', 'stdout:two', 'stderr:oops', 'stdout:three']));
  expect(app.stdout).toBe('one\ntwo\nthree');
  expect(app.stderr).toBe('oops\n');
  expect(await app.waitFor(/^three$/m)).toBeTruthy();
});

test('waiting fails when the child exits first, saying how it ended', async () => {
  const app = new ChildApp(script('exit3.js', 'process.exit(3);'), []);
  await expect(app.waitForLine(/never/, 5000)).rejects.toThrow(
    /exited \(exit code 3\) before a line matching \/never\//,
  );
});

test('stop sends the signal, then SIGKILL after the grace period', async () => {
  const app = new ChildApp(
    script('stubborn.js', "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000);"),
    [],
  );
  await app.waitForLine(/^ready$/, 5000);
  const exit = await app.stop('SIGTERM', 200);
  expect(describeExit(exit)).toBe('killed by SIGKILL');
});

test('IPC both ways with ipc: true, and Node flags before the script', async () => {
  const app = new ChildApp(
    script(
      'echo-ipc.js',
      "process.on('message', (m) => { process.send({ back: m, gc: typeof gc }); process.disconnect(); });",
    ),
    [],
    { ipc: true, execArgv: ['--expose-gc'] },
  );
  const answer = new Promise((resolve) => app.onMessage(resolve));
  app.send({ hello: 1 });
  expect(await answer).toEqual({ back: { hello: 1 }, gc: 'function' });
  expect((await app.exited).code).toBe(0);
});
