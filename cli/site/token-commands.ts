// `kskup token create|revoke|list`: issuing access to this site.
import { writeFile, chmod } from 'node:fs/promises';
import { type Command, Option } from 'commander';
import { nameProblem, type TokenType } from '../../site-controller/site/model.js';
import { formatDuration, parseDuration, parsePositiveInteger } from '../arguments.js';
import type { CommandContext } from '../command-context.js';
import { fileProblem, RuntimeError, UsageError } from '../errors.js';
import { render } from '../output.js';
import { formatTable } from '../table.js';
import { addSiteOptions, resolveSite, type SiteOptions } from './site-options.js';

interface CreateOptions extends SiteOptions {
  readonly tokenType: TokenType;
  readonly expiry: number;
  readonly uses: number;
  readonly name?: string;
}

const CREATE_EXAMPLES = `
Examples:
  kskup token create west.token -n west                    a claim: one use, valid 15 minutes
  kskup token create west.token -n west --uses 3 --expiry 1h
  kskup token create west.token -n west --token-type cert  a certificate, no claims endpoint needed

The file is a Kubernetes Secret (mode 0600): keep it secret, and give it to the
site that should link to this one: kskup link create west.token -n east`;

export function addTokenCommands(program: Command, context: CommandContext): void {
  const token = program.command('token').description('issue and revoke tokens that let other sites link to this one');
  addSiteOptions(
    token
      .command('create')
      .description('write a token another site can link with')
      .argument('<file>', 'where to write the token (YAML, mode 0600)')
      .addOption(new Option('--token-type <type>', 'claim: redeemed once at this site for a certificate; cert: carries the certificate').choices(['claim', 'cert']).default('claim'))
      .addOption(new Option('--expiry <duration>', 'how long it can be used, e.g. 15m, 2h, 7d').argParser(parseDuration).default(15 * 60_000, '15m'))
      .addOption(new Option('--uses <n>', 'how many links a claim can make').argParser(parsePositiveInteger).default(1))
      .addOption(new Option('--name <name>', 'the token name (default: generated)'))
      .addHelpText('after', CREATE_EXAMPLES),
  ).action(async (file: string, options: CreateOptions) => {
    const target = await resolveSite(options, context);
    if (options.name !== undefined && nameProblem(options.name)) throw new UsageError(`option --name: ${nameProblem(options.name)}`);
    if (options.tokenType === 'cert' && options.uses !== 1) throw new UsageError('option --uses applies to claim tokens only: a cert token cannot count its uses');
    const [{ createToken }, { tokenToYaml }] = await Promise.all([import('../../site-controller/site/tokens.js'), import('../../site-controller/token/token-secret.js')]);
    const created = await createToken(target.storage, { type: options.tokenType, expiryMs: options.expiry, uses: options.uses, ...(options.name !== undefined && { name: options.name }) });
    try {
      await writeFile(file, tokenToYaml(created), { mode: 0o600 });
      // An existing file keeps its mode on write: tighten it.
      await chmod(file, 0o600);
    } catch (error) {
      throw new RuntimeError(`cannot write token file ${file}: ${fileProblem(error)} (the token "${created.name}" exists at the site; kskup token revoke ${created.name} to drop it)`);
    }
    const data = { token: created.name, type: created.type, file, site: created.siteName, expiresAt: created.expiresAt.toISOString(), ...(created.type === 'claim' && { uses: options.uses }) };
    context.io.stdout.write(
      await render(options.output, data, () => {
        const what = created.type === 'claim' ? `a claim for ${options.uses} link(s)` : 'a certificate';
        return `Token "${created.name}" written to ${file}: ${what}, usable for ${formatDuration(options.expiry)} (until ${data.expiresAt}).\nAt the other site: kskup link create ${file} -n OTHER-SITE\n`;
      }),
    );
  });

  addSiteOptions(
    token
      .command('revoke')
      .description('stop a claim from being redeemed; for a cert token, revoke its certificate (its link drops)')
      .argument('<name>', 'the token name')
      .addHelpText('after', '\nExample:\n  kskup token revoke claim-1a2b3c4d -n west'),
  ).action(async (name: string, options: SiteOptions) => {
    const target = await resolveSite(options, context);
    const { revokeToken } = await import('../../site-controller/site/tokens.js');
    const { token: revoked, certificates } = await revokeToken(target.storage, name);
    const data = { token: revoked.name, type: revoked.type, revokedAt: revoked.revokedAt, certificatesRevoked: certificates };
    context.io.stdout.write(
      await render(options.output, data, () =>
        revoked.type === 'claim' ? `Claim "${name}" revoked: it can no longer be redeemed.\n` : `Token "${name}" revoked: its certificate is refused from now on (${certificates} revoked).\n`,
      ),
    );
  });

  addSiteOptions(token.command('list').description('list the tokens this site issued')).action(async (options: SiteOptions) => {
    const target = await resolveSite(options, context);
    const document = await target.storage.read();
    const now = Date.now();
    const tokens = document.tokens.map((t) => ({
      name: t.name,
      type: t.type,
      expiresAt: t.expiresAt,
      ...(t.type === 'claim' && { uses: `${t.usesMade}/${t.usesAllowed}` }),
      state: t.revokedAt ? 'revoked' : Date.parse(t.expiresAt) <= now ? 'expired' : t.type === 'claim' && t.usesMade >= t.usesAllowed ? 'used up' : 'usable',
    }));
    context.io.stdout.write(
      await render(options.output, { tokens }, () =>
        tokens.length === 0 ? 'No tokens.\n' : formatTable(['NAME', 'TYPE', 'USES', 'EXPIRES', 'STATE'], tokens.map((t) => [t.name, t.type, t.uses ?? '-', t.expiresAt, t.state])),
      ),
    );
  });
}
