// `kskup policy set|show|check|delete`: a site's policy (docs/policy.md). The
// policy is kept in the site's state (site.json; on Kubernetes the site state
// ConfigMap), so the site's controller applies a change at its next pass:
// links it forbids drop, listeners it forbids go, flows it forbids are refused.
import { readFile } from 'node:fs/promises';
import { type Command } from 'commander';
import { policyBlocks, type KnownNetwork, type PolicyBlock } from '../../site-controller/policy/policy-check.js';
import type { SitePolicy } from '../../site-controller/policy/site-policy.js';
import type { CommandContext } from '../command-context.js';
import { fileProblem, RuntimeError, UsageError } from '../errors.js';
import { render } from '../output.js';
import { formatTable } from '../table.js';
import { addSiteOptions, resolveSite, type ResolvedSite, type SiteOptions } from './site-options.js';

const SET_EXAMPLES = `
Examples:
  kskup policy set policy.yaml -n west
  kskup policy check policy.yaml -n west        what it would block, before setting it

A policy file (YAML or JSON; every list is optional, [] allows nothing):
  apiVersion: kskup.io/v1alpha1
  kind: SitePolicy
  incomingLinks: [east]                 sites (names or ids) that may link in
  outgoingLinks: ["*.example.com"]      hosts this site may link to
  exposedResources: ["deployment/*", "host/db"]
  importedServices: ["web", "db-*"]     services this site gets listeners for
  serviceAccess:                        who may reach a service exposed here
    - service: db
      sites: [east]`;

/** Reads and checks a policy file: a file that is not a valid policy is a usage error (exit 2) naming every bad field. */
async function readPolicyFile(file: string): Promise<SitePolicy> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new RuntimeError(`cannot read policy file ${file}: ${fileProblem(error)}`);
  }
  // Loaded here, with the YAML parser, so that other commands do not load them.
  const { PolicyError, parseSitePolicy } = await import('../../site-controller/policy/site-policy.js');
  try {
    return parseSitePolicy(text, `policy file ${file}`);
  } catch (error) {
    if (error instanceof PolicyError) throw new UsageError(error.message);
    throw error;
  }
}

export function addPolicyCommands(program: Command, context: CommandContext): void {
  const policy = program.command('policy').description("the site's policy: which sites may link in, where it links out, what it exposes and imports, who reaches its services");
  addSiteOptions(
    policy
      .command('set')
      .description('check a policy file and make it the site\'s policy; it applies at once (links it forbids drop, listeners go)')
      .argument('<file>', 'a policy, YAML or JSON')
      .addHelpText('after', SET_EXAMPLES),
  ).action(async (file: string, options: SiteOptions) => {
    const next = await readPolicyFile(file);
    const target = await resolveSite(options, context);
    const document = await target.storage.update((current) => {
      const updated = { ...current, policy: next };
      return { document: updated, result: updated };
    });
    const blocks = policyBlocks(next, document, await knownNetwork(target));
    context.io.stdout.write(
      await render(options.output, { policy: next, blocks }, () => `Policy of site "${document.site.name}" set from ${file}.\n${blocksText(blocks)}`),
    );
  });

  addSiteOptions(policy.command('show').description("show the site's policy")).action(async (options: SiteOptions) => {
    const target = await resolveSite(options, context);
    const document = await target.storage.read();
    const data = { site: document.site.name, policy: document.policy ?? null };
    // The policy as a person writes it: its YAML.
    if (document.policy !== undefined && options.output === 'text') return void context.io.stdout.write((await import('yaml')).stringify(document.policy));
    context.io.stdout.write(
      await render(options.output, data, () => `Site "${document.site.name}" has no policy: everything is allowed.\n`),
    );
  });

  addSiteOptions(
    policy
      .command('check')
      .description('dry run: list what a policy (a file, or the site\'s own) blocks in the network as this site knows it now')
      .argument('[file]', 'a policy file; default: the site\'s policy'),
  ).action(async (file: string | undefined, options: SiteOptions) => {
    const candidate = file === undefined ? undefined : await readPolicyFile(file);
    const target = await resolveSite(options, context);
    const document = await target.storage.read();
    const checked = candidate ?? document.policy;
    const blocks = policyBlocks(checked, document, await knownNetwork(target));
    const source = file ?? 'the site\'s policy';
    context.io.stdout.write(
      await render(options.output, { site: document.site.name, policy: checked ?? null, blocks }, () =>
        checked === undefined ? `Site "${document.site.name}" has no policy: nothing is blocked.\n` : `${source} at site "${document.site.name}":\n${blocksText(blocks)}`,
      ),
    );
  });

  addSiteOptions(policy.command('delete').description('remove the site\'s policy: everything is allowed again')).action(async (options: SiteOptions) => {
    const target = await resolveSite(options, context);
    const name = await target.storage.update((current) => {
      const { policy: _removed, ...rest } = current;
      return { document: rest, result: current.site.name };
    });
    context.io.stdout.write(await render(options.output, { site: name, policy: null }, () => `Policy of site "${name}" removed: everything is allowed.\n`));
  });
}

/** The network as the site's controller last recorded it; undefined before it did (then imports and reach are not checked). */
async function knownNetwork(target: ResolvedSite): Promise<KnownNetwork | undefined> {
  const snapshot = await target.readSnapshot();
  if (snapshot === undefined) return undefined;
  return { sites: snapshot.sites.map(({ announcement }) => announcement.site), services: snapshot.services };
}

function blocksText(blocks: readonly PolicyBlock[]): string {
  if (blocks.length === 0) return 'It blocks nothing in the network as this site knows it.\n';
  return `It blocks:\n${formatTable(['WHAT', 'SUBJECT', 'WHY'], blocks.map((block) => [block.kind, block.subject, block.reason]))}`;
}
