// kskup-router processes for the fault tests, one in each site's namespace of
// a FaultNetwork, linked over mutual TLS on the network's links. Every router
// has an HTTP listener for /metrics on its access address; inter-router
// listeners and connectors use each link's own addresses, so that a cut link
// really is the only path between two routers.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCertificateAuthority, issueCertificate } from '../../site-controller/pki/index.js';
import { FaultNetwork, type Link, type Site } from './fault-network.js';
import { afterAll, beforeAll } from 'vitest';
import { startAccountingEcho, type AccountingEcho } from './flow-accounting.js';
import { metric, RouterProcess, routerLogsOnFailure, waitFor, type Entity } from './router-process.js';

/** Ports are the same at every site: each router has its namespace to itself. */
export const PORTS = { interRouter: 55671, http: 9090, tcpListener: 9000 } as const;

export interface FaultPki {
  readonly caCert: string;
  /** A cert and key for `site`, for its access address and every link address given. */
  issue(site: Site, ips: readonly string[]): Promise<{ cert: string; key: string }>;
}

export async function createFaultPki(dir: string): Promise<FaultPki> {
  await mkdir(dir, { recursive: true });
  const ca = await createCertificateAuthority({ commonName: 'kskup-fault-test-ca' });
  const caCert = join(dir, 'ca.crt');
  await writeFile(caCert, ca.certPem);
  return {
    caCert,
    async issue(site, ips) {
      const leaf = await issueCertificate(ca, { commonName: `kskup-fault-${site.name}`, hosts: [site.accessIp, ...ips], usage: 'both' });
      const cert = join(dir, `${site.name}.crt`);
      const key = join(dir, `${site.name}.key`);
      await writeFile(cert, leaf.certPem);
      await writeFile(key, leaf.keyPem, { mode: 0o600 });
      return { cert, key };
    },
  };
}

export interface FaultRouterSpec {
  readonly site: Site;
  /** Links this router listens on for inter-router connections (its address on each). */
  readonly listenOn?: readonly Link[];
  /** Links this router dials the far end of. */
  readonly dial?: readonly Link[];
  /** A tcpListener for `address` on the site's access address, port PORTS.tcpListener. */
  readonly tcpListener?: string;
  /** A tcpConnector for `address` to a backend on the host. */
  readonly tcpConnector?: { readonly address: string; readonly host: string; readonly port: number };
  /** Extra attributes of the router entity (helloMaxAgeSeconds, ...). */
  readonly router?: Record<string, unknown>;
}

/** This site's address on a link. */
export function addressOn(link: Link, site: Site): string {
  if (link.from === site) return link.fromIp;
  if (link.to === site) return link.toIp;
  throw new Error(`site ${site.name} is not on link ${link.device}`);
}

/** The far end's address of a link, seen from `site`. */
export function farEnd(link: Link, site: Site): string {
  return link.from === site ? link.toIp : link.fromIp;
}

/** Writes the router's config and starts it in the site's namespace. */
export async function startFaultRouter(dir: string, pki: FaultPki, spec: FaultRouterSpec): Promise<RouterProcess> {
  const { site } = spec;
  const linkIps = [...(spec.listenOn ?? []), ...(spec.dial ?? [])].map((link) => addressOn(link, site));
  const { cert, key } = await pki.issue(site, linkIps);
  const entities: Entity[] = [
    ['router', { id: site.name, mode: 'interior', ...spec.router }],
    ['sslProfile', { name: 'inter-router', caCertFile: pki.caCert, certFile: cert, privateKeyFile: key }],
    ['listener', { name: 'http', host: site.accessIp, port: PORTS.http, http: true }],
  ];
  for (const link of spec.listenOn ?? []) {
    entities.push(['listener', { name: `inter-router-${link.device}`, role: 'inter-router', host: addressOn(link, site), port: PORTS.interRouter, sslProfile: 'inter-router', authenticatePeer: true, saslMechanisms: 'EXTERNAL' }]);
  }
  for (const link of spec.dial ?? []) {
    entities.push(['connector', { name: `to-${link.device}`, role: 'inter-router', host: farEnd(link, site), port: PORTS.interRouter, sslProfile: 'inter-router', saslMechanisms: 'EXTERNAL' }]);
  }
  if (spec.tcpListener) entities.push(['tcpListener', { name: spec.tcpListener, host: site.accessIp, port: PORTS.tcpListener, address: spec.tcpListener }]);
  if (spec.tcpConnector) entities.push(['tcpConnector', { name: spec.tcpConnector.address, host: spec.tcpConnector.host, port: spec.tcpConnector.port, address: spec.tcpConnector.address }]);
  return RouterProcess.start(dir, site.name, entities, ['--log-level', 'debug'], FaultNetwork.exec(site));
}

/** One series of the router at `site`, or undefined when it does not answer. */
export function siteMetric(site: Site, series: string): Promise<number | undefined> {
  return metric(PORTS.http, series, site.accessIp).catch(() => undefined);
}

/** Waits until the router at `site` has `count` inter-router connections up and `routes` targets for `address`. */
export async function waitForRoutes(site: Site, address: string, routes: number, connections: number, timeoutMs = 20_000): Promise<void> {
  await waitFor(`${site.name} to have ${connections} inter-router connections and ${routes} routes for "${address}"`, async () => {
    const [r, c] = await Promise.all([siteMetric(site, `kskup_tcp_listener_routes{address="${address}"}`), siteMetric(site, 'kskup_inter_router_connections')]);
    return r === routes && c === connections;
  }, timeoutMs);
}

/** Rejects with a message naming `what` when `promise` has not settled within `ms`. */
export async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The two-site set-up of the link-cut and pause tests, started in beforeAll
 * and removed in afterAll (a paused B is resumed first):
 *
 *   clients -> A [tcpListener echo] == link (A dials B) == B [tcpConnector echo] -> accounting echo (host)
 *
 * Its fields are filled in once beforeAll has run.
 */
export interface FaultPair {
  network: FaultNetwork;
  a: Site;
  b: Site;
  link: Link;
  echo: AccountingEcho;
  routers: { a?: RouterProcess; b?: RouterProcess };
}

export function useFaultPair(folder: { readonly path: string }): FaultPair {
  const pair = { routers: {} } as FaultPair;
  routerLogsOnFailure(() => [pair.routers.a, pair.routers.b]);
  beforeAll(async () => {
    pair.network = await FaultNetwork.create();
    pair.a = await pair.network.addSite('A');
    pair.b = await pair.network.addSite('B');
    pair.link = await pair.network.link(pair.a, pair.b);
    pair.echo = await startAccountingEcho(pair.network.hostIp);
    const pki = await createFaultPki(`${folder.path}/pki`);
    pair.routers.b = await startFaultRouter(folder.path, pki, { site: pair.b, listenOn: [pair.link], tcpConnector: { address: 'echo', host: pair.network.hostIp, port: pair.echo.port } });
    pair.routers.a = await startFaultRouter(folder.path, pki, { site: pair.a, dial: [pair.link], tcpListener: 'echo' });
    await waitForRoutes(pair.a, 'echo', 1, 1);
  });
  afterAll(async () => {
    pair.routers.b?.signal('SIGCONT');
    await Promise.all([pair.routers.a?.stop(), pair.routers.b?.stop()]);
    await pair.echo?.close();
    await pair.network?.remove();
  });
  return pair;
}
