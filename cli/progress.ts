// Progress of long waits: a spinner on a terminal (ora), plain lines otherwise,
// so logs and CI output show each step once instead of spinner frames.
import type { Ora } from 'ora';
import type { CliIO } from './io.js';

export interface Progress {
  /** A new step; the previous one is done. */
  step(text: string): void;
  /** Ends the display; a failure leaves the step that failed on screen. */
  done(ok: boolean): void;
}

/** ora is loaded only when there is a terminal to spin on: it is the slowest module to load. */
export async function startProgress(io: CliIO, quiet = false): Promise<Progress> {
  if (quiet) return { step: () => undefined, done: () => undefined };
  if (io.interactive) {
    const { default: ora } = await import('ora');
    let spinner: Ora | undefined;
    return {
      step(text) {
        if (!spinner) spinner = ora({ text, stream: process.stderr }).start();
        else spinner.text = text;
      },
      done(ok) {
        if (!spinner) return;
        if (ok) spinner.stop();
        else spinner.fail();
      },
    };
  }
  return { step: (text) => io.stderr.write(`... ${text}\n`), done: () => undefined };
}
