#!/usr/bin/env node
// The background process of one local site: `node main.js SITE_FOLDER`, started
// by `kskup init` (see launcher.ts). Writes its pid file once the router and the
// claims endpoint are up, which is what the launcher waits for; exits 0 on
// SIGTERM/SIGINT after stopping cleanly, whenever the signal comes (also while
// it starts), 1 if the site cannot start. SIGHUP makes the controller look at
// site.json again at once.
//
// This entry only catches the signals, then loads the site (site-main.ts):
// loading the modules takes long enough for a stop to arrive in between.
import { catchStopSignals } from '../../router/stop-signals.js';

const signals = catchStopSignals();
const path = process.argv[2];
if (!path) {
  process.stderr.write('usage: main.js SITE_FOLDER\n');
  process.exit(2);
}
try {
  const { runSiteProcess } = await import('./site-main.js');
  process.exit(await runSiteProcess(path, signals));
} catch (error) {
  process.stderr.write(`kskup site: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
}
