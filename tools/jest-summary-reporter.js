// Jest reporter: writes each project's pass/fail counts to .jest-results/ so
// that tools/test-summary.js can print one closing line for the whole run.
// JEST_RESULTS_TAG (CI sets it to the Node line and mode) keeps the counts of
// several runs of the same project apart.
const { mkdirSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

class SummaryReporter {
  constructor(globalConfig) {
    this.root = join(__dirname, '..', '.jest-results');
    const project = String(globalConfig.rootDir).split(/[\\/]/).slice(-2).join('-');
    const tag = process.env.JEST_RESULTS_TAG;
    this.name = tag ? `${tag}--${project}` : project;
  }

  onRunComplete(_contexts, results) {
    mkdirSync(this.root, { recursive: true });
    writeFileSync(
      join(this.root, `${this.name}.json`),
      JSON.stringify({
        passed: results.numPassedTests,
        failed: results.numFailedTests,
        skipped: results.numPendingTests + results.numTodoTests,
        node: process.version,
      }),
    );
  }
}

module.exports = SummaryReporter;
