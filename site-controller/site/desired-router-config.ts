// The router configuration of a site as a pure function of the site's state:
// the same state gives the same config (entity for entity, in the same order),
// so "nothing changed" is cheap to see and a change reaches the running router
// as a diff, never as a restart. Shared by every platform; paths are whatever
// the platform stores the site's certificates as.
import { bundleUseProblem, tlsProfileName, type BundleUse, type TlsBundleFiles } from './tls-bundles.js';
import { parseRouterConfig, serialiseRouterConfig, type EntityList, type RouterConfig } from '../../router/config/index.js';
import type { ServiceLimits } from './model.js';

export interface SiteLink {
  /** The link's name: its connector and sslProfile are named after it. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** `inter-router` from an interior site, `edge` from an edge site. */
  readonly role: 'inter-router' | 'edge';
  readonly cost: number;
  /** The remote site's CA, and this site's client certificate for it. */
  readonly caCertFile: string;
  readonly certFile: string;
  readonly privateKeyFile: string;
}

export interface SiteState {
  readonly name: string;
  readonly id: string;
  readonly mode: 'interior' | 'edge';
  /** Where the router listens for links from other sites (interior sites only). */
  readonly listenHost: string;
  readonly interRouterPort: number;
  readonly edgePort: number;
  /** Local AMQP (management, messaging) and HTTP (health, metrics) ports, on `localHost`. */
  readonly amqpPort: number;
  readonly httpPort: number;
  /**
   * Where the AMQP and HTTP listeners listen: 127.0.0.1 (the default) where the
   * controller shares the host; all interfaces in a pod, where the kubelet
   * probes /healthz and the controller comes through a Service.
   */
  readonly localHost?: string;
  /**
   * Kubernetes: the router takes claims connections at the ingress and passes
   * them on to the controller's claims endpoint (a tcpListener and tcpConnector
   * of its own), so that one Service address serves links and claims.
   */
  readonly claimsRelay?: { readonly port: number; readonly host: string; readonly targetPort: number };
  /** The site's own CA and the server certificate of its listeners. */
  readonly caCertFile: string;
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
  /**
   * TLS for the local AMQP listener (management, service sync): it then takes
   * only clients with a certificate from this CA. Without it the listener is plain.
   */
  readonly local?: { readonly caCertFile: string; readonly certFile: string; readonly privateKeyFile: string };
  /** Client certificates (hex serials) this site granted and took back: its listeners refuse them. */
  readonly revokedSerials?: readonly string[];
  readonly links: readonly SiteLink[];
  /** Targets of services exposed here: one tcpConnector each per port. */
  readonly serviceConnectors?: readonly ServiceConnector[];
  /** Every service port in the network gets a tcpListener here. */
  readonly serviceListeners?: readonly ServiceListener[];
  /**
   * idleTimeoutSeconds of the router's AMQP listeners and link connectors:
   * a connection silent for twice this long is closed (rhea's reading of the
   * AMQP idle-time-out). Absent: skupper-router's default, 16.
   */
  readonly idleTimeoutSeconds?: number;
  /**
   * The services' TLS bundles this site has, by name, as files the router can
   * read. Each one a service listener or connector uses becomes sslProfile
   * `tls-NAME`; one a service needs and this site lacks means no listener or
   * connector for it, never a plain one.
   */
  readonly tlsBundles?: Readonly<Record<string, TlsBundleFiles>>;
}

export interface ServiceConnector {
  /** The router address: `service:port`. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** The backend speaks TLS, verified against this bundle's CA (and `host` unless verifyHostname is false). */
  readonly tlsTrust?: { readonly name: string; readonly verifyHostname: boolean };
  /**
   * Only flows from routers of these sites (names or ids) are served: the
   * tcpConnector's kskup attribute `allowedSites` (docs/policy.md). Absent: any site.
   */
  readonly allowedSites?: readonly string[];
  /** The tcpConnector's `weight` (kskup's: its share of new flows, 0 drains); absent: not weighted. */
  readonly weight?: number;
  /** This site's share of the service's rate limits: the tcpConnector's maxFlows, flowsPerSecond, ... (kskup's; router/tcp/flow-limiter.ts). */
  readonly limits?: ServiceLimits;
}

export interface ServiceListener {
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** Serve TLS with this bundle's certificate and key. */
  readonly tlsCredentials?: string;
  /** The tcpListener's `backlog` (0: SOMAXCONN); absent: the router's default, which is 0 too. */
  readonly backlog?: number;
}

/**
 * The prefix of the service sync addresses (service-controller/sync): every
 * site's router distributes it as multicast, so each site's controller hears
 * every other's announcements.
 */
export const SYNC_PREFIX = 'kskup.sync';

const SITE_PROFILE = 'site-server';
const LOCAL_PROFILE = 'local';

export function desiredRouterEntities(site: SiteState): EntityList {
  const entities: EntityList = [
    ['router', { id: site.id, mode: site.mode, metadata: JSON.stringify({ id: site.id, name: site.name }) }],
    ...localListener(site),
    ['listener', { name: 'http', host: site.localHost ?? LOOPBACK, port: site.httpPort, http: true, healthz: true, metrics: true, websockets: false }],
    // Service sync: every site's controller hears every other site's announcements.
    ['address', { prefix: SYNC_PREFIX, distribution: 'multicast' }],
  ];
  if (site.mode === 'interior') {
    entities.push(
      ['sslProfile', { name: SITE_PROFILE, caCertFile: site.caCertFile, certFile: site.serverCertFile, privateKeyFile: site.serverKeyFile, ...revocations(site) }],
      ['listener', { name: 'inter-router', role: 'inter-router', host: site.listenHost, port: site.interRouterPort, sslProfile: SITE_PROFILE, authenticatePeer: true, saslMechanisms: 'EXTERNAL', ...idle(site) }],
      ['listener', { name: 'edge', role: 'edge', host: site.listenHost, port: site.edgePort, sslProfile: SITE_PROFILE, authenticatePeer: true, saslMechanisms: 'EXTERNAL', ...idle(site) }],
    );
  }
  // Sorted by name: the order links were made in must not change the config.
  for (const link of [...site.links].sort((a, b) => a.name.localeCompare(b.name))) {
    entities.push(
      ['sslProfile', { name: `link-${link.name}`, caCertFile: link.caCertFile, certFile: link.certFile, privateKeyFile: link.privateKeyFile }],
      ['connector', { name: `link-${link.name}`, role: link.role, host: link.host, port: link.port, cost: link.cost, sslProfile: `link-${link.name}`, saslMechanisms: 'EXTERNAL', ...idle(site) }],
    );
  }
  if (site.claimsRelay) {
    // The address is the site's own, so no other site's router ever offers to serve it.
    const address = `kskup.claims/${site.id}`;
    const relay = site.claimsRelay;
    entities.push(
      ['tcpListener', { name: 'claims', address, host: site.listenHost, port: relay.port }],
      ['tcpConnector', { name: 'claims', address, host: relay.host, port: relay.targetPort }],
    );
  }
  entities.push(...serviceEntities(site));
  return entities;
}

/**
 * The services' tcpConnectors and tcpListeners, and an sslProfile per TLS
 * bundle they use. One that needs a bundle the site does not have (or that
 * lacks the files its use needs) is left out: TLS asked for is never plain.
 */
function serviceEntities(site: SiteState): EntityList {
  const bundles = site.tlsBundles ?? {};
  const used = new Set<string>();
  const usable = (name: string, use: BundleUse) => {
    const files = bundles[name];
    if (!files || bundleUseProblem(name, { hasCert: files.certFile !== undefined, hasCa: files.caCertFile !== undefined }, use)) return false;
    used.add(name);
    return true;
  };
  const byName = <T extends { name: string }>(a: T, b: T) => a.name.localeCompare(b.name);
  const connectors = (site.serviceConnectors ?? [])
    .filter((c) => c.tlsTrust === undefined || usable(c.tlsTrust.name, 'trust'))
    .map((c) => ({
      name: `${c.address}@${c.host}:${c.port}`,
      address: c.address,
      host: c.host,
      port: c.port,
      ...(c.tlsTrust && { sslProfile: tlsProfileName(c.tlsTrust.name), verifyHostname: c.tlsTrust.verifyHostname }),
      ...(c.allowedSites && { allowedSites: [...c.allowedSites].sort().join(' ') }),
      ...(c.weight !== undefined && { weight: c.weight }),
      ...c.limits,
    }));
  const listeners = (site.serviceListeners ?? [])
    .filter((l) => l.tlsCredentials === undefined || usable(l.tlsCredentials, 'credentials'))
    .map((l) => ({
      name: l.address,
      address: l.address,
      host: l.host,
      port: l.port,
      ...(l.tlsCredentials !== undefined && { sslProfile: tlsProfileName(l.tlsCredentials) }),
      ...(l.backlog !== undefined && { backlog: l.backlog }),
    }));
  const entities: EntityList = [];
  for (const name of [...used].sort()) entities.push(['sslProfile', { name: tlsProfileName(name), ...bundles[name] }]);
  for (const connector of connectors.sort(byName)) entities.push(['tcpConnector', connector]);
  for (const listener of listeners.sort(byName)) entities.push(['tcpListener', listener]);
  return entities;
}

const LOOPBACK = '127.0.0.1';

function localListener(site: SiteState): EntityList {
  const listener = { name: 'amqp', host: site.localHost ?? LOOPBACK, port: site.amqpPort, role: 'normal', ...idle(site) };
  if (!site.local) return [['listener', listener]];
  return [
    ['sslProfile', { name: LOCAL_PROFILE, ...site.local }],
    ['listener', { ...listener, sslProfile: LOCAL_PROFILE, authenticatePeer: true, saslMechanisms: 'EXTERNAL' }],
  ];
}

function idle(site: SiteState): { idleTimeoutSeconds?: number } {
  return site.idleTimeoutSeconds === undefined ? {} : { idleTimeoutSeconds: site.idleTimeoutSeconds };
}

function revocations(site: SiteState): { revokedSerials?: string } {
  const serials = [...new Set(site.revokedSerials ?? [])].sort();
  return serials.length === 0 ? {} : { revokedSerials: serials.join(' ') };
}

/** The validated config (a site state that yields an invalid config is a bug: the parser's error says where). */
export function desiredRouterConfig(site: SiteState): RouterConfig {
  return parseRouterConfig(JSON.stringify(desiredRouterEntities(site)), `router config of site "${site.name}"`).config;
}

/** The config file's text: stable for a given state, so an unchanged site writes nothing. */
export function routerConfigText(site: SiteState): string {
  return `${JSON.stringify(serialiseRouterConfig(desiredRouterConfig(site)), null, 2)}\n`;
}
