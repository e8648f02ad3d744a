// What every command gets from `run()`: where to write, and a switch the command
// sets from its --debug flag so that `run()` knows whether to show stack traces.
import type { CliIO } from './io.js';

export interface CommandContext {
  readonly io: CliIO;
  debug: boolean;
}
