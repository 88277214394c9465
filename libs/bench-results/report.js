#!/usr/bin/env node
// npm run bench:report: the latest results of each bench (index.js writes them) drawn as one
// SVG chart per bench. Each row is a bar: the median of ours/baseline across the rounds, with
// a whisker from the lowest to the highest round, against a line at 1.0 (the baseline). SVG
// is written directly, so the report needs nothing beyond Node.
//
//   node libs/bench-results/report.js [--in DIR] [--out DIR] [--only ID[,ID...]]
//
// --in: where the results are (default: BENCH_RESULTS_DIR, else bench-results/);
// --out: where the charts go (default: <in>/charts); --only: these benches only.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { parseArgs } = require('node:util');
const { latestResults, resultsDir } = require('./index');

const WIDTH = 960;
const LABEL_WIDTH = 330;
const VALUE_WIDTH = 250;
const PLOT_LEFT = LABEL_WIDTH;
const PLOT_WIDTH = WIDTH - LABEL_WIDTH - VALUE_WIDTH;
const ROW_HEIGHT = 34;
const SECTION_HEIGHT = 26;
const TOP = 84;
const BOTTOM = 44;
const BETTER = '#2f7d4f';
const WORSE = '#b5523b';

function escapeXml(text) {
  return String(text).replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]);
}

/** 1234567 -> "1,234,567"; small values keep two decimals. */
function formatValue(v) {
  if (v >= 100) return Math.round(v).toLocaleString('en-US');
  return v.toFixed(2);
}

/**
 * The ratio axis is logarithmic and centred on 1.0, so that twice as fast and half as fast
 * are the same distance from the baseline: from 1/limit to limit, a power of 2 that holds
 * every round of every row (at least 2).
 */
function axisLimit(rows) {
  let limit = 2;
  for (const r of rows) {
    const far = Math.max(r.ratio.max, 1 / Math.max(r.ratio.min, 1e-6));
    while (limit < far && limit < 1024) limit *= 2;
  }
  return limit;
}

/** The SVG of one bench file (the object index.js wrote). */
function renderChart(result) {
  const rows = result.rows;
  const sections = [];
  for (const row of rows) {
    const last = sections[sections.length - 1];
    if (last === undefined || last.name !== row.section) sections.push({ name: row.section, rows: [row] });
    else last.rows.push(row);
  }
  const headed = sections.filter((s) => s.name !== '').length;
  const plotHeight = rows.length * ROW_HEIGHT + headed * SECTION_HEIGHT;
  const height = TOP + plotHeight + BOTTOM;
  const limit = axisLimit(rows);
  const span = 2 * Math.log2(limit);
  const x = (ratio) => {
    const clamped = Math.min(Math.max(ratio, 1 / limit), limit);
    return PLOT_LEFT + ((Math.log2(clamped) + Math.log2(limit)) / span) * PLOT_WIDTH;
  };
  const rounds = [...new Set(rows.map((r) => r.rounds))].join('/');
  const out = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="16" y="24" font-size="16" font-weight="bold">${escapeXml(result.title)}</text>`,
    `<text x="16" y="42" fill="#555555">${escapeXml(
      `Node ${result.node}, ${rounds} rounds per row, ${result.cpus} CPUs, ${result.startedAt.slice(0, 16).replace('T', ' ')} UTC`,
    )}</text>`,
    `<text x="16" y="58" fill="#555555">${escapeXml(
      'Ours / baseline in each round: the bar is the median, the whisker the lowest to the highest round. Right of 1.0, ours is better (log scale).',
    )}</text>`,
    ...(rows.some((r) => r.cpu !== undefined)
      ? [`<text x="16" y="${TOP - 4}" fill="#555555"><tspan fill="#1f4e8c">&#9670;</tspan> CPU time per operation, baseline/ours (steadier than rates on a busy machine).</text>`]
      : []),
  );
  // Grid and axis: a line at every power of 2.
  for (let v = 1 / limit; v <= limit * 1.0001; v *= 2) {
    const gx = x(v).toFixed(1);
    const label = v >= 1 ? `${v}x` : `1/${Math.round(1 / v)}`;
    out.push(`<line x1="${gx}" y1="${TOP + 4}" x2="${gx}" y2="${TOP + plotHeight}" stroke="#e3e3e3"/>`);
    out.push(`<text x="${gx}" y="${TOP + plotHeight + 16}" text-anchor="middle" fill="#555555">${label}</text>`);
  }
  const one = x(1).toFixed(1);
  out.push(`<line x1="${one}" y1="${TOP + 4}" x2="${one}" y2="${TOP + plotHeight}" stroke="#333333" stroke-dasharray="4 3"/>`);
  out.push(`<text x="${one}" y="${TOP + plotHeight + 32}" text-anchor="middle" fill="#333333">1.0 = baseline</text>`);
  let y = TOP;
  for (const section of sections) {
    if (section.name !== '') {
      out.push(`<text x="16" y="${y + 18}" font-weight="bold" fill="#333333">${escapeXml(section.name)}</text>`);
      y += SECTION_HEIGHT;
    }
    for (const row of section.rows) {
      const mid = y + ROW_HEIGHT / 2;
      const color = row.ratio.median >= 1 ? BETTER : WORSE;
      out.push(`<text x="24" y="${mid - 2}">${escapeXml(row.name)}</text>`);
      out.push(`<text x="24" y="${mid + 12}" fill="#777777" font-size="11">${escapeXml(`${row.oursName} vs ${row.baselineName}`)}</text>`);
      const bar = x(row.ratio.median);
      const left = Math.min(bar, x(1));
      out.push(`<rect x="${left.toFixed(1)}" y="${mid - 8}" width="${Math.max(1, Math.abs(bar - x(1))).toFixed(1)}" height="16" fill="${color}" fill-opacity="0.75"/>`);
      const lo = x(row.ratio.min).toFixed(1);
      const hi = x(row.ratio.max).toFixed(1);
      out.push(`<line x1="${lo}" y1="${mid}" x2="${hi}" y2="${mid}" stroke="#222222" stroke-width="1.5"/>`);
      out.push(`<line x1="${lo}" y1="${mid - 5}" x2="${lo}" y2="${mid + 5}" stroke="#222222" stroke-width="1.5"/>`);
      out.push(`<line x1="${hi}" y1="${mid - 5}" x2="${hi}" y2="${mid + 5}" stroke="#222222" stroke-width="1.5"/>`);
      if (row.cpu !== undefined && row.cpu.ratio > 0) {
        const cx = x(row.cpu.ratio);
        out.push(`<path d="M${cx.toFixed(1)} ${mid - 6}l5 6l-5 6l-5 -6z" fill="#1f4e8c"><title>CPU per op, baseline/ours: ${row.cpu.ratio.toFixed(2)}</title></path>`);
      }
      const vx = PLOT_LEFT + PLOT_WIDTH + 12;
      out.push(
        `<text x="${vx}" y="${mid - 2}" font-weight="bold" fill="${color}">${row.ratio.median.toFixed(2)}x <tspan font-weight="normal" fill="#555555">(${row.ratio.min.toFixed(2)} to ${row.ratio.max.toFixed(2)})</tspan></text>`,
      );
      out.push(
        `<text x="${vx}" y="${mid + 12}" fill="#777777" font-size="11">${escapeXml(
          `${formatValue(row.ours.median)} vs ${formatValue(row.baseline.median)} ${row.unit}`,
        )}</text>`,
      );
      y += ROW_HEIGHT;
    }
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function main(argv) {
  const { values } = parseArgs({
    args: argv,
    options: { in: { type: 'string' }, out: { type: 'string' }, only: { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
  const inDir = values.in !== undefined ? path.resolve(values.in) : resultsDir();
  const outDir = values.out !== undefined ? path.resolve(values.out) : path.join(inDir, 'charts');
  const only = values.only !== undefined ? new Set(values.only.split(',')) : null;
  const latest = latestResults(inDir);
  const ids = Object.keys(latest).filter((id) => id !== 'charts' && (only === null || only.has(id)));
  if (ids.length === 0) {
    console.error(`bench:report: no results under ${inDir}: run npm run bench first (or pass --in)`);
    return 1;
  }
  fs.mkdirSync(outDir, { recursive: true });
  for (const id of ids) {
    const result = JSON.parse(fs.readFileSync(latest[id], 'utf8'));
    const file = path.join(outDir, `${id}.svg`);
    fs.writeFileSync(file, renderChart(result));
    console.log(`${path.relative(process.cwd(), file)}  (from ${path.relative(process.cwd(), latest[id])}, ${result.rows.length} rows)`);
  }
  return 0;
}

if (require.main === module) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    console.error(`bench:report: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 2;
  }
}

module.exports = { renderChart, main };
