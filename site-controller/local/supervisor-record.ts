// What the supervisor of a local site (supervisor.ts) records in the site
// folder's supervisor.json, for `kskup status` and the test helpers, and the
// pure rules it follows: the restart backoff and how an exit is described.
// Node built-ins only: the supervisor loads this.
import { readFile } from 'node:fs/promises';

/**
 * The restart backoff: the first restart after BACKOFF_INITIAL_MS, each
 * further one after twice the wait before, at most BACKOFF_MAX_MS; once the
 * site process has run HEALTHY_AFTER_MS after coming up, the next failure is
 * a first one again. The shape of Kubernetes' CrashLoopBackOff (10 s doubling
 * to 5 min, reset after 10 min running), scaled down: a local site should be
 * back within 2 s of one crash (100 ms plus the standby's start, a few hundred ms), and a site
 * that fails at every start tries once a few seconds at most, not in a loop.
 */
export const BACKOFF_INITIAL_MS = 100;
export const BACKOFF_MAX_MS = 10_000;
export const HEALTHY_AFTER_MS = 10_000;

/** The wait before the restart after one that waited `previousMs` (undefined: none yet). */
export function nextBackoff(previousMs: number | undefined): number {
  return previousMs === undefined ? BACKOFF_INITIAL_MS : Math.min(previousMs * 2, BACKOFF_MAX_MS);
}

/** One exit of the site process that the supervisor did not ask for. */
export interface SiteExit {
  readonly pid: number;
  /** Exit code, or null when a signal ended it. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** ISO 8601. */
  readonly at: string;
  /** How long it ran, in ms. */
  readonly ranMs: number;
  /** The wait before the restart that followed, in ms (absent: not restarted, as after a failed first start). */
  readonly restartAfterMs?: number;
  /** The last error line it wrote to the site log, if any (at most ERROR_LINE_MAX characters). */
  readonly error?: string;
}

export type SitePartState =
  /** Spawned, not yet up (router, claims endpoint, controller). */
  | 'starting'
  | 'running'
  /** Exited; the next start is at `nextStartAt`. */
  | 'waiting'
  | 'stopping'
  | 'stopped';

export interface SupervisorRecord {
  readonly supervisor: { readonly pid: number; readonly startedAt: string };
  readonly site: {
    readonly state: SitePartState;
    /** The site process's pid while it is starting, running or stopping. */
    readonly pid?: number;
    /** When it entered this state (ISO 8601). */
    readonly since: string;
    readonly nextStartAt?: string;
  };
  /** Restarts after an exit nobody asked for, since this supervisor started. */
  readonly restarts: number;
  readonly lastExit?: SiteExit;
  /** The last RECENT_EXITS exits, oldest first (lastExit is the last of them). */
  readonly exits: readonly SiteExit[];
}

export const RECENT_EXITS = 20;
export const ERROR_LINE_MAX = 300;

/** The record, or undefined when there is none or it cannot be read (a site made before supervision). */
export async function readSupervisorRecord(file: string): Promise<SupervisorRecord | undefined> {
  try {
    const record = JSON.parse(await readFile(file, 'utf8')) as SupervisorRecord;
    return typeof record?.supervisor?.pid === 'number' && typeof record.site?.state === 'string' ? record : undefined;
  } catch {
    return undefined;
  }
}

/** `exit code 1`, `killed by SIGKILL`. */
export function exitReason(exit: Pick<SiteExit, 'code' | 'signal'>): string {
  return exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
}

/** The first line of an error as Node prints it uncaught (`ConnectionError: max idle time exceeded`). */
const THROWN = /^(?:[A-Za-z_$][\w$]*)?(?:Error|Exception)\b[^:]*:\s/;
/** What the site process writes when it cannot start or stop (site-main.ts). */
const SITE_MESSAGE = /^kskup site: /;

/**
 * The last line that says what went wrong in `text` (the site log written
 * since the process started): an uncaught error's message, a `kskup site:`
 * message, or the `msg` of a JSON log line at level error or fatal. Lines of
 * the supervisor's own (module SUPERVISOR) do not count.
 */
export function lastErrorLine(text: string): string | undefined {
  let found: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (line.startsWith('{')) {
      try {
        const entry = JSON.parse(line) as { level?: unknown; msg?: unknown; module?: unknown };
        if ((entry.level === 'error' || entry.level === 'fatal') && entry.module !== SUPERVISOR_MODULE && typeof entry.msg === 'string') found = entry.msg;
      } catch {
        // Not JSON after all: a line like any other.
      }
      continue;
    }
    if (THROWN.test(line) || SITE_MESSAGE.test(line)) found = line;
  }
  return found === undefined ? undefined : found.length > ERROR_LINE_MAX ? `${found.slice(0, ERROR_LINE_MAX - 1)}…` : found;
}

/** The `module` of the supervisor's log lines (the router's modules are ROUTER, SERVER, ...; the site's SITE). */
export const SUPERVISOR_MODULE = 'SUPERVISOR';
