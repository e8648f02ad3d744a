// `kskup service status`: every service in the network as this site has it:
// ports, where it is exposed, this site's listeners, targets and their health,
// and the flows and bytes through this site's router.
import type { Command } from 'commander';
import { siteProcessState } from '../../site-controller/local/launcher.js';
import { routerAddress } from '../../site-controller/site/model.js';
import type { CommandContext } from '../command-context.js';
import { render } from '../output.js';
import { addSiteOptions, resolveSite, type SiteOptions } from './site-options.js';
import { fetchAddressCounters, type AddressCounters } from './router-metrics.js';

export function addServiceCommands(program: Command, context: CommandContext): void {
  const service = program.command('service').description('services in the network');
  addSiteOptions(
    service
      .command('status')
      .description('show each service: ports, where it is exposed, the listener here, targets and their health, flows and bytes')
      .addHelpText('after', '\nExamples:\n  kskup service status -n west\n  kskup service status -n west -o json'),
  ).action(async (options: SiteOptions) => {
    const target = await resolveSite(options, context);
    const document = await target.storage.read();
    const snapshot = await target.readSnapshot();
    // Flows and bytes come from the local router's /metrics; a cluster site's router is not reachable from here.
    const process = target.platform === 'local' ? await siteProcessState(target.folder) : undefined;
    const counters = process?.running ? await fetchAddressCounters(document.site.ports.http) : new Map<string, AddressCounters>();
    const services = (snapshot?.services ?? []).map((entry) => {
      const addresses = entry.ports.map((port) => routerAddress(entry.address, port));
      const total = (key: keyof AddressCounters) => addresses.reduce((sum, address) => sum + (counters.get(address)?.[key] ?? 0), 0);
      return {
        address: entry.address,
        protocol: entry.protocol,
        ports: entry.ports,
        listeners: entry.ports.flatMap((port) => {
          const listener = snapshot?.listeners[routerAddress(entry.address, port)];
          return listener ? [{ host: listener.host, port: listener.port, servicePort: port }] : [];
        }),
        exposedAt: entry.exposedAt.map((site) => site.name),
        targets: entry.targets.flatMap((t) => t.ports.map((port) => ({ site: t.siteName, host: t.host, port, healthy: t.healthy }))),
        flows: { open: total('flowsOpen'), opened: total('flowsOpened') },
        bytes: { in: total('bytesIn'), out: total('bytesOut') },
      };
    });
    const warning = !process || process.running ? undefined : `the site process is not running (kskup init -n ${target.namespace} starts it); this is what it knew when it stopped`;
    context.io.stdout.write(
      await render(options.output, { services, ...(warning && { warning }) }, () => {
        const blocks = services.map((s) =>
          [
            `${s.address} (${s.protocol}) port(s) ${s.ports.join(',')}`,
            `  listener here: ${s.listeners.map((l) => `${l.host}:${l.port}${l.port === l.servicePort ? '' : ` (for port ${l.servicePort})`}`).join(', ') || 'none yet'}`,
            `  exposed at:    ${s.exposedAt.join(', ')}`,
            `  targets:       ${s.targets.map((t) => `${t.host}:${t.port} at ${t.site} (${t.healthy ? 'healthy' : 'NOT ANSWERING'})`).join(', ')}`,
            `  flows here:    ${s.flows.open} open, ${s.flows.opened} since start; ${s.bytes.in} bytes in, ${s.bytes.out} out`,
          ].join('\n'),
        );
        const body = blocks.length === 0 ? 'No services in the network. Expose one with: kskup expose host/HOSTNAME --port PORT --address NAME\n' : `${blocks.join('\n\n')}\n`;
        return warning ? `Warning: ${warning}\n${body}` : body;
      }),
    );
  });
}
