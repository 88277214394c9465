import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { BenchResults, latestResults, spread, summarizeRow } from '..';
import { main, renderChart } from '../report';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'bench-results-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const row = {
  section: 'Server side',
  name: '64 conns x 8 B ping-pong',
  unit: 'round trips/s',
  baselineName: 'raw node:net',
  ours: [120, 100, 90],
  baseline: [100, 100, 100],
};

test('spread: median of an odd and an even count, min and max', () => {
  expect(spread([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3 });
  expect(spread([4, 1, 2, 3])).toEqual({ median: 2.5, min: 1, max: 4 });
});

test('a row: each side median and range, the ratio round by round, the rounds and the Node version', () => {
  const s = summarizeRow(row);
  expect(s.ours).toEqual({ median: 100, min: 90, max: 120 });
  expect(s.baseline).toEqual({ median: 100, min: 100, max: 100 });
  expect(s.ratio).toEqual({ median: 1, min: 0.9, max: 1.2 });
  expect(s).toMatchObject({ rounds: 3, node: process.version, oursName: 'ours', higherIsBetter: true });
});

test('when lower is better (a time), the ratio is baseline/ours: above 1 still means ours is better', () => {
  const s = summarizeRow({ name: 'per line', unit: 'ns', baselineName: 'splitter', ours: [50], baseline: [100], higherIsBetter: false });
  expect(s.ratio.median).toBe(2);
});

test('bad rows are refused at once', () => {
  expect(() => summarizeRow({ ...row, baseline: [1, 2] })).toThrow(/one value per round/);
  expect(() => summarizeRow({ ...row, ours: [] })).toThrow(/non-empty array/);
  expect(() => summarizeRow({ ...row, ours: [1, Number.NaN, 3] })).toThrow(/finite/);
  expect(() => summarizeRow({ ...row, colour: 'red' } as never)).toThrow(/unknown row key "colour"/);
  expect(() => new BenchResults('../escape')).toThrow(/names the file/);
});

test('write: one JSON file per run under <dir>/<id>/, and the newest is the one the report takes', () => {
  const first = new BenchResults('tcp-echo', { title: 'tcp echo', package: '@proj/tcp' });
  first.add(row);
  const file = first.write(dir)!;
  expect(path.dirname(file)).toBe(path.join(dir, 'tcp-echo'));
  const json = JSON.parse(readFileSync(file, 'utf8')) as ReturnType<BenchResults['toJSON']>;
  expect(json).toMatchObject({ bench: 'tcp-echo', title: 'tcp echo', package: '@proj/tcp', node: process.version });
  expect(json.rows).toHaveLength(1);
  expect(json.rows[0].name).toBe(row.name);

  const later = new BenchResults('tcp-echo');
  (later as unknown as { startedAt: string }).startedAt = '2999-01-01T00:00:00.000Z';
  later.add({ ...row, name: 'later' });
  const laterFile = later.write(dir)!;
  expect(latestResults(dir)).toEqual({ 'tcp-echo': laterFile });
  expect(new BenchResults('empty').write(dir)).toBeNull();
  expect(readdirSync(dir)).toEqual(['tcp-echo']);
});

test('the chart: one bar and whisker per row, names escaped, the baseline line at 1.0', () => {
  const results = new BenchResults('pool', { title: 'pool <acquire> & release' });
  results.add({ ...row, section: 'A', name: 'row <one>' });
  results.add({ ...row, section: 'B', name: 'row two', ours: [300, 310, 320] });
  const svg = renderChart(results.toJSON());
  expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  expect(svg.trim().endsWith('</svg>')).toBe(true);
  expect(svg).toContain('pool &lt;acquire&gt; &amp; release');
  expect(svg).toContain('row &lt;one&gt;');
  expect(svg).not.toContain('row <one>');
  expect(svg.match(/<rect /g)).toHaveLength(3); // the background and one bar per row
  expect(svg).toContain('1.0 = baseline');
  expect(svg).toContain('3.10x'); // row two: median 310 / 100
});

test('main: charts from the latest results, and exit code 1 when there are none', () => {
  const results = new BenchResults('rpc-echo');
  results.add(row);
  results.write(dir);
  const out = path.join(dir, 'charts');
  const log = jest.spyOn(console, 'log').mockImplementation(() => {});
  const error = jest.spyOn(console, 'error').mockImplementation(() => {});
  try {
    expect(main(['--in', dir, '--out', out])).toBe(0);
    expect(readdirSync(out)).toEqual(['rpc-echo.svg']);
    expect(main(['--in', path.join(dir, 'nothing-here')])).toBe(1);
    expect(error).toHaveBeenCalledWith(expect.stringContaining('run npm run bench first'));
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
});
