// What a site tells every other site over the router network (service sync):
// who it is, its links, and the services exposed at it with the health of
// their targets. Sent on every change and as a heartbeat with the full state,
// so a site that joins late or restarts catches up, and a site that stops
// sending is forgotten after a TTL. Messages from other sites are untrusted
// input: they are checked field by field and a bad one is dropped whole.
import { SYNC_PREFIX } from '../../site-controller/site/desired-router-config.js';
import { nameProblem, type PlatformName, type RouterMode, type ServiceLimits, type SiteDocument } from '../../site-controller/site/model.js';
import { sitesAllowedToReach } from '../../site-controller/policy/policy-rules.js';

// The prefix is the router config's (every site's router distributes it as multicast).
export { SYNC_PREFIX };

/** The address sites announce on. */
export const SYNC_ADDRESS = `${SYNC_PREFIX}/sites`;
export const ANNOUNCEMENT_SUBJECT = 'kskup.site-state.v1';

export interface AnnouncedTarget {
  readonly host: string;
  readonly ports: readonly number[];
  readonly healthy: boolean;
  /** Its weight as the routers have it (the site weight's share, or its own); absent: not weighted, or a site older than the field. */
  readonly weight?: number;
}

/** A site weights setting made at the announcing site (SiteWeightsSetting), with its time in ms since the epoch. */
export interface AnnouncedWeights {
  readonly address: string;
  readonly sites: Readonly<Record<string, number>>;
  readonly setAt: number;
}

/** A service limits setting made at the announcing site (ServiceLimitsSetting), with its time in ms since the epoch. */
export interface AnnouncedLimits {
  readonly address: string;
  readonly limits: ServiceLimits;
  readonly setAt: number;
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
  /**
   * The sites (names or ids, as the announcing site's policy names them) that
   * its serviceAccess lets reach the service there; absent: any site, or a site
   * older than the field. Its routers refuse flows from other sites
   * (tcpConnector allowedSites); announced so that those sites do not listen
   * for a service they cannot be served by (docs/policy.md).
   */
  readonly allowedSites?: readonly string[];
}

export interface AnnouncedSite {
  readonly id: string;
  readonly name: string;
  readonly platform: PlatformName;
  readonly mode: RouterMode;
}

export interface AnnouncedLink {
  readonly remoteSiteId: string;
  readonly remoteSiteName: string;
  readonly connected: boolean;
  /** The link's routing cost; absent from sites older than the field. */
  readonly cost?: number;
  /** Why it is down (the connector's reason), when it is and the site knows; absent when up. */
  readonly reason?: string;
}

/** One of the site's tcpListeners for a service port, as its router has it bound (or not, and why). */
export interface AnnouncedListener {
  /** The router address it listens for: `service:port` (routerAddress). */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  readonly listening: boolean;
  readonly reason?: string;
}

export interface SiteAnnouncement {
  readonly site: AnnouncedSite;
  /** Increases with every announcement of a site, across restarts: older ones are ignored. */
  readonly seq: number;
  /** The site is going away (deleted or stopped): forget it now rather than after the TTL. */
  readonly final: boolean;
  /** The kskup version of the site's controller; absent from sites older than the field. */
  readonly version?: string;
  readonly links: readonly AnnouncedLink[];
  readonly services: readonly AnnouncedService[];
  /** Its service listeners; absent from sites older than the field (their listeners are unknown, not none). */
  readonly listeners?: readonly AnnouncedListener[];
  /** Site weights set at this site; absent from sites older than the field. */
  readonly weights?: readonly AnnouncedWeights[];
  /** Service limits set at this site; absent from sites older than the field. */
  readonly limits?: readonly AnnouncedLimits[];
}

/** What a site announces of itself besides its document: its links' state, its targets' health, its listeners. */
export interface AnnouncedState {
  readonly connectedLinks: ReadonlySet<string>;
  /** Whether the target answered the last probe. */
  readonly healthy: (host: string, port: number, address?: string) => boolean;
  /** Why a link (by name) is down, when known. */
  readonly linkProblem?: (linkName: string) => string | undefined;
  readonly listeners?: readonly AnnouncedListener[];
  readonly version?: string;
  /** The weight a target has as the routers have it, or undefined when it is not weighted. */
  readonly weight?: (address: string, target: { readonly host: string; readonly type: string; readonly name: string }) => number | undefined;
}

/** Longest text of a field other sites only display (a version, a reason): longer is cut, and a longer one heard is refused. */
export const MAX_NOTE_LENGTH = 500;

/** The announcement of a site's own state. */
export function announce(document: SiteDocument, seq: number, state: AnnouncedState, final = false): SiteAnnouncement {
  const { site } = document;
  const { healthy } = state;
  return {
    site: { id: site.id, name: site.name, platform: site.platform, mode: site.mode },
    seq,
    final,
    ...(state.version !== undefined && { version: state.version.slice(0, MAX_NOTE_LENGTH) }),
    links: document.links.map((link): AnnouncedLink => {
      const connected = state.connectedLinks.has(link.name);
      const reason = connected ? undefined : state.linkProblem?.(link.name);
      return { remoteSiteId: link.remoteSiteId, remoteSiteName: link.remoteSiteName, connected, cost: link.cost, ...(reason && { reason: reason.slice(0, MAX_NOTE_LENGTH) }) };
    }),
    ...(!final &&
      document.siteWeights !== undefined && {
        weights: Object.entries(document.siteWeights).map(([address, setting]) => ({ address, sites: setting.sites, setAt: Date.parse(setting.setAt) })),
      }),
    ...(!final &&
      document.serviceLimits !== undefined && {
        limits: Object.entries(document.serviceLimits).map(([address, setting]) => ({ address, limits: setting.limits, setAt: Date.parse(setting.setAt) })),
      }),
    ...(state.listeners !== undefined && !final && { listeners: state.listeners.map((l) => (l.reason === undefined ? l : { ...l, reason: l.reason.slice(0, MAX_NOTE_LENGTH) })) }),
    services: final
      ? []
      : document.services.map((service) => ({
          address: service.address,
          protocol: service.protocol,
          ports: service.ports,
          targets: service.targets.map((target) => {
            const weight = state.weight?.(service.address, target);
            return { host: target.host, ports: target.targetPorts, healthy: target.targetPorts.every((port) => healthy(target.host, port, service.address)), ...(weight !== undefined && { weight }) };
          }),
          ...(service.tlsCredentials !== undefined && { tlsCredentials: service.tlsCredentials }),
          ...(service.backlog !== undefined && { backlog: service.backlog }),
          ...allowedSitesOf(document, service.address),
        })),
  };
}

/** The sites the policy of `document` lets reach `address` exposed there, as announced: absent for any. */
function allowedSitesOf(document: SiteDocument, address: string): { allowedSites?: readonly string[] } {
  const sites = sitesAllowedToReach(document.policy, address);
  // A longer list is not announced (any site may try), never cut: a cut list would keep out sites the policy lets in. The router enforces it whole.
  return sites === undefined || sites.length > MAX_ALLOWED_SITES ? {} : { allowedSites: sites };
}

/**
 * Most sites a service's allowedSites may name in an announcement; a longer
 * list heard is refused, so one site cannot make the others hold an unbounded one.
 */
export const MAX_ALLOWED_SITES = 1_000;

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
  const { site, seq, final, links, services, version, listeners, weights, limits } = value;
  if (!isRecord(site) || !isString(site.id) || !isString(site.name) || !oneOf(site.platform, ['local', 'kubernetes']) || !oneOf(site.mode, ['interior', 'edge'])) {
    return 'site needs id, name, platform and mode';
  }
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq)) return 'seq is not an integer';
  if (!Array.isArray(links) || !links.every(isLink)) return 'links are malformed';
  if (!Array.isArray(services) || !services.every(isService)) return 'services are malformed';
  if (version !== undefined && !isNote(version)) return 'version is malformed';
  if (listeners !== undefined && (!Array.isArray(listeners) || !listeners.every(isListener))) return 'listeners are malformed';
  if (weights !== undefined && (!Array.isArray(weights) || !weights.every(isWeights))) return 'weights are malformed';
  if (limits !== undefined && (!Array.isArray(limits) || !limits.every(isLimits))) return 'limits are malformed';
  return {
    site: { id: site.id, name: site.name, platform: site.platform as PlatformName, mode: site.mode as RouterMode },
    seq,
    final: final === true,
    ...(version !== undefined && { version }),
    links: links.map(({ remoteSiteId, remoteSiteName, connected, cost, reason }) => ({
      remoteSiteId,
      remoteSiteName,
      connected,
      ...(cost !== undefined && { cost }),
      ...(reason !== undefined && { reason }),
    })),
    services: services as AnnouncedService[],
    ...(listeners !== undefined && { listeners: listeners.map(({ address, host, port, listening, reason }) => ({ address, host, port, listening, ...(reason !== undefined && { reason }) })) }),
    ...(weights !== undefined && { weights: weights.map(({ address, sites, setAt }) => ({ address, sites: { ...sites }, setAt })) }),
    ...(limits !== undefined && { limits: limits.map(({ address, limits: set, setAt }) => ({ address, limits: limitFields(set), setAt })) }),
  };
}

// The fields added after v1's first form (cost, reason, version, listeners, weights, a service's allowedSites) are optional: sites older than them still parse.
function isLink(value: unknown): value is AnnouncedLink {
  return (
    isRecord(value) &&
    isString(value.remoteSiteId) &&
    typeof value.remoteSiteName === 'string' &&
    typeof value.connected === 'boolean' &&
    (value.cost === undefined || (typeof value.cost === 'number' && Number.isSafeInteger(value.cost) && value.cost >= 1)) &&
    (value.reason === undefined || isNote(value.reason))
  );
}

function isListener(value: unknown): value is AnnouncedListener {
  return (
    isRecord(value) &&
    isString(value.address) &&
    value.address.length <= MAX_NOTE_LENGTH &&
    isString(value.host) &&
    value.host.length <= MAX_NOTE_LENGTH &&
    typeof value.port === 'number' &&
    Number.isInteger(value.port) &&
    value.port >= 0 &&
    value.port <= 65535 &&
    typeof value.listening === 'boolean' &&
    (value.reason === undefined || isNote(value.reason))
  );
}

/** A weight as a tcpConnector takes it: a whole number from 0 to 1000000 (router/config's MAX_CONNECTOR_WEIGHT). */
export function isWeight(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= 1_000_000;
}

/** The fields every announced per-service setting has (weights, limits): the service's address, and when it was set (ms since the epoch). */
function isServiceSetting(value: unknown): value is Record<string, unknown> & { address: string; setAt: number } {
  return isRecord(value) && isString(value.address) && value.address.length <= MAX_NOTE_LENGTH && typeof value.setAt === 'number' && Number.isSafeInteger(value.setAt);
}

function isWeights(value: unknown): value is AnnouncedWeights {
  return (
    isServiceSetting(value) &&
    isRecord(value.sites) &&
    Object.keys(value.sites).length <= 100 &&
    Object.entries(value.sites).every(([site, weight]) => nameProblem(site) === undefined && isWeight(weight))
  );
}

/** The limit fields and their lowest values (router/config's tcpConnector attributes); anything else in a heard setting is left out. */
const LIMIT_FIELDS: Readonly<Record<keyof ServiceLimits, number>> = { maxFlows: 1, flowsPerSecond: 1, flowBurst: 1, bandwidth: 1, flowQueue: 0, flowQueueTimeoutMs: 1 };

function limitFields(limits: ServiceLimits): ServiceLimits {
  const kept: Record<string, number> = {};
  for (const field of Object.keys(LIMIT_FIELDS) as (keyof ServiceLimits)[]) if (limits[field] !== undefined) kept[field] = limits[field];
  return kept;
}

function isLimits(value: unknown): value is AnnouncedLimits {
  return (
    isServiceSetting(value) &&
    isRecord(value.limits) &&
    Object.entries(LIMIT_FIELDS).every(([field, lowest]) => {
      const limit = (value.limits as Record<string, unknown>)[field];
      return limit === undefined || (typeof limit === 'number' && Number.isSafeInteger(limit) && limit >= lowest);
    })
  );
}

function isNote(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_NOTE_LENGTH;
}

function isService(value: unknown): value is AnnouncedService {
  return (
    isRecord(value) &&
    isString(value.address) &&
    value.protocol === 'tcp' &&
    isPorts(value.ports) &&
    Array.isArray(value.targets) &&
    value.targets.every((t) => isRecord(t) && isString(t.host) && isPorts(t.ports) && typeof t.healthy === 'boolean' && (t.weight === undefined || isWeight(t.weight))) &&
    (value.tlsCredentials === undefined || (typeof value.tlsCredentials === 'string' && nameProblem(value.tlsCredentials) === undefined)) &&
    (value.backlog === undefined || (typeof value.backlog === 'number' && Number.isSafeInteger(value.backlog) && value.backlog >= 0)) &&
    (value.allowedSites === undefined || isSiteList(value.allowedSites))
  );
}

/** Site names or ids as a policy names them (site-controller/policy/site-policy.ts ITEM): at most MAX_ALLOWED_SITES. */
function isSiteList(value: unknown): value is string[] {
  return Array.isArray(value) && value.length <= MAX_ALLOWED_SITES && value.every((site) => isString(site) && site.length <= 253);
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
