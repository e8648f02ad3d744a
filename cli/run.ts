// Runs one `kskup` command line and returns its exit code: 0 done, 2 usage
// error, 1 anything else. Errors become one `kskup: ...` line on stderr; a stack
// trace only with --debug. Nothing here touches `process`, so tests call it in-process.
import { CommanderError } from 'commander';
import type { CommandContext } from './command-context.js';
import { ManagementError } from '../router/management/management-error.js';
import { SiteError } from '../site-controller/site/errors.js';
import { RuntimeError, UsageError } from './errors.js';
import type { CliIO } from './io.js';
import { buildProgram } from './program.js';

export type { CliIO } from './io.js';

export async function run(argv: readonly string[], io: CliIO): Promise<number> {
  const context: CommandContext = { io, debug: false };
  const program = buildProgram(context);
  if (argv.length === 0) {
    program.outputHelp();
    return 0;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    return report(error, context);
  }
}

function report(error: unknown, { io, debug }: CommandContext): number {
  // Commander has already printed its message (or the help, or the version).
  if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
  const stack = debug && error instanceof Error && error.stack ? `${error.stack}\n` : '';
  if (error instanceof UsageError) {
    io.stderr.write(`kskup: ${error.message}\n${stack}`);
    return 2;
  }
  if (error instanceof RuntimeError || error instanceof SiteError || error instanceof ManagementError) {
    io.stderr.write(`kskup: ${error.message}\n${stack}`);
    return 1;
  }
  const message = error instanceof Error ? error.message : String(error);
  io.stderr.write(`kskup: unexpected error: ${message}\n${stack || 'run again with --debug to see where\n'}`);
  return 1;
}
