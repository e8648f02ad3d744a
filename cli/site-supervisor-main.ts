#!/usr/bin/env node
// The detached process of one local site: `node site-supervisor-main.js
// SITE_FOLDER`, started by `kskup init` (site-controller/local/launcher.ts).
// It runs the site process (site-process-main.js, beside this file) as its
// child and restarts it with backoff (site-controller/local/supervisor.ts).
// Exits 0 after SIGTERM/SIGINT once the site process has stopped, whenever the
// signal comes (the handlers are the first thing it installs), and with the
// site process's code if the site cannot start at all.
import { fileURLToPath } from 'node:url';
import { catchStopSignals } from '../router/stop-signals.js';
import { runSupervisor } from '../site-controller/local/supervisor.js';

const signals = catchStopSignals();
const folder = process.argv[2];
if (!folder) {
  process.stderr.write('usage: site-supervisor-main.js SITE_FOLDER\n');
  process.exit(2);
}
const siteEntry = fileURLToPath(new URL('./site-process-main.js', import.meta.url));
process.exit(await runSupervisor({ folder, siteEntry, env: process.env, stopped: signals.stopped, onHangup: (handler) => signals.onHangup(handler) }));
