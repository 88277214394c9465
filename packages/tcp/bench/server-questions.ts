/**
 * How a bench's server child answers the bench on its stdin, one line a
 * question: `mem` gets `process.memoryUsage()` as JSON (after a collection
 * when run with --expose-gc), anything else the process's CPU time so far in
 * microseconds. `onClose` runs when the bench closes stdin.
 */
import { createInterface } from 'node:readline';

export function answerBenchQuestions(onClose: () => void): void {
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (question) => {
    if (question === 'mem') {
      (globalThis as { gc?: () => void }).gc?.();
      process.stdout.write(JSON.stringify(process.memoryUsage()) + '\n');
      return;
    }
    const { user, system } = process.cpuUsage();
    process.stdout.write(`${user + system}\n`);
  });
  lines.on('close', onClose);
}
