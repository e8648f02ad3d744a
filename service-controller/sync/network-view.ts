// What one site knows of the others, from their announcements: pure state, so
// the rules (newest wins, final means gone, silence past the TTL means gone,
// services merge by address) are tested without a network.
import type { AnnouncedSite, AnnouncedTarget, SiteAnnouncement } from './announcement.js';
import type { ServiceLimits } from '../../site-controller/site/model.js';

export interface HeardSite {
  readonly announcement: SiteAnnouncement;
  /** ms since the epoch, of this site's clock. */
  readonly heardAt: number;
}

/** What hearing an announcement did: whether the network's content changed, and whether the sender was new to us. */
export type Heard = 'new' | 'changed' | 'same' | 'ignored' | 'gone';

export class NetworkView {
  private readonly sites = new Map<string, HeardSite>();
  /**
   * The seq of each site's final announcement (and when it came): an older
   * announcement of a departed site (a heartbeat delayed past its goodbye) must
   * not bring it back. Forgotten after the TTL, like sites (see expire()).
   */
  private readonly departed = new Map<string, { readonly seq: number; readonly at: number }>();

  /**
   * Since when (ms since the epoch) this site cannot hear the others: its
   * service sync has no router connection (not yet, or lost). Undefined: it hears.
   */
  private deafSince: number | undefined;

  constructor(private readonly selfId: string) {}

  /** This site stopped hearing the network at `now` (its router connection is down); a later call while deaf changes nothing. */
  deaf(now: number): void {
    this.deafSince ??= now;
  }

  /**
   * This site hears the network again: the time it was deaf does not count
   * against the others (as pardon), so each has the TTL counted while this
   * site listened: a router replica deleted behind its Service, a router restart.
   */
  listening(now: number): void {
    if (this.deafSince === undefined) return;
    this.pardon(Math.max(0, now - this.deafSince));
    this.deafSince = undefined;
  }

  /** Whether this site hears the network now. */
  hearing(): boolean {
    return this.deafSince === undefined;
  }

  hear(announcement: SiteAnnouncement, now: number): Heard {
    const id = announcement.site.id;
    if (id === this.selfId) return 'ignored';
    const known = this.sites.get(id);
    if (known && announcement.seq <= known.announcement.seq) return 'ignored';
    const left = this.departed.get(id);
    if (left && announcement.seq <= left.seq) return 'ignored';
    if (announcement.final) {
      this.departed.set(id, { seq: announcement.seq, at: now });
      return this.sites.delete(id) ? 'gone' : 'ignored';
    }
    this.departed.delete(id);
    this.sites.set(id, { announcement, heardAt: now });
    if (!known) return 'new';
    return content(known.announcement) === content(announcement) ? 'same' : 'changed';
  }

  /** Forgets sites not heard from for `ttlMs`; returns them. None while deaf: silence we could not have heard says nothing. */
  expire(now: number, ttlMs: number): AnnouncedSite[] {
    const gone: AnnouncedSite[] = [];
    if (this.deafSince !== undefined) return gone;
    for (const [id, heard] of this.sites) {
      if (now - heard.heardAt > ttlMs) {
        this.sites.delete(id);
        gone.push(heard.announcement.site);
      }
    }
    for (const [id, left] of this.departed) if (now - left.at > ttlMs) this.departed.delete(id);
    return gone;
  }

  /**
   * This process stood still for `ms` (a pause, starvation): the others'
   * silence over that time is not held against them, so what they announced
   * is kept until they have had the TTL, counted while this site listened.
   */
  pardon(ms: number): void {
    for (const [id, heard] of this.sites) this.sites.set(id, { ...heard, heardAt: heard.heardAt + ms });
    for (const [id, left] of this.departed) this.departed.set(id, { ...left, at: left.at + ms });
  }

  remote(): HeardSite[] {
    return [...this.sites.values()].sort((a, b) => a.announcement.site.name.localeCompare(b.announcement.site.name));
  }
}

function content(announcement: SiteAnnouncement): string {
  return JSON.stringify({ site: announcement.site, links: announcement.links, services: announcement.services, weights: announcement.weights });
}

/** A target as its site announced it, with the site it runs at. */
export interface NetworkTarget extends AnnouncedTarget {
  readonly siteId: string;
  readonly siteName: string;
}

/** One service as the whole network has it: every site that exposes the address contributes targets. */
export interface NetworkService {
  readonly address: string;
  readonly protocol: 'tcp';
  /** The union of the ports sites expose it with, ascending. */
  readonly ports: readonly number[];
  readonly exposedAt: readonly { readonly id: string; readonly name: string }[];
  readonly targets: readonly NetworkTarget[];
  /** The TLS credentials its listeners serve, when every exposing site agrees on one. */
  readonly tlsCredentials?: string;
  /**
   * Exposing sites disagree on TLS (different credentials, or TLS at one and
   * plain at another): no site may listen for it, since either choice would
   * ignore what one of them asked for. Says who asked for what.
   */
  readonly tlsConflict?: string;
  /**
   * The listen() backlog of its listeners: the largest any exposing site asks
   * for (a larger queue refuses fewer clients and costs only memory), absent
   * when none asks (the router's default, SOMAXCONN).
   */
  readonly backlog?: number;
  /**
   * The exposing sites whose policy lets only some sites reach the service
   * there (AnnouncedService.allowedSites), each with those sites; absent when
   * none restricts it. serviceAccessRefusal() reads it.
   */
  readonly access?: readonly ServiceAccess[];
  /** The site weights in force: the newest `kskup service weights` setting heard from any site (none when it cleared them). */
  readonly siteWeights?: { readonly sites: Readonly<Record<string, number>>; readonly setAt: number; readonly setBy: string };
  /** The service's limits in force: the newest setting heard from any site (none when it cleared them). */
  readonly limits?: { readonly limits: ServiceLimits; readonly setAt: number; readonly setBy: string };
}

/** The newest service limits setting for each address, over every site's announcement (as newestSiteWeights). */
export function newestServiceLimits(announcements: readonly SiteAnnouncement[]): Map<string, { limits: ServiceLimits; setAt: number; setBy: string }> {
  const newest = new Map<string, { limits: ServiceLimits; setAt: number; setBy: string }>();
  for (const { site, limits } of announcements) {
    for (const setting of limits ?? []) {
      const held = newest.get(setting.address);
      if (!held || setting.setAt > held.setAt || (setting.setAt === held.setAt && site.name < held.setBy)) {
        newest.set(setting.address, { limits: setting.limits, setAt: setting.setAt, setBy: site.name });
      }
    }
  }
  return newest;
}

/** An exposing site that lets only `allowedSites` (names or ids) reach a service there. */
export interface ServiceAccess {
  readonly siteId: string;
  readonly siteName: string;
  readonly allowedSites: readonly string[];
}

/**
 * Why the site `self` may not reach `service` anywhere it is exposed, or
 * undefined when some exposing site serves it: one that is `self`, one that
 * restricts nothing, or one whose allowedSites name `self` by id or name. The
 * listening side's mirror of the router's check (a tcpConnector's
 * allowedSites), so that a site does not listen for what it cannot be served.
 */
export function serviceAccessRefusal(service: Pick<NetworkService, 'exposedAt' | 'access'>, self: { readonly id: string; readonly name: string }): string | undefined {
  const restricted = new Map((service.access ?? []).map((access) => [access.siteId, access]));
  if (restricted.size === 0) return undefined;
  for (const site of service.exposedAt) {
    const access = restricted.get(site.id);
    if (site.id === self.id || access === undefined || access.allowedSites.includes(self.id) || access.allowedSites.includes(self.name)) return undefined;
  }
  const refusing = service.exposedAt.map((site) => {
    const allowed = restricted.get(site.id)!.allowedSites;
    return `site "${site.name}"'s policy (serviceAccess allows ${allowed.length === 0 ? 'no other site' : allowed.join(', ')})`;
  });
  return `${ACCESS_REFUSAL_PREFIX}${refusing.join(' nor by ')}`;
}

/** How serviceAccessRefusal's reasons start: a listener announced as not listening for this reason is kept out by policy. */
export const ACCESS_REFUSAL_PREFIX = 'not allowed by ';

/** The newest site weights setting for each address, over every site's announcement: the one the network goes by. */
export function newestSiteWeights(announcements: readonly SiteAnnouncement[]): Map<string, { sites: Readonly<Record<string, number>>; setAt: number; setBy: string }> {
  const newest = new Map<string, { sites: Readonly<Record<string, number>>; setAt: number; setBy: string }>();
  for (const { site, weights } of announcements) {
    for (const setting of weights ?? []) {
      const held = newest.get(setting.address);
      // Equal times: the site name decides, so every site settles on the same one.
      if (!held || setting.setAt > held.setAt || (setting.setAt === held.setAt && site.name < held.setBy)) {
        newest.set(setting.address, { sites: setting.sites, setAt: setting.setAt, setBy: site.name });
      }
    }
  }
  return newest;
}

export function networkServices(announcements: readonly SiteAnnouncement[]): NetworkService[] {
  const byAddress = new Map<string, { ports: Set<number>; exposedAt: Map<string, string>; targets: NetworkTarget[]; tls: Map<string, string[]>; backlog?: number; access: ServiceAccess[] }>();
  for (const { site, services } of announcements) {
    for (const service of services) {
      let merged = byAddress.get(service.address);
      if (!merged) byAddress.set(service.address, (merged = { ports: new Set(), exposedAt: new Map(), targets: [], tls: new Map(), access: [] }));
      const tls = service.tlsCredentials ?? '';
      merged.tls.set(tls, [...(merged.tls.get(tls) ?? []), site.name]);
      for (const port of service.ports) merged.ports.add(port);
      merged.exposedAt.set(site.id, site.name);
      if (service.backlog !== undefined) merged.backlog = Math.max(merged.backlog ?? 0, service.backlog);
      if (service.allowedSites !== undefined) merged.access.push({ siteId: site.id, siteName: site.name, allowedSites: service.allowedSites });
      for (const target of service.targets) {
        merged.targets.push({ siteId: site.id, siteName: site.name, host: target.host, ports: target.ports, healthy: target.healthy, ...(target.weight !== undefined && { weight: target.weight }) });
      }
    }
  }
  const weights = newestSiteWeights(announcements);
  const limits = newestServiceLimits(announcements);
  return [...byAddress.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([address, merged]) => {
      const siteWeights = weights.get(address);
      const serviceLimits = limits.get(address);
      return {
        address,
        protocol: 'tcp' as const,
        ports: [...merged.ports].sort((a, b) => a - b),
        exposedAt: [...merged.exposedAt.entries()].map(([id, name]) => ({ id, name })).sort((a, b) => a.name.localeCompare(b.name)),
        targets: merged.targets,
        ...tlsOf(merged.tls),
        ...(merged.backlog !== undefined && { backlog: merged.backlog }),
        ...(merged.access.length > 0 && { access: [...merged.access].sort((a, b) => a.siteName.localeCompare(b.siteName)) }),
        ...(siteWeights !== undefined && Object.keys(siteWeights.sites).length > 0 && { siteWeights }),
        ...(serviceLimits !== undefined && Object.keys(serviceLimits.limits).length > 0 && { limits: serviceLimits }),
      };
    });
}

/** TLS credentials -> the sites that asked for them ('' for plain). */
function tlsOf(asked: ReadonlyMap<string, readonly string[]>): { tlsCredentials?: string; tlsConflict?: string } {
  const names = [...asked.keys()].sort();
  if (names.length === 1) return names[0] ? { tlsCredentials: names[0] } : {};
  const who = names.map((name) => `${name ? `TLS credentials "${name}"` : 'no TLS'} at ${[...(asked.get(name) ?? [])].sort().join(', ')}`);
  return { tlsConflict: `the exposing sites disagree on TLS (${who.join('; ')}): expose it with the same --tls-credentials everywhere` };
}
