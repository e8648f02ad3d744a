// What a site tells every other site over the router network (service sync):
// who it is, its links, and the services exposed at it with the health of
// their targets. Sent on every change and as a heartbeat with the full state,
// so a site that joins late or restarts catches up, and a site that stops
// sending is forgotten after a TTL. Messages from other sites are untrusted
// input: they are checked field by field and a bad one is dropped whole.
import { SYNC_PREFIX } from '../../site-controller/site/desired-router-config.js';
import { nameProblem, type PlatformName, type RouterMode, type SiteDocument } from '../../site-controller/site/model.js';

// The prefix is the router config's (every site's router distributes it as multicast).
export { SYNC_PREFIX };

/** The address sites announce on. */
export const SYNC_ADDRESS = `${SYNC_PREFIX}/sites`;
export const ANNOUNCEMENT_SUBJECT = 'kskup.site-state.v1';

export interface AnnouncedTarget {
  readonly host: string;
  readonly ports: readonly number[];
  readonly healthy: boolean;
}

export interface AnnouncedService {
  readonly address: string;
  readonly protocol: 'tcp';
  readonly ports: readonly number[];
  readonly targets: readonly AnnouncedTarget[];
  /**
   * The name of the TLS credentials bundle its listeners serve, which each
   * listening site keeps itself. Only the name: keys never travel.
   */
  readonly tlsCredentials?: string;
  /** The listen() backlog its listeners should have (ServiceRecord.backlog); absent: the router's default. */
  readonly backlog?: number;
}

export interface AnnouncedSite {
  readonly id: string;
  readonly name: string;
  readonly platform: PlatformName;
  readonly mode: RouterMode;
}

export interface SiteAnnouncement {
  readonly site: AnnouncedSite;
  /** Increases with every announcement of a site, across restarts: older ones are ignored. */
  readonly seq: number;
  /** The site is going away (deleted or stopped): forget it now rather than after the TTL. */
  readonly final: boolean;
  readonly links: readonly { readonly remoteSiteId: string; readonly remoteSiteName: string; readonly connected: boolean }[];
  readonly services: readonly AnnouncedService[];
}

/** The announcement of a site's own state; `healthy` says which targets answered the last probe. */
export function announce(
  document: SiteDocument,
  seq: number,
  connectedLinks: ReadonlySet<string>,
  healthy: (host: string, port: number) => boolean,
  final = false,
): SiteAnnouncement {
  const { site } = document;
  return {
    site: { id: site.id, name: site.name, platform: site.platform, mode: site.mode },
    seq,
    final,
    links: document.links.map((link) => ({ remoteSiteId: link.remoteSiteId, remoteSiteName: link.remoteSiteName, connected: connectedLinks.has(link.name) })),
    services: final
      ? []
      : document.services.map((service) => ({
          address: service.address,
          protocol: service.protocol,
          ports: service.ports,
          targets: service.targets.map((target) => ({ host: target.host, ports: target.targetPorts, healthy: target.targetPorts.every((port) => healthy(target.host, port)) })),
          ...(service.tlsCredentials !== undefined && { tlsCredentials: service.tlsCredentials }),
          ...(service.backlog !== undefined && { backlog: service.backlog }),
        })),
  };
}

/** The announcement in a message body, or why the body is not one. */
export function parseAnnouncement(body: unknown): SiteAnnouncement | string {
  let value: unknown = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      return 'body is not JSON';
    }
  }
  if (!isRecord(value)) return 'body is not an object';
  const { site, seq, final, links, services } = value;
  if (!isRecord(site) || !isString(site.id) || !isString(site.name) || !oneOf(site.platform, ['local', 'kubernetes']) || !oneOf(site.mode, ['interior', 'edge'])) {
    return 'site needs id, name, platform and mode';
  }
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq)) return 'seq is not an integer';
  if (!Array.isArray(links) || !links.every((l) => isRecord(l) && isString(l.remoteSiteId) && typeof l.remoteSiteName === 'string' && typeof l.connected === 'boolean')) {
    return 'links are malformed';
  }
  if (!Array.isArray(services) || !services.every(isService)) return 'services are malformed';
  return {
    site: { id: site.id, name: site.name, platform: site.platform as PlatformName, mode: site.mode as RouterMode },
    seq,
    final: final === true,
    links: links as SiteAnnouncement['links'],
    services: services as AnnouncedService[],
  };
}

function isService(value: unknown): value is AnnouncedService {
  return (
    isRecord(value) &&
    isString(value.address) &&
    value.protocol === 'tcp' &&
    isPorts(value.ports) &&
    Array.isArray(value.targets) &&
    value.targets.every((t) => isRecord(t) && isString(t.host) && isPorts(t.ports) && typeof t.healthy === 'boolean') &&
    (value.tlsCredentials === undefined || (typeof value.tlsCredentials === 'string' && nameProblem(value.tlsCredentials) === undefined)) &&
    (value.backlog === undefined || (typeof value.backlog === 'number' && Number.isSafeInteger(value.backlog) && value.backlog >= 0))
  );
}

function isPorts(value: unknown): value is number[] {
  return Array.isArray(value) && value.length > 0 && value.every((port) => Number.isInteger(port) && port >= 1 && port <= 65535);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isString(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

function oneOf(value: unknown, allowed: readonly string[]): boolean {
  return typeof value === 'string' && allowed.includes(value);
}
