/**
 * Runs a command-line app's `run(argv)` as its whole process: its result is
 * the exit code; a crash prints `<name>: <stack>` and exits 1.
 *
 * @param name - the app's name, first on a crash's line.
 * @param run - the app; resolves with its exit code.
 */
export function runMain(name: string, run: (argv: readonly string[]) => Promise<number>): void {
  // A reader that went away (`| head`, or Nx killed by Ctrl-C before the app
  // printed its totals) must not crash the app mid-shutdown: such lines are dropped.
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {});

  run(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      // Everything is closed by now, so the process ends by itself; this unref'd
      // timer only fires if something unexpected still holds it open.
      setTimeout(() => process.exit(code), 2000).unref();
    },
    (err: unknown) => {
      process.stderr.write(`${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
