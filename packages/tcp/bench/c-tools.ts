/**
 * The C programs of the benches (bench/c): compiled with gcc next to the
 * compiled benches, and run to completion.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';

const C_DIR = join(__dirname, '..', 'bench', 'c');

/** The path of the compiled program `name` (bench/c/<name>.c). */
export function cProgram(name: string): string {
  // Named apart from the compiled .js files: require('./load') would find a file called "load" first.
  return join(__dirname, `c-${name}`);
}

/** Compiles bench/c/<name>.c with gcc and `libs`; false where it cannot be built. */
export function compileC(name: string, libs: readonly string[] = []): boolean {
  const built = spawnSync('gcc', ['-O2', '-o', cProgram(name), join(C_DIR, `${name}.c`), ...libs], {
    stdio: 'inherit',
  });
  return !built.error && built.status === 0;
}

/** Runs the compiled program `name` with `args`; resolves with the number it prints (a load generator's count). */
export async function runCLoad(name: string, args: readonly (number | string)[]): Promise<number> {
  const child = spawn(cProgram(name), args.map(String), { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`the C load generator failed (exit ${code})`);
  return Number(out.trim());
}
