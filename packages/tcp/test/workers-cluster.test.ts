/**
 * node:cluster: two processes serve one port with a plain Server (it listens
 * in the way cluster shares, exclusive only when asked).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { Client } from '../src';
import { FIXTURES } from './workers-helpers';

const PRIMARY = join(FIXTURES, 'cluster.cjs');

function startPrimary(env: Record<string, string> = {}): { child: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [PRIMARY], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  return { child, out: () => out, exited };
}

async function waitForLine(out: () => string, re: RegExp, exited: Promise<unknown>, ms = 15_000): Promise<RegExpMatchArray> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + ms;
  for (;;) {
    const m = out().match(re);
    if (m) return m;
    if (gone || Date.now() > deadline) throw new Error(`no ${re} from the cluster primary: ${out()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('two cluster workers listen on one port and both serve', async () => {
  const primary = startPrimary();
  try {
    const m = await waitForLine(primary.out, /listening (\d+) (\d+)/, primary.exited);
    expect(m[1]).toBe(m[2]);
    const port = Number(m[1]);
    const pids = new Set<string>();
    for (let i = 0; i < 32 && pids.size < 2; i++) {
      const c = new Client('127.0.0.1', port);
      expect(await c.connect(5000)).toBe(true);
      const buf = Buffer.alloc(32);
      const n = await c.recvUntil(buf, '\n', 5000);
      expect(n).toBeGreaterThan(0);
      pids.add(buf.toString('latin1', 0, n - 1));
      c.close();
    }
    expect(pids.size).toBe(2);
  } finally {
    primary.child.kill('SIGTERM');
    expect(await primary.exited).toBe(0);
  }
});

test('with exclusive: true each cluster worker listens on its own (port 0: two ports)', async () => {
  const primary = startPrimary({ EXCLUSIVE: '1' });
  try {
    const m = await waitForLine(primary.out, /listening (\d+) (\d+)/, primary.exited);
    expect(m[1]).not.toBe(m[2]);
  } finally {
    primary.child.kill('SIGTERM');
    expect(await primary.exited).toBe(0);
  }
});
