// The benchmarks' results as JSON: one file per run of a bench, under a git-ignored folder,
// for `npm run bench:report` (report.js) to draw. Plain CommonJS with hand-written types
// (index.d.ts), so that every bench script, compiled wherever its tsconfig puts it, can
// require it with no build step of its own.
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

/** The repository root: libs/bench-results/.. /.. */
const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Where results go: `BENCH_RESULTS_DIR`, else `bench-results/` at the repository root. */
function resultsDir() {
  const fromEnv = process.env.BENCH_RESULTS_DIR;
  return fromEnv !== undefined && fromEnv !== '' ? path.resolve(fromEnv) : path.join(REPO_ROOT, 'bench-results');
}

/** Median, min and max of `values` (not empty). */
function spread(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1] };
}

function checkSamples(what, values) {
  if (!Array.isArray(values) || values.length === 0 || !values.every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0)) {
    throw new TypeError(`${what} must be a non-empty array of finite numbers >= 0, one per round`);
  }
}

const ROW_KEYS = new Set(['section', 'name', 'unit', 'oursName', 'baselineName', 'ours', 'baseline', 'higherIsBetter', 'cpu']);

/**
 * Turns one row's rounds into what the JSON holds: each side's median and range, and the
 * ratio's, computed round by round (the rounds alternate, so round i of each side ran under
 * the same conditions). `ratio` is always "how much better ours is": ours/baseline when higher
 * is better (a rate), baseline/ours when lower is (a time).
 */
function summarizeRow(row) {
  if (row === null || typeof row !== 'object') throw new TypeError('a row must be an object');
  for (const key of Object.keys(row)) if (!ROW_KEYS.has(key)) throw new TypeError(`unknown row key ${JSON.stringify(key)}`);
  if (typeof row.name !== 'string' || row.name === '') throw new TypeError('row.name must be a non-empty string');
  if (typeof row.baselineName !== 'string' || row.baselineName === '') throw new TypeError('row.baselineName must be a non-empty string');
  if (typeof row.unit !== 'string' || row.unit === '') throw new TypeError('row.unit must be a non-empty string');
  checkSamples('row.ours', row.ours);
  checkSamples('row.baseline', row.baseline);
  if (row.ours.length !== row.baseline.length) throw new TypeError('row.ours and row.baseline must have one value per round each');
  const higherIsBetter = row.higherIsBetter ?? true;
  const perRound = row.ours.map((o, i) => {
    const b = row.baseline[i];
    const [num, den] = higherIsBetter ? [o, b] : [b, o];
    return den === 0 ? 0 : num / den;
  });
  const out = {
    section: row.section ?? '',
    name: row.name,
    unit: row.unit,
    higherIsBetter,
    oursName: row.oursName ?? 'ours',
    baselineName: row.baselineName,
    ours: spread(row.ours),
    baseline: spread(row.baseline),
    ratio: spread(perRound),
    rounds: row.ours.length,
    node: process.version,
  };
  if (row.cpu !== undefined) {
    const { ours, baseline, unit } = row.cpu;
    if (typeof ours !== 'number' || typeof baseline !== 'number' || typeof unit !== 'string') {
      throw new TypeError('row.cpu must be { ours: number, baseline: number, unit: string }');
    }
    out.cpu = { ours, baseline, unit, ratio: ours === 0 ? 0 : baseline / ours };
  }
  return out;
}

/** A file name part made of the bench's id: letters, digits, `-` and `_`. */
function checkId(id) {
  if (typeof id !== 'string' || !/^[a-z0-9][a-z0-9_-]*$/i.test(id)) {
    throw new TypeError(`a bench id is letters, digits, - and _ (it names the file), got ${JSON.stringify(id)}`);
  }
}

/** The rows of one run of one bench, written as one JSON file. */
class BenchResults {
  /**
   * @param {string} id - names the file and the chart: `tcp-echo`, `pool-acquire`, ...
   * @param {{ title?: string, package?: string }} [info]
   */
  constructor(id, info = {}) {
    checkId(id);
    this.id = id;
    this.title = info.title ?? id;
    this.package = info.package ?? '';
    this.startedAt = new Date().toISOString();
    this.rows = [];
  }

  /** Adds a row from its rounds (see index.d.ts); returns the summary it stored. */
  add(row) {
    const summary = summarizeRow(row);
    this.rows.push(summary);
    return summary;
  }

  /** What the file holds. */
  toJSON() {
    return {
      bench: this.id,
      title: this.title,
      package: this.package,
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? '',
      startedAt: this.startedAt,
      finishedAt: new Date().toISOString(),
      rows: this.rows,
    };
  }

  /**
   * Writes `<dir>/<id>/<time>-node<major>.json` (dir: {@link resultsDir}) and returns its path.
   * Nothing is written for a run without rows (a bench whose sections were all skipped).
   */
  write(dir = resultsDir()) {
    if (this.rows.length === 0) return null;
    const folder = path.join(dir, this.id);
    fs.mkdirSync(folder, { recursive: true });
    const stamp = this.startedAt.replace(/[:.]/g, '-');
    const file = path.join(folder, `${stamp}-node${process.versions.node.split('.')[0]}.json`);
    fs.writeFileSync(file, `${JSON.stringify(this.toJSON(), null, 2)}\n`);
    return file;
  }

  /** {@link BenchResults.write}, then one line that says where (for the end of a bench's output). */
  finish(log = console.log) {
    const file = this.write();
    if (file !== null) log(`\nresults: ${path.relative(process.cwd(), file)} (npm run bench:report draws them)`);
    return file;
  }
}

/** The newest file of each bench under `dir`: `{ id: path }`, ids sorted. */
function latestResults(dir = resultsDir()) {
  const latest = {};
  if (!fs.existsSync(dir)) return latest;
  for (const id of fs.readdirSync(dir).sort()) {
    const folder = path.join(dir, id);
    if (!fs.statSync(folder).isDirectory()) continue;
    const files = fs.readdirSync(folder).filter((f) => f.endsWith('.json')).sort();
    if (files.length > 0) latest[id] = path.join(folder, files[files.length - 1]);
  }
  return latest;
}

module.exports = { BenchResults, summarizeRow, spread, resultsDir, latestResults };
