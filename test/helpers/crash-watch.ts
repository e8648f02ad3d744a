// Makes a crash of a kskup process impossible to miss: every process a test
// file starts (router processes, site processes, binaries run by hand) is
// registered here, and after each test and after the file each one is checked
// for a trace of an unhandled error in its output and for an exit by a signal
// the test did not send. A finding fails the test that was running (or the
// file's clean-up), names the process and quotes the trace, and is reported once.
//
// The hooks are registered when a test file first imports this module (vitest
// gives each file its own module instance), on the file's top-level suite.
import { afterAll, afterEach } from 'vitest';

/**
 * What Node writes when an error kills a process: an 'error' event nobody
 * listened for, an uncaught exception or unhandled rejection (whose trace
 * Node ends with its version line), a fatal V8 or Node error.
 */
const CRASH_MARKERS: readonly RegExp[] = [
  /Unhandled 'error' event/,
  /uncaughtException/,
  /UnhandledPromiseRejection/,
  /ERR_UNHANDLED_REJECTION/,
  /triggerUncaughtException/,
  /FATAL ERROR:/,
  /# Fatal error in /,
  /^Node\.js v\d+\.\d+\.\d+$/m,
];

/** The lines around the first crash marker in `text` (what to quote), or undefined. */
export function crashTrace(text: string): string | undefined {
  const lines = text.split('\n');
  const at = lines.findIndex((line) => CRASH_MARKERS.some((marker) => marker.test(line)));
  if (at < 0) return undefined;
  // Node's version line comes last: the trace is above it.
  const versionLine = /^Node\.js v\d/.test(lines[at]!);
  const from = Math.max(0, at - (versionLine ? 25 : 5));
  return lines
    .slice(from, at + 25)
    .map((line) => `    ${line}`)
    .join('\n');
}

export interface WatchedProcess {
  /** The process's output so far (stdout and stderr, or its log file). */
  output(): string | Promise<string>;
  /** How it ended, if it has; signals it was sent by the test do not count. */
  exit(): { readonly code: number | null; readonly signal: NodeJS.Signals | null } | undefined;
  /** Set when it died in a way the output does not show (a site process's pid file left behind). */
  death?(): Promise<string | undefined>;
}

interface Entry {
  readonly name: string;
  readonly process: WatchedProcess;
  readonly sent: Set<string>;
  reported: boolean;
}

const watched: Entry[] = [];

/** Registers a process to be checked; `sent` is where the test's own signals to it go (see signalled). */
export function watchProcess(name: string, process: WatchedProcess): { signalled(signal: NodeJS.Signals): void } {
  const entry: Entry = { name, process, sent: new Set(), reported: false };
  watched.push(entry);
  return { signalled: (signal) => entry.sent.add(signal) };
}

type Discover = () => Promise<ReadonlyArray<readonly [string, WatchedProcess]>>;
const discoverers: Discover[] = [];

/** For processes started out of the test's sight (site processes started by `kskup init`): `discover` lists them at each check. */
export function watchDiscovered(discover: Discover): void {
  discoverers.push(discover);
}

async function findings(): Promise<string[]> {
  for (const discover of discoverers) {
    for (const [name, process] of await discover()) {
      if (!watched.some((entry) => entry.name === name)) watchProcess(name, process);
    }
  }
  const found: string[] = [];
  for (const entry of watched) {
    if (entry.reported) continue;
    const trace = crashTrace(await entry.process.output());
    const exit = entry.process.exit();
    const killedBy = exit?.signal && !entry.sent.has(exit.signal) ? exit.signal : undefined;
    const death = trace || killedBy ? undefined : await entry.process.death?.();
    if (!trace && !killedBy && !death) continue;
    entry.reported = true;
    const how = killedBy ? `was killed by ${killedBy}, which the test did not send` : (death ?? 'crashed');
    found.push(`${entry.name} ${how}${trace ? `; it wrote:\n${trace}` : ''}`);
  }
  return found;
}

async function check(): Promise<void> {
  const found = await findings();
  if (found.length > 0) throw new Error(`a kskup process crashed:\n${found.join('\n')}`);
}

afterEach(check);
// Last of the file's after-all hooks (hooks run in reverse order): processes stopped by the file's own clean-up are checked too.
afterAll(check);
