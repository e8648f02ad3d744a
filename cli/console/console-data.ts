// What the web console shows, gathered from one site: the network as that
// site's controller last recorded it (sites with their version, links with
// cost and why one is down, and listeners, from service sync), the site's own
// links as its router has them now (readSiteStatus, as `kskup status`), and
// from every router (the flow query, docs/flows.md, as `kskup flow list`) the
// network's flows and per-service totals, each router's version, and its
// links' byte counters, from which LinkRates makes each link's bytes/s. One
// gather makes one ConsoleSnapshot; the server sends it whole to the page.
import { VERSION } from '../../router/version.js';
import { routerAddress } from '../../site-controller/site/model.js';
import { deniedFlows, gatherFlows, serviceTraffic, type GatheredFlows } from '../../service-controller/flows/flow-gatherer.js';
import { otherSiteBlocks, ownSiteBlocks, servicePolicy, type ConsoleBlock, type ConsoleServicePolicy } from './console-policy.js';
import type { SiteAnnouncement } from '../../service-controller/sync/announcement.js';
import { joinEnds, type FlowRow } from '../site/flow-list-command.js';
import type { ResolvedSite } from '../site/site-options.js';
import { readSiteStatus, type LinkStatus } from '../site/site-status.js';
import type { SiteRouter } from '../router-stat/site-router.js';
import { LinkRates, sitePairKey } from './link-rates.js';

/** How many recent flows the console lists (the network's newest first). */
export const CONSOLE_FLOW_LIMIT = 100;
/** A gather waits this long for the routers' flow replies: the page updates every second, so a slow router must not hold it. */
const FLOW_TIMEOUT_MS = 2_000;

/** A router of a site, as it answered the flow query of the last gather. */
export interface ConsoleRouter {
  readonly id: string;
  /** 'answered', 'no answer' within the time allowed, or 'unreachable' (link state has no route to it). */
  readonly state: string;
  /** Its kskup version, from its reply; absent when it did not answer, or is older than the field. */
  readonly version?: string;
}

/** A link a site made, as it announces it (the console's own site: as its router has it now). */
export interface ConsoleSiteLink {
  readonly to: string;
  readonly up: boolean;
  /** Absent from sites older than the announced cost. */
  readonly cost?: number;
  /** Why it is down, when the site says; '' or absent when up. */
  readonly reason?: string;
}

export interface ConsoleSite {
  readonly id: string;
  readonly name: string;
  readonly platform: string;
  /** skupper-router's router mode: interior or edge. */
  readonly mode: string;
  /** The site the console serves. */
  readonly self: boolean;
  /** ISO 8601 time the console's site last heard it (service sync); absent for itself. */
  readonly lastHeard?: string;
  /** The kskup version of its controller, as it announces it; absent from sites older than the field. */
  readonly version?: string;
  /** Its routers, by the site name each router's flow reply gives. */
  readonly routers: readonly ConsoleRouter[];
  readonly links: readonly ConsoleSiteLink[];
  /** What site policies block at it and why (console-policy.ts): all of it for the console's own site, what is announced for another. */
  readonly blocked: readonly ConsoleBlock[];
}

/** A link as the site that made it announces it: from the linking site to the site that issued the token. */
export interface ConsoleLink {
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly up: boolean;
  /** The link's cost (the console's own site's links, and links of sites that announce it). */
  readonly cost?: number;
  /** Why it is down ('' or absent when up). */
  readonly reason?: string;
  /** Bytes per second over the link, both directions, between the last two gathers (LinkRates); absent until known. */
  readonly bytesPerSecond?: number;
}

export interface ConsoleListener {
  readonly site: string;
  readonly host: string;
  readonly port: number;
  /** The service port it is the listener of. */
  readonly servicePort: number;
  readonly listening: boolean;
  readonly reason?: string;
}

export interface ConsoleService {
  readonly address: string;
  readonly protocol: string;
  readonly ports: readonly number[];
  readonly exposedAt: readonly string[];
  /** `weight`: the target's weight as the routers have it (docs/traffic.md); absent when the service is not weighted. */
  readonly targets: readonly { readonly site: string; readonly host: string; readonly port: number; readonly healthy: boolean; readonly weight?: number }[];
  /** Every site's listener per service port: the console's site's from its controller, the others' as they announce them. */
  readonly listeners: readonly ConsoleListener[];
  /** Sites that announce no listeners (older than the field): where it listens there is unknown. */
  readonly listenersUnknownAt: readonly string[];
  /** Over the whole network, counted at each flow's listener side: flows opened and failed, bytes client -> target and back. */
  readonly traffic: { readonly opened: number; readonly failed: number; readonly requestBytes: number; readonly responseBytes: number };
  /** Who may reach it where (serviceAccess), why the console's site has no listener for it, and the flows policies refused. */
  readonly policy: ConsoleServicePolicy;
}

export interface ConsoleSiteDetail {
  readonly name: string;
  readonly id: string;
  readonly platform: string;
  readonly mode: string;
  /** The kskup version serving the console. */
  readonly version: string;
  /** undefined: the router answered; otherwise why it could not be asked. */
  readonly routerProblem?: string;
  readonly links: readonly LinkStatus[];
  readonly incoming: readonly { readonly site: string; readonly connected: boolean; readonly role: string }[];
}

export interface ConsoleSnapshot {
  /** ISO 8601 time of this gather. */
  readonly gatheredAt: string;
  readonly site: ConsoleSiteDetail;
  readonly sites: readonly ConsoleSite[];
  readonly links: readonly ConsoleLink[];
  readonly services: readonly ConsoleService[];
  readonly flows: readonly FlowRow[];
  /** Routers that did not answer the flow query, and why the query failed as a whole: their flows are missing. */
  readonly flowProblems: readonly string[];
}

/**
 * Keeps every link the console has seen. A deleted link is no longer in any
 * announcement or site document, so without this it would just vanish from
 * the graph; it stays, down, with why, as long as the console runs.
 */
export class LinkMemory {
  readonly #seen = new Map<string, ConsoleLink>();

  apply(links: readonly ConsoleLink[]): ConsoleLink[] {
    const now = new Set(links.map((link) => link.id));
    for (const link of links) this.#seen.set(link.id, link);
    const gone = [...this.#seen.values()]
      .filter((link) => !now.has(link.id))
      .map(({ bytesPerSecond: _, ...link }) => ({ ...link, up: false, reason: 'no longer announced: the link was deleted, or its site is gone' }));
    return [...links, ...gone];
  }
}

/** What the console keeps from one gather to the next. */
export interface ConsoleMemory {
  readonly links: LinkMemory;
  readonly rates: LinkRates;
}

export function consoleMemory(): ConsoleMemory {
  return { links: new LinkMemory(), rates: new LinkRates() };
}

/** Gathers a snapshot; never rejects for an unreachable router or a missing record (they become problems in it). */
export async function gatherConsoleSnapshot(target: ResolvedSite, router: RouterHandle, memory: ConsoleMemory): Promise<ConsoleSnapshot> {
  const [status, flows] = await Promise.all([readSiteStatus(target), gatherNetworkFlows(router)]);
  const gatheredAt = Date.now();
  const { document, snapshot } = status;
  const gathered = 'gathered' in flows ? flows.gathered : undefined;
  const heard: { announcement: SiteAnnouncement; heardAt?: string }[] = (snapshot?.sites ?? []).filter(({ announcement }) => announcement.site.id !== document.site.id);
  const names = new Map([[document.site.id, document.site.name], ...heard.map(({ announcement }) => [announcement.site.id, announcement.site.name] as const)]);
  const nameOf = (link: { remoteSiteId: string; remoteSiteName: string }) => names.get(link.remoteSiteId) ?? link.remoteSiteName;
  const connectedIn = new Set(status.incoming.filter((link) => link.connected).map((link) => link.siteId));
  const denied = gathered ? deniedFlows(gathered) : [];
  const routersOf = (site: string): ConsoleRouter[] =>
    (gathered?.routers ?? []).filter((r) => r.site === site).map((r) => ({ id: r.router, state: r.state, ...(r.version !== undefined && { version: r.version }) }));

  // The console's own links from its router, which knows now; its announcement is as old as the last pass.
  const ownLinks: ConsoleSiteLink[] = status.links.map((link) => ({ to: link.remoteSite, up: link.connected, cost: link.cost, reason: link.reason }));
  const announcedLinks = (announcement: SiteAnnouncement): ConsoleSiteLink[] =>
    announcement.links.map((link) => ({
      to: nameOf(link),
      // A link into this site is up only while this site's router has its connection: the announcement may be a TTL old.
      up: link.connected && (link.remoteSiteId !== document.site.id || connectedIn.has(announcement.site.id)),
      ...(link.cost !== undefined && { cost: link.cost }),
      ...(link.reason !== undefined && { reason: link.reason }),
    }));
  const sites: ConsoleSite[] = [
    {
      id: document.site.id,
      name: document.site.name,
      platform: document.site.platform,
      mode: document.site.mode,
      self: true,
      version: VERSION,
      routers: routersOf(document.site.name),
      links: ownLinks,
      blocked: ownSiteBlocks(status, snapshot?.services ?? [], denied),
    },
    ...heard.map(({ announcement, heardAt }) => ({
      id: announcement.site.id,
      name: announcement.site.name,
      platform: announcement.site.platform,
      mode: announcement.site.mode,
      self: false,
      ...(heardAt !== undefined && { lastHeard: heardAt }),
      ...(announcement.version !== undefined && { version: announcement.version }),
      routers: routersOf(announcement.site.name),
      links: announcedLinks(announcement),
      blocked: otherSiteBlocks(announcement.site.name, announcement.listeners, denied),
    })),
  ];
  const rates = memory.rates.update(gathered?.links ?? [], gatheredAt);
  const links: ConsoleLink[] = [
    ...status.links.map((link, index) => ({ id: `${document.site.id}>${link.remoteSiteId}`, from: document.site.name, ...ownLinks[index]! })),
    ...heard.flatMap(({ announcement }) =>
      announcedLinks(announcement).map((link, index) => ({ id: `${announcement.site.id}>${announcement.links[index]!.remoteSiteId}`, from: announcement.site.name, ...link })),
    ),
  ].map((link) => {
    const rate = rates.get(sitePairKey(link.from, link.to));
    return rate === undefined ? link : { ...link, bytesPerSecond: Math.round(rate) };
  });

  // Listeners: this site's as its controller recorded them; the others' as they announce them (sites older than that announce none).
  const listenersBySite = [
    { site: document.site.name, listeners: Object.entries(snapshot?.listeners ?? {}).map(([address, listener]) => ({ address, ...listener })) },
    ...heard.map(({ announcement }) => ({ site: announcement.site.name, listeners: announcement.listeners })),
  ];
  const services: ConsoleService[] = (snapshot?.services ?? []).map((entry) => ({
    address: entry.address,
    protocol: entry.protocol,
    ports: entry.ports,
    exposedAt: entry.exposedAt.map((site) => site.name),
    targets: entry.targets.flatMap((t) => t.ports.map((port) => ({ site: t.siteName, host: t.host, port, healthy: t.healthy, ...(t.weight !== undefined && { weight: t.weight }) }))),
    listeners: listenersBySite.flatMap(({ site, listeners }) =>
      entry.ports.flatMap((servicePort) => {
        const listener = listeners?.find((l) => l.address === routerAddress(entry.address, servicePort));
        return listener
          ? [{ site, host: listener.host, port: listener.port, servicePort, listening: listener.listening, ...(listener.reason !== undefined && { reason: listener.reason }) }]
          : [];
      }),
    ),
    listenersUnknownAt: listenersBySite.filter(({ listeners }) => listeners === undefined).map(({ site }) => site),
    traffic: gathered ? serviceTraffic(entry.address, gathered) : { opened: 0, failed: 0, requestBytes: 0, responseBytes: 0 },
    policy: servicePolicy(entry, document, denied),
  }));
  const flowProblems = gathered
    ? gathered.routers.filter((r) => r.state !== 'answered').map((r) => `router ${r.site ?? r.router} did not answer (${r.state}): its flows are missing`)
    : [`no flows: ${'problem' in flows ? flows.problem : ''}`];
  return {
    gatheredAt: new Date(gatheredAt).toISOString(),
    site: {
      name: document.site.name,
      id: document.site.id,
      platform: document.site.platform,
      mode: document.site.mode,
      version: VERSION,
      ...(status.routerProblem !== undefined && { routerProblem: status.routerProblem }),
      links: status.links,
      incoming: status.incoming.map(({ site, connected, role }) => ({ site, connected, role })),
    },
    sites,
    links: memory.links.apply(links),
    services,
    flows: gathered ? joinEnds(gathered.records).slice(0, CONSOLE_FLOW_LIMIT) : [],
    flowProblems,
  };
}

/** The site's router, kept open between gathers (a cluster site's is a port-forward); `reset` after a failure opens it anew next time. */
export interface RouterHandle {
  get(): Promise<SiteRouter>;
  reset(): void;
}

async function gatherNetworkFlows(router: RouterHandle): Promise<{ gathered: GatheredFlows } | { problem: string }> {
  try {
    const { target } = await router.get();
    return { gathered: await gatherFlows(target, { limit: CONSOLE_FLOW_LIMIT }, FLOW_TIMEOUT_MS) };
  } catch (error) {
    router.reset();
    return { problem: error instanceof Error ? error.message : String(error) };
  }
}

