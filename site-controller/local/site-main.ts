// The site process once its entry (cli/site-process-main.ts) has caught the
// signals and the supervisor's channel: starts the site, tells the supervisor
// it is up, and stops the site cleanly at the first SIGTERM or SIGINT, or when
// the supervisor is gone (a site nobody supervises or records must not run
// on). A stop that comes during start-up waits for the start to finish (so
// that everything it opened is closed again) and is then carried out; the
// supervisor is not told "ready" then.
import { SiteFolder } from './site-folder.js';
import type { SiteServicesFactory } from '../site/site-controller.js';
import { runSite, type RunningSite } from './site-process.js';
import type { StopSignals } from '../../router/stop-signals.js';
import type { SupervisorLink } from './supervisor-link.js';

/** However a stop goes, the process ends within this time (a stuck close must not keep it). */
const STOP_DEADLINE_MS = 3_000;

/**
 * Resolves with the process's exit code: 0 after a stop signal or the
 * supervisor's loss, 1 if the site cannot start or stop. `services`: the
 * site's services, from the entry.
 */
export async function runSiteProcess(path: string, signals: StopSignals, supervisor: SupervisorLink, services: SiteServicesFactory): Promise<number> {
  const folder = new SiteFolder(path);
  let stopFor: string | undefined;
  const stop = Promise.race([
    signals.stopped.then((signal) => (stopFor ??= signal)),
    supervisor.lost.then(() => {
      stopFor ??= 'the supervisor is gone';
      // Not in the site's log format: the site may not be running yet. The word "kskup site:" makes it the supervisor record's error line.
      process.stderr.write(`kskup site: the supervisor (pid ${supervisor.supervisorPid}) is gone: stopping the site\n`);
      return stopFor;
    }),
  ]);
  // Counted from the signal, also when it comes during start-up.
  void stop.then(() => setTimeout(() => process.exit(0), STOP_DEADLINE_MS).unref());
  // A warm standby waits here, its modules loaded, until the supervisor needs it.
  await Promise.race([supervisor.loaded(), stop]);
  if (stopFor !== undefined) return 0;
  let site: RunningSite;
  try {
    site = await runSite(folder, { services, ...idleTimeout(process.env) });
  } catch (error) {
    // Asked to stop while starting: a start cut short by the stop is no failure.
    if (stopFor !== undefined) return 0;
    process.stderr.write(`kskup site: cannot start the site in ${path}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  if (stopFor === undefined) {
    supervisor.ready();
    signals.onHangup(() => site.stateChanged('SIGHUP'));
  }
  await stop;
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
