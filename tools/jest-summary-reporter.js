// Jest reporter: writes each project's pass/fail counts to .jest-results/ so
// that tools/test-summary.js can print one closing line for the whole run.
const { mkdirSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

class SummaryReporter {
  constructor(globalConfig) {
    this.root = join(__dirname, '..', '.jest-results');
    this.name = String(globalConfig.rootDir).split(/[\\/]/).slice(-2).join('-');
  }

  onRunComplete(_contexts, results) {
    mkdirSync(this.root, { recursive: true });
    writeFileSync(
      join(this.root, `${this.name}.json`),
      JSON.stringify({
        passed: results.numPassedTests,
        failed: results.numFailedTests,
        skipped: results.numPendingTests + results.numTodoTests,
      }),
    );
  }
}

module.exports = SummaryReporter;
