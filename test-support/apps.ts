/**
 * The pingpong apps as child processes, for their end-to-end tests: start
 * `node dist/main.js ...`, read its output, wait for a line, stop it, and make
 * sure nothing is left running after a test ({@link stopAllApps} in afterEach).
 */
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { ChildApp, killAllChildApps, type ChildExit } from '../apps/app-support/src/child-app';

const ROOT = resolve(__dirname, '..');
/** Built entry points of the apps. */
export const SERVER_MAIN = join(ROOT, 'apps/pingpong-server/dist/main.js');
export const CLIENT_MAIN = join(ROOT, 'apps/pingpong-client/dist/main.js');
export const DEMO_MAIN = join(ROOT, 'apps/pingpong-client/dist/demo.js');

/** Throws a clear error when an app's dist is missing (tests run the built apps). */
export function requireBuilt(...scripts: string[]): void {
  for (const script of scripts) {
    if (!existsSync(script)) {
      throw new Error(`${script} is missing: run the tests through Nx (npx nx run <app>:test), which builds first`);
    }
  }
}

/** How an app ended. */
export type Exit = ChildExit;

/** One app process: the apps' own child-process runner (`ChildApp` of app-support). */
export { ChildApp as App };

/** Runs an app to its end. */
export async function runApp(script: string, args: readonly string[], ms = 30_000): Promise<ChildApp & { exit: Exit }> {
  const app = new ChildApp(script, args);
  const t = setTimeout(() => app.kill(), ms);
  try {
    await app.exited;
  } finally {
    clearTimeout(t);
  }
  return app as ChildApp & { exit: Exit };
}

/** A pingpong server started on a free loopback port. */
export interface RunningServer {
  app: ChildApp;
  port: number;
  /** With `--ssl` and no key/cert: the generated certificate's path. */
  certPath?: string;
}

/** Starts the server with `--port 0` and reads the port it prints. */
export async function startServer(args: readonly string[] = []): Promise<RunningServer> {
  const app = new ChildApp(SERVER_MAIN, ['--ip', '127.0.0.1', '--port', '0', ...args]);
  const [, port] = await app.waitFor(/^listening on 127\.0\.0\.1:(\d+) \((?:tcp|tls)\)$/m);
  const cert = app.stdout.match(/^\s+cert: (\S+)/m);
  return { app, port: Number(port), certPath: cert?.[1] };
}

/** Whether a process with this id exists. */
export function isRunning(pid: number | undefined): boolean {
  if (pid === undefined) return false; // never started
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A loopback port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

/** Kills every app still running (afterEach); returns how many there were. */
export function stopAllApps(): Promise<number> {
  return killAllChildApps();
}
