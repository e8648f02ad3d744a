// The site process once its entry (cli/site-process-main.ts) has caught the signals: starts the
// site, writes the pid file, and stops the site cleanly at the first SIGTERM or
// SIGINT. A stop that comes during start-up waits for the start to finish (so
// that everything it opened is closed again) and is then carried out; the pid
// file is not written then.
import { atomicWrite, SiteFolder } from './site-folder.js';
import type { SiteServicesFactory } from '../site/site-controller.js';
import { runSite, type RunningSite } from './site-process.js';
import type { StopSignals } from '../../router/stop-signals.js';

/** However a stop goes, the process ends within this time (a stuck close must not keep it). */
const STOP_DEADLINE_MS = 3_000;

/**
 * Resolves with the process's exit code: 0 after a stop signal, 1 if the site
 * cannot start or stop. `services`: the site's services, from the entry.
 */
export async function runSiteProcess(path: string, signals: StopSignals, services: SiteServicesFactory): Promise<number> {
  const folder = new SiteFolder(path);
  // Counted from the signal, also when it comes during start-up.
  void signals.stopped.then(() => setTimeout(() => process.exit(0), STOP_DEADLINE_MS).unref());
  let site: RunningSite;
  try {
    site = await runSite(folder, { services, ...idleTimeout(process.env) });
  } catch (error) {
    // Asked to stop while starting: a start cut short by the stop is no failure.
    if (signals.received) return 0;
    process.stderr.write(`kskup site: cannot start the site in ${path}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  if (!signals.received) {
    await atomicWrite(folder.pidFile, `${process.pid}\n`, 0o644);
    signals.onHangup(() => site.stateChanged('SIGHUP'));
  }
  await signals.stopped;
  try {
    await site.stop();
    return 0;
  } catch (error) {
    process.stderr.write(`kskup site: stopping failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}

/** KSKUP_IDLE_TIMEOUT_SECONDS: the router's AMQP idle timeout (tests that pause a site, tuning). */
function idleTimeout(env: NodeJS.ProcessEnv): { idleTimeoutSeconds?: number } {
  const value = Number(env.KSKUP_IDLE_TIMEOUT_SECONDS);
  return Number.isInteger(value) && value > 0 ? { idleTimeoutSeconds: value } : {};
}
