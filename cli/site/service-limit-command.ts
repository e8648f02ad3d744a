// `kskup service limit ADDRESS ...`: a service's rate limits, network-wide
// (docs/traffic.md). Recorded at this site and carried by service sync like
// site weights: the newest setting heard anywhere applies, and each exposing
// site's routers enforce its share (service-controller/limits.ts).
import type { Command } from 'commander';
import { setServiceLimits } from '../../service-controller/services.js';
import { siteShare } from '../../service-controller/limits.js';
import { nameProblem } from '../../site-controller/site/model.js';
import type { CommandContext } from '../command-context.js';
import { UsageError } from '../errors.js';
import { render } from '../output.js';
import { addLimitOptions, describeLimits, limitsFromOptions, type LimitOptions } from './limit-options.js';
import { addSiteOptions, resolveSite, type SiteOptions } from './site-options.js';

export function addServiceLimitCommand(service: Command, context: CommandContext): void {
  addSiteOptions(
    addLimitOptions(
      service
        .command('limit')
        .description('set a service\'s rate limits, network-wide: flows open at once, new flows per second, bandwidth; enforced where its targets are')
        .argument('<address>', 'the service address')
        .option('--clear', 'drop the service\'s limits'),
    ).addHelpText(
      'after',
      '\nA setting replaces the previous one whole. Each site that exposes the service enforces an equal share.\n\nExamples:\n  kskup service limit web --max-flows 100 --flows-per-second 50 --burst 20 --bandwidth 10MiB/s -n west\n  kskup service limit web --flows-per-second 10 --queue 0 -n west      refuse at once over 10 new flows/s\n  kskup service limit web --clear -n west',
    ),
  ).action(async (address: string, options: SiteOptions & LimitOptions & { clear?: true }) => {
    const problem = nameProblem(address);
    if (problem) throw new UsageError(`address: ${problem}`);
    const limits = limitsFromOptions(options);
    if (options.clear && limits) throw new UsageError('--clear takes no limit options');
    if (!options.clear && !limits) throw new UsageError('give at least one of --max-flows, --flows-per-second, --bandwidth, or --clear');
    const target = await resolveSite(options, context);
    const snapshot = await target.readSnapshot();
    const exposedAt = snapshot?.services.find((s) => s.address === address)?.exposedAt.map((site) => site.name);
    const setting = await setServiceLimits(target.storage, address, limits ?? {});
    const share = exposedAt && exposedAt.length > 1 ? siteShare(limits, exposedAt.length) : undefined;
    const notes = [
      ...(exposedAt === undefined ? [`No service "${address}" is known at this site yet: the limits apply once a site exposes it.`] : []),
      ...(share ? [`${exposedAt!.length} sites expose it (${exposedAt!.join(', ')}): each enforces ${describeLimits(share)}.`] : []),
    ];
    context.io.stdout.write(
      await render(options.output, { address, limits: setting.limits, setAt: setting.setAt, ...(notes.length > 0 && { notes }) }, () =>
        [
          limits
            ? `Limits of "${address}": ${describeLimits(limits)}. Every site applies them within a second (kskup service status -n ${target.namespace} shows waiting and refused flows).`
            : `Limits of "${address}" cleared.`,
          ...notes,
        ].join('\n') + '\n',
      ),
    );
  });
}
