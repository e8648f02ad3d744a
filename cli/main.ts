#!/usr/bin/env node
// kskup: the command line. The commands live in run.ts, which returns the exit
// code; only this file touches the process.
import { run } from './run.js';

process.exitCode = await run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  interactive: process.stderr.isTTY === true,
});
