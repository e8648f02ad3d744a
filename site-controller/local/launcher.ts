// Starts, finds and stops the background process of a local site: its
// supervisor (supervisor.ts), which runs the site process as its child and
// restarts it. The supervisor is detached with its output (and the site
// process's) in the site's log file; it writes the pid file, holding its own
// pid, when the site is first up, which is what `start` waits for. A pid file
// whose process is gone, or is some other program that got the pid, counts as
// not running.
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { SiteError } from '../site/errors.js';
import type { SiteFolder } from './site-folder.js';
import { readSupervisorRecord, type SupervisorRecord } from './supervisor-record.js';

const START_TIMEOUT_MS = 20_000;
/** Past the supervisor's own SIGKILL of a site process that does not stop (4 s, supervisor.ts). */
const STOP_TIMEOUT_MS = 6_000;
const POLL_MS = 50;

/**
 * The compiled entry point (cli/site-supervisor-main.ts, which runs
 * cli/site-process-main.ts: it composes the site with its services); under a
 * TypeScript runner (tests) this file is source, so use the build.
 */
function entryPoint(): string {
  const here = import.meta.url;
  if (here.endsWith('.js')) return fileURLToPath(new URL('../../cli/site-supervisor-main.js', here));
  const built = fileURLToPath(new URL('../../dist/cli/site-supervisor-main.js', here));
  if (!existsSync(built)) throw new SiteError(`the site process is not built (${built} is missing): run npm run build`);
  return built;
}

/**
 * `pid` is the supervisor's (the pid file's). `supervision`: what the
 * supervisor last recorded (the site process's pid and state, restarts, the
 * last exit), also after it ended; absent for a site that never ran supervised.
 */
export type ProcessState = ({ readonly running: true; readonly pid: number } | { readonly running: false; readonly pid?: number }) & { readonly supervision?: SupervisorRecord };

export async function siteProcessState(folder: SiteFolder): Promise<ProcessState> {
  const [pid, supervision] = await Promise.all([readPid(folder.pidFile), readSupervisorRecord(folder.supervisorFile)]);
  const recorded = supervision && { supervision };
  if (pid === undefined) return { running: false, ...recorded };
  return isOurs(pid, folder) ? { running: true, pid, ...recorded } : { running: false, pid, ...recorded };
}

/** `env` is the environment the process gets (the CLI's own, so KSKUP_SYNC_* settings reach it). */
export async function startSiteProcess(folder: SiteFolder, env: NodeJS.ProcessEnv, onWaiting?: () => void): Promise<number> {
  const log = await open(folder.logFile, 'a', 0o600);
  const child = spawn(process.execPath, [entryPoint(), folder.path], {
    detached: true,
    stdio: ['ignore', log.fd, log.fd],
    env: { ...env, KSKUP_SITE_FOLDER: folder.path },
  });
  await log.close();
  let exited: number | null | undefined;
  let failed: Error | undefined;
  child.once('exit', (code) => (exited = code));
  // Without a listener, a spawn that fails (no node at execPath, EAGAIN) would end the CLI with an unhandled 'error' event.
  child.once('error', (error) => (failed = error));
  child.unref();
  onWaiting?.();
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.pid !== undefined && (await readPid(folder.pidFile)) === child.pid) return child.pid;
    if (failed) throw new SiteError(`the site process could not be started: ${failed.message}`);
    if (exited !== undefined) throw new SiteError(`the site process exited at start (code ${exited}):\n${await logTail(folder)}`);
    await sleep(POLL_MS);
  }
  // The supervisor and the site process it may have started: the supervisor leads their process group.
  if (child.pid !== undefined) signal(-child.pid, 'SIGKILL');
  throw new SiteError(`the site process did not come up within ${START_TIMEOUT_MS / 1000}s:\n${await logTail(folder)}`);
}

/**
 * Stops the site if it runs: SIGTERM to the supervisor, which stops the site
 * process and ends; after STOP_TIMEOUT_MS, SIGKILL to both (the supervisor
 * leads their process group). A site process whose supervisor is already gone
 * (it stops by itself then) is stopped too, so that a delete never removes
 * the folder under it. True if there was anything to stop.
 */
export async function stopSiteProcess(folder: SiteFolder): Promise<boolean> {
  const state = await siteProcessState(folder);
  const sitePid = state.supervision?.site.pid;
  const orphan = sitePid !== undefined && isOurs(sitePid, folder) ? sitePid : undefined;
  if (!state.running && orphan === undefined) return false;
  const pids = [...(state.running ? [state.pid] : []), ...(orphan !== undefined ? [orphan] : [])];
  for (const pid of pids) signal(pid, 'SIGTERM');
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (!pids.some(alive)) return true;
    await sleep(POLL_MS);
  }
  if (state.running) signal(-state.pid, 'SIGKILL');
  for (const pid of pids) signal(pid, 'SIGKILL');
  return true;
}

/** The last lines of the site's log, for errors that need them. */
export async function logTail(folder: SiteFolder, lines = 8): Promise<string> {
  const text = await readFile(folder.logFile, 'utf8').catch(() => '');
  return text
    .trimEnd()
    .split('\n')
    .slice(-lines)
    .map((line) => `  ${line}`)
    .join('\n');
}

async function readPid(file: string): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Alive, and (where /proc tells) running this site's folder: pids are reused. */
function isOurs(pid: number, folder: SiteFolder): boolean {
  if (!alive(pid)) return false;
  const commandLine = procCommandLine(pid);
  return commandLine === undefined || commandLine.includes(folder.path);
}

/** undefined where there is no procfs. Synchronous: a tiny read, off any hot path. */
function procCommandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return undefined;
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

