// Everything `kskup debug dump` puts in the archive, in the order a reader
// wants it: the site's state first (it needs nothing running), then what runs
// it, its logs, and only then its router, which may not answer.
import { existsSync } from 'node:fs';
import type { ResolvedSite } from '../site/site-options.js';
import { DumpContents } from './dump-contents.js';
import type { LogLimits } from './local-parts.js';
import { addCertificates, addNetworkView, addPolicy, addSiteState, baseVersions } from './site-parts.js';

export interface DumpOptions {
  readonly logs: LogLimits;
  /** Each management request (and the connection to the router) gives up after this, in ms. */
  readonly timeoutMs: number;
  readonly now: Date;
}

export interface GatheredDump {
  readonly contents: DumpContents;
  /** The site's name as its state says, else the namespace. */
  readonly siteName: string;
  /** Whether the site has a policy (policy.yaml); 'unknown' when its state could not be read. */
  readonly policy: 'set' | 'none' | 'unknown';
}

export async function gatherDump(target: ResolvedSite, options: DumpOptions): Promise<GatheredDump> {
  const dump = new DumpContents();
  const document = await addSiteState(dump, target);
  const policy = document === undefined ? 'unknown' : addPolicy(dump, document) ? 'set' : 'none';
  if (document) await addCertificates(dump, target, document);
  await addNetworkView(dump, target);
  let versions: Record<string, unknown>;
  if (target.platform === 'local') {
    const { addLocalParts } = await import('./local-parts.js');
    // No folder, no site: nothing of it to gather (the state's problem says so), and no process or log to look for.
    if (!existsSync(target.folder.path)) return { contents: dump, siteName: target.namespace, policy };
    versions = await addLocalParts(dump, target, document, options.logs, options.timeoutMs);
  } else {
    const { addKubernetesParts, addSettings } = await import('./kubernetes-parts.js');
    // Neither settings nor state: no site in this namespace, and nothing of one to gather.
    if (!(await addSettings(dump, target)) && document === undefined) return { contents: dump, siteName: target.namespace, policy };
    versions = await addKubernetesParts(dump, target, options.logs, options.timeoutMs);
  }
  dump.addJson('versions.json', { ...baseVersions(), ...versions }, 'versions: kskup, Node.js, rhea, the router, the platform (and the Kubernetes server and images of a cluster site)');
  return { contents: dump, siteName: document?.site.name ?? target.namespace, policy };
}

/** README.txt: what is in the archive, what was left out and why, what could not be gathered. */
export function readmeText(gathered: GatheredDump, target: ResolvedSite, now: Date, scrubbed: number): string {
  const { contents } = gathered;
  const files = [...contents.described.entries()].sort(([a], [b]) => a.localeCompare(b));
  const width = Math.max(...files.map(([path]) => path.length), 'README.txt'.length);
  const line = (path: string, what: string) => `  ${path.padEnd(width)}  ${what}`;
  return [
    `kskup debug dump of site "${gathered.siteName}" (namespace "${target.namespace}", ${target.platform} platform), made ${now.toISOString()}`,
    '',
    'What is inside:',
    line('README.txt', 'this file'),
    ...files.map(([path, what]) => line(path, what)),
    '',
    'What was left out or redacted:',
    '  - never copied into the dump: private keys (the site CA, the server, the local listener, links, TLS bundles), token files and their passwords, Secrets',
    `  - every file: PEM private key blocks replaced by <redacted private key> (${scrubbed === 0 ? 'none was found' : `${scrubbed} found`})`,
    '  - router config, management answers, the network view and JSON log lines: the value of every field whose name suggests a secret (password, secret, token, key, credential, hash...) replaced by <redacted>; file names are kept',
    ...contents.redactions.map((redaction) => `  - ${redaction}`),
    '',
    'What could not be gathered:',
    ...(contents.problems.length === 0 ? ['  nothing: every part is here'] : contents.problems.map((problem) => `  - ${problem}`)),
    '',
    POLICY_LINES[gathered.policy],
    '',
  ].join('\n');
}

const POLICY_LINES: Readonly<Record<GatheredDump['policy'], string>> = {
  set: "Policy: policy.yaml is the site's policy (docs/policy.md); `kskup policy check policy.yaml -n SITE` tries it on another site without changing anything.",
  none: 'Policy: no policy set (everything is allowed).',
  unknown: 'Policy: not known: the site state could not be read.',
};
