#!/usr/bin/env node
// The background process of one local site: `node site-process-main.js
// SITE_FOLDER`, started by `kskup init` (see site-controller/local/launcher.ts).
// Writes its pid file once the router and the claims endpoint are up, which is
// what the launcher waits for; exits 0 on SIGTERM/SIGINT after stopping
// cleanly, whenever the signal comes (also while it starts), 1 if the site
// cannot start. SIGHUP makes the controller look at
// site.json again at once.
//
// This entry only catches the signals, then loads the site
// (site-controller/local/site-main.ts): loading the modules takes long enough
// for a stop to arrive in between. It is the local platform's composition:
// the site controller gets its services here (service-controller/compose.ts),
// as the Kubernetes controller does in controller-command.ts.
import { catchStopSignals } from '../router/stop-signals.js';

const signals = catchStopSignals();
const path = process.argv[2];
if (!path) {
  process.stderr.write('usage: site-process-main.js SITE_FOLDER\n');
  process.exit(2);
}
try {
  const [{ runSiteProcess }, { siteServices }, { syncTimingsFromEnv }] = await Promise.all([
    import('../site-controller/local/site-main.js'),
    import('../service-controller/compose.js'),
    import('../service-controller/service-controller.js'),
  ]);
  process.exit(await runSiteProcess(path, signals, siteServices(syncTimingsFromEnv(process.env))));
} catch (error) {
  process.stderr.write(`kskup site: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
}
