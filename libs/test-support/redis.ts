/**
 * A real `redis-server` for tests: started on a free loopback port with no
 * persistence (`--save '' --appendonly no --bind 127.0.0.1`), ready once it
 * says it accepts connections, stopped by its pid. Every server still running
 * is killed when the test process exits, also on Ctrl-C or a failed test, so
 * none is left behind. No system Redis service is used or needed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { freePort } from './apps';

/** Whether `redis-server` is on PATH. */
export function haveRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

export interface RedisServer {
  readonly port: number;
  readonly pid: number;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and resolves once it has exited. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function killAllSync(): void {
  for (const child of running) {
    try {
      process.kill(child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  running.clear();
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', killAllSync);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAllSync();
      process.kill(process.pid, signal);
    });
  }
}

async function startOnce(port: number): Promise<RedisServer> {
  const child = spawn(
    'redis-server',
    ['--save', '', '--appendonly', 'no', '--port', String(port), '--bind', '127.0.0.1'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  running.add(child);
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => running.delete(child));
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (/Ready to accept connections/.test(output)) {
        child.stdout.off('data', onData);
        child.stdout.resume(); // keep draining its log
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    void exited.then(() => reject(new Error(`redis-server exited before it was ready:\n${output}`)));
  });
  return {
    port,
    pid: child.pid!,
    stop: async () => {
      if (!running.has(child)) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** Starts a `redis-server` on a free loopback port; fails clearly when it is not installed. */
export async function startRedis(): Promise<RedisServer> {
  if (!haveRedisServer()) {
    throw new Error('redis-server is not installed: apt-get install -y redis-server (.ci/run installs it)');
  }
  installExitHook();
  let lastError: unknown;
  for (let tries = 0; tries < 5; tries++) {
    try {
      return await startOnce(await freePort());
    } catch (err) {
      lastError = err; // most likely the port was taken in between: another one
    }
  }
  throw lastError;
}
