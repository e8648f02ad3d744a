// `kskup flow list`: the TCP flows of the whole network, gathered through the
// site's router from every router (service-controller/flows/flow-gatherer.ts,
// docs/flows.md). Each flow is kept by the routers at its two ends; a row
// joins the two records: the client and listener at one site, the target at
// the other, bytes, duration and outcome.
import { type Command, InvalidArgumentError, Option } from 'commander';
import { MAX_RECORDS_PER_REPLY, type WireFlowRecord } from '../../router/flows/flow-query.js';
import { gatherFlows, type GatheredFlows } from '../../service-controller/flows/flow-gatherer.js';
import type { CommandContext } from '../command-context.js';
import { RuntimeError } from '../errors.js';
import { render } from '../output.js';
import { openSiteRouter } from '../router-stat/site-router.js';
import { formatCell, formatTable } from '../table.js';
import { addSiteOptions, type SiteOptions } from './site-options.js';

const DEFAULT_LIMIT = 50;

interface FlowListOptions extends SiteOptions {
  readonly service?: string;
  readonly site?: string;
  readonly errors?: true;
  readonly limit: number;
}

/** One flow, both ends joined. */
export interface FlowRow {
  readonly identity: string;
  readonly startTime: string;
  readonly endTime?: string;
  readonly service: string;
  readonly client?: string;
  readonly listenerSite?: string;
  readonly listener?: string;
  readonly connectorSite?: string;
  readonly connector?: string;
  readonly target?: string;
  /** Client -> target bytes, and back. */
  readonly octets: number;
  readonly octetsReverse: number;
  readonly durationMs?: number;
  /** µs to the first byte back to the client. */
  readonly latency?: number;
  readonly result: string;
  readonly reason?: string;
}

export function addFlowCommands(program: Command, context: CommandContext): void {
  const flow = program.command('flow').description('TCP flows through the network');
  addSiteOptions(
    flow
      .command('list')
      .description("list recent TCP flows of every router in the network, asked through this site's router: client, sites, target, bytes, duration, outcome")
      .option('--service <address>', 'only flows of this service address (web, or web:8080 for one port)')
      .option('--site <name>', 'only flows with their client or their target at this site')
      .option('--errors', 'only flows that ended in an error (reset, refused, no route, unreachable)')
      .addOption(new Option('--limit <n>', `at most this many flows (1-${MAX_RECORDS_PER_REPLY})`).argParser(parseLimit).default(DEFAULT_LIMIT))
      .addHelpText('after', '\nExamples:\n  kskup flow list -n west\n  kskup flow list -n west --service web --errors\n  kskup flow list -n west --site east -o json'),
  ).action(async (options: FlowListOptions) => {
    const router = await openSiteRouter(options.namespace, options, context);
    let gathered: GatheredFlows;
    try {
      gathered = await gatherFlows(router.target, {
        limit: options.limit,
        ...(options.service !== undefined && { service: options.service }),
        ...(options.site !== undefined && { site: options.site }),
        ...(options.errors && { errors: true }),
      });
    } catch (error) {
      throw router.explain?.(error) ?? new RuntimeError(error instanceof Error ? error.message : String(error), { cause: error });
    } finally {
      await router.close();
    }
    const all = joinEnds(gathered.records);
    const flows = all.slice(0, options.limit);
    // Flows matched but not shown: cut here, or left at the routers by the per-router limit.
    const more = all.length - flows.length + gathered.more;
    const silent = gathered.routers.filter((r) => r.state !== 'answered');
    context.io.stdout.write(
      await render(options.output, { flows, more, routers: gathered.routers }, () => {
        const table =
          flows.length === 0
            ? 'No flows recorded that match.\n'
            : formatTable(
                ['TIME', 'SERVICE', 'CLIENT', 'LISTENER SITE', 'TARGET SITE', 'TARGET', 'BYTES IN', 'BYTES OUT', 'DURATION', 'OUTCOME'],
                flows.map((f) => [
                  f.startTime.slice(11, 23),
                  f.service,
                  formatCell(f.client),
                  formatCell(f.listenerSite),
                  formatCell(f.connectorSite),
                  formatCell(f.target),
                  String(f.octets),
                  String(f.octetsReverse),
                  f.durationMs === undefined ? 'open' : `${(f.durationMs / 1000).toFixed(3)}s`,
                  f.reason === undefined ? f.result : `${f.result} (${f.reason})`,
                ]),
              );
        const notes = [
          ...(more > 0 ? [`${more} more flow record(s) matched; raise --limit (up to ${MAX_RECORDS_PER_REPLY}) or narrow with --service, --site, --errors`] : []),
          ...silent.map((r) => `router ${r.site ?? r.router} did not answer (${r.state}): its flows are missing`),
        ];
        return table + notes.map((note) => `Note: ${note}\n`).join('');
      }),
    );
  });
}

function parseLimit(value: string): number {
  const limit = Number(value);
  if (!/^\d+$/.test(value) || limit < 1 || limit > MAX_RECORDS_PER_REPLY) throw new InvalidArgumentError(`must be a whole number from 1 to ${MAX_RECORDS_PER_REPLY}`);
  return limit;
}

/** One row per flow id, newest first: the listener side's record gives the client, bytes and outcome; the connector side's the target. */
export function joinEnds(records: readonly WireFlowRecord[]): FlowRow[] {
  const byId = new Map<string, { listener?: WireFlowRecord; connector?: WireFlowRecord }>();
  for (const record of records) {
    const ends = byId.get(record.identity) ?? {};
    byId.set(record.identity, ends);
    if (record.role === 'listener-side') ends.listener ??= record;
    else ends.connector ??= record;
  }
  return [...byId.values()]
    .map(({ listener, connector }): FlowRow => {
      const main = (listener ?? connector)!;
      const endTime = main.endTime;
      const listenerSite = main.listenerSite ?? main.listenerRouter;
      // The connector side's own record names its router for sure; an edge router's listener side only knows its uplink.
      const connectorSite = connector ? (connector.connectorSite ?? connector.connectorRouter) : (main.connectorSite ?? main.connectorRouter);
      const target = connector?.destinationHost === undefined ? undefined : `${connector.destinationHost}:${connector.destinationPort ?? ''}`;
      return {
        identity: main.identity,
        startTime: new Date(main.startTime).toISOString(),
        ...(endTime !== undefined && { endTime: new Date(endTime).toISOString(), durationMs: endTime - main.startTime }),
        service: main.vanAddress,
        ...(listener?.sourceHost !== undefined && { client: `${listener.sourceHost}:${listener.sourcePort ?? ''}` }),
        listenerSite,
        ...(listener?.listener !== undefined && { listener: listener.listener }),
        ...(connectorSite !== undefined && { connectorSite }),
        ...(connector?.connector !== undefined && { connector: connector.connector }),
        ...(target !== undefined && { target }),
        octets: main.octets,
        octetsReverse: main.octetsReverse,
        ...(listener?.latency !== undefined && { latency: listener.latency }),
        result: main.result,
        ...(main.reason !== undefined && { reason: main.reason }),
      };
    })
    .sort((a, b) => b.startTime.localeCompare(a.startTime));
}
