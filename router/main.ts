#!/usr/bin/env -S node --max-semi-space-size=4 --initial-old-space-size=64
// kskup-router: `kskup-router -c FILE`, like `skrouterd -c`. Exit codes: 2 for a
// usage error, 1 for a config file that cannot be used at start; 0 after
// SIGTERM/SIGINT, whenever it comes (also while starting). SIGHUP or a change
// to the file re-reads it and applies the difference; an invalid new file is
// logged and the running config stays.
//
// This entry only catches the signals, then loads the router (router-main.ts):
// loading the modules takes long enough for a stop to arrive in between.
// The shebang passes node-flags.ts's ROUTER_NODE_FLAGS (test/router-node-flags.test.ts
// holds the two together); `env -S` splits them (GNU coreutils 8.30 and later).
import { catchStopSignals } from './stop-signals.js';

const signals = catchStopSignals();
try {
  const { runRouterProcess } = await import('./router-main.js');
  process.exit(await runRouterProcess(process.argv, signals));
} catch (error) {
  const debug = process.argv.includes('--debug');
  process.stderr.write(`kskup-router: ${debug && error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
}
