import { UsageError } from './usage-error';

/**
 * A decimal integer option within [min, max], or `fallback` when absent.
 *
 * @param name - the option as the user wrote it (`--port`), for the message.
 * @throws UsageError when `text` is not digits or is out of range.
 */
export function integerOption(
  name: string,
  text: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text.trim()))
    throw new UsageError(`${name} must be an integer from ${min} to ${max}, got "${text}"`);
  const n = Number(text);
  if (n < min || n > max) throw new UsageError(`${name} must be an integer from ${min} to ${max}, got ${text}`);
  return n;
}
