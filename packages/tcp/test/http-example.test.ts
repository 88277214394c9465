/**
 * examples/http-server.ts, as a user would meet it: a real curl against the
 * example run as a child process (keep-alive reuse, Expect: 100-continue
 * uploads, a SIGTERM while requests are in flight: every one answered), and
 * raw sockets against it in this process for what curl will not send
 * (pipelining, bad and hostile requests: 400, 408, 413, 414, 431, 501).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type * as net from 'node:net';
import * as path from 'node:path';
import * as ts from 'typescript';
import { App, stopAllApps } from '../../../test-support/apps';
import { rawConnect, readToEnd, waitFor } from '../../../test-support/net';
import { startHttpServer } from '../examples/http-server';

const root = path.join(__dirname, '..');
const script = path.join(root, 'dist-examples', 'http-server.js');

beforeAll(() => {
  // The example as Node runs it: compiled on its own; it requires @proj/tcp's build.
  const source = readFileSync(path.join(root, 'examples', 'http-server.ts'), 'utf8');
  const out = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } });
  mkdirSync(path.dirname(script), { recursive: true });
  writeFileSync(script, out.outputText);
});

const curls = new Set<ChildProcess>();
afterEach(async () => {
  for (const c of curls) c.kill('SIGKILL');
  curls.clear();
  expect(await stopAllApps()).toBe(0);
});

interface CurlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs curl; `onStderr` sees its -v output as it comes. */
function curl(args: string[], onStderr?: (all: string) => void): Promise<CurlResult> {
  const child = spawn('curl', ['-sS', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  curls.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('latin1').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
    onStderr?.(stderr);
  });
  return new Promise((resolve) => {
    child.on('close', (code) => {
      curls.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

async function startExample(): Promise<{ app: App; url: string; port: number }> {
  const app = new App(script, ['0']);
  const [, port] = await app.waitFor(/^listening on (\d+)$/m);
  return { app, url: `http://127.0.0.1:${port}`, port: Number(port) };
}

describe('with curl, the example as a child process', () => {
  test('keep-alive: three requests on one connection; an upload with Expect: 100-continue is echoed', async () => {
    const { app, url } = await startExample();
    const nothing = ['-o', '/dev/null'];
    const r = await curl(['-w', '%{http_code} %{num_connects}\n', ...nothing, `${url}/`, ...nothing, `${url}/`, ...nothing, `${url}/nope`]);
    expect(r).toMatchObject({ code: 0, stdout: '200 1\n200 0\n404 0\n' });
    expect((await curl([`${url}/`])).stdout).toBe('hello world\n');
    const body = Buffer.alloc(300_000, 'x');
    const file = path.join(root, 'dist-examples', 'upload.bin');
    writeFileSync(file, body);
    const up = await curl(['-H', 'Expect: 100-continue', '--data-binary', `@${file}`, '-w', '\n%{http_code}', `${url}/echo`]);
    expect(up.code).toBe(0);
    expect(up.stdout).toBe(`${body.toString('latin1')}\n200`);
    expect(await app.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(app.stdout).toContain('drained');
  });

  test('SIGTERM drains: slow answers and slow uploads in flight are all answered, idle keep-alive connections get FIN', async () => {
    const { app, url, port } = await startExample();
    const SLOW = 6;
    const UPLOADS = 3;
    // Idle keep-alive connections: one request answered, then nothing.
    const idle = await Promise.all(Array.from({ length: 4 }, () => rawConnect(port)));
    const idleEnds = idle.map((s) => readToEnd(s));
    for (const s of idle) s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const file = path.join(root, 'dist-examples', 'upload-slow.bin');
    writeFileSync(file, Buffer.alloc(256 * 1024, 'u'));
    let sent = 0;
    // curl -v prints the request head once it has written it.
    const seen = (all: string): void => {
      if (all.includes('\n> \r\n') || all.includes('\n> \n')) sent++;
    };
    const slow = Array.from({ length: SLOW }, () => curl(['-v', `${url}/slow?ms=400`], seen));
    const uploads = Array.from({ length: UPLOADS }, () =>
      curl(['-v', '--limit-rate', '128k', '--data-binary', `@${file}`, '-o', '/dev/null', '-w', '%{http_code} %{size_upload}', `${url}/echo`], seen),
    );
    await waitFor(() => sent >= SLOW + UPLOADS, 'every request sent', 15_000);
    // A request answered after theirs were sent: the server has read theirs too (same or earlier poll).
    expect((await curl([`${url}/`])).stdout).toBe('hello world\n');
    app.signal('SIGTERM');
    const results = await Promise.all([...slow, ...uploads]);
    const answered = results.filter((r) => r.code === 0).length;
    expect({ inFlight: SLOW + UPLOADS, answered }).toEqual({ inFlight: SLOW + UPLOADS, answered: SLOW + UPLOADS });
    for (const r of results.slice(0, SLOW)) expect(r.stdout).toBe('slow 400\n');
    for (const r of results.slice(SLOW)) expect(r.stdout).toBe(`200 ${256 * 1024}`);
    for (const r of await Promise.all(idleEnds)) {
      expect(r.how).toBe('end');
      expect(r.data.toString()).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*hello world\n$/);
    }
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(app.stdout).toContain('drained');
    for (const s of idle) s.destroy();
  }, 30_000);
});

describe('raw sockets, the example in this process', () => {
  let server: Awaited<ReturnType<typeof startHttpServer>>;
  let port: number;
  const open = new Set<net.Socket>();
  beforeAll(async () => {
    server = await startHttpServer(0, undefined, { headerTimeoutMs: 200, maxBodyBytes: 64 * 1024 });
    port = server.address()!.port;
  });
  afterAll(async () => {
    await server.drain(1000);
  });
  afterEach(() => {
    for (const s of open) s.destroy();
    open.clear();
  });

  /** Sends `data` (in pieces when an array), ends nothing, and reads until the server closes. */
  async function exchange(data: string | string[], endAfter = false): Promise<string> {
    const sock = await rawConnect(port);
    open.add(sock);
    const done = readToEnd(sock);
    for (const piece of Array.isArray(data) ? data : [data]) sock.write(piece);
    if (endAfter) sock.end();
    const r = await done;
    expect(r.how).toBe('end');
    return r.data.toString('latin1');
  }

  function status(response: string): number[] {
    return [...response.matchAll(/HTTP\/1\.1 (\d{3}) [A-Z]/g)].map((m) => Number(m[1]));
  }

  test('pipelining: three requests in one write are answered in order; Connection: close ends it', async () => {
    const got = await exchange(
      'GET / HTTP/1.1\r\nHost: x\r\n\r\n' +
        'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello' +
        'GET /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    expect(status(got)).toEqual([200, 200, 404]);
    expect(got).toContain('hello world\n');
    expect(got).toMatch(/content-length: 5\r\n[^]*\r\n\r\nhello/);
    expect(got).toMatch(/connection: close\r\n\r\nnot found\n$/);
  });

  test('HTTP/1.0: closed after the answer, unless it asks for keep-alive (then told so)', async () => {
    const got = await exchange('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n');
    expect(status(got)).toEqual([200, 200]);
    expect(got).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*connection: keep-alive\r\n\r\nhello world\nHTTP\/1\.1 200 OK\r\n[^]*connection: close\r\n\r\nhello world\n$/);
  });

  test('a request split into many pieces is put together', async () => {
    const req = 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc';
    const got = await exchange(req.split(''));
    expect(status(got)).toEqual([200]);
    expect(got.endsWith('\r\n\r\nabc')).toBe(true);
  });

  test.each([
    ['a request line that is not one', 400, 'HELLO\r\n\r\n'],
    ['HTTP/1.1 without Host', 400, 'GET / HTTP/1.1\r\n\r\n'],
    ['a header line without a colon', 400, 'GET / HTTP/1.1\r\nHost: x\r\nbogus\r\n\r\n'],
    ['obsolete line folding', 400, 'GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n'],
    ['Content-Length that is not a number', 400, 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3x\r\n\r\nabc'],
    ['two different Content-Lengths', 400, 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd'],
    ['Transfer-Encoding with Content-Length (smuggling)', 400, 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc'],
    ['Transfer-Encoding: chunked', 501, 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['a body over maxBodyBytes', 413, `POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: ${1024 * 1024}\r\n\r\n`],
    ['a target over maxUriBytes', 414, `GET /${'a'.repeat(3000)} HTTP/1.1\r\nHost: x\r\n\r\n`],
    ['a request line longer than the head buffer', 414, `GET /${'a'.repeat(10_000)}`],
    ['a head over maxHeaderBytes', 431, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(9000)}\r\n\r\n`],
  ])('%s: %i, then FIN', async (_what, code, request) => {
    const got = await exchange(request);
    expect(status(got)).toEqual([code]);
    expect(got).toMatch(/connection: close\r\n/);
  });

  test('a head that does not come whole within headerTimeoutMs: 408, then FIN (slow header)', async () => {
    const got = await exchange(['GET / HTTP/1.1\r\n', 'Host: x\r\n']);
    expect(status(got)).toEqual([408]);
  });

  test('the server goes on serving after all of that', async () => {
    expect(status(await exchange('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'))).toEqual([200]);
    expect(server.connNum()).toBeLessThanOrEqual(1);
  });
});
