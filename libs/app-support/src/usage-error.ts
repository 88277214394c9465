/** A command line that cannot be run: the CLI prints its message and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  /** Stable code for callers that match on it. */
  readonly code = 'ERR_USAGE';
}
