// A Kubernetes site's state, in its namespace: the site document in the
// ConfigMap kskup-site-state (key site.json), keys and certificates in Secrets
// of type kubernetes.io/tls. The same SiteStorage the local platform's folder
// is, so tokens, claims, links and services work unchanged on a cluster.
//
// Concurrency: update() is optimistic, as Kubernetes intends. It reads the
// ConfigMap with its resourceVersion, applies the change, and replaces it with
// that resourceVersion; a 409 means another writer (the controller, another
// CLI) came first, so it reads again and re-applies, with a short backoff.
import { setTimeout as sleep } from 'node:timers/promises';
import type { CoreV1Api, V1ConfigMap, V1OwnerReference, V1Secret } from '@kubernetes/client-node';
import type { CertificateAuthority } from '../pki/index.js';
import { SiteError } from '../site/errors.js';
import type { SiteDocument } from '../site/model.js';
import type { Change, KeyedCertificate, LinkSecrets, SiteCertificateStore, SiteStorage } from '../site/storage.js';
import { BUNDLE_FILES, type TlsBundle, type TlsBundleStore } from '../site/tls-bundles.js';
import { describeApiError, isConflict, isNotFound } from './kube-errors.js';
import { NAMES, siteLabels } from './manifests.js';

/** The data key of the site document in the state ConfigMap. */
export const STATE_KEY = 'site.json';

/** A link's Secret: kubernetes.io/tls with the remote site's CA as ca.crt. */
export function linkSecretName(link: string): string {
  return `kskup-link-${link}`;
}

/**
 * The label that makes a Secret a TLS bundle of services (tls-bundles.ts) that
 * the controller copies into kskup-router-certs. It must come with
 * app.kubernetes.io/part-of=kskup, the label the controller watches Secrets by.
 */
export const TLS_BUNDLE_LABEL = 'kskup.io/tls-bundle';

const UPDATE_ATTEMPTS = 10;
const CONFLICT_BACKOFF_MS = 20;

export class KubernetesSiteStorage implements SiteStorage, SiteCertificateStore, TlsBundleStore {
  /**
   * `owner`: the site ConfigMap, which every Secret written here gets as owner,
   * so that deleting the site removes them.
   */
  constructor(
    private readonly core: CoreV1Api,
    readonly namespace: string,
    private readonly owner?: V1OwnerReference,
  ) {}

  private where(): string {
    return `namespace "${this.namespace}"`;
  }

  async exists(): Promise<boolean> {
    return (await this.readStateMap()) !== undefined;
  }

  async read(): Promise<SiteDocument> {
    const map = await this.readStateMap();
    if (!map) throw new SiteError(`no site in ${this.where()}: create one with kskup init`);
    return parseDocument(map, this.namespace);
  }

  async update<T>(change: (document: SiteDocument) => Change<T> | Promise<Change<T>>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const map = await this.readStateMap();
      if (!map) throw new SiteError(`no site in ${this.where()}: create one with kskup init`);
      const outcome = await change(parseDocument(map, this.namespace));
      if (!outcome.document) return outcome.result;
      try {
        await this.core.replaceNamespacedConfigMap({
          name: NAMES.state,
          namespace: this.namespace,
          body: { ...map, data: { ...map.data, [STATE_KEY]: documentText(outcome.document) } },
        });
        return outcome.result;
      } catch (error) {
        if (!isConflict(error) || attempt >= UPDATE_ATTEMPTS) {
          throw new SiteError(`cannot write the site state (ConfigMap ${NAMES.state} in ${this.where()}): ${describeApiError(error)}`, { cause: error });
        }
        await sleep(CONFLICT_BACKOFF_MS * attempt);
      }
    }
  }

  /** Stores a new site's document; the secrets come first, so a site that exists is complete. */
  async create(document: SiteDocument): Promise<void> {
    const body: V1ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: this.metadata(NAMES.state),
      data: { [STATE_KEY]: documentText(document) },
    };
    try {
      await this.core.createNamespacedConfigMap({ namespace: this.namespace, body });
    } catch (error) {
      throw new SiteError(`cannot create the site state (ConfigMap ${NAMES.state} in ${this.where()}): ${describeApiError(error)}`, { cause: error });
    }
  }

  async certificateAuthority(): Promise<CertificateAuthority> {
    return (await this.nextCertificateAuthority()) ?? this.siteCertificateAuthority();
  }

  async siteCertificateAuthority(): Promise<CertificateAuthority> {
    return this.readKeyed(NAMES.siteCa);
  }

  async nextCertificateAuthority(): Promise<CertificateAuthority | undefined> {
    const data = await this.readSecretData(NAMES.siteCaNext);
    const certPem = data?.['tls.crt'];
    const keyPem = data?.['tls.key'];
    return certPem && keyPem ? { certPem, keyPem } : undefined;
  }

  /** The ca.crt of Secret kskup-site-server: the router's caCertFile of the site listeners. */
  async trustedCaPem(): Promise<string> {
    const trusted = (await this.readSecretData(NAMES.siteServer))?.['ca.crt'];
    return trusted || (await this.siteCertificateAuthority()).certPem;
  }

  async serverCertificate(): Promise<KeyedCertificate> {
    return this.readKeyed(NAMES.siteServer);
  }

  /** One Secret write: the router's files change together (one ..data swap of its volume). */
  async writeServerCertificate(server: KeyedCertificate, trustedCaPem: string): Promise<void> {
    await this.writeTlsSecret(NAMES.siteServer, server, { 'ca.crt': trustedCaPem });
  }

  async writeNextCertificateAuthority(ca: CertificateAuthority): Promise<void> {
    await this.writeTlsSecret(NAMES.siteCaNext, ca);
  }

  async promoteNextCertificateAuthority(): Promise<void> {
    const next = await this.nextCertificateAuthority();
    if (!next) throw new SiteError(`no Secret ${NAMES.siteCaNext} in ${this.where()}: nothing to promote`);
    await this.writeTlsSecret(NAMES.siteCa, next);
    try {
      await this.core.deleteNamespacedSecret({ name: NAMES.siteCaNext, namespace: this.namespace });
    } catch (error) {
      if (!isNotFound(error)) throw new SiteError(`cannot remove Secret ${NAMES.siteCaNext} in ${this.where()}: ${describeApiError(error)}`, { cause: error });
    }
  }

  async linkCertificate(linkName: string): Promise<string | undefined> {
    return (await this.readSecretData(linkSecretName(linkName)))?.['tls.crt'] || undefined;
  }

  async writeLinkSecrets(linkName: string, secrets: LinkSecrets): Promise<void> {
    await this.writeTlsSecret(linkSecretName(linkName), secrets, { 'ca.crt': secrets.caPem });
  }

  async removeLinkSecrets(linkName: string): Promise<void> {
    try {
      await this.core.deleteNamespacedSecret({ name: linkSecretName(linkName), namespace: this.namespace });
    } catch (error) {
      if (!isNotFound(error)) throw new SiteError(`cannot remove Secret ${linkSecretName(linkName)} in ${this.where()}: ${describeApiError(error)}`, { cause: error });
    }
  }

  async listTlsBundles(): Promise<string[]> {
    try {
      const list = await this.core.listNamespacedSecret({ namespace: this.namespace, labelSelector: `${TLS_BUNDLE_LABEL}=true` });
      return list.items.map((secret) => secret.metadata?.name ?? '').filter((name) => name !== '').sort();
    } catch (error) {
      throw new SiteError(`cannot list the TLS bundle Secrets in ${this.where()}: ${describeApiError(error)}`, { cause: error });
    }
  }

  async readTlsBundle(name: string): Promise<TlsBundle | undefined> {
    const data = await this.readSecretData(name);
    return data ? bundleOfSecret(data) : undefined;
  }

  /** A kubernetes.io/tls Secret when it has a certificate and key (the type demands both), else Opaque with ca.crt alone. */
  async writeTlsBundle(name: string, bundle: TlsBundle): Promise<void> {
    const stringData: Record<string, string> = {};
    if (bundle.certPem !== undefined) stringData[BUNDLE_FILES.cert] = bundle.certPem;
    if (bundle.keyPem !== undefined) stringData[BUNDLE_FILES.key] = bundle.keyPem;
    if (bundle.caPem !== undefined) stringData[BUNDLE_FILES.ca] = bundle.caPem;
    const metadata = this.metadata(name);
    await this.applySecret({
      apiVersion: 'v1',
      kind: 'Secret',
      type: bundle.certPem !== undefined ? 'kubernetes.io/tls' : 'Opaque',
      metadata: { ...metadata, labels: { ...metadata.labels, [TLS_BUNDLE_LABEL]: 'true' } },
      stringData,
    });
  }

  /** Only a Secret labelled as a bundle: `tls delete` must never remove another Secret of the namespace. */
  async removeTlsBundle(name: string): Promise<boolean> {
    if (!(await this.listTlsBundles()).includes(name)) return false;
    try {
      await this.core.deleteNamespacedSecret({ name, namespace: this.namespace });
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw new SiteError(`cannot remove Secret ${name} in ${this.where()}: ${describeApiError(error)}`, { cause: error });
    }
  }

  /** Creates or replaces a kubernetes.io/tls Secret (tls.crt, tls.key, plus `extra` keys such as ca.crt). */
  async writeTlsSecret(name: string, pair: KeyedCertificate, extra: Readonly<Record<string, string>> = {}): Promise<void> {
    const body: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: this.metadata(name),
      stringData: { 'tls.crt': pair.certPem, 'tls.key': pair.keyPem, ...extra },
    };
    await this.applySecret(body);
  }

  /** Create, or replace what is there (a Secret's content is ours to set; no field of it is someone else's). */
  async applySecret(body: V1Secret): Promise<void> {
    const name = body.metadata?.name ?? '';
    try {
      await this.core.createNamespacedSecret({ namespace: this.namespace, body });
      return;
    } catch (error) {
      if (!isConflict(error)) throw new SiteError(`cannot create Secret ${name} in ${this.where()}: ${describeApiError(error)}`, { cause: error });
    }
    try {
      await this.core.replaceNamespacedSecret({ name, namespace: this.namespace, body });
    } catch (error) {
      throw new SiteError(`cannot replace Secret ${name} in ${this.where()}: ${describeApiError(error)}`, { cause: error });
    }
  }

  /** A Secret's keys as text; undefined when there is no such Secret. */
  async readSecretData(name: string): Promise<Record<string, string> | undefined> {
    let secret: V1Secret;
    try {
      secret = await this.core.readNamespacedSecret({ name, namespace: this.namespace });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw new SiteError(`cannot read Secret ${name} in ${this.where()}: ${describeApiError(error)}`, { cause: error });
    }
    return Object.fromEntries(Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]));
  }

  private async readKeyed(name: string): Promise<KeyedCertificate> {
    const data = await this.readSecretData(name);
    const certPem = data?.['tls.crt'];
    const keyPem = data?.['tls.key'];
    if (!certPem || !keyPem) throw new SiteError(`Secret ${name} in ${this.where()} is missing or has no tls.crt and tls.key; the site's controller makes it at start`);
    return { certPem, keyPem };
  }

  private async readStateMap(): Promise<V1ConfigMap | undefined> {
    try {
      return await this.core.readNamespacedConfigMap({ name: NAMES.state, namespace: this.namespace });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw new SiteError(`cannot read the site state (ConfigMap ${NAMES.state} in ${this.where()}): ${describeApiError(error)}`, { cause: error });
    }
  }

  private metadata(name: string) {
    return { name, namespace: this.namespace, labels: siteLabels({ labels: {} }), ...(this.owner && { ownerReferences: [this.owner] }) };
  }
}

/** A bundle from a Secret's keys as text; undefined when it has neither a certificate nor a CA. */
export function bundleOfSecret(data: Readonly<Record<string, string>>): TlsBundle | undefined {
  const certPem = data[BUNDLE_FILES.cert];
  const keyPem = data[BUNDLE_FILES.key];
  const caPem = data[BUNDLE_FILES.ca];
  if (!certPem && !caPem) return undefined;
  return { ...(certPem && { certPem }), ...(keyPem && { keyPem }), ...(caPem && { caPem }) };
}

function documentText(document: SiteDocument): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}

function parseDocument(map: V1ConfigMap, namespace: string): SiteDocument {
  const text = map.data?.[STATE_KEY];
  if (text === undefined) throw new SiteError(`ConfigMap ${NAMES.state} in namespace "${namespace}" has no ${STATE_KEY}`);
  try {
    return JSON.parse(text) as SiteDocument;
  } catch {
    throw new SiteError(`ConfigMap ${NAMES.state} in namespace "${namespace}": ${STATE_KEY} is damaged (not JSON)`);
  }
}
