// The tracing example of docs/protocol-builders.md is examples/latency-table.ts, word for
// word: this runs it as its own process (as a user would: compiled, against the built
// package) and checks the table it prints, and that the guide shows it as it is.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { buildIfMissing } from '../../../libs/test-support/public-dts';

const run = promisify(execFile);
const root = path.join(__dirname, '..');
const repoRoot = path.join(root, '..', '..');
const examplePath = path.join(root, 'examples', 'latency-table.ts');

beforeAll(() => buildIfMissing(path.join(root, '..', 'tcp'), path.join(root, '..', 'pool'), root), 180_000);

/** Compiles the example to CommonJS in a temporary folder and runs it with node; its stdout and stderr. */
async function runExample(): Promise<{ stdout: string; stderr: string }> {
  const js = ts.transpileModule(readFileSync(examplePath, 'utf8'), {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, esModuleInterop: true },
    fileName: 'latency-table.ts',
  }).outputText;
  const dir = mkdtempSync(path.join(tmpdir(), 'rpc-lite-example-'));
  try {
    const file = path.join(dir, 'latency-table.js');
    writeFileSync(file, js);
    return await run(process.execPath, [file], {
      cwd: dir,
      timeout: 20_000,
      // From a temporary folder, @proj/rpc-lite resolves through the workspace's node_modules (its built dist/).
      env: { ...process.env, NODE_PATH: path.join(repoRoot, 'node_modules'), NODE_OPTIONS: '', FORCE_COLOR: '0' },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('run as a process, it prints a latency row per method from the events, with the right counts', async () => {
  const { stdout, stderr } = await runExample();
  expect(stderr).toBe('');
  const lines = stdout.trimEnd().split('\n');
  expect(lines[0]).toBe('method  count  p50 ms  p99 ms  max ms  errors');
  const number = String.raw`\s*(\d+\.\d{2})`;
  const rowPattern = new RegExp(String.raw`^(\w+)\s+(\d+)\s${number}\s${number}\s${number}\s+(\d+)$`);
  const rows = lines.slice(1, -1).map((line) => {
    const m = line.match(rowPattern);
    if (m === null) throw new Error(`not a table row: ${JSON.stringify(line)}\n${stdout}`);
    return {
      method: m[1],
      count: Number(m[2]),
      p50: Number(m[3]),
      p99: Number(m[4]),
      max: Number(m[5]),
      errors: Number(m[6]),
    };
  });
  expect(rows.map(({ method, count, errors }) => [method, count, errors])).toEqual([
    ['add', 200, 0],
    ['flaky', 40, 10],
    ['sleep', 20, 0],
  ]);
  for (const row of rows) {
    expect(row.p50).toBeLessThanOrEqual(row.p99);
    expect(row.p99).toBeLessThanOrEqual(row.max);
  }
  // Every 'sleep' waits a timer of 1 to 5 ms on the server.
  expect(rows[2].p50).toBeGreaterThanOrEqual(1);
  expect(lines[lines.length - 1]).toBe('server: 260 requests, failed: E_UNLUCKY 10');
});

test('the protocol guide shows the example as it is', () => {
  const readme = readFileSync(path.join(repoRoot, 'docs', 'protocol-builders.md'), 'utf8');
  const example = readFileSync(examplePath, 'utf8').trim();
  expect(readme).toContain('```ts\n' + example + '\n```');
});
