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
The options above are those of every site command, and may come before or
after the command: kskup -n west init, or kskup init -n west. --platform (or
KSKUP_PLATFORM) defaults to kubernetes if a kubeconfig is found, otherwise local.
Before "router stat", -n names the site whose router to ask (its --site).`;

export function addSiteOptions(command: Command): Command {
  return command
    .addOption(new Option('--platform <platform>', 'kubernetes or local (or KSKUP_PLATFORM; default: kubernetes if a kubeconfig is found, else local)'))
    .addOption(new Option('-n, --namespace <name>', 'the site: a Kubernetes namespace or a local site folder').default('default').argParser(parseNamespace))
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
      const target = isSiteCommand || key === 'output' || key === 'debug' ? key : key === 'namespace' ? 'site' : undefined;
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
