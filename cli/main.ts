#!/usr/bin/env node
// kskup: the command line. The commands live in run.ts, which returns the exit
// code; only this file touches the process.
import { catchStopSignals } from '../router/stop-signals.js';
import { run } from './run.js';

// A command that runs until stopped (`kskup controller run`, a pod's main
// process) catches SIGTERM before anything else loads, so a stop during
// start-up is a clean stop too. Other commands keep Node's defaults (Ctrl-C ends them).
const argv = process.argv.slice(2);
const signals = (argv.includes('controller') && argv.includes('run')) || commandWord(argv) === 'console' ? catchStopSignals() : undefined;

// `kskup ... | head` closes the pipe early: the reader has what it wanted, so
// that ends the command quietly (with the code it has so far), not as an
// unhandled 'error' event. Any other failure to write output ends it with 1.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => process.exit(error.code === 'EPIPE' ? (process.exitCode ?? 0) : 1));
}

process.exitCode = await run(argv, {
  stdout: process.stdout,
  stdoutBytes: process.stdout,
  stderr: process.stderr,
  env: process.env,
  // A terminal that reports no width (some ptys) would make a spinner redraw without end.
  interactive: process.stderr.isTTY === true && (process.stderr.columns ?? 0) > 0,
  ...(signals && { stopped: signals.stopped }),
});

/** The first word of the command line that is not an option or an option's value (the site options before the command take one). */
function commandWord(words: readonly string[]): string | undefined {
  for (let i = 0; i < words.length; i++) {
    const word = words[i] ?? '';
    if (['-n', '--namespace', '--context', '--kubeconfig', '--platform', '-o', '--output'].includes(word)) i++;
    else if (!word.startsWith('-')) return word;
  }
  return undefined;
}
