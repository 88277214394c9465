/**
 * User-space instructions per message, counted by valgrind's callgrind: the
 * benchmark's one figure that this machine's noise does not move. A rate
 * ratio here swings by 0.1 or more between runs, which hides a difference of
 * a few %; callgrind counts the instructions a process executes, the same
 * from run to run whatever else the machine is doing.
 *
 * A process is run twice under callgrind, once with each connection sending
 * `few` messages and once `many` (a {@link Counted}); the difference of the
 * two totals, divided by the difference in messages, leaves out start-up, the
 * handshakes and exit, which both runs share. The kernel's share of the work
 * (a third to three quarters of the CPU here) is not in it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Load } from './load';

/** Messages a connection sends in the short run and in the long one. */
export interface Counted {
  few: number;
  many: number;
}

/** Whether valgrind is on PATH. */
export function callgrindAvailable(): boolean {
  const probe = spawnSync('valgrind', ['--version'], { stdio: 'ignore' });
  return !probe.error && probe.status === 0;
}

/** The command prefix that runs a program under callgrind, writing its counts to `outFile`. */
export function underCallgrind(outFile: string): string[] {
  return ['valgrind', '--tool=callgrind', '-q', `--callgrind-out-file=${outFile}`];
}

/** The total instruction count callgrind wrote to `outFile`. */
function totalOf(outFile: string): number {
  const total = /^(?:totals|summary): (\d+)/m.exec(readFileSync(outFile, 'utf8'));
  if (total === null) throw new Error(`no instruction total in ${outFile}`);
  return Number(total[1]);
}

/**
 * Instructions per message of a process under callgrind, each connection
 * sending `few` and then `many` messages: `run(load, outFile)`
 * runs `load` with the process under callgrind, writing to `outFile`, and
 * returns once that process has exited.
 */
export async function instructionsPerMessage(
  load: Load,
  { few, many }: Counted,
  outDir: string,
  run: (load: Load, outFile: string) => Promise<void>,
): Promise<number> {
  const totals: number[] = [];
  for (const count of [few, many]) {
    const outFile = join(outDir, `callgrind.${count}`);
    await run({ ...load, count }, outFile);
    totals.push(totalOf(outFile));
  }
  return (totals[1] - totals[0]) / (load.conns * (many - few));
}

/** Runs bench/instructions-client.ts (ours or raw, doing `load`) under callgrind against `port`. */
export async function runClientUnderCallgrind(
  who: 'ours' | 'raw',
  port: number,
  load: Load,
  outFile: string,
): Promise<void> {
  const [valgrind, ...args] = underCallgrind(outFile);
  const child = spawn(
    valgrind,
    [...args, process.execPath, join(__dirname, 'instructions-client.js'), who, String(port), JSON.stringify(load)],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`the ${who} client under callgrind failed (exit ${code})`);
}

/** `n` instructions, to the nearest hundred, in thousands: `6.0k`. */
export function kilo(n: number): string {
  return `${(n / 1000).toFixed(1)}k`;
}
