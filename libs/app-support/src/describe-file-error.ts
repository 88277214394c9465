/** Why a file could not be read, in a few words: `no such file`, `permission denied`, or the errno code. */
export function describeFileError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(code);
}
