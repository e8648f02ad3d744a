// A new site's identity: a generated id, its own CA, and the server certificate
// its inter-router, edge and claims listeners present, naming every host other
// sites may reach it at. Shared by every platform.
import { randomUUID } from 'node:crypto';
import { createCertificateAuthority, issueCertificate, type CertificateAuthority } from '../pki/index.js';
import type { KeyedCertificate } from './storage.js';

export interface SiteIdentity {
  readonly id: string;
  readonly ca: CertificateAuthority;
  readonly server: KeyedCertificate;
}

const CA_VALIDITY_DAYS = 3650;
const SERVER_VALIDITY_DAYS = 825;

export async function newSiteIdentity(name: string, hosts: readonly string[]): Promise<SiteIdentity> {
  const ca = await createCertificateAuthority({ commonName: `kskup site CA ${name}`.slice(0, 64), validityDays: CA_VALIDITY_DAYS });
  const server = await issueCertificate(ca, { commonName: name, hosts: [...new Set(hosts)], usage: 'server', validityDays: SERVER_VALIDITY_DAYS });
  return { id: randomUUID(), ca, server };
}
