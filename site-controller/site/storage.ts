// Where a platform keeps a site: the state document and the secrets beside it.
// Local sites use a folder, Kubernetes sites a ConfigMap and Secrets; the
// operations on sites (tokens, links, grants) only see this interface.
import type { CertificateAuthority } from '../pki/index.js';
import type { SiteDocument } from './model.js';

export interface KeyedCertificate {
  readonly certPem: string;
  /** Secret: never log it. */
  readonly keyPem: string;
}

/** What a link needs to dial: the remote site's CA and our client certificate from it. */
export interface LinkSecrets extends KeyedCertificate {
  readonly caPem: string;
}

/** The outcome of a change: a new document to store (or none), and what to hand back. */
export interface Change<T> {
  readonly document?: SiteDocument;
  readonly result: T;
}

export interface SiteStorage {
  read(): Promise<SiteDocument>;
  /** Reads, changes and writes the document with no other writer in between (other processes included). */
  update<T>(change: (document: SiteDocument) => Change<T> | Promise<Change<T>>): Promise<T>;
  certificateAuthority(): Promise<CertificateAuthority>;
  writeLinkSecrets(linkName: string, secrets: LinkSecrets): Promise<void>;
  removeLinkSecrets(linkName: string): Promise<void>;
}
