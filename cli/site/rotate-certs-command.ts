// `kskup rotate-certs`: renew the site's server certificate (default), start a
// CA rotation (--ca), or cut over to the new CA (--ca --finish). The work is
// in site-controller/site/cert-rotation.ts; the running router picks the new
// files up by itself (a local site's router looks every second; a cluster
// site's controller copies the Secret into kskup-router-certs).
import { type Command, Option } from 'commander';
import type { CommandContext } from '../command-context.js';
import { render } from '../output.js';
import { UsageError } from '../errors.js';
import { addSiteOptions, resolveSite, type SiteOptions } from './site-options.js';
import type { CertificateInfo } from '../../site-controller/pki/index.js';

interface RotateOptions extends SiteOptions {
  readonly ca?: true;
  readonly finish?: true;
  readonly force?: true;
}

const HELP = `
Without --ca: a new server certificate from the same CA, with the same names,
a new key and a fresh validity. Linked sites keep their links and trust it.

With --ca, in two steps:
  1. kskup rotate-certs --ca            a new CA; both CAs are trusted, new tokens
                                        and claims are signed by the new one and
                                        carry both. Linked sites link again with
                                        new tokens (kskup status lists those that
                                        have not yet).
  2. kskup rotate-certs --ca --finish   the server certificate from the new CA,
                                        which becomes the site CA; the old one is
                                        no longer trusted. Refused (exit 1) while
                                        a linked site holds only an old-CA
                                        certificate, unless --force.

Examples:
  kskup rotate-certs -n west
  kskup rotate-certs --ca -n west
  kskup status -n west
  kskup rotate-certs --ca --finish -n west`;

export function addRotateCertsCommand(program: Command, context: CommandContext): void {
  addSiteOptions(
    program
      .command('rotate-certs')
      .description("renew the site's server certificate, or rotate its CA (--ca, then --ca --finish)")
      .addOption(new Option('--ca', 'rotate the site CA: start the overlap, or with --finish cut over'))
      .addOption(new Option('--finish', 'with --ca: cut over to the new CA and stop trusting the old one'))
      .addOption(new Option('--force', 'with --finish: cut over even though linked sites still hold old-CA certificates only (their links are refused)'))
      .addHelpText('after', HELP),
  ).action(async (options: RotateOptions) => {
    if (options.finish && !options.ca) throw new UsageError('option --finish finishes a CA rotation: use it with --ca (kskup rotate-certs --ca --finish)');
    if (options.force && !options.finish) throw new UsageError('option --force applies to --ca --finish only');
    const target = await resolveSite(options, context);
    const rotation = await import('../../site-controller/site/cert-rotation.js');
    const site = target.certificates;
    const ns = `-n ${target.namespace}`;
    let data: Record<string, unknown>;
    let text: string;
    if (!options.ca) {
      const { before, after } = await rotation.renewServerCertificate(site);
      data = { action: 'renew-server-certificate', before: brief(before), after: brief(after) };
      text =
        `Renewed the server certificate of site "${target.namespace}": serial ${after.serialHex}, valid until ${after.notAfter.toISOString()} (was ${before.serialHex}, until ${before.notAfter.toISOString()}).\n` +
        `The router uses it for new connections within seconds; links stay up.\n`;
    } else if (!options.finish) {
      const { from, to, resumed } = await rotation.startCaRotation(site);
      data = { action: 'start-ca-rotation', phase: 'overlap', from: brief(from), to: brief(to), resumed };
      text =
        `${resumed ? 'Took up the interrupted CA rotation' : 'Started a CA rotation'}: new CA "${to.subjectCommonName}" (serial ${to.serialHex}), trusted beside the old one (serial ${from.serialHex}).\n` +
        `New tokens and claims are signed by the new CA and carry both. Give each linked site a new token to link again with;\n` +
        `kskup status ${ns} lists those still on the old CA. Then: kskup rotate-certs --ca --finish ${ns}\n`;
    } else {
      const { server, ca, leftBehind } = await rotation.finishCaRotation(site, { force: options.force === true });
      data = { action: 'finish-ca-rotation', phase: 'none', ca: brief(ca), server: brief(server), leftBehind };
      text =
        `Cut over to CA serial ${ca.serialHex}: the server certificate (serial ${server.serialHex}) is the new CA's, and the old CA is no longer trusted.\n` +
        (leftBehind.length > 0 ? `Left behind (their links are refused now): ${leftBehind.join(', ')}.\n` : '');
    }
    context.io.stdout.write(await render(options.output, data, () => text));
  });
}

function brief(info: CertificateInfo) {
  return { subject: info.subjectCommonName, issuer: info.issuerCommonName, serial: info.serialHex, notAfter: info.notAfter.toISOString() };
}
