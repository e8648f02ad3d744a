// The parts of a dump only a local site has: its router.json, what runs it
// (the supervisor's record), its log split by part, and its router reached on
// the site's local AMQP port.
import { open, readFile } from 'node:fs/promises';
import { siteProcessState } from '../../site-controller/local/launcher.js';
import { SUPERVISOR_MODULE } from '../../site-controller/local/supervisor-record.js';
import type { SiteDocument } from '../../site-controller/site/model.js';
import type { LocalTarget } from '../site/site-options.js';
import { localRouterTarget } from '../site/site-status.js';
import type { DumpContents } from './dump-contents.js';
import { redactLogLines, redactSecretFields } from './redact.js';
import { addManagement, baseVersions } from './site-parts.js';

export interface LogLimits {
  /** The last this many lines of each part's log. */
  readonly lines: number;
  /** At most this many bytes read from the end of a log file, or asked of the API per container. */
  readonly bytes: number;
}

/**
 * The log modules of the router (router/log/logger.ts; in a local site it runs
 * in the site process, and logs to the same file). Lines of SUPERVISOR_MODULE
 * are the supervisor's; everything else, JSON or not (a trace on stderr, a
 * `kskup site:` line), is the site process's own.
 */
const ROUTER_MODULES = new Set(['ROUTER', 'ROUTER_HELLO', 'SERVER', 'MESSAGING', 'TCP_ADAPTOR', 'AGENT', 'HTTP', 'DEFAULT']);

export type LocalLogPart = 'site' | 'supervisor' | 'router';

/** Splits the site log's lines into its parts, in order. */
export function splitSiteLog(text: string): Record<LocalLogPart, string[]> {
  const parts: Record<LocalLogPart, string[]> = { site: [], supervisor: [], router: [] };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let module: unknown;
    if (line.startsWith('{')) {
      try {
        module = (JSON.parse(line) as { module?: unknown }).module;
      } catch {
        // Not JSON after all: the site process's.
      }
    }
    parts[module === SUPERVISOR_MODULE ? 'supervisor' : typeof module === 'string' && ROUTER_MODULES.has(module) ? 'router' : 'site'].push(line);
  }
  return parts;
}

export async function addLocalParts(dump: DumpContents, target: LocalTarget, document: SiteDocument | undefined, limits: LogLimits, timeoutMs: number): Promise<Record<string, unknown>> {
  const { folder } = target;
  const versions: Record<string, unknown> = { ...baseVersions(), platform: 'local' };
  let running = false;
  await dump.part('site process', async () => {
    const state = await siteProcessState(folder);
    running = state.running;
    dump.addJson('process.json', { folder: folder.path, ...state }, 'what runs the site: the supervisor (pid, running), the site process as the supervisor recorded it, restarts, the last exits');
    if (!state.running) dump.problem('site process', `not running${state.pid !== undefined ? ` (supervisor pid ${state.pid} has exited)` : ''}: the router could not be asked (kskup init -n ${target.namespace} starts it again)`);
  });
  await dump.part('router config', async () => {
    const text = await readFile(folder.routerConfigFile, 'utf8');
    let config: unknown;
    try {
      config = JSON.parse(text);
    } catch {
      throw new Error(`${folder.routerConfigFile} is not JSON`);
    }
    const redacted: string[] = [];
    dump.addJson('router-config.json', redactSecretFields(config, redacted), `the router's config as the site process last wrote it (${folder.routerConfigFile}); file names kept, never their contents`);
    if (redacted.length > 0) dump.redactions.push(`router-config.json: values of ${redacted.join(', ')}`);
  });
  await dump.part('logs', async () => {
    const { text, cut } = await readTail(folder.logFile, limits.bytes);
    const parts = splitSiteLog(text);
    let redacted = 0;
    for (const [part, lines] of Object.entries(parts) as [LocalLogPart, string[]][]) {
      const kept = lines.slice(-limits.lines);
      const clean = redactLogLines(kept.join('\n'));
      redacted += clean.redacted;
      const what = { site: "the site process (controller, claims, service sync; anything it wrote that is not a log line, such as an error's trace)", supervisor: 'the supervisor (starts, exits, restarts of the site process)', router: 'the router (in the site process)' }[part];
      const shown = `${kept.length < lines.length || cut ? 'the last' : 'all'} ${kept.length} line(s)`;
      dump.addText(`logs/${part}.log`, clean.text === '' ? '' : `${clean.text}\n`, `${shown} of ${what}, from ${folder.logFile}`);
    }
    if (redacted > 0) dump.redactions.push(`logs/*.log: ${redacted} value(s) of fields named like secrets in JSON log lines`);
  });
  if (running && document) {
    const version = await addManagement(dump, { target: await localRouterTarget(folder, document), where: `the site process's router at 127.0.0.1:${document.site.ports.amqp}` }, timeoutMs);
    versions.router = version ?? 'unknown (the router did not answer)';
  } else {
    dump.addText('management/ERROR.txt', running ? "The site's state could not be read, so its router's port is not known.\n" : 'The site process is not running: there is no router to ask.\n', 'why there are no management answers');
    versions.router = 'unknown (the router is not running)';
  }
  return versions;
}

/** The last `bytes` of a file, from the start of a line; `cut` when there was more. */
async function readTail(file: string, bytes: number): Promise<{ text: string; cut: boolean }> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - bytes);
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    let text = buffer.toString('utf8');
    // A cut line is half a JSON line: drop it.
    if (start > 0) text = text.slice(text.indexOf('\n') + 1);
    return { text, cut: start > 0 };
  } finally {
    await handle.close();
  }
}
