#!/usr/bin/env node
// The process of one local site: `node site-process-main.js SITE_FOLDER`,
// run by the site's supervisor (cli/site-supervisor-main.ts) as its child.
// Loads its modules, then (supervised) says "loaded" and waits for the
// supervisor's "start", which is at once unless it is the warm standby; tells
// the supervisor "ready" once the router, the claims endpoint and the
// controller are up; exits 0 on SIGTERM/SIGINT after stopping cleanly,
// whenever the signal comes (also while it starts), and also when the
// supervisor is gone; 1 if the site cannot start. SIGHUP makes the controller
// look at site.json again at once. Run by hand (no supervisor's channel) it
// runs in the foreground, recorded nowhere.
//
// This entry only catches the signals and the supervisor's channel, then loads the site
// (site-controller/local/site-main.ts): loading the modules takes long enough
// for a stop to arrive in between. It is the local platform's composition:
// the site controller gets its services here (service-controller/compose.ts),
// as the Kubernetes controller does in controller-command.ts.
import { catchStopSignals } from '../router/stop-signals.js';
import { linkToSupervisor } from '../site-controller/local/supervisor-link.js';

const signals = catchStopSignals();
const supervisor = linkToSupervisor();
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
  process.exit(await runSiteProcess(path, signals, supervisor, siteServices(syncTimingsFromEnv(process.env))));
} catch (error) {
  process.stderr.write(`kskup site: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
}
