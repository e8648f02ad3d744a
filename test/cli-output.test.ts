// The kskup binary and its output streams: a reader that goes away early
// (`kskup ... | head`) ends the command quietly, never with an unhandled
// 'error' event and a stack trace.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const CLI_BIN = resolve(import.meta.dirname, '../dist/cli/main.js');

describe('kskup output', () => {
  it('a closed stdout (kskup --help | head) exits 0 with nothing on stderr', async () => {
    const child = spawn(process.execPath, [CLI_BIN, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    // Closed before the CLI has started, so its first write meets EPIPE.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((done) => child.on('close', (exitCode) => done(exitCode)));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});
