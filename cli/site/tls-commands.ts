// `kskup tls import|list|delete`: the TLS bundles of services kept at a site.
// A service exposed with --tls-credentials NAME gets a listener at a site only
// where that site has its own bundle NAME: this is how each site gets one.
// Keys never leave the site they are imported at (service sync carries names).
import { type Command, Option } from 'commander';
import { X509Certificate } from 'node:crypto';
import { nameProblem } from '../../site-controller/site/model.js';
import type { TlsBundle } from '../../site-controller/site/tls-bundles.js';
import type { CommandContext } from '../command-context.js';
import { RuntimeError, UsageError } from '../errors.js';
import { render } from '../output.js';
import { formatTable } from '../table.js';
import { addSiteOptions, resolveSite, type SiteOptions } from './site-options.js';
import { bundleName, readBundleFolder } from './tls-folder.js';

interface ImportOptions extends SiteOptions {
  readonly name?: string;
}

const IMPORT_EXAMPLES = `
Examples:
  kskup tls import ./web-tls -n west                 the bundle "web-tls" at west
  kskup tls import ./certs --name web-tls -n east

The folder holds tls.crt and tls.key (the certificate a service's listeners
serve, and its key) and ca.crt (CA certificates), as a Kubernetes TLS Secret
does. Services exposed with --tls-credentials web-tls listen at this site
once it has the bundle. On Kubernetes the bundle is a Secret of that name.`;

export function addTlsCommands(program: Command, context: CommandContext): void {
  const tls = program.command('tls').description('TLS bundles (certificate, key, CA) of services at this site');
  addSiteOptions(
    tls
      .command('import')
      .description('check a folder of tls.crt, tls.key and ca.crt and keep it at this site as a named bundle')
      .argument('<folder>', 'a folder with tls.crt and tls.key, and/or ca.crt')
      .addOption(new Option('--name <name>', 'the bundle name (default: the folder name)'))
      .addHelpText('after', IMPORT_EXAMPLES),
  ).action(async (folder: string, options: ImportOptions) => {
    const name = bundleName(folder, options.name, '--name');
    const bundle = await readBundleFolder(folder, 'tls import');
    const target = await resolveSite(options, context);
    await target.storage.read();
    const replaced = (await target.tlsBundles.readTlsBundle(name)) !== undefined;
    await target.tlsBundles.writeTlsBundle(name, bundle);
    const data = { name, replaced, ...describe(bundle) };
    const where = target.platform === 'kubernetes' ? `Secret ${name}` : 'this site';
    context.io.stdout.write(
      await render(options.output, data, () => `TLS bundle "${name}" ${replaced ? 'replaced' : 'imported'} (${where}): ${summary(data)}.\n`),
    );
  });

  addSiteOptions(tls.command('list').description('the TLS bundles at this site')).action(async (options: SiteOptions) => {
    const target = await resolveSite(options, context);
    await target.storage.read();
    const names = await target.tlsBundles.listTlsBundles();
    const bundles: ({ name: string } & ReturnType<typeof describe>)[] = [];
    for (const name of names) {
      const bundle = await target.tlsBundles.readTlsBundle(name);
      if (bundle) bundles.push({ name, ...describe(bundle) });
    }
    context.io.stdout.write(
      await render(options.output, { bundles }, () =>
        bundles.length === 0
          ? 'No TLS bundles at this site. Import one with: kskup tls import FOLDER --name NAME\n'
          : formatTable(['NAME', 'CERTIFICATE', 'EXPIRES', 'CA'], bundles.map((b) => [b.name, b.certificate?.subject ?? '-', b.certificate?.notAfter ?? '-', b.ca ? 'yes' : 'no'])),
      ),
    );
  });

  addSiteOptions(tls.command('delete').description('remove a TLS bundle; services that use it stop listening here').argument('<name>', 'the bundle')).action(
    async (name: string, options: SiteOptions) => {
      const problem = nameProblem(name);
      if (problem) throw new UsageError(problem);
      const target = await resolveSite(options, context);
      await target.storage.read();
      if (!(await target.tlsBundles.removeTlsBundle(name))) throw new RuntimeError(`no TLS bundle "${name}" at site "${target.namespace}" (kskup tls list)`);
      context.io.stdout.write(await render(options.output, { name, deleted: true }, () => `TLS bundle "${name}" deleted.\n`));
    },
  );
}

/** What a bundle holds, without its key (node's X509Certificate: it reads EC certificates too, which node-forge does not). */
function describe(bundle: TlsBundle): { certificate?: { subject: string; notAfter: string }; ca: boolean } {
  let certificate: { subject: string; notAfter: string } | undefined;
  try {
    const parsed = bundle.certPem ? new X509Certificate(bundle.certPem) : undefined;
    if (parsed) certificate = { subject: parsed.subject.replace(/\n/g, ', '), notAfter: new Date(parsed.validTo).toISOString() };
  } catch {
    // A Secret made by hand may hold anything; the router says so when it loads it.
    certificate = { subject: '(not a PEM certificate)', notAfter: '-' };
  }
  return { ...(certificate && { certificate }), ca: bundle.caPem !== undefined };
}

function summary(data: ReturnType<typeof describe>): string {
  const parts = [];
  if (data.certificate) parts.push(`certificate "${data.certificate.subject}" until ${data.certificate.notAfter}`);
  if (data.ca) parts.push('CA');
  return parts.join(', ');
}
