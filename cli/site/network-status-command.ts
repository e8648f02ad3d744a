// `kskup network status`: every site this site has heard of through service
// sync, the links between them, and the services each exposes.
import type { Command } from 'commander';
import type { SiteAnnouncement } from '../../service-controller/sync/announcement.js';
import type { CommandContext } from '../command-context.js';
import { RuntimeError } from '../errors.js';
import { render } from '../output.js';
import { formatTable } from '../table.js';
import { addSiteOptions, resolveSite, type SiteOptions } from './site-options.js';

export function addNetworkCommands(program: Command, context: CommandContext): void {
  const network = program.command('network').description('the network of linked sites');
  addSiteOptions(
    network
      .command('status')
      .description('show every site in the network, the links between them and the services each exposes')
      .addHelpText('after', '\nExamples:\n  kskup network status -n west\n  kskup network status -n west -o json'),
  ).action(async (options: SiteOptions) => {
    const target = await resolveSite(options, context);
    await target.storage.read();
    const snapshot = await target.readSnapshot();
    if (!snapshot) throw new RuntimeError(`site "${target.namespace}" has not reported on the network yet: is its process running? (kskup status -n ${target.namespace})`);
    const now = Date.now();
    const all: { announcement: SiteAnnouncement; heardAt?: string }[] = [{ announcement: snapshot.self }, ...snapshot.sites];
    const names = new Map(all.map(({ announcement }) => [announcement.site.id, announcement.site.name]));
    const sites = all.map(({ announcement: { site }, heardAt }) => ({
      name: site.name,
      id: site.id,
      platform: site.platform,
      mode: site.mode,
      self: heardAt === undefined,
      ...(heardAt !== undefined && { lastHeard: heardAt }),
    }));
    const links = all.flatMap(({ announcement }) =>
      announcement.links.map((link) => ({ from: announcement.site.name, to: names.get(link.remoteSiteId) ?? link.remoteSiteName, connected: link.connected })),
    );
    const services = all.flatMap(({ announcement }) =>
      announcement.services.map((service) => ({
        site: announcement.site.name,
        address: service.address,
        ports: service.ports,
        targets: service.targets.map((t) => ({ host: t.host, ports: t.ports, healthy: t.healthy })),
      })),
    );
    context.io.stdout.write(
      await render(options.output, { sites, links, services }, () => {
        const ago = (iso: string | undefined) => (iso === undefined ? '(this site)' : `${Math.max(0, Math.round((now - Date.parse(iso)) / 1000))}s ago`);
        const siteTable = formatTable(
          ['SITE', 'ID', 'PLATFORM', 'MODE', 'LAST HEARD'],
          all.map(({ announcement: { site }, heardAt }) => [site.name, site.id.slice(0, 8), site.platform, site.mode, ago(heardAt)]),
        );
        const linkTable = links.length === 0 ? '  none\n' : formatTable(['FROM', 'TO', 'STATUS'], links.map((l) => [l.from, l.to, l.connected ? 'up' : 'down']));
        const serviceTable =
          services.length === 0
            ? '  none\n'
            : formatTable(
                ['SITE', 'SERVICE', 'PORTS', 'TARGETS'],
                services.map((s) => [s.site, s.address, s.ports.join(','), s.targets.map((t) => `${t.host}:${t.ports.join(',')}${t.healthy ? '' : ' (not answering)'}`).join(' ')]),
              );
        return `Sites (${sites.length}):\n${siteTable}\nLinks:\n${linkTable}\nServices:\n${serviceTable}`;
      }),
    );
  });
}
