// `kskup link create|delete|status`: links from this site to others.
import { setTimeout as sleep } from 'node:timers/promises';
import { readFile } from 'node:fs/promises';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { MAX_COST } from '../../router/config/index.js';
import { nameProblem } from '../../site-controller/site/model.js';
import { parsePositiveInteger, parseSeconds } from '../arguments.js';
import type { CommandContext } from '../command-context.js';
import { fileProblem, RuntimeError, UsageError } from '../errors.js';
import { render } from '../output.js';
import { startProgress } from '../progress.js';
import { addSiteOptions, resolveSite, type SiteOptions } from './site-options.js';
import type { LinkStatus, SiteStatus } from './site-status.js';
import { linksData, linksText } from './status-text.js';

interface CreateOptions extends SiteOptions {
  readonly name?: string;
  readonly cost: number;
}

interface StatusOptions extends SiteOptions {
  readonly wait?: number;
}

const POLL_MS = 200;

/** A link's cost is its connector's, which skupper-router bounds to 2147483647 (MAX_COST). */
function parseCost(value: string): number {
  const cost = parsePositiveInteger(value);
  if (cost > MAX_COST) throw new InvalidArgumentError(`at most ${MAX_COST}, skupper-router's largest cost.`);
  return cost;
}

export function addLinkCommands(program: Command, context: CommandContext): void {
  const link = program.command('link').description('link this site to other sites with their tokens');
  addSiteOptions(
    link
      .command('create')
      .description('link to the site that issued a token (redeems a claim); the router picks it up without a restart')
      .argument('<file>', 'a token file from kskup token create at the other site')
      .addOption(new Option('--name <name>', "the link's name (default: the other site's name)"))
      .addOption(new Option('--cost <n>', 'routing cost of the link: flows prefer cheaper paths').argParser(parseCost).default(1))
      .addHelpText('after', '\nExamples:\n  kskup link create west.token -n east\n  kskup link create west.token -n east --name to-west --cost 5'),
  ).action(async (file: string, options: CreateOptions) => {
    const target = await resolveSite(options, context);
    if (options.name !== undefined && nameProblem(options.name)) throw new UsageError(`option --name: ${nameProblem(options.name)}`);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new RuntimeError(`cannot read token file ${file}: ${fileProblem(error)}`);
    }
    const { tokenFromYaml } = await import('../../site-controller/token/token-secret.js');
    const token = tokenFromYaml(text, file);
    const progress = await startProgress(context.io, options.output !== 'text');
    progress.step(token.type === 'claim' ? `redeeming claim "${token.name}" at site "${token.siteName}"` : `linking to site "${token.siteName}"`);
    let made;
    try {
      const { createLink } = await import('../../site-controller/site/links.js');
      made = await createLink(target.storage, token, { cost: options.cost, ...(options.name !== undefined && { name: options.name }) });
      progress.done(true);
    } catch (error) {
      progress.done(false);
      throw error;
    }
    const data = { link: made.name, remoteSite: made.remoteSiteName, endpoint: `${made.host}:${made.port}`, cost: made.cost, role: made.role };
    context.io.stdout.write(
      await render(options.output, data, () => `Link "${made.name}" to site "${made.remoteSiteName}" (${data.endpoint}, cost ${made.cost}) created.\nCheck it with: kskup link status ${made.name} -n ${target.namespace} --wait 10\n`),
    );
  });

  addSiteOptions(
    link.command('delete').description('remove a link; its connection closes').argument('<name>', 'the link name').addHelpText('after', '\nExample:\n  kskup link delete west -n east'),
  ).action(async (name: string, options: SiteOptions) => {
    const target = await resolveSite(options, context);
    const { deleteLink } = await import('../../site-controller/site/links.js');
    const removed = await deleteLink(target.storage, name);
    context.io.stdout.write(await render(options.output, { deleted: removed.name, remoteSite: removed.remoteSiteName }, () => `Link "${removed.name}" to site "${removed.remoteSiteName}" deleted.\n`));
  });

  addSiteOptions(
    link
      .command('status')
      .description('show links to other sites (connected or why not) and links from them')
      .argument('[name]', 'only this link')
      .addOption(new Option('--wait <seconds>', 'wait up to this long for the link(s) to connect; exit 1 if they do not').argParser(parseSeconds))
      .addHelpText('after', '\nExamples:\n  kskup link status -n east\n  kskup link status west -n east --wait 30 -o json'),
  ).action(async (name: string | undefined, options: StatusOptions) => {
    const target = await resolveSite(options, context);
    const pick = (status: SiteStatus) => (name === undefined ? status.links : status.links.filter((l) => l.name === name));
    const { readSiteStatus } = await import('./site-status.js');
    let status = await readSiteStatus(target);
    if (name !== undefined && options.wait === undefined && pick(status).length === 0) {
      const known = status.links.map((l) => l.name);
      throw new RuntimeError(`site "${status.document.site.name}" has no link named "${name}"${known.length ? ` (links: ${known.join(', ')})` : ''}`);
    }
    if (options.wait !== undefined) {
      const progress = await startProgress(context.io, options.output !== 'text');
      progress.step(`waiting up to ${options.wait}s for ${name === undefined ? 'the links' : `link "${name}"`} to connect`);
      const deadline = Date.now() + options.wait * 1000;
      // No link yet counts as not connected: on Kubernetes a token applied with kubectl becomes a link a moment later.
      const connected = (links: readonly LinkStatus[]) => links.length > 0 && links.every((l) => l.connected);
      while (!connected(pick(status)) && Date.now() < deadline) {
        await sleep(POLL_MS);
        status = await readSiteStatus(target);
      }
      progress.done(connected(pick(status)));
    }
    const links = pick(status);
    context.io.stdout.write(await render(options.output, linksData(links, name === undefined ? status.incoming : []), () => linksText(links, name === undefined ? status.incoming : [])));
    if (options.wait !== undefined && links.length === 0) throw new RuntimeError(`site "${status.document.site.name}" has no ${name === undefined ? "links" : `link named "${name}"`} after ${options.wait}s`);
    if (options.wait !== undefined && !links.every((l) => l.connected)) {
      throw new RuntimeError(`not connected after ${options.wait}s: ${links.filter((l) => !l.connected).map((l) => `${l.name} (${l.reason})`).join(', ')}`);
    }
  });
}
