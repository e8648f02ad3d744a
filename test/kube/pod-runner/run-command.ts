// Runs the host tools the pod runner drives (ip, sysctl, unshare) and turns a
// failure into an error that names the command and carries its stderr.

import { spawn } from 'node:child_process';

export class CommandError extends Error {
  readonly code = 'KSKUP_POD_RUNNER_COMMAND_FAILED';
  constructor(readonly argv: readonly string[], readonly exitCode: number | null, readonly stderr: string) {
    super(`${argv.join(' ')} failed (exit ${String(exitCode)}): ${stderr.trim() || 'no message'}`);
  }
}

/** Runs argv[0] with the rest as arguments; `input` goes to stdin (for `ip -batch -`). Resolves with stdout. */
export function runCommand(argv: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => reject(new CommandError(argv, null, e.message)));
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new CommandError(argv, code, Buffer.concat(err).toString('utf8')));
    });
    child.stdin.on('error', () => undefined); // a tool that exits early closes its stdin; the exit code tells
    child.stdin.end(input ?? '');
  });
}

/** As runCommand, but an error is ignored (for best-effort clean-up of what may already be gone). */
export async function tryCommand(argv: readonly string[], input?: string): Promise<boolean> {
  try {
    await runCommand(argv, input);
    return true;
  } catch {
    return false;
  }
}
