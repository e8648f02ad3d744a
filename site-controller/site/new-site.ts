// A new site's identity: a generated id, its own CA, and the server certificate
// its inter-router, edge and claims listeners present, naming every host other
// sites may reach it at. Shared by every platform.
//
// Plus the credentials of the router's local AMQP listener (management and
// service sync): a CA of its own, used for nothing else, so that neither a
// linking site's client certificate nor anything but the site's own local
// client certificate (readable by the site's owner only) opens it.
import { randomUUID } from 'node:crypto';
import { createCertificateAuthority, issueCertificate, type CertificateAuthority } from '../pki/index.js';
import type { SiteDocument, SiteRecord } from './model.js';
import type { KeyedCertificate } from './storage.js';

export interface SiteIdentity {
  readonly id: string;
  readonly ca: CertificateAuthority;
  readonly server: KeyedCertificate;
  readonly local: LocalCredentials;
}

/** The local listener's trust anchor, its server certificate, and the one client certificate it accepts. */
export interface LocalCredentials {
  readonly caPem: string;
  readonly server: KeyedCertificate;
  readonly client: KeyedCertificate;
}

const CA_VALIDITY_DAYS = 3650;
const SERVER_VALIDITY_DAYS = 825;

/**
 * `hosts`: every name other sites may dial (the server certificate's SANs).
 * `localHosts`: the names the local listener is reached at (127.0.0.1 on the
 * local platform; its Service's names on Kubernetes).
 */
export async function newSiteIdentity(name: string, hosts: readonly string[], localHosts: readonly string[] = ['127.0.0.1', 'localhost']): Promise<SiteIdentity> {
  const ca = await createCertificateAuthority({ commonName: `kskup site CA ${name}`.slice(0, 64), validityDays: CA_VALIDITY_DAYS });
  const server = await issueServerCertificate(ca, name, hosts);
  return { id: randomUUID(), ca, server, local: await newLocalCredentials(name, localHosts) };
}

/** The server certificate of the site's inter-router, edge and claims listeners; again when its hosts change. */
export function issueServerCertificate(ca: CertificateAuthority, name: string, hosts: readonly string[]): Promise<KeyedCertificate> {
  return issueCertificate(ca, { commonName: name, hosts: [...new Set(hosts)], usage: 'server', validityDays: SERVER_VALIDITY_DAYS });
}

async function newLocalCredentials(name: string, hosts: readonly string[]): Promise<LocalCredentials> {
  // The CA key is dropped once both certificates are signed: nothing else may ever be issued under it.
  const ca = await createCertificateAuthority({ commonName: `kskup local CA ${name}`.slice(0, 64), validityDays: CA_VALIDITY_DAYS });
  const [server, client] = await Promise.all([
    issueCertificate(ca, { commonName: 'kskup local listener', hosts: [...hosts], usage: 'server', validityDays: CA_VALIDITY_DAYS }),
    issueCertificate(ca, { commonName: `kskup local client ${name}`.slice(0, 64), usage: 'client', validityDays: CA_VALIDITY_DAYS }),
  ]);
  return { caPem: ca.certPem, server, client };
}

/** A new site's document: the site, and nothing made yet (no links, tokens, grants, services or listener ports). */
export function newSiteDocument(site: SiteRecord): SiteDocument {
  return { site, links: [], tokens: [], grants: [], services: [], listenerPorts: {} };
}
