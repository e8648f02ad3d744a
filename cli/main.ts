#!/usr/bin/env node
// kskup: the command line. The commands live in run.ts, which returns the exit
// code; only this file touches the process.
import { run } from './run.js';

process.exitCode = await run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  // A terminal that reports no width (some ptys) would make a spinner redraw without end.
  interactive: process.stderr.isTTY === true && (process.stderr.columns ?? 0) > 0,
});
