// The state of one site, the same on every platform: what the site is, the
// links it made, the tokens it issued and the client certificates it granted.
// Platforms store it (a folder, a ConfigMap); everything else is derived from
// it (the router config, status). Certificates and keys are not in here: they
// live beside it as secrets, so this document can be shown and logged.

import type { FlowLimits } from '../../router/config/types.js';
import type { SitePolicy } from '../policy/site-policy.js';

export type RouterMode = 'interior' | 'edge';
export type PlatformName = 'local' | 'kubernetes';
export type TokenType = 'claim' | 'cert';

export interface SitePorts {
  /** Links from interior sites. */
  readonly interRouter: number;
  /** Links from edge sites. */
  readonly edge: number;
  /** The HTTPS endpoint where claims are redeemed. */
  readonly claims: number;
  /** The router's local AMQP (management, service sync) and HTTP (health, metrics) listeners, on 127.0.0.1. */
  readonly amqp: number;
  readonly http: number;
}

export interface SiteRecord {
  readonly name: string;
  readonly id: string;
  readonly mode: RouterMode;
  readonly platform: PlatformName;
  /**
   * The host other sites reach this site at: in the server certificate and in
   * tokens. Empty while a Kubernetes site waits for its ingress address.
   */
  readonly ingressHost: string;
  /**
   * Kubernetes sites: how other sites reach it (the ingress Service's type).
   * `none`: nobody outside, so the site links out but issues no tokens.
   */
  readonly ingress?: 'loadbalancer' | 'nodeport' | 'none';
  /**
   * Where the inter-router, edge and claims listeners listen (local platform):
   * 127.0.0.1 for a loopback ingress host, else all interfaces, since an ingress
   * host may be a name or a NAT address that is not this machine's own.
   */
  readonly bindHost: string;
  /** Where this site's tcpListeners for services listen (local platform). */
  readonly listenerHost: string;
  readonly ports: SitePorts;
  readonly createdAt: string;
}

export interface LinkRecord {
  readonly name: string;
  /** The remote site's listener this site dials: inter-router from an interior site, edge from an edge site. */
  readonly host: string;
  readonly port: number;
  readonly role: 'inter-router' | 'edge';
  readonly cost: number;
  readonly remoteSiteId: string;
  readonly remoteSiteName: string;
  /** The token it was made from (the name the issuing site knows it by). */
  readonly tokenName: string;
  readonly createdAt: string;
}

export interface TokenRecord {
  readonly name: string;
  readonly type: TokenType;
  readonly createdAt: string;
  readonly expiresAt: string;
  /** Claims only: how often it may be redeemed, and how often it was. */
  readonly usesAllowed: number;
  readonly usesMade: number;
  /** Claims only: SHA-256 of the password, hex. The password itself is only in the token file. */
  readonly passwordSha256?: string;
  readonly revokedAt?: string;
}

/** A client certificate this site signed: the access one linking site has. */
export interface GrantRecord {
  /** Lower-case hex, as certificateInfo() reads it. */
  readonly serial: string;
  readonly tokenName: string;
  /** Known for claims (the redeeming site says who it is); not for cert tokens. */
  readonly siteId?: string;
  readonly siteName?: string;
  readonly issuedAt: string;
  readonly expiresAt: string;
  readonly revokedAt?: string;
  /**
   * The serial (lower-case hex) of the site CA that signed it. Absent in grants
   * made before kskup recorded it: those are from the CA the site had before
   * its first CA rotation.
   */
  readonly caSerial?: string;
}

/**
 * A CA rotation in its overlap phase (`kskup rotate-certs --ca`): the site
 * trusts client certificates of both CAs and issues from the new one; the
 * server certificate is still the old CA's until the cut-over
 * (`--finish`), which drops the old CA and ends this record.
 */
export interface CaRotationRecord {
  readonly startedAt: string;
  /** Serials (lower-case hex) of the CA certificates. */
  readonly fromCaSerial: string;
  readonly toCaSerial: string;
}

/** `pods`: the pods a label selector selects; the target's name is the selector, `k=v[,k2=v2]` with keys sorted. */
export type TargetType = 'host' | 'deployment' | 'statefulset' | 'daemonset' | 'service' | 'pods';
export const TARGET_TYPES: readonly TargetType[] = ['host', 'deployment', 'statefulset', 'daemonset', 'service', 'pods'];

/** Something that serves an exposed service at this site. */
export interface ServiceTarget {
  readonly type: TargetType;
  readonly name: string;
  /** Where the router reaches it. */
  readonly host: string;
  /** One per service port, in the same order. */
  readonly targetPorts: readonly number[];
  /**
   * The backend speaks TLS: the router verifies it against this site's bundle
   * `name` (its ca.crt; its tls.crt and tls.key, if any, are the client
   * certificate) and, with `verifyHostname`, that its certificate names `host`.
   */
  readonly tlsTrust?: { readonly name: string; readonly verifyHostname: boolean };
  /**
   * Only the pod of this name of the workload (a StatefulSet's `NAME-ORDINAL`):
   * the target of a per-pod address, which the platform derives and never stores.
   */
  readonly pod?: string;
  /**
   * Who made it: absent for `kskup expose`; `annotation` for a Kubernetes
   * object's kskup.io/* annotations, which the site's controller owns (it adds,
   * changes and removes such targets as the annotations change; the CLI does not).
   */
  readonly source?: 'annotation';
  /**
   * This target's share of new flows for the service (`kskup expose --weight`,
   * or the kskup.io/weight annotation of an annotated target),
   * 0 (drain) to 1000000, split evenly over its connectors (a workload's ready
   * pods); absent: not weighted. A site weight (`kskup service weights`) wins
   * over it. See docs/traffic.md.
   */
  readonly weight?: number;
}

/**
 * An active health check of a service's targets at every exposing site
 * (`kskup expose --health`): `tcp` connects; `http` sends `GET path` and takes
 * a 2xx status as healthy. A target leaves rotation after `unhealthyThreshold`
 * failures in a row and returns after `healthyThreshold` successes in a row.
 * Intervals and timeouts in ms. See docs/traffic.md.
 */
export interface HealthCheck {
  readonly type: 'tcp' | 'http';
  /** For `http`: the request path, starting with `/`. */
  readonly path?: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly healthyThreshold: number;
  readonly unhealthyThreshold: number;
}

/**
 * Weights per site for one service, set with `kskup service weights` at any
 * site and announced to all: the newest setting (by `setAt`) heard anywhere
 * wins. `sites`: site name -> weight (0 to 1000000); an empty map clears.
 */
export interface SiteWeightsSetting {
  readonly sites: Readonly<Record<string, number>>;
  /** When it was set (ISO 8601): the newest wins across the network. */
  readonly setAt: string;
}

/**
 * Rate limits of one service over the whole network (`kskup service limit`,
 * `kskup expose --max-flows ...`), enforced at the routers that dial its
 * targets: each exposing site's routers get an equal share (see
 * service-controller/limits.ts, docs/traffic.md). Absent fields do not limit.
 */
export type ServiceLimits = FlowLimits;

/** A service's limits as set at some site, announced to all: the newest setting heard anywhere applies (as SiteWeightsSetting); no field set clears. */
export interface ServiceLimitsSetting {
  readonly limits: ServiceLimits;
  /** When it was set (ISO 8601). */
  readonly setAt: string;
}

/** A service exposed at this site: the address every linked site can use, and its targets here. */
export interface ServiceRecord {
  readonly address: string;
  readonly protocol: 'tcp';
  readonly ports: readonly number[];
  readonly targets: readonly ServiceTarget[];
  /**
   * Listeners of this service serve TLS with the bundle of this name, at each
   * site its own (Skupper's tlsCredentials). Only the name is announced.
   */
  readonly tlsCredentials?: string;
  /**
   * The listen() backlog of this service's tcpListeners at every site
   * (skupper-router's tcpListener `backlog`; 0 means the operating system's
   * maximum, SOMAXCONN). Absent: the router's default, 0. Announced with the
   * service, since the listeners are made at the other sites.
   */
  readonly backlog?: number;
  /** Active health check of its targets (`kskup expose --health`, or the kskup.io/health annotation of its annotated targets); absent: targets are probed by TCP for status only, and never leave rotation for it. */
  readonly health?: HealthCheck;
  readonly createdAt: string;
}

export interface SiteDocument {
  readonly site: SiteRecord;
  readonly links: readonly LinkRecord[];
  readonly tokens: readonly TokenRecord[];
  readonly grants: readonly GrantRecord[];
  /** Services exposed here. */
  readonly services: readonly ServiceRecord[];
  /**
   * The local port of this site's listener for each `address:port` in the
   * network, picked once (the service port if it was free) and kept, so that a
   * restart does not move a service. Written by the site's controller.
   */
  readonly listenerPorts: Readonly<Record<string, number>>;
  /** Present while a CA rotation is in its overlap phase. */
  readonly caRotation?: CaRotationRecord;
  /** The site's policy (`kskup policy set`, docs/policy.md); absent: everything is allowed. */
  readonly policy?: SitePolicy;
  /** Site weights set here with `kskup service weights`, by service address (SiteWeightsSetting). */
  readonly siteWeights?: Readonly<Record<string, SiteWeightsSetting>>;
  /** Service limits set here with `kskup service limit` or `kskup expose --max-flows ...`, by service address. */
  readonly serviceLimits?: Readonly<Record<string, ServiceLimitsSetting>>;
}

/** The router address of one port of a service: each port is its own address. */
export function routerAddress(address: string, port: number): string {
  return `${address}:${port}`;
}

/** Serial numbers the site's listeners must refuse. */
export function revokedSerials(document: SiteDocument): string[] {
  return document.grants.filter((grant) => grant.revokedAt !== undefined).map((grant) => grant.serial);
}

// Names become file names, Kubernetes object names and router entity names.
const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Why `name` cannot name a site, link or token, or undefined when it can (a DNS label, as Kubernetes wants). */
export function nameProblem(name: string): string | undefined {
  if (NAME.test(name)) return undefined;
  return `"${name}" is not a valid name: use 1-63 lower-case letters, digits and '-', starting and ending with a letter or digit`;
}
