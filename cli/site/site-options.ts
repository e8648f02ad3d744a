// The options every site command shares (--platform, -n, --context,
// --kubeconfig, -o, --debug), and turning them into the site they mean. They
// are added to each site command rather than to the program, because `router
// stat` gives -n and -o other meanings, as skstat does.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { SiteFolder } from '../../site-controller/local/site-folder.js';
import { nameProblem, type PlatformName } from '../../site-controller/site/model.js';
import type { CommandContext } from '../command-context.js';
import { RuntimeError, UsageError } from '../errors.js';
import { OUTPUT_FORMATS, type OutputFormat } from '../output.js';

export interface SiteOptions {
  readonly platform?: string;
  readonly namespace: string;
  readonly context?: string;
  readonly kubeconfig?: string;
  readonly output: OutputFormat;
  readonly debug?: true;
}

export const GLOBAL_OPTIONS_HELP = `
Options of every site command:
  --platform kubernetes|local  where the site runs (or KSKUP_PLATFORM; default: kubernetes
                               if a kubeconfig is found, otherwise local)
  -n, --namespace NAME         the site: a Kubernetes namespace, or a local site folder (default "default")
  --context NAME, --kubeconfig FILE   which cluster (kubernetes platform)
  -o, --output text|json|yaml  output format (default text)
  --debug                      show stack traces of errors`;

export function addSiteOptions(command: Command): Command {
  return command
    .addOption(new Option('--platform <platform>', 'kubernetes or local (or KSKUP_PLATFORM; default: kubernetes if a kubeconfig is found, else local)'))
    .addOption(new Option('-n, --namespace <name>', 'the site: a Kubernetes namespace or a local site folder').default('default').argParser(parseNamespace))
    .addOption(new Option('--context <name>', 'kubeconfig context (kubernetes platform)'))
    .addOption(new Option('--kubeconfig <file>', 'kubeconfig file (kubernetes platform)'))
    .addOption(new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('text'))
    .option('--debug', 'show stack traces of errors');
}

function parseNamespace(value: string): string {
  const problem = nameProblem(value);
  if (problem) throw new InvalidArgumentError(problem.replace(/^"[^"]*" is not a valid name: /, 'not a valid name: '));
  return value;
}

export interface ResolvedSite {
  readonly platform: PlatformName;
  /** Why this platform, when it was not asked for: shown so that nobody wonders where the site went. */
  readonly detected?: string;
  readonly namespace: string;
  readonly folder: SiteFolder;
}

/** Picks the platform and the site; sets context.debug first so that even these errors honour --debug. */
export function resolveSite(options: SiteOptions, context: CommandContext): ResolvedSite {
  context.debug = options.debug === true;
  const env = context.io.env ?? process.env;
  const { platform, detected } = choosePlatform(options, env);
  if (platform === 'kubernetes') {
    throw new RuntimeError(
      `the kubernetes platform is not available in this version yet${detected ? ` (chosen because ${detected})` : ''}; use --platform local or set KSKUP_PLATFORM=local`,
    );
  }
  if (options.context !== undefined || options.kubeconfig !== undefined) {
    throw new UsageError(`option ${options.context !== undefined ? '--context' : '--kubeconfig'} applies to the kubernetes platform only, and the platform is local`);
  }
  return { platform, ...(detected && { detected }), namespace: options.namespace, folder: SiteFolder.of(env, options.namespace) };
}

function choosePlatform(options: SiteOptions, env: Readonly<Record<string, string | undefined>>): { platform: PlatformName; detected?: string } {
  const asked = options.platform ?? env.KSKUP_PLATFORM;
  if (asked !== undefined) {
    if (asked === 'kubernetes' || asked === 'local') return { platform: asked };
    const source = options.platform !== undefined ? 'option --platform' : 'KSKUP_PLATFORM';
    throw new UsageError(`${source} must be kubernetes or local, not "${asked}"`);
  }
  const kubeconfig = findKubeconfig(options, env);
  return kubeconfig ? { platform: 'kubernetes', detected: `a kubeconfig was found at ${kubeconfig}` } : { platform: 'local', detected: 'no kubeconfig was found' };
}

function findKubeconfig(options: SiteOptions, env: Readonly<Record<string, string | undefined>>): string | undefined {
  const candidates = options.kubeconfig !== undefined ? [options.kubeconfig] : env.KUBECONFIG ? env.KUBECONFIG.split(delimiter) : [join(env.HOME ?? homedir(), '.kube', 'config')];
  return candidates.find((file) => file !== '' && existsSync(file));
}
