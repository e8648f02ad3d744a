// Runs `kskup` commands in-process against a temporary KSKUP_HOME, and makes
// sure no site process outlives the test file: every site folder's process is
// stopped afterwards, whatever the tests did. Every site's log is checked for
// crash traces; a supervisor that is gone with its pid file still there (it
// did not stop itself), and a site process its supervisor recorded as killed
// by a signal, fail the test unless the test sent that signal (kill()).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { siteProcessState, stopSiteProcess } from '../../site-controller/local/launcher.js';
import { SiteFolder } from '../../site-controller/local/site-folder.js';
import { run } from '../../cli/run.js';
import { watchDiscovered } from './crash-watch.js';
import { useTestFolder } from './temp-dir.js';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export type SitePart = 'site' | 'supervisor' | 'all';

export interface KskupHome {
  readonly path: string;
  readonly env: Record<string, string>;
  kskup(...argv: string[]): Promise<CliResult>;
  /** Runs and expects exit 0; the error shows what it printed. */
  ok(...argv: string[]): Promise<CliResult>;
  /** Parses `-o json` output of a command that must succeed. */
  json<T = Record<string, unknown>>(...argv: string[]): Promise<T>;
  folder(namespace: string): SiteFolder;
  /**
   * Sends `signal` on purpose, so that a death by it is not a crash, to a part
   * of the site: 'site' the site process (router, claims endpoint,
   * controller; its supervisor restarts it), 'supervisor', or 'all' (both, as
   * a power cut would). Returns the pid it was sent to.
   */
  kill(namespace: string, signal: NodeJS.Signals, part?: SitePart): Promise<number>;
}

/** `extraEnv` reaches the commands and the site processes they start (e.g. KSKUP_SYNC_TTL_MS). */
export function useKskupHome(prefix: string, extraEnv: Record<string, string> = {}): KskupHome {
  const temp = useTestFolder(prefix);
  const env = () => ({ KSKUP_HOME: join(temp.path, 'home'), KSKUP_PLATFORM: 'local', HOME: temp.path, PATH: process.env.PATH ?? '', ...extraEnv });
  const kskup = async (...argv: string[]): Promise<CliResult> => {
    let stdout = '';
    let stderr = '';
    const code = await run(argv, { stdout: { write: (text: string) => (stdout += text) }, stderr: { write: (text: string) => (stderr += text) }, env: env() });
    return { code, stdout, stderr };
  };
  const ok = async (...argv: string[]) => {
    const result = await kskup(...argv);
    if (result.code !== 0) throw new Error(`kskup ${argv.join(' ')} exited ${result.code}:\n${result.stderr}${result.stdout}`);
    return result;
  };
  /** `pid:signal` of every signal a test sent on purpose. */
  const sent = new Set<string>();
  const folderOf = (namespace: string) => new SiteFolder(join(temp.path, 'home', namespace));
  watchDiscovered(async () => {
    const namespaces = temp.path ? await readdir(join(temp.path, 'home')).catch(() => [] as string[]) : [];
    return namespaces.map((namespace) => {
      const folder = folderOf(namespace);
      return [
        `site "${namespace}" (log ${folder.logFile})`,
        {
          output: () => readFile(folder.logFile, 'utf8').catch(() => ''),
          exit: () => undefined,
          death: async () => {
            const state = await siteProcessState(folder);
            // Exits the supervisor restarted after: a signal nobody sent (SIGSEGV, SIGABRT, the OOM killer's SIGKILL) is a crash.
            const struck = state.supervision?.exits.find((exit) => exit.signal !== null && !sent.has(`${exit.pid}:${exit.signal}`));
            if (struck) return `had its site process (pid ${struck.pid}) killed by ${struck.signal}, which the test did not send`;
            const signalledOnPurpose = [...sent].some((key) => key.startsWith(`${state.pid}:`) && !key.endsWith(':SIGSTOP') && !key.endsWith(':SIGCONT'));
            if (state.running || state.pid === undefined || signalledOnPurpose) return undefined;
            return `is gone (supervisor pid ${state.pid}) without having stopped: its pid file is still there`;
          },
        },
      ] as const;
    });
  });
  afterAll(async () => {
    const home = join(temp.path, 'home');
    const namespaces = await readdir(home).catch(() => [] as string[]);
    await Promise.all(namespaces.map((namespace) => stopSiteProcess(new SiteFolder(join(home, namespace)))));
  });
  return {
    get path() {
      return temp.path;
    },
    get env() {
      return env();
    },
    kskup,
    ok,
    async json<T>(...argv: string[]) {
      return JSON.parse((await ok(...argv, '-o', 'json')).stdout) as T;
    },
    folder: folderOf,
    async kill(namespace, signal, part = 'site') {
      const state = await siteProcessState(folderOf(namespace));
      if (!state.running) throw new Error(`kill: the site "${namespace}" is not running`);
      const sitePid = state.supervision?.site.pid;
      if (part !== 'supervisor' && sitePid === undefined) throw new Error(`kill: the site process of "${namespace}" is not running (${state.supervision?.site.state ?? 'no record'})`);
      // Both pids for 'all': the process group's signal reaches each.
      const pids = part === 'site' ? [sitePid!] : part === 'supervisor' ? [state.pid] : [state.pid, sitePid!];
      for (const pid of pids) sent.add(`${pid}:${signal}`);
      const target = part === 'site' ? sitePid! : part === 'supervisor' ? state.pid : -state.pid;
      process.kill(target, signal);
      return Math.abs(target);
    },
  };
}
