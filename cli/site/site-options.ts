// The options every site command shares (--platform, -n, --context,
// --kubeconfig, -o, --debug), and turning them into the site they mean. They
// are accepted before and after the subcommand, as kubectl and the Skupper CLI
// accept them (`kskup -n west init` and `kskup init -n west`): the program has
// them too, with positional options so that after `router stat` -n and -o keep
// skstat's meanings, and a preAction hook hands the program's values down.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { SiteFolder } from '../../site-controller/local/site-folder.js';
import type { KubernetesSite } from '../../site-controller/kubernetes/kube-site.js';
import type { NetworkSnapshot } from '../../service-controller/network-snapshot.js';
import type { SiteCertificateStore, SiteStorage } from '../../site-controller/site/storage.js';
import type { TlsBundleStore } from '../../site-controller/site/tls-bundles.js';
import { nameProblem, type PlatformName } from '../../site-controller/site/model.js';
import type { CommandContext } from '../command-context.js';
import { RuntimeError, UsageError } from '../errors.js';
import { OUTPUT_FORMATS, type OutputFormat } from '../output.js';

export interface SiteOptions {
  readonly platform?: string;
  /** Undefined: the kubeconfig context's namespace (kubernetes), else "default". */
  readonly namespace?: string;
  readonly context?: string;
  readonly kubeconfig?: string;
  readonly output: OutputFormat;
  readonly debug?: true;
}

export const GLOBAL_OPTIONS_HELP = `
The options above are those of every site command, and may come before or
after the command: kskup -n west init, or kskup init -n west. --platform (or
KSKUP_PLATFORM) defaults to kubernetes if a kubeconfig is found, otherwise local.
Before "router stat", -n names the site whose router to ask (its --site).`;

export function addSiteOptions(command: Command): Command {
  return command
    .addOption(new Option('--platform <platform>', 'kubernetes or local (or KSKUP_PLATFORM; default: kubernetes if a kubeconfig is found, else local)'))
    .addOption(new Option('-n, --namespace <name>', 'the site: a Kubernetes namespace (default: the context\'s, else "default") or a local site folder (default "default")').argParser(parseNamespace))
    .addOption(new Option('--context <name>', 'kubeconfig context (kubernetes platform)'))
    .addOption(new Option('--kubeconfig <file>', 'kubeconfig file (kubernetes platform)'))
    .addOption(new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('text'))
    .option('--debug', 'show stack traces of errors');
}

/** The SiteOptions keys, as commander names them. */
const SITE_OPTION_KEYS = ['platform', 'namespace', 'context', 'kubeconfig', 'output', 'debug'] as const;

/**
 * Makes the site options work before the subcommand: adds them to the program
 * (options before the subcommand are the program's, after it the subcommand's)
 * and, before any action, copies those given to the program into the
 * subcommand where the subcommand was not given its own. `router stat` has
 * its own -n and -o (skstat's); there the program's -n means the site (its
 * --site) and the program's -o the format.
 */
export function acceptSiteOptionsFirst(program: Command): void {
  addSiteOptions(program.enablePositionalOptions());
  program.hook('preAction', (_program, action) => {
    const given = SITE_OPTION_KEYS.filter((key) => isGiven(program, key));
    if (given.length === 0) return;
    const isSiteCommand = action.options.some((option) => option.attributeName() === 'namespace');
    for (const key of given) {
      // `router stat` takes --platform, --kubeconfig and --context for its --site too.
      const hasOwn = action.options.some((option) => option.attributeName() === key);
      const target = isSiteCommand || key === 'output' || key === 'debug' ? key : key === 'namespace' ? 'site' : hasOwn ? key : undefined;
      if (target === undefined) {
        throw new UsageError(`option --${key} applies to site commands, not to "${action.name()}"`);
      }
      if (isGiven(action, target)) continue;
      const value: unknown = program.getOptionValue(key);
      const choices = action.options.find((option) => option.attributeName() === target)?.argChoices;
      if (choices && !choices.includes(String(value))) {
        throw new UsageError(`option --${key}: "${String(value)}" is not one of ${choices.join(', ')} for "${action.name()}"`);
      }
      action.setOptionValueWithSource(target, value, 'cli');
    }
  });
}

function isGiven(command: Command, key: string): boolean {
  const source = command.getOptionValueSource(key);
  return source !== undefined && source !== 'default';
}

function parseNamespace(value: string): string {
  const problem = nameProblem(value);
  if (problem) throw new InvalidArgumentError(problem.replace(/^"[^"]*" is not a valid name: /, 'not a valid name: '));
  return value;
}

interface SiteTargetCommon {
  /** Why this platform, when it was not asked for: shown so that nobody wonders where the site went. */
  readonly detected?: string;
  readonly namespace: string;
  /** The site's state: the one thing tokens, links and services change. */
  readonly storage: SiteStorage;
  /** The site's own certificates (files in its folder, or Secrets in its namespace), with its state: the same storage. */
  readonly certificates: SiteStorage & SiteCertificateStore;
  /** The TLS bundles of services kept at this site: files in its folder, or Secrets in its namespace. */
  readonly tlsBundles: TlsBundleStore;
  /** What the site's controller last recorded of the network; undefined before it first did. */
  readSnapshot(): Promise<NetworkSnapshot | undefined>;
}

export interface LocalTarget extends SiteTargetCommon {
  readonly platform: 'local';
  readonly folder: SiteFolder;
}

export interface KubernetesTarget extends SiteTargetCommon {
  readonly platform: 'kubernetes';
  readonly site: KubernetesSite;
}

export type ResolvedSite = LocalTarget | KubernetesTarget;

/**
 * Picks the platform and the site; sets context.debug first so that even these
 * errors honour --debug. The Kubernetes modules load only for that platform:
 * client-node is the heaviest dependency.
 */
export async function resolveSite(options: SiteOptions, context: CommandContext): Promise<ResolvedSite> {
  context.debug = options.debug === true;
  const env = context.io.env ?? process.env;
  const { platform, detected } = choosePlatform(options, env);
  const chosen = detected ? { detected } : {};
  if (platform === 'kubernetes') {
    const [{ kubernetesAccess }, { KubernetesSite }] = await Promise.all([
      import('../../site-controller/kubernetes/kube-access.js'),
      import('../../site-controller/kubernetes/kube-site.js'),
    ]);
    let access;
    try {
      access = kubernetesAccess({ ...(options.kubeconfig !== undefined && { kubeconfig: options.kubeconfig }), ...(options.context !== undefined && { context: options.context }), ...(options.namespace !== undefined && { namespace: options.namespace }) }, env);
    } catch (error) {
      // Nobody asked for this platform: say why it was picked, and how to pick the other.
      if (detected && error instanceof Error) throw new RuntimeError(`${error.message} (the kubernetes platform was chosen because ${detected}; use --platform local for a local site)`, { cause: error });
      throw error;
    }
    const site = new KubernetesSite(access);
    const storage = await site.storage();
    return { platform, ...chosen, namespace: access.namespace, site, storage, certificates: storage, tlsBundles: storage, readSnapshot: () => site.readSnapshot<NetworkSnapshot>() };
  }
  if (options.context !== undefined || options.kubeconfig !== undefined) {
    throw new UsageError(`option ${options.context !== undefined ? '--context' : '--kubeconfig'} applies to the kubernetes platform only, and the platform is local`);
  }
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  const folder = SiteFolder.of(env, namespace);
  return { platform, ...chosen, namespace, folder, storage: folder, certificates: folder, tlsBundles: folder, readSnapshot: async () => (await import('../../site-controller/local/network-snapshot.js')).readNetworkSnapshot<NetworkSnapshot>(folder) };
}

/** For commands that only the local platform has yet: a clear refusal on the other. */
export function requireLocal(target: ResolvedSite, what: string): LocalTarget {
  if (target.platform !== 'local') throw new RuntimeError(`${what} is not available for kubernetes sites in this version; use --platform local for a local site`);
  return target;
}

const DEFAULT_NAMESPACE = 'default';

function choosePlatform(options: SiteOptions, env: Readonly<Record<string, string | undefined>>): { platform: PlatformName; detected?: string } {
  const asked = options.platform ?? env.KSKUP_PLATFORM;
  if (asked !== undefined) {
    if (asked === 'kubernetes' || asked === 'local') return { platform: asked };
    const source = options.platform !== undefined ? 'option --platform' : 'KSKUP_PLATFORM';
    throw new UsageError(`${source} must be kubernetes or local, not "${asked}"`);
  }
  const kubeconfig = findKubeconfig(options.kubeconfig, env);
  if (kubeconfig) return { platform: 'kubernetes', detected: `a kubeconfig was found at ${kubeconfig}` };
  if (env.KUBERNETES_SERVICE_HOST) return { platform: 'kubernetes', detected: 'running in a pod (KUBERNETES_SERVICE_HOST is set)' };
  return { platform: 'local', detected: 'no kubeconfig was found' };
}

/** The kubeconfig file kubectl would read: --kubeconfig, else the first of $KUBECONFIG that exists, else ~/.kube/config. */
function findKubeconfig(kubeconfig: string | undefined, env: Readonly<Record<string, string | undefined>>): string | undefined {
  const candidates = kubeconfig !== undefined ? [kubeconfig] : env.KUBECONFIG ? env.KUBECONFIG.split(delimiter) : [join(env.HOME ?? homedir(), '.kube', 'config')];
  return candidates.find((file) => file !== '' && existsSync(file));
}
