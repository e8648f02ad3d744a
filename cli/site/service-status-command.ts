// `kskup service status`: every service in the network as this site has it:
// ports, where it is exposed, this site's listeners, targets and their health,
// and the flows and bytes through this site's router. A listener is shown as
// listening only if the router has it bound; one that is not is shown with why.
// At the exposing site each target is a row (a host, or one per pod of a
// workload) with each port's state: probe, readiness, and whether it takes flows.
// Network-wide flow totals come from every router, asked through this site's
// router (a flow query, docs/flows.md); when that fails the rest still shows.
import { importRefusal, sitesAllowedToReach } from '../../site-controller/policy/policy-rules.js';
import type { Command } from 'commander';
import { siteProcessState } from '../../site-controller/local/launcher.js';
import { routerAddress } from '../../site-controller/site/model.js';
import type { SnapshotListener } from '../../service-controller/network-snapshot.js';
import type { LocalTargetState } from '../../service-controller/target-states.js';
import type { CommandContext } from '../command-context.js';
import { render } from '../output.js';
import { addSiteOptions, resolveSite, type SiteOptions } from './site-options.js';
import { gatherFlows, serviceSplit, serviceTraffic, type GatheredFlows } from '../../service-controller/flows/flow-gatherer.js';
import { setSiteWeights } from '../../service-controller/services.js';
import { nameProblem } from '../../site-controller/site/model.js';
import { serviceAccessRefusal, type NetworkService } from '../../service-controller/sync/network-view.js';
import { UsageError } from '../errors.js';
import { parseWeight } from './traffic-arguments.js';
import { openSiteRouter } from '../router-stat/site-router.js';
import { addServiceLimitCommand } from './service-limit-command.js';
import { describeLimits } from './limit-options.js';
import { siteShare } from '../../service-controller/limits.js';

/** How long status waits for the routers' flow totals: it is a status command, not a query tool. */
const NETWORK_TOTALS_TIMEOUT_MS = 3_000;
import { fetchAddressCounters, type AddressCounters } from './router-metrics.js';

export function addServiceCommands(program: Command, context: CommandContext): void {
  const service = program.command('service').description('services in the network');
  addServiceWeightsCommand(service, context);
  addServiceLimitCommand(service, context);
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
    const network = process === undefined || process.running ? await networkTotals(options, context) : { problem: 'the site process is not running' };
    /** What the site's policy does to a service here (docs/policy.md): not imported, and who may reach it with the flows refused. */
    // accessDenied: the exposing sites' policies let this site reach it nowhere (their announced serviceAccess), so it has no listener here.
    const policyOf = (entry: NetworkService, flowsDenied: number) => {
      const { policy } = document;
      const exposedHere = entry.exposedAt.some((site) => site.id === document.site.id);
      const notImported = exposedHere ? undefined : importRefusal(policy, entry.address);
      const reachableFrom = exposedHere ? sitesAllowedToReach(policy, entry.address) : undefined;
      const accessDenied = serviceAccessRefusal(entry, document.site);
      if (notImported === undefined && reachableFrom === undefined && accessDenied === undefined) return {};
      return {
        policy: {
          ...(notImported !== undefined && { notImported }),
          ...(accessDenied !== undefined && { accessDenied }),
          ...(reachableFrom !== undefined && { reachableFrom, flowsDenied }),
        },
      };
    };
    const services = (snapshot?.services ?? []).map((entry) => {
      const addresses = entry.ports.map((port) => routerAddress(entry.address, port));
      const total = (key: keyof AddressCounters) => addresses.reduce((sum, address) => sum + (counters.get(address)?.[key] ?? 0), 0);
      return {
        address: entry.address,
        protocol: entry.protocol,
        ports: entry.ports,
        ...(entry.tlsCredentials !== undefined && { tlsCredentials: entry.tlsCredentials }),
        ...(entry.backlog !== undefined && { backlog: entry.backlog }),
        ...listenersHere(entry.ports, (port) => snapshot?.listeners[routerAddress(entry.address, port)], process?.running ?? true),
        ...(snapshot?.serviceProblems?.[entry.address] !== undefined && { kubernetesServiceProblem: snapshot.serviceProblems[entry.address] }),
        exposedAt: entry.exposedAt.map((site) => site.name),
        targets: entry.targets.flatMap((t) => t.ports.map((port) => ({ site: t.siteName, host: t.host, port, healthy: t.healthy, ...(t.weight !== undefined && { weight: t.weight }) }))),
        ...(entry.siteWeights !== undefined && { siteWeights: { sites: entry.siteWeights.sites, setAt: new Date(entry.siteWeights.setAt).toISOString(), setBy: entry.siteWeights.setBy } }),
        ...(entry.limits !== undefined && {
          limits: {
            ...entry.limits.limits,
            setAt: new Date(entry.limits.setAt).toISOString(),
            setBy: entry.limits.setBy,
            ...(entry.exposedAt.some((site) => site.id === document.site.id) && {
              here: { share: siteShare(entry.limits.limits, entry.exposedAt.length) ?? {}, waiting: total('flowsWaiting'), refused: total('flowsRateLimited') },
            }),
          },
        }),
        ...availability(entry),
        ...('gathered' in network && { split: splitOf(serviceSplit(entry.address, network.gathered)) }),
        targetsHere: (snapshot?.targets ?? []).filter((t) => t.address === entry.address).map(({ address: _, ...row }) => row),
        flows: { open: total('flowsOpen'), opened: total('flowsOpened') },
        bytes: { in: total('bytesIn'), out: total('bytesOut') },
        ...('gathered' in network && { network: networkOf(entry.address, network.gathered) }),
        ...policyOf(entry, total('flowsDenied')),
      };
    });
    // Annotated objects the controller could not expose (a Kubernetes site): why, by target.
    const annotationProblems = Object.entries(snapshot?.annotationProblems ?? {}).map(([target, reason]) => ({ target, reason }));
    const networkProblem = 'problem' in network ? network.problem : undefined;
    const warning = !process || process.running ? undefined : `the site process is not running (kskup init -n ${target.namespace} starts it); this is what it knew when it stopped`;
    context.io.stdout.write(
      await render(options.output, { services, ...(annotationProblems.length > 0 && { annotationProblems }), ...(warning && { warning }), ...(networkProblem !== undefined && { networkTotalsProblem: networkProblem }) }, () => {
        const blocks = services.map((s) =>
          [
            `${s.address} (${s.protocol}${s.tlsCredentials === undefined ? '' : `, TLS with "${s.tlsCredentials}"`}${s.backlog === undefined ? '' : `, backlog ${s.backlog}`}) port(s) ${s.ports.join(',')}`,
            `  listener here: ${s.listeners.map((l) => `${l.host}:${l.port}${l.port === l.servicePort ? '' : ` (for port ${l.servicePort})`}`).join(', ') || 'none'}`,
            ...s.notListening.map((n) => `  NOT LISTENING: for port ${n.servicePort}${n.port === undefined ? '' : ` at ${n.host}:${n.port}`}: ${n.reason}`),
            ...(s.kubernetesServiceProblem === undefined ? [] : [`  NO SERVICE:    ${s.kubernetesServiceProblem}`]),
            ...(s.policy?.notImported === undefined ? [] : [`  NOT IMPORTED:  blocked by ${s.policy.notImported}`]),
            ...(s.policy?.reachableFrom === undefined ? [] : [`  reached from:  ${s.policy.reachableFrom.join(', ') || 'this site only'} (policy); ${s.policy.flowsDenied} flow(s) from other sites refused here`]),
            `  exposed at:    ${s.exposedAt.join(', ')}`,
            ...(s.state === 'down' ? [`  DOWN:          ${s.down}`] : []),
            `  targets:       ${s.targets.map((t) => `${t.host}:${t.port} at ${t.site} (${t.healthy ? 'healthy' : 'NOT ANSWERING'}${t.weight === undefined ? '' : `, weight ${t.weight}`})`).join(', ')}`,
            ...(s.siteWeights === undefined ? [] : [`  site weights:  ${Object.entries(s.siteWeights.sites).map(([site, weight]) => `${site}=${weight}`).join(' ')} (set at ${s.siteWeights.setBy}, ${s.siteWeights.setAt})`]),
            ...(s.limits === undefined
              ? []
              : [
                  `  limits:        ${describeLimits(s.limits)} (set at ${s.limits.setBy}, ${s.limits.setAt})`,
                  ...(s.limits.here === undefined ? [] : [`  limits here:   ${describeLimits(s.limits.here.share)}; ${s.limits.here.waiting} flow(s) waiting, ${s.limits.here.refused} refused`]),
                ]),
            ...(s.split === undefined || s.split.length === 0 ? [] : [`  split:         ${s.split.map((p) => `${p.site} ${p.flows} (${p.percent}%)`).join(', ')} of flows opened network-wide`]),
            ...s.targetsHere.map((row, index) => `  ${index === 0 ? 'here:' : '     '}          ${targetRow(row)}`),
            `  flows here:    ${s.flows.open} open, ${s.flows.opened} since start; ${s.bytes.in} bytes in, ${s.bytes.out} out`,
            ...(s.network === undefined
              ? []
              : [
                  `  network:       ${s.network.opened} flows opened, ${s.network.failed} failed; ${s.network.requestBytes} bytes to targets, ${s.network.responseBytes} back (${s.network.routers} router(s) answered${s.network.missing > 0 ? `, ${s.network.missing} did not` : ''})`,
                ]),
          ].join('\n'),
        );
        const list = blocks.length === 0 ? 'No services in the network. Expose one with: kskup expose host/HOSTNAME --port PORT --address NAME\n' : `${blocks.join('\n\n')}\n`;
        const notExposed = annotationProblems.map((p) => `NOT EXPOSED: ${p.target} (kskup.io annotations): ${p.reason}\n`).join('');
        const withNetwork = networkProblem === undefined ? list : `${list}(network-wide flow totals not available: ${networkProblem})\n`;
        const body = notExposed === '' ? withNetwork : `${withNetwork}\n${notExposed}`;
        return warning ? `Warning: ${warning}\n${body}` : body;
      }),
    );
  });
}

/**
 * Whether new flows for the service can go anywhere: some target is healthy
 * and, when weights apply, has a weight above 0 (if every weight is 0 the
 * routers ignore them, docs/traffic.md).
 */
function availability(entry: NetworkService): { state: 'up' } | { state: 'down'; down: string } {
  const healthy = entry.targets.filter((t) => t.healthy);
  if (healthy.length === 0) return { state: 'down', down: entry.targets.length === 0 ? 'no target anywhere' : 'no target is healthy' };
  const weighted = entry.targets.some((t) => t.weight !== undefined) && entry.targets.some((t) => (t.weight ?? 1) > 0);
  if (weighted && !healthy.some((t) => (t.weight ?? 1) > 0)) return { state: 'down', down: 'every target with a weight above 0 is unhealthy (the healthy ones are drained: weight 0)' };
  return { state: 'up' };
}

/** Flows per serving site, with each one's share in whole percent, most first. */
function splitOf(split: Record<string, number>): { site: string; flows: number; percent: number }[] {
  const total = Object.values(split).reduce((sum, n) => sum + n, 0);
  return Object.entries(split)
    .map(([site, flows]) => ({ site, flows, percent: total === 0 ? 0 : Math.round((flows * 1000) / total) / 10 }))
    .sort((a, b) => b.flows - a.flows || a.site.localeCompare(b.site));
}

export function addServiceWeightsCommand(service: Command, context: CommandContext): void {
  addSiteOptions(
    service
      .command('weights')
      .description('set each site\'s share of new flows for a service, network-wide (blue-green, canary); 0 drains a site')
      .argument('<address>', 'the service address')
      .argument('[site=weight...]', 'a weight per site, 0 to 1000000; sites not named keep their targets\' own weights')
      .option('--clear', 'drop the site weights: every site goes back to its targets\' own weights (kskup expose --weight)')
      .addHelpText(
        'after',
        '\nExamples:\n  kskup service weights web east=90 west=10 -n west     a canary: 10% of new flows to west\n  kskup service weights web east=0 west=100 -n west     blue-green: every new flow to west; open ones at east finish\n  kskup service weights web --clear -n west',
      ),
  ).action(async (address: string, pairs: string[], options: SiteOptions & { clear?: true }) => {
    const problem = nameProblem(address);
    if (problem) throw new UsageError(`address: ${problem}`);
    if (options.clear && pairs.length > 0) throw new UsageError('--clear takes no site=weight pairs');
    if (!options.clear && pairs.length === 0) throw new UsageError('give at least one site=weight (e.g. east=90 west=10), or --clear');
    const sites: Record<string, number> = {};
    for (const pair of pairs) {
      const [site = '', weight, ...rest] = pair.split('=');
      if (weight === undefined || rest.length > 0) throw new UsageError(`"${pair}" is not site=weight (e.g. east=90)`);
      const siteProblem = nameProblem(site);
      if (siteProblem) throw new UsageError(`"${pair}": site ${siteProblem}`);
      if (Object.hasOwn(sites, site)) throw new UsageError(`site "${site}" is given twice`);
      try {
        sites[site] = parseWeight(weight);
      } catch (error) {
        throw new UsageError(`"${pair}": ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    const target = await resolveSite(options, context);
    const snapshot = await target.readSnapshot();
    const exposedAt = snapshot?.services.find((s) => s.address === address)?.exposedAt.map((site) => site.name);
    const setting = await setSiteWeights(target.storage, address, sites);
    const unknown = Object.keys(sites).filter((site) => exposedAt !== undefined && !exposedAt.includes(site));
    const notes = [
      ...(exposedAt === undefined ? [`No service "${address}" is known at this site yet: the weights apply once a site exposes it.`] : []),
      ...unknown.map((site) => `Site "${site}" does not expose "${address}" as far as this site knows: its weight applies if it does.`),
    ];
    context.io.stdout.write(
      await render(options.output, { address, sites: setting.sites, setAt: setting.setAt, ...(notes.length > 0 && { notes }) }, () =>
        [
          options.clear
            ? `Site weights of "${address}" cleared: every site goes back to its targets' own weights.`
            : `Site weights of "${address}": ${Object.entries(sites).map(([site, weight]) => `${site}=${weight}`).join(' ')}. Every site applies them within a second (kskup service status -n ${target.namespace} shows the split).`,
          ...notes,
        ].join('\n') + '\n',
      ),
    );
  });
}

interface ListenerHere {
  readonly host: string;
  readonly port: number;
  readonly servicePort: number;
}

interface NotListening {
  readonly servicePort: number;
  /** Where it is meant to listen, once a port is chosen. */
  readonly host?: string;
  readonly port?: number;
  readonly reason: string;
}

/** Splits a service's ports into those this site's router listens for (bound) and those it does not, with the reason. */
function listenersHere(
  ports: readonly number[],
  listenerOf: (port: number) => SnapshotListener | undefined,
  running: boolean,
): { listeners: ListenerHere[]; notListening: NotListening[] } {
  const listeners: ListenerHere[] = [];
  const notListening: NotListening[] = [];
  for (const servicePort of ports) {
    const listener = listenerOf(servicePort);
    const where = listener ? { host: listener.host, port: listener.port } : {};
    if (!running) notListening.push({ servicePort, ...where, reason: 'the site process is not running' });
    else if (listener?.listening === true) listeners.push({ host: listener.host, port: listener.port, servicePort });
    else notListening.push({ servicePort, ...where, reason: listener?.reason ?? 'no port chosen here yet' });
  }
  return { listeners, notListening };
}

/** One target here: `deployment/backend pod backend-0 10.101.0.5: 8080 healthy, 9999 NO FLOWS (why)`. */
function targetRow(row: Omit<LocalTargetState, 'address'>): string {
  const who = `${row.target}${row.pod === undefined ? '' : ` pod ${row.pod}`}${row.host === undefined || row.host === row.target.slice(row.target.indexOf('/') + 1) ? '' : ` ${row.host}`}`;
  if (row.problem !== undefined) return `${who}: ${row.problem}`;
  const ports = row.ports.map((port) => {
    const state = !port.takesFlows ? 'NO FLOWS' : port.health === 'healthy' ? 'healthy' : port.health === 'unknown' ? 'not probed yet' : 'NOT ANSWERING';
    const reason = port.reason === undefined || state === 'not probed yet' ? '' : ` (${port.reason})`;
    return `${port.port}${port.port === port.servicePort ? '' : ` for ${port.servicePort}`} ${state}${reason}`;
  });
  return `${who}: ${ports.join(', ')}`;
}

/** Every router's flow totals, asked through the site's router; why not, when they cannot be had. */
async function networkTotals(options: SiteOptions, context: CommandContext): Promise<{ gathered: GatheredFlows } | { problem: string }> {
  try {
    const router = await openSiteRouter(options.namespace, options, context);
    try {
      return { gathered: await gatherFlows(router.target, { limit: 0 }, NETWORK_TOTALS_TIMEOUT_MS) };
    } finally {
      await router.close();
    }
  } catch (error) {
    return { problem: error instanceof Error ? error.message : String(error) };
  }
}

/** A service's flows over the whole network, and how many routers answered. */
function networkOf(address: string, gathered: GatheredFlows) {
  const answered = gathered.routers.filter((r) => r.state === 'answered').length;
  return { ...serviceTraffic(address, gathered), routers: answered, missing: gathered.routers.length - answered };
}
