// `kskup revoke-access`: take back the access this site granted, from every
// linked site or from one; their links are refused from then on.
import { type Command, Option } from 'commander';
import type { CommandContext } from '../command-context.js';
import { render } from '../output.js';
import { addSiteOptions, resolveSite, type SiteOptions } from './site-options.js';

interface RevokeOptions extends SiteOptions {
  readonly site?: string;
}

export function addRevokeAccessCommand(program: Command, context: CommandContext): void {
  addSiteOptions(
    program
      .command('revoke-access')
      .description('revoke the certificates this site granted to other sites (all, or one site\'s): their links drop within seconds')
      .addOption(new Option('--site <site>', 'only the access of this site (name or id)'))
      .addHelpText('after', '\nExamples:\n  kskup revoke-access -n west                 every site linked to west is cut off, and every token revoked\n  kskup revoke-access -n west --site east     only east'),
  ).action(async (options: RevokeOptions) => {
    const target = await resolveSite(options, context);
    const { revokeAccess } = await import('../../site-controller/site/tokens.js');
    const revoked = await revokeAccess(target.storage, options.site === undefined ? {} : { site: options.site });
    const sites = [...new Set(revoked.map((grant) => grant.siteName ?? `token ${grant.tokenName}`))];
    context.io.stdout.write(
      await render(options.output, { revoked: revoked.map((grant) => ({ serial: grant.serial, site: grant.siteName, siteId: grant.siteId, token: grant.tokenName })) }, () =>
        revoked.length === 0
          ? 'Nothing to revoke: no access granted that is not revoked already.\n'
          : `Revoked ${revoked.length} certificate(s): ${sites.join(', ')}. Their links are refused from now on.\n`,
      ),
    );
  });
}
