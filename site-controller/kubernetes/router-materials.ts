// What a Kubernetes site's router pods are given: the router config (ConfigMap
// kskup-router, key skrouterd.json) and every certificate and key its
// sslProfiles name (Secret kskup-router-certs, one file per key), both mounted
// into the pod (see manifests.ts). One Secret for all of them, so a new link is
// a new key, never a new volume, and never a pod restart.
//
// The controller writes the Secret before the ConfigMap, so a config never
// names a file the API server does not have yet; the router re-applies its
// config whenever the kubelet swaps either volume.
import type { SiteState } from '../site/desired-router-config.js';
import { revokedSerials, type SiteDocument } from '../site/model.js';
import type { TlsBundleFiles } from '../site/tls-bundles.js';
import { bundleOfSecret, linkSecretName } from './kube-storage.js';
import { NAMES, PORTS, ROUTER_PATHS } from './manifests.js';

/** A Secret's data as text: key -> PEM. */
export type SecretText = Readonly<Record<string, string>>;

/** The Secrets the router's files come from, as read from the API (undefined: not there). */
export interface RouterSecrets {
  readonly siteServer?: SecretText;
  readonly localServer?: SecretText;
  /** The replicas' client certificate for links between them (Secret kskup-router-peer; router-replicas.ts). */
  readonly routerPeer?: SecretText;
  readonly links: ReadonlyMap<string, SecretText | undefined>;
  /** TLS bundles of services (Secrets labelled kskup.io/tls-bundle), by name. Absent: none. */
  readonly tlsBundles?: ReadonlyMap<string, SecretText>;
}

/** File names inside the certificates folder (keys of the kskup-router-certs Secret). */
export const CERT_FILES = {
  siteCa: 'site-ca.crt',
  siteServerCert: 'site-server.crt',
  siteServerKey: 'site-server.key',
  localCa: 'local-ca.crt',
  localServerCert: 'local-server.crt',
  localServerKey: 'local-server.key',
  routerPeerCert: 'router-peer.crt',
  routerPeerKey: 'router-peer.key',
  linkCa: (link: string) => `link-${link}-ca.crt`,
  linkCert: (link: string) => `link-${link}.crt`,
  linkKey: (link: string) => `link-${link}.key`,
  // Bundle names are DNS labels and link names too; the prefixes keep the two apart.
  tlsCert: (bundle: string) => `tls-${bundle}.crt`,
  tlsKey: (bundle: string) => `tls-${bundle}.key`,
  tlsCa: (bundle: string) => `tls-${bundle}-ca.crt`,
} as const;

/** Where a file of kskup-router-certs is in the router container. */
export const certPath = (file: string) => `${ROUTER_PATHS.certsFolder}/${file}`;
const path = certPath;

/**
 * The content of kskup-router-certs. Links whose Secret is missing or
 * incomplete are left out, and so are their connectors (see routerState): a
 * link is configured only once its certificate is there.
 */
export function routerCertsData(secrets: RouterSecrets): Record<string, string> {
  const data: Record<string, string> = {};
  const put = (file: string, value: string | undefined) => {
    if (value) data[file] = value;
  };
  put(CERT_FILES.siteCa, secrets.siteServer?.['ca.crt']);
  put(CERT_FILES.siteServerCert, secrets.siteServer?.['tls.crt']);
  put(CERT_FILES.siteServerKey, secrets.siteServer?.['tls.key']);
  put(CERT_FILES.localCa, secrets.localServer?.['ca.crt']);
  put(CERT_FILES.localServerCert, secrets.localServer?.['tls.crt']);
  put(CERT_FILES.localServerKey, secrets.localServer?.['tls.key']);
  put(CERT_FILES.routerPeerCert, secrets.routerPeer?.['tls.crt']);
  put(CERT_FILES.routerPeerKey, secrets.routerPeer?.['tls.key']);
  for (const [link, secret] of secrets.links) {
    if (!linkComplete(secret)) continue;
    put(CERT_FILES.linkCa(link), secret?.['ca.crt']);
    put(CERT_FILES.linkCert(link), secret?.['tls.crt']);
    put(CERT_FILES.linkKey(link), secret?.['tls.key']);
  }
  for (const [name, secret] of secrets.tlsBundles ?? []) {
    const bundle = bundleOfSecret(secret);
    if (!bundle) continue;
    if (bundle.certPem && bundle.keyPem) {
      put(CERT_FILES.tlsCert(name), bundle.certPem);
      put(CERT_FILES.tlsKey(name), bundle.keyPem);
    }
    put(CERT_FILES.tlsCa(name), bundle.caPem);
  }
  return data;
}

/** The bundles as the router reads them from the mounted Secret: the same keys routerCertsData writes. */
function tlsBundleFiles(secrets: RouterSecrets): Record<string, TlsBundleFiles> {
  const files: Record<string, TlsBundleFiles> = {};
  for (const [name, secret] of secrets.tlsBundles ?? []) {
    const bundle = bundleOfSecret(secret);
    if (!bundle) continue;
    const hasCert = Boolean(bundle.certPem && bundle.keyPem);
    files[name] = {
      ...(hasCert && { certFile: path(CERT_FILES.tlsCert(name)), privateKeyFile: path(CERT_FILES.tlsKey(name)) }),
      ...(bundle.caPem && { caCertFile: path(CERT_FILES.tlsCa(name)) }),
    };
  }
  return files;
}

function linkComplete(secret: SecretText | undefined): boolean {
  return Boolean(secret?.['ca.crt'] && secret['tls.crt'] && secret['tls.key']);
}

/**
 * The links whose files a kskup-router-certs content (`data`) has, as
 * RouterSecrets: the router config must name only files the router can have,
 * so it is made from what was written there, not from the link Secrets.
 */
export function secretsInRouterCerts(data: Readonly<Record<string, string>>, linkNames: readonly string[]): RouterSecrets {
  const files = (names: readonly [string, string][]) => Object.fromEntries(names.flatMap(([key, file]) => (data[file] ? [[key, data[file]]] : [])));
  return {
    siteServer: files([['ca.crt', CERT_FILES.siteCa], ['tls.crt', CERT_FILES.siteServerCert], ['tls.key', CERT_FILES.siteServerKey]]),
    localServer: files([['ca.crt', CERT_FILES.localCa], ['tls.crt', CERT_FILES.localServerCert], ['tls.key', CERT_FILES.localServerKey]]),
    links: new Map(linkNames.map((name) => [name, files([['ca.crt', CERT_FILES.linkCa(name)], ['tls.crt', CERT_FILES.linkCert(name)], ['tls.key', CERT_FILES.linkKey(name)]])])),
  };
}

/** The Secret names a document's links keep their certificates in. */
export function linkSecretNames(document: SiteDocument): Map<string, string> {
  return new Map(document.links.map((link) => [link.name, linkSecretName(link.name)]));
}

/** The router config's input on Kubernetes: container ports, files in the mounted Secret, claims relayed to the controller. */
export function kubernetesRouterState(document: SiteDocument, namespace: string, secrets: RouterSecrets): SiteState {
  const { site } = document;
  return {
    name: site.name,
    id: site.id,
    mode: site.mode,
    listenHost: '0.0.0.0',
    interRouterPort: PORTS.interRouter,
    edgePort: PORTS.edge,
    amqpPort: PORTS.amqp,
    httpPort: PORTS.http,
    localHost: '0.0.0.0',
    caCertFile: path(CERT_FILES.siteCa),
    serverCertFile: path(CERT_FILES.siteServerCert),
    serverKeyFile: path(CERT_FILES.siteServerKey),
    local: { caCertFile: path(CERT_FILES.localCa), certFile: path(CERT_FILES.localServerCert), privateKeyFile: path(CERT_FILES.localServerKey) },
    revokedSerials: revokedSerials(document),
    ...(site.mode === 'interior' && { claimsRelay: { port: PORTS.claims, host: `${NAMES.controller}.${namespace}.svc`, targetPort: PORTS.claims } }),
    links: document.links
      .filter((link) => linkComplete(secrets.links.get(link.name)))
      .map((link) => ({
        name: link.name,
        host: link.host,
        port: link.port,
        role: link.role,
        cost: link.cost,
        caCertFile: path(CERT_FILES.linkCa(link.name)),
        certFile: path(CERT_FILES.linkCert(link.name)),
        privateKeyFile: path(CERT_FILES.linkKey(link.name)),
      })),
    tlsBundles: tlsBundleFiles(secrets),
  };
}
