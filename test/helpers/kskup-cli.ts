// Runs `kskup` commands in-process against a temporary KSKUP_HOME, and makes
// sure no site process outlives the test file: every site folder's process is
// stopped afterwards, whatever the tests did. Every site's log is checked for
// crash traces, and a site process that is gone with its pid file still there
// (it did not stop itself) fails the test unless the test killed it (kill()).
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

export interface KskupHome {
  readonly path: string;
  readonly env: Record<string, string>;
  kskup(...argv: string[]): Promise<CliResult>;
  /** Runs and expects exit 0; the error shows what it printed. */
  ok(...argv: string[]): Promise<CliResult>;
  /** Parses `-o json` output of a command that must succeed. */
  json<T = Record<string, unknown>>(...argv: string[]): Promise<T>;
  folder(namespace: string): SiteFolder;
  /** Sends `signal` to the site's process on purpose: a death by it is then not a crash. Returns the pid. */
  kill(namespace: string, signal: NodeJS.Signals): Promise<number>;
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
  const killed = new Set<number>();
  const folderOf = (namespace: string) => new SiteFolder(join(temp.path, 'home', namespace));
  watchDiscovered(async () => {
    const namespaces = temp.path ? await readdir(join(temp.path, 'home')).catch(() => [] as string[]) : [];
    return namespaces.map((namespace) => {
      const folder = folderOf(namespace);
      return [
        `site process of "${namespace}" (log ${folder.logFile})`,
        {
          output: () => readFile(folder.logFile, 'utf8').catch(() => ''),
          exit: () => undefined,
          death: async () => {
            const state = await siteProcessState(folder);
            if (state.running || state.pid === undefined || killed.has(state.pid)) return undefined;
            return `is gone (pid ${state.pid}) without having stopped: its pid file is still there`;
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
    async kill(namespace, signal) {
      const state = await siteProcessState(folderOf(namespace));
      if (!state.running) throw new Error(`kill: the site process of "${namespace}" is not running`);
      // SIGSTOP and SIGCONT end nothing: a death after them is still a crash.
      if (signal !== 'SIGSTOP' && signal !== 'SIGCONT') killed.add(state.pid);
      process.kill(state.pid, signal);
      return state.pid;
    },
  };
}
