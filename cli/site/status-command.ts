// `kskup status`: the site, its process, its router, links and services.
import type { Command } from 'commander';
import type { CommandContext } from '../command-context.js';
import { render } from '../output.js';
import { addSiteOptions, resolveSite, type SiteOptions } from './site-options.js';
import { linksData, linksText } from './status-text.js';

export function addStatusCommand(program: Command, context: CommandContext): void {
  addSiteOptions(
    program
      .command('status')
      .description('show the site: its process and router, its links both ways, its services')
      .addHelpText('after', '\nExamples:\n  kskup status -n west\n  kskup status -n west -o json'),
  ).action(async (options: SiteOptions) => {
    const target = resolveSite(options, context);
    const { readSiteStatus } = await import('./site-status.js');
    const status = await readSiteStatus(target.folder);
    const { site } = status.document;
    const data = {
      site: { name: site.name, id: site.id, namespace: target.namespace, platform: target.platform, mode: site.mode, ingressHost: site.ingressHost, bindHost: site.bindHost, ports: site.ports },
      process: { running: status.process.running, ...(status.process.pid !== undefined && { pid: status.process.pid }), log: target.folder.logFile },
      router: { reachable: status.routerProblem === undefined, ...(status.routerProblem && { problem: status.routerProblem }) },
      ...linksData(status.links, status.incoming),
      services: status.document.services.map((service) => ({
        address: service.address,
        ports: service.ports,
        targets: service.targets.map((t) => ({ type: t.type, name: t.name, host: t.host, ports: t.targetPorts })),
      })),
      servicesInNetwork: status.snapshot?.services.length ?? 0,
    };
    context.io.stdout.write(
      await render(options.output, data, () => {
        const processLine = status.process.running
          ? `running, pid ${status.process.pid}`
          : `NOT RUNNING${status.process.pid !== undefined ? ` (pid ${status.process.pid} has exited)` : ''}: kskup init -n ${target.namespace} starts it again; log ${target.folder.logFile}`;
        const lines = [
          `Site "${site.name}" (${site.mode}, ${target.platform} platform${target.detected ? `: ${target.detected}` : ''})`,
          `  id:       ${site.id}`,
          `  process:  ${processLine}`,
          `  router:   ${status.routerProblem ?? `answering on 127.0.0.1:${site.ports.amqp}`}`,
          ...(site.mode === 'interior' ? [`  links in: ${site.ingressHost}:${site.ports.interRouter} (inter-router), ${site.ingressHost}:${site.ports.edge} (edge)`] : []),
        ];
        const connected = status.links.filter((link) => link.connected).length;
        const summary = `${status.links.length} link(s) out, ${connected} connected; ${status.incoming.filter((link) => link.connected).length} in`;
        const exposed = data.services.map((s) => `  ${s.address} port(s) ${s.ports.join(',')}: ${s.targets.map((t) => `${t.type}/${t.name}`).join(', ')}\n`).join('');
        const services = `Services exposed here:${exposed ? `\n${exposed}` : ' none\n'}Services in the network: ${data.servicesInNetwork} (kskup service status -n ${target.namespace})\n`;
        return `${lines.join('\n')}\n  links:    ${summary}\n\n${linksText(status.links, status.incoming)}\n${services}`;
      }),
    );
  });
}
