// Prints one line per run of a project's Jest suite, then one closing line for
// them all: "N passed, N failed, N skipped". Exits non-zero when a test failed
// or none ran.
const { readdirSync, readFileSync } = require('node:fs');
const { join } = require('node:path');

const dir = join(__dirname, '..', '.jest-results');
let passed = 0;
let failed = 0;
let skipped = 0;
let files = [];
try {
  files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
} catch {
  // No results at all: reported below as 0 passed.
}
for (const f of files) {
  const r = JSON.parse(readFileSync(join(dir, f), 'utf8'));
  console.log(
    `  ${f.replace(/\.json$/, '').replace('--', ': ')} (node ${r.node}): ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped`,
  );
  passed += r.passed;
  failed += r.failed;
  skipped += r.skipped;
}
console.log(`tests (${files.length} suite runs): ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
