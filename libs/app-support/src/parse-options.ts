import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './usage-error';

/** The option table `node:util`'s `parseArgs` takes. */
export type OptionTable = NonNullable<ParseArgsConfig['options']>;

/** What {@link parseOptions} gives for `O`: each option's value, typed by its entry in `O`. */
export type ParsedOptions<O extends OptionTable> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: false }>
>['values'];

/**
 * Parses `argv` strictly against `options` (no positionals, no unknown option):
 * `node:util`'s `parseArgs`, with its failures as {@link UsageError}.
 *
 * @param argv - the arguments after the script name (`process.argv.slice(2)`).
 * @throws UsageError for an unknown option, a missing value or a positional argument.
 */
export function parseOptions<const O extends OptionTable>(argv: readonly string[], options: O): ParsedOptions<O> {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
