// Network-wide flow records and totals, gathered through the routers: the
// asker attaches to one router (its site's, with the site's local client
// credentials), learns every router in the network from that router's link
// state (management QUERY of router and router.node), and sends each a flow
// query (router/flows/flow-query.ts, docs/flows.md). Replies come back to a
// receiver on a fresh address at the asker's router. Edge routers are not in
// link state: an interior router passes the query on to the edge routers
// attached to it and names them in its reply, and the asker then waits for
// their replies too. A router that does not answer within the time allowed is
// reported as such; the rest still count.
import { randomUUID } from 'node:crypto';
import rhea from 'rhea';
import type { Connection, EventContext, Receiver, Sender } from 'rhea';
import { clientConnectionOptions, type AmqpClientTarget } from '../../router/amqp/client-options.js';
import { ManagementClient } from '../../router/management/management-client.js';
import {
  FLOW_QUERY_SUBJECT,
  FLOW_REPLY_SUBJECT,
  flowsAddress,
  parseFlowReply,
  REPLY_ROUTER_PROPERTY,
  serviceMatches,
  type FlowQuery,
  type FlowReply,
  type WireFlowRecord,
  type WireFlowTotals,
  type WireLinkOctets,
} from '../../router/flows/flow-query.js';

export const DEFAULT_GATHER_TIMEOUT_MS = 5_000;

export interface RouterAnswer {
  readonly router: string;
  readonly site?: string;
  /** 'answered'; 'no answer' within the time allowed; 'unreachable': link state has no route to it. */
  readonly state: 'answered' | 'no answer' | 'unreachable';
  /** Records that matched at that router, and how many of them it sent (the limit cuts the rest). */
  readonly matched: number;
  readonly returned: number;
  readonly capacity?: number;
  /** The router's kskup version, when it says (routers older than the field do not). */
  readonly version?: string;
  /** An edge router: the interior router it is attached to, which passed the query on to it. */
  readonly uplink?: string;
}

export interface GatheredFlows {
  /** Every router's records that matched, newest first (a flow appears once per router it passed at an end). */
  readonly records: readonly WireFlowRecord[];
  readonly totals: readonly (WireFlowTotals & { readonly router: string; readonly site?: string })[];
  readonly routers: readonly RouterAnswer[];
  /** Each answering router's link byte counters, one row per neighbour (none from routers older than them). */
  readonly links: readonly (WireLinkOctets & { readonly router: string; readonly site?: string })[];
  /** Matched records left out by the per-router limit, over all routers. */
  readonly more: number;
}

/** Asks every router the network reaches from `target`; rejects only when `target` itself cannot be reached. */
export async function gatherFlows(target: AmqpClientTarget, query: FlowQuery, timeoutMs = DEFAULT_GATHER_TIMEOUT_MS): Promise<GatheredFlows> {
  const { self, reachable, unreachable } = await networkRouters(target, timeoutMs);
  const { replies, uplinks } = await askRouters(target, self, reachable, query, timeoutMs);
  const routers: RouterAnswer[] = [
    ...[...reachable, ...uplinks.keys()].map((router): RouterAnswer => {
      const reply = replies.get(router);
      const uplink = uplinks.get(router);
      return reply
        ? {
            router,
            ...(uplink !== undefined && { uplink }),
            ...(reply.site !== undefined && { site: reply.site }),
            state: 'answered',
            matched: reply.matched,
            returned: reply.records.length,
            capacity: reply.capacity,
            ...(reply.version !== undefined && { version: reply.version }),
          }
        : { router, ...(uplink !== undefined && { uplink }), state: 'no answer', matched: 0, returned: 0 };
    }),
    ...unreachable.map((router): RouterAnswer => ({ router, state: 'unreachable', matched: 0, returned: 0 })),
  ];
  const answered = [...replies.values()];
  // Every reply names its router's site: that fills in the sites a router could not name itself (an edge
  // router's, which is in no link state, at routers other than its uplink).
  const sites = new Map(answered.flatMap((reply) => (reply.site === undefined ? [] : [[reply.router, reply.site] as const])));
  const named = (record: WireFlowRecord): WireFlowRecord => {
    const listenerSite = record.listenerSite ?? sites.get(record.listenerRouter);
    const connectorSite = record.connectorSite ?? (record.connectorRouter === undefined ? undefined : sites.get(record.connectorRouter));
    return { ...record, ...(listenerSite !== undefined && { listenerSite }), ...(connectorSite !== undefined && { connectorSite }) };
  };
  return {
    records: answered.flatMap((reply) => reply.records.map(named)).sort((a, b) => b.startTime - a.startTime),
    totals: answered.flatMap((reply) => reply.totals.map((totals) => ({ ...totals, router: reply.router, ...(reply.site !== undefined && { site: reply.site }) }))),
    routers,
    links: answered.flatMap((reply) => (reply.links ?? []).map((link) => ({ ...link, router: reply.router, ...(reply.site !== undefined && { site: reply.site }) }))),
    more: answered.reduce((sum, reply) => sum + reply.matched - reply.records.length, 0),
  };
}

/** This router's id, and the others its link state knows, split by whether a route leads there. */
async function networkRouters(target: AmqpClientTarget, timeoutMs: number): Promise<{ self: string; reachable: string[]; unreachable: string[] }> {
  const client = await ManagementClient.connect(target, { timeoutMs });
  try {
    const [router] = await client.query('router', ['id']);
    const self = String(router?.id ?? '');
    const nodes = await client.query('router.node', ['id', 'nextHop']);
    const others = nodes.filter((node) => node.id !== self);
    return {
      self,
      reachable: [self, ...others.filter((node) => node.nextHop !== '(unreachable)').map((node) => String(node.id))],
      unreachable: others.filter((node) => node.nextHop === '(unreachable)').map((node) => String(node.id)),
    };
  } finally {
    await client.close();
  }
}

/**
 * Sends each router the query and collects the replies, with those of the
 * edge routers the interior routers name (`uplinks`: edge router id to the
 * interior router that named it).
 */
async function askRouters(
  target: AmqpClientTarget,
  self: string,
  routers: readonly string[],
  query: FlowQuery,
  timeoutMs: number,
): Promise<{ replies: Map<string, FlowReply>; uplinks: Map<string, string> }> {
  const container = rhea.create_container({ id: `kskup-flows-${randomUUID()}` });
  const replies = new Map<string, FlowReply>();
  const uplinks = new Map<string, string>();
  // An edge router's reply may come before its uplink's, which names it: held until then (one per router id, so bounded).
  const early = new Map<string, FlowReply>();
  const expected = (router: string) => routers.includes(router) || uplinks.has(router);
  const replyAddress = `_kskup/flows/reply/${randomUUID()}`;
  let connection: Connection | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => resolve(), timeoutMs);
      const fail = (why: string) => {
        clearTimeout(timer);
        reject(new Error(`flow query through ${target.host}:${target.port}: ${why}`));
      };
      container.on('error', (error: unknown) => fail(String(error)));
      connection = container.connect(clientConnectionOptions(target, container, { reconnect: false }));
      connection.on('disconnected', (context: EventContext) => fail(`connection lost (${String(context.error ?? 'closed')})`));
      connection.on('connection_error', () => fail('the router closed the connection'));
      const receiver: Receiver = connection.open_receiver({ source: { address: replyAddress }, credit_window: 100, autoaccept: true });
      receiver.on('message', (context: EventContext) => {
        const message = context.message;
        if (!message || message.subject !== FLOW_REPLY_SUBJECT) return;
        const reply = parseFlowReply(message.body);
        // A malformed reply counts as no answer from that router.
        if (typeof reply === 'string') return;
        if (!expected(reply.router)) {
          early.set(reply.router, reply);
          return;
        }
        replies.set(reply.router, reply);
        // Only a router in link state (an interior one) names edge routers; an edge router has none of its own.
        if (routers.includes(reply.router)) {
          for (const edge of reply.edges ?? []) {
            if (expected(edge)) continue;
            uplinks.set(edge, reply.router);
            const held = early.get(edge);
            if (held) replies.set(edge, held);
          }
        }
        if (replies.size === routers.length + uplinks.size) {
          clearTimeout(timer);
          resolve();
        }
      });
      receiver.once('receiver_open', () => {
        // An anonymous sender: each query names its router's address, and the router gives such a sender credit at once.
        const sender: Sender = connection!.open_sender({ target: {} as { address: string }, snd_settle_mode: 1 });
        sender.once('sendable', () => {
          for (const router of routers) {
            sender.send({
              to: flowsAddress(router),
              reply_to: replyAddress,
              correlation_id: router,
              subject: FLOW_QUERY_SUBJECT,
              content_type: 'application/json',
              application_properties: { [REPLY_ROUTER_PROPERTY]: self },
              body: JSON.stringify(query),
            });
          }
        });
      });
    });
  } finally {
    connection?.close();
  }
  return { replies, uplinks };
}

/** A service's flows over the whole network (counts, and bytes each way). */
export interface ServiceTraffic {
  opened: number;
  /** Flows that ended other than closed cleanly. */
  failed: number;
  requestBytes: number;
  responseBytes: number;
}

/**
 * A service's flows over the whole network, from the gathered totals: the
 * listener-side totals of every router only, so that each flow counts once
 * (its connector side has totals of its own).
 */
export function serviceTraffic(address: string, gathered: GatheredFlows): ServiceTraffic {
  const traffic: ServiceTraffic = { opened: 0, failed: 0, requestBytes: 0, responseBytes: 0 };
  for (const totals of gathered.totals) {
    if (totals.role !== 'listener-side' || !serviceMatches(totals.vanAddress, address)) continue;
    traffic.opened += totals.opened;
    traffic.failed += Object.entries(totals.ended).reduce((sum, [result, count]) => sum + (result === 'closed' ? 0 : count), 0);
    traffic.requestBytes += totals.octets;
    traffic.responseBytes += totals.octetsReverse;
  }
  return traffic;
}

/**
 * How a service's flows were split among the sites that served them: flows
 * opened per connector-side site, from every router's listener-side totals
 * (each flow counts once), since those routers started. Sites by name where
 * the answering router knew it, else by router id.
 */
export function serviceSplit(address: string, gathered: GatheredFlows): Record<string, number> {
  const sites = new Map<string, string>();
  for (const router of gathered.routers) if (router.site !== undefined) sites.set(router.router, router.site);
  const split: Record<string, number> = {};
  for (const totals of gathered.totals) {
    if (totals.role !== 'listener-side' || !serviceMatches(totals.vanAddress, address) || totals.peerRouter === '') continue;
    const site = totals.peerSite ?? sites.get(totals.peerRouter) ?? totals.peerRouter;
    split[site] = (split[site] ?? 0) + totals.opened;
  }
  return split;
}

/** Flows a site's policy refused (result `denied`), counted once per listening router and refusing router. */
export interface DeniedFlows {
  /** The router address the flows were for (`service:port`). */
  readonly vanAddress: string;
  /** The site whose listener took the clients (its router id when the name is not known). */
  readonly from: string;
  /** The site whose tcpConnectors refused them (kskup:policy-denied). */
  readonly at: string;
  readonly flows: number;
}

/**
 * Every policy refusal in the network since the routers started, from the
 * listener-side totals (each refused flow ends there as `denied`, with the
 * refusing router as its peer), largest first. Routers older than the result
 * count none.
 */
export function deniedFlows(gathered: GatheredFlows): DeniedFlows[] {
  const sites = new Map<string, string>();
  for (const router of gathered.routers) if (router.site !== undefined) sites.set(router.router, router.site);
  const byKey = new Map<string, DeniedFlows>();
  for (const totals of gathered.totals) {
    const denied = totals.ended.denied ?? 0;
    if (totals.role !== 'listener-side' || denied === 0) continue;
    const from = totals.site ?? sites.get(totals.router) ?? totals.router;
    const at = totals.peerSite ?? sites.get(totals.peerRouter) ?? totals.peerRouter;
    const key = `${totals.vanAddress}\u0000${from}\u0000${at}`;
    byKey.set(key, { vanAddress: totals.vanAddress, from, at, flows: (byKey.get(key)?.flows ?? 0) + denied });
  }
  return [...byKey.values()].sort((a, b) => b.flows - a.flows || a.vanAddress.localeCompare(b.vanAddress));
}
