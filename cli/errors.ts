// The two ways a command fails. Only `run()` turns them into exit codes and one
// line on stderr, so commands just throw.

/** The command line itself is wrong (exit 2). The message names the flag. */
export class UsageError extends Error {
  override readonly name: string = 'UsageError';
}

/** The command line was fine but the work failed: a router unreachable, a file unreadable (exit 1). */
export class RuntimeError extends Error {
  override readonly name: string = 'RuntimeError';
}

/** Why a file could not be read, short: `no such file`, `EACCES`. */
export function fileProblem(error: unknown): string {
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : String(error);
  return code === 'ENOENT' ? 'no such file' : code;
}
