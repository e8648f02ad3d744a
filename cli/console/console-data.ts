// What the web console shows, gathered from one site: the network as that
// site's controller last recorded it (sites and their links, from service
// sync), the site's own links with why one is down (readSiteStatus, as
// `kskup status`), and the network's flows and per-service totals from every
// router (the flow query, docs/flows.md, as `kskup flow list`). One gather
// makes one ConsoleSnapshot; the server sends it whole to the page.
import { VERSION } from '../../router/version.js';
import { routerAddress } from '../../site-controller/site/model.js';
import { gatherFlows, serviceTraffic, type GatheredFlows } from '../../service-controller/flows/flow-gatherer.js';
import type { SiteAnnouncement } from '../../service-controller/sync/announcement.js';
import { joinEnds, type FlowRow } from '../site/flow-list-command.js';
import type { ResolvedSite } from '../site/site-options.js';
import { readSiteStatus, type LinkStatus } from '../site/site-status.js';
import type { SiteRouter } from '../router-stat/site-router.js';

/** How many recent flows the console lists (the network's newest first). */
export const CONSOLE_FLOW_LIMIT = 100;
/** A gather waits this long for the routers' flow replies: the page updates every second, so a slow router must not hold it. */
const FLOW_TIMEOUT_MS = 2_000;

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
}

/** A link as the site that made it announces it: from the linking site to the site that issued the token. */
export interface ConsoleLink {
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly up: boolean;
  /** Known for the console's own site's links only: the cost and why it is down ('' when up). */
  readonly cost?: number;
  readonly reason?: string;
}

export interface ConsoleService {
  readonly address: string;
  readonly protocol: string;
  readonly ports: readonly number[];
  readonly exposedAt: readonly string[];
  readonly targets: readonly { readonly site: string; readonly host: string; readonly port: number; readonly healthy: boolean }[];
  /** The console's site's listener per service port, if it listens (other sites' are not announced). */
  readonly listeners: readonly { readonly site: string; readonly host: string; readonly port: number; readonly listening: boolean; readonly reason?: string }[];
  /** Over the whole network, counted at each flow's listener side: flows opened and failed, bytes client -> target and back. */
  readonly traffic: { readonly opened: number; readonly failed: number; readonly requestBytes: number; readonly responseBytes: number };
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
    const gone = [...this.#seen.values()].filter((link) => !now.has(link.id)).map((link) => ({ ...link, up: false, reason: 'no longer announced: the link was deleted, or its site is gone' }));
    return [...links, ...gone];
  }
}

/** Gathers a snapshot; never rejects for an unreachable router or a missing record (they become problems in it). */
export async function gatherConsoleSnapshot(target: ResolvedSite, router: RouterHandle, memory: LinkMemory): Promise<ConsoleSnapshot> {
  const [status, flows] = await Promise.all([readSiteStatus(target), gatherNetworkFlows(router)]);
  const { document, snapshot } = status;
  const self = snapshot?.self;
  const all: { announcement: SiteAnnouncement; heardAt?: string }[] = [...(self ? [{ announcement: self }] : []), ...(snapshot?.sites ?? [])];
  const connectedIn = new Set(status.incoming.filter((link) => link.connected).map((link) => link.siteId));
  const names = new Map(all.map(({ announcement }) => [announcement.site.id, announcement.site.name]));
  const sites: ConsoleSite[] = all.map(({ announcement: { site }, heardAt }) => ({
    id: site.id,
    name: site.name,
    platform: site.platform,
    mode: site.mode,
    self: heardAt === undefined,
    ...(heardAt !== undefined && { lastHeard: heardAt }),
  }));
  if (!self) sites.push({ id: document.site.id, name: document.site.name, platform: document.site.platform, mode: document.site.mode, self: true });
  const links: ConsoleLink[] = all.flatMap(({ announcement }) =>
    announcement.site.id === document.site.id
      ? []
      : announcement.links.map((link) => ({
          id: `${announcement.site.id}>${link.remoteSiteId}`,
          from: announcement.site.name,
          to: names.get(link.remoteSiteId) ?? link.remoteSiteName,
          // A link into this site is up only while this site's router has its connection: the announcement may be a TTL old.
          up: link.connected && (link.remoteSiteId !== document.site.id || connectedIn.has(announcement.site.id)),
        })),
  );
  // The site's own links from its router, which knows now; the announcement is as old as the last pass.
  for (const link of status.links) links.push({ id: `${document.site.id}>${link.remoteSiteId}`, from: document.site.name, to: link.remoteSite, up: link.connected, cost: link.cost, reason: link.reason });
  const services: ConsoleService[] = (snapshot?.services ?? []).map((entry) => ({
    address: entry.address,
    protocol: entry.protocol,
    ports: entry.ports,
    exposedAt: entry.exposedAt.map((site) => site.name),
    targets: entry.targets.flatMap((t) => t.ports.map((port) => ({ site: t.siteName, host: t.host, port, healthy: t.healthy }))),
    listeners: entry.ports.flatMap((port) => {
      const listener = snapshot?.listeners[routerAddress(entry.address, port)];
      return listener ? [{ site: document.site.name, host: listener.host, port: listener.port, listening: listener.listening, ...(listener.reason !== undefined && { reason: listener.reason }) }] : [];
    }),
    traffic: 'gathered' in flows ? serviceTraffic(entry.address, flows.gathered) : { opened: 0, failed: 0, requestBytes: 0, responseBytes: 0 },
  }));
  const flowProblems =
    'gathered' in flows
      ? flows.gathered.routers.filter((r) => r.state !== 'answered').map((r) => `router ${r.site ?? r.router} did not answer (${r.state}): its flows are missing`)
      : [`no flows: ${flows.problem}`];
  return {
    gatheredAt: new Date().toISOString(),
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
    links: memory.apply(links),
    services,
    flows: 'gathered' in flows ? joinEnds(flows.gathered.records).slice(0, CONSOLE_FLOW_LIMIT) : [],
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

