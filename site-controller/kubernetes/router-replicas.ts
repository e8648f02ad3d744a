// The router replicas of a Kubernetes site (docs/kubernetes.md#router-replicas).
//
// The site controller makes one router config for the site (skrouterd.json):
// its listeners, links, tcpListeners and tcpConnectors. Every replica of the
// router StatefulSet runs that config with two differences, so that N
// replicas are N routers of one network and not N copies of one router:
//   - its own router id: replica 0 keeps the site's id (a site that grows
//     from one replica keeps its router's id, which only a restart could
//     change), replica K > 0 is `SITEID-K`;
//   - at an interior site, inter-router connectors to every lower replica
//     (K dials 0..K-1, so each pair has one connection), at its stable name
//     behind the headless Service, over the site CA's mutual TLS with the
//     replicas' own client certificate (Secret kskup-router-peer).
// Replica 0 dials no replica, so its config is skrouterd.json itself, but
// for one more difference every replica has: a tcpConnector's rate limits
// (maxFlows, flowsPerSecond, flowBurst, bandwidth) are the site's share, and
// each replica enforces its own, so each gets the share divided by the number
// of replicas (site/limit-shares.ts), or the site would allow N times its share.
// Edge replicas never link to each other (edges do not link to edges): each
// has its own uplinks to the interior sites.
//
// Each replica reads its own key of ConfigMap kskup-router: `POD.json`
// (kskup-router-0.json, ...), chosen in the pod spec by $(POD_NAME).
import { X509Certificate } from 'node:crypto';
import { issueCertificate } from '../pki/index.js';
import { parseRouterConfig, serialiseRouterConfig, type EntityList } from '../../router/config/index.js';
import type { CertificateAuthority } from '../pki/index.js';
import { limitsPart, SPLIT_LIMITS } from '../site/limit-shares.js';
import type { ServiceLimits } from '../site/model.js';
import type { KeyedCertificate } from '../site/storage.js';
import { NAMES, PORTS } from './manifests.js';
import { CERT_FILES, certPath, type SecretText } from './router-materials.js';

/** The key of the site's config in ConfigMap kskup-router: what every replica's config is made from. */
export const SITE_CONFIG_KEY = 'skrouterd.json';
/** The sslProfile of links between replicas. */
export const PEER_PROFILE = 'router-peer';
/** Connectors to other replicas are named `peer-POD`; `link-` names stay the site's links. */
export const PEER_CONNECTOR_PREFIX = 'peer-';
/** How long the replicas' client certificate is valid; re-issued when it is within PEER_RENEW_DAYS of its end. */
const PEER_VALIDITY_DAYS = 825;

/** `kskup-router-K`: the StatefulSet's pod name of replica K. */
export function replicaPodName(index: number): string {
  return `${NAMES.router}-${index}`;
}

/** Replica K's key of ConfigMap kskup-router (the pod spec's `$(POD_NAME).json`). */
export function replicaConfigKey(index: number): string {
  return `${replicaPodName(index)}.json`;
}

/** Replica K's router id: the site's id for replica 0, `SITEID-K` for the others. */
export function replicaRouterId(siteId: string, index: number): string {
  return index === 0 ? siteId : `${siteId}-${index}`;
}

/** Replica K's stable DNS name behind the headless Service. */
export function replicaHost(index: number, namespace: string): string {
  return `${replicaPodName(index)}.${NAMES.routerPeers}.${namespace}.svc`;
}

/** The names of every replica the site server certificate must carry (wildcards: scaling needs no new certificate). */
export function replicaHostPatterns(namespace: string): string[] {
  const service = `${NAMES.routerPeers}.${namespace}`;
  return [`*.${service}`, `*.${service}.svc`, `*.${service}.svc.cluster.local`];
}

export interface ReplicaOptions {
  readonly replicas: number;
  readonly namespace: string;
  /** Whether kskup-router-certs has the replicas' client certificate: without it no replica dials another. */
  readonly peerCredentials: boolean;
}

/**
 * Every key of ConfigMap kskup-router for the site config `siteConfig` (the
 * text the site controller made): the site config itself and one config per
 * replica. Each replica's config is parsed, so a bad one fails here, in the
 * controller, and never reaches a router.
 * @throws Error when `siteConfig` is not a valid router config (a bug).
 */
export function replicaConfigs(siteConfig: string, options: ReplicaOptions): Record<string, string> {
  const data: Record<string, string> = { [SITE_CONFIG_KEY]: siteConfig };
  for (let index = 0; index < options.replicas; index++) data[replicaConfigKey(index)] = replicaConfig(siteConfig, index, options);
  return data;
}

function replicaConfig(siteConfig: string, index: number, options: ReplicaOptions): string {
  const site = JSON.parse(siteConfig) as EntityList;
  const split = splitConnectorLimits(site, options.replicas);
  if (index === 0 && split === undefined) return siteConfig;
  const entities = split ?? site;
  const router = entities.find(([type]) => type === 'router')?.[1];
  if (!router || typeof router.id !== 'string') throw new Error('the site router config has no router entity with an id');
  const next: EntityList = entities.map(([type, attributes]) => (type === 'router' ? [type, { ...attributes, id: replicaRouterId(router.id as string, index) }] : [type, attributes]));
  const interRouter = entities.find(([type, attributes]) => type === 'listener' && attributes.role === 'inter-router')?.[1];
  if (index > 0 && interRouter && options.peerCredentials) {
    const siteProfile = entities.find(([type, attributes]) => type === 'sslProfile' && attributes.name === interRouter.sslProfile)?.[1];
    next.push(['sslProfile', { name: PEER_PROFILE, caCertFile: siteProfile?.caCertFile, certFile: certPath(CERT_FILES.routerPeerCert), privateKeyFile: certPath(CERT_FILES.routerPeerKey) }]);
    const idle = interRouter.idleTimeoutSeconds === undefined ? {} : { idleTimeoutSeconds: interRouter.idleTimeoutSeconds };
    for (let peer = 0; peer < index; peer++) {
      next.push([
        'connector',
        { name: `${PEER_CONNECTOR_PREFIX}${replicaPodName(peer)}`, role: 'inter-router', host: replicaHost(peer, options.namespace), port: PORTS.interRouter, cost: 1, sslProfile: PEER_PROFILE, saslMechanisms: 'EXTERNAL', ...idle },
      ]);
    }
  }
  const config = parseRouterConfig(JSON.stringify(next), `router config of replica ${replicaPodName(index)}`).config;
  return `${JSON.stringify(serialiseRouterConfig(config), null, 2)}\n`;
}

/**
 * The site config's entities with each tcpConnector's split limits divided
 * among `replicas` (limitsPart); undefined when there is nothing to divide
 * (one replica, or no tcpConnector with a split limit).
 */
function splitConnectorLimits(entities: EntityList, replicas: number): EntityList | undefined {
  if (replicas <= 1) return undefined;
  const limited = ([type, attributes]: EntityList[number]) => type === 'tcpConnector' && SPLIT_LIMITS.some((field) => attributes[field] !== undefined);
  if (!entities.some(limited)) return undefined;
  return entities.map((entity) => {
    if (!limited(entity)) return entity;
    const [type, attributes] = entity;
    const limits: Record<string, number> = {};
    for (const [field, value] of Object.entries(attributes)) if (isLimitField(field) && typeof value === 'number') limits[field] = value;
    return [type, { ...attributes, ...limitsPart(limits, replicas) }];
  });
}

const LIMIT_FIELDS: readonly string[] = [...SPLIT_LIMITS, 'flowQueue', 'flowQueueTimeoutMs'] satisfies (keyof ServiceLimits)[];

function isLimitField(field: string): field is keyof ServiceLimits {
  return LIMIT_FIELDS.includes(field);
}

/**
 * The replicas' client certificate, issued by the site CA (client use only:
 * the inter-router listener takes clients of its own CA), when `current` is
 * missing, from another CA, or near its end; undefined when `current` is fine.
 */
export async function peerCredentialsToIssue(ca: CertificateAuthority, siteName: string, current: SecretText | undefined, now = Date.now()): Promise<KeyedCertificate | undefined> {
  if (current?.['tls.crt'] && current['tls.key'] && current['ca.crt'] === ca.certPem && !nearEnd(current['tls.crt'], now)) return undefined;
  return issueCertificate(ca, { commonName: `${siteName} router replicas`.slice(0, 64), hosts: [], usage: 'client', validityDays: PEER_VALIDITY_DAYS });
}

const PEER_RENEW_DAYS = 30;

function nearEnd(certPem: string, now: number): boolean {
  const validTo = Date.parse(new X509Certificate(certPem).validTo);
  return !Number.isFinite(validTo) || validTo - now < PEER_RENEW_DAYS * 86_400_000;
}
