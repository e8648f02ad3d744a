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
  /** The CA that signs client certificates now: during a CA rotation, the new one. */
  certificateAuthority(): Promise<CertificateAuthority>;
  /**
   * Every CA whose client certificates the site's listeners accept, PEM
   * certificates concatenated (both CAs during a rotation): what tokens and
   * claim answers give linking sites to verify this site with.
   */
  trustedCaPem(): Promise<string>;
  writeLinkSecrets(linkName: string, secrets: LinkSecrets): Promise<void>;
  removeLinkSecrets(linkName: string): Promise<void>;
}

/**
 * The site's own certificates as a platform keeps them (a folder, Secrets):
 * what renewal and CA rotation (site/cert-rotation.ts) and the expiry report
 * of `kskup status` read and write.
 */
export interface SiteCertificateStore {
  /** The site CA: the issuer of the server certificate. */
  siteCertificateAuthority(): Promise<CertificateAuthority>;
  /** The CA a rotation moves to, from its start to its cut-over; undefined otherwise. */
  nextCertificateAuthority(): Promise<CertificateAuthority | undefined>;
  serverCertificate(): Promise<KeyedCertificate>;
  /** Replaces the server certificate and the trusted CAs beside it (the router's caCertFile of the site listeners). */
  writeServerCertificate(server: KeyedCertificate, trustedCaPem: string): Promise<void>;
  writeNextCertificateAuthority(ca: CertificateAuthority): Promise<void>;
  /** The cut-over: the next CA becomes the site CA, and there is no next one. */
  promoteNextCertificateAuthority(): Promise<void>;
  /** This site's client certificate for a link it made (PEM); undefined when it has none. */
  linkCertificate(linkName: string): Promise<string | undefined>;
}
