#!/usr/bin/env node
// The background process of one local site: `node main.js SITE_FOLDER`, started
// by `kskup init` (see launcher.ts). Writes its pid file once the router and the
// claims endpoint are up, which is what the launcher waits for; exits 0 on
// SIGTERM/SIGINT after stopping cleanly, 1 if the site cannot start.
import { atomicWrite, SiteFolder } from './site-folder.js';
import { DEFAULT_SYNC_TIMINGS, type SyncTimings } from '../site/site-controller.js';
import { runSite } from './site-process.js';

const path = process.argv[2];
if (!path) {
  process.stderr.write('usage: main.js SITE_FOLDER\n');
  process.exit(2);
}
const folder = new SiteFolder(path);
try {
  const site = await runSite(folder, syncTimings(process.env));
  await atomicWrite(folder.pidFile, `${process.pid}\n`, 0o644);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(0), 3_000).unref();
    site.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`kskup site: stopping failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
        process.exit(1);
      },
    );
  };
  // `on`, not `once`: signal-exit (under proper-lockfile) re-raises a signal it
  // finds no other listener for, which would kill the process mid-stop.
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} catch (error) {
  process.stderr.write(`kskup site: cannot start the site in ${path}: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}

/** KSKUP_SYNC_HEARTBEAT_MS, KSKUP_SYNC_TTL_MS and KSKUP_SYNC_HEALTH_MS override the defaults (tests, tuning). */
function syncTimings(env: NodeJS.ProcessEnv): SyncTimings {
  const read = (name: string, fallback: number) => {
    const value = Number(env[name]);
    return Number.isInteger(value) && value > 0 ? value : fallback;
  };
  return {
    heartbeatMs: read('KSKUP_SYNC_HEARTBEAT_MS', DEFAULT_SYNC_TIMINGS.heartbeatMs),
    ttlMs: read('KSKUP_SYNC_TTL_MS', DEFAULT_SYNC_TIMINGS.ttlMs),
    healthMs: read('KSKUP_SYNC_HEALTH_MS', DEFAULT_SYNC_TIMINGS.healthMs),
  };
}
