// A Kubernetes site's identity and state, made by its controller at first
// start and kept from then on: the site CA, the server certificate, the local
// listener's credentials (Secrets), then the site document (ConfigMap). Helm
// renders none of these, so `helm upgrade` never rotates the CA. Later starts
// only follow the ingress: a new address re-issues the server certificate
// (same CA, so linked sites keep trusting it) and goes into the document,
// which is what tokens are made from.
import type { Logger } from 'pino';
import { certificateInfo } from '../pki/index.js';
import { issueServerCertificate, newSiteDocument, newSiteIdentity } from '../site/new-site.js';
import type { RouterMode, SiteDocument } from '../site/model.js';
import type { IngressAddress, IngressResolution } from './ingress.js';
import type { KubernetesSiteStorage } from './kube-storage.js';
import { NAMES, PORTS, type IngressType } from './manifests.js';
import { replicaHostPatterns } from './router-replicas.js';

export interface SiteSettingsView {
  readonly name: string;
  readonly mode: RouterMode;
  readonly ingress: IngressType;
}

/** The names the router is reached at inside the cluster; always in the server certificate. */
export function clusterHosts(service: string, namespace: string): string[] {
  return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
}

/** Makes the site if it is not there yet; otherwise brings its ingress address up to date. Returns the document. */
export async function ensureSiteState(
  storage: KubernetesSiteStorage,
  settings: SiteSettingsView,
  ingress: IngressResolution,
  log: Logger,
): Promise<SiteDocument> {
  if (await storage.exists()) return followIngress(storage, settings, ingress, log);
  const address = ingress.ok ? ingress.address : undefined;
  const hosts = serverHosts(storage.namespace, address);
  log.info({ hosts }, `creating the CA and certificates of site "${settings.name}"`);
  const identity = await newSiteIdentity(settings.name, hosts, clusterHosts(NAMES.routerLocal, storage.namespace));
  await storage.writeTlsSecret(NAMES.siteCa, identity.ca);
  await storage.writeTlsSecret(NAMES.siteServer, identity.server, { 'ca.crt': identity.ca.certPem });
  await storage.writeTlsSecret(NAMES.localServer, identity.local.server, { 'ca.crt': identity.local.caPem });
  await storage.writeTlsSecret(NAMES.localClient, identity.local.client, { 'ca.crt': identity.local.caPem });
  const document = newSiteDocument({
    name: settings.name,
    id: identity.id,
    mode: settings.mode,
    platform: 'kubernetes',
    ingress: settings.ingress,
    ingressHost: address?.host ?? '',
    bindHost: '0.0.0.0',
    listenerHost: '0.0.0.0',
    ports: sitePorts(address),
    createdAt: new Date().toISOString(),
  });
  await storage.create(document);
  return document;
}

async function followIngress(storage: KubernetesSiteStorage, settings: SiteSettingsView, ingress: IngressResolution, log: Logger): Promise<SiteDocument> {
  const current = await storage.read();
  if (!ingress.ok) {
    // No address known now: the certificate keeps the names it has and gets any cluster or replica name it lacks.
    await ensureServerHosts(storage, settings, serverHosts(storage.namespace, undefined), log, true);
    return current;
  }
  const { address } = ingress;
  // The certificate is checked on every start, not only when the address moves: a
  // site made by an older kskup gets the names it lacks (the replicas' names).
  await ensureServerHosts(storage, settings, serverHosts(storage.namespace, address), log);
  const ports = sitePorts(address);
  const samePorts = JSON.stringify(ports) === JSON.stringify(current.site.ports);
  if (address.host === current.site.ingressHost && samePorts && current.site.ingress === settings.ingress) return current;
  log.info({ host: address.host, ports }, `site "${settings.name}" is reached at ${address.host}`);
  return storage.update((document) => {
    const next = { ...document, site: { ...document.site, ingress: settings.ingress, ingressHost: address.host, ports } };
    return { document: next, result: next };
  });
}

/** Re-issues the server certificate (same CA, so linked sites keep trusting it) when it does not name exactly `wanted` (with keepOthers: at least `wanted`). */
async function ensureServerHosts(storage: KubernetesSiteStorage, settings: SiteSettingsView, wanted: string[], log: Logger, keepOthers = false): Promise<void> {
  const server = await storage.serverCertificate();
  const named = certificateInfo(server.certPem);
  const has = [...named.dnsNames, ...named.ipAddresses];
  const hosts = keepOthers ? [...new Set([...has, ...wanted])] : wanted;
  if (sameHosts(has, hosts)) return;
  // The site CA (not a rotation's next one, which linked sites may not trust yet); the trusted CAs stay as they are.
  const ca = await storage.siteCertificateAuthority();
  await storage.writeServerCertificate(await issueServerCertificate(ca, settings.name, hosts), await storage.trustedCaPem());
  log.info({ hosts }, 'the server certificate names the ingress address, the Services and the router replicas');
}

/** The ingress address, the ingress Service's cluster names, and every replica's name behind the headless Service (replicas link to each other). */
function serverHosts(namespace: string, address: IngressAddress | undefined): string[] {
  return [...(address ? [address.host] : []), ...clusterHosts(NAMES.router, namespace), ...replicaHostPatterns(namespace)];
}

function sitePorts(address: IngressAddress | undefined) {
  return {
    interRouter: address?.interRouter ?? PORTS.interRouter,
    edge: address?.edge ?? PORTS.edge,
    claims: address?.claims ?? PORTS.claims,
    amqp: PORTS.amqp,
    http: PORTS.http,
  };
}

function sameHosts(a: readonly string[], b: readonly string[]): boolean {
  return JSON.stringify([...new Set(a)].sort()) === JSON.stringify([...new Set(b)].sort());
}
