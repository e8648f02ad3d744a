// Renewing a site's own certificates (`kskup rotate-certs`), the same on every
// platform: the platform only stores (SiteCertificateStore). Three steps:
//
// - renewServerCertificate: the server certificate again, under the same CA,
//   with the same names, a new key and a fresh validity. Linked sites verify
//   it against the CA they already have, so nothing changes for them.
// - startCaRotation: a new CA and an overlap. The site trusts client
//   certificates of both CAs and signs new ones (tokens, claims) with the new
//   one; tokens carry both CAs. The server certificate stays the old CA's, as
//   every linked site trusts that one.
// - finishCaRotation: the cut-over. The server certificate is issued by the new
//   CA, which becomes the site CA, and the old CA is no longer trusted. Refused
//   while a linked site holds only an old-CA certificate, unless forced.
// See docs/sites.md (Certificate renewal and CA rotation).
import { certificateInfo, createCertificateAuthority, type CertificateAuthority, type CertificateInfo } from '../pki/index.js';
import { SiteError } from './errors.js';
import type { GrantRecord, SiteDocument } from './model.js';
import { issueServerCertificate } from './new-site.js';
import type { SiteCertificateStore, SiteStorage } from './storage.js';

export type CertificateSite = SiteStorage & SiteCertificateStore;

const CA_VALIDITY_DAYS = 3650;

export interface Renewal {
  readonly before: CertificateInfo;
  readonly after: CertificateInfo;
}

/** A new server certificate from the site CA with the names and CN of the current one. */
export async function renewServerCertificate(site: CertificateSite): Promise<Renewal> {
  const [document, server, ca, trusted] = await Promise.all([site.read(), site.serverCertificate(), site.siteCertificateAuthority(), site.trustedCaPem()]);
  const before = certificateInfo(server.certPem);
  const issued = await reissue(ca, before, document);
  await site.writeServerCertificate(issued, trusted);
  return { before, after: certificateInfo(issued.certPem) };
}

export interface RotationStart {
  readonly from: CertificateInfo;
  readonly to: CertificateInfo;
  /** True when a rotation that was interrupted before it was recorded was taken up again (its new CA kept). */
  readonly resumed: boolean;
}

/** Begins the overlap: a new CA, trusted beside the old one, signing every new client certificate. */
export async function startCaRotation(site: CertificateSite, now = new Date()): Promise<RotationStart> {
  const document = await site.read();
  if (document.caRotation) {
    throw new SiteError(
      `site "${document.site.name}" is already rotating its CA (since ${document.caRotation.startedAt}); ` +
        'finish it with kskup rotate-certs --ca --finish once the linked sites have new certificates (kskup status lists those that have not)',
    );
  }
  const current = await site.siteCertificateAuthority();
  // A rotation cut short between writing the new CA and recording it: take it up again rather than make a third CA.
  const found = await site.nextCertificateAuthority();
  const next = found ?? (await createCertificateAuthority({ commonName: caCommonName(document.site.name, now), validityDays: CA_VALIDITY_DAYS }));
  if (!found) await site.writeNextCertificateAuthority(next);
  const server = await site.serverCertificate();
  // Trust first, then record: once recorded, new certificates come from the new CA, and the listeners must take them.
  await site.writeServerCertificate(server, bundle(current.certPem, next.certPem));
  const from = certificateInfo(current.certPem);
  const to = certificateInfo(next.certPem);
  await site.update((latest) => ({ document: { ...latest, caRotation: { startedAt: now.toISOString(), fromCaSerial: from.serialHex, toCaSerial: to.serialHex } }, result: undefined }));
  return { from, to, resumed: found !== undefined };
}

export interface RotationFinish {
  readonly server: CertificateInfo;
  readonly ca: CertificateInfo;
  /** Sites (or cert tokens) still on the old CA that a forced cut-over left behind. */
  readonly leftBehind: readonly string[];
}

/** Thrown by a cut-over refused because linked sites still hold old-CA certificates only. */
export class LinksOnOldCaError extends SiteError {
  override readonly name: string = 'LinksOnOldCaError';
  readonly code = 'KSKUP_LINKS_ON_OLD_CA';
}

/** The cut-over: server certificate from the new CA, which becomes the site CA; the old CA is no longer trusted. */
export async function finishCaRotation(site: CertificateSite, options: { readonly force?: boolean } = {}, now = new Date()): Promise<RotationFinish> {
  const document = await site.read();
  const rotation = document.caRotation;
  if (!rotation) throw new SiteError(`site "${document.site.name}" has no CA rotation to finish; start one with kskup rotate-certs --ca`);
  const next = await site.nextCertificateAuthority();
  if (!next || certificateInfo(next.certPem).serialHex !== rotation.toCaSerial) {
    throw new SiteError(`site "${document.site.name}": the new CA of its rotation (serial ${rotation.toCaSerial}) is missing from its stored certificates; the rotation cannot be finished`);
  }
  const behind = onOldCa(document, now);
  if (behind.length > 0 && options.force !== true) {
    throw new LinksOnOldCaError(
      `site "${document.site.name}" cannot drop its old CA yet: ${behind.join(', ')} still ${behind.length === 1 ? 'holds' : 'hold'} only a certificate from it ` +
        'and would be refused; give each a new token (kskup token create) to link again with, or finish anyway with --force',
    );
  }
  const server = await site.serverCertificate();
  const issued = await reissue(next, certificateInfo(server.certPem), document);
  // The new CA only: certificates of the old one are refused from now on.
  await site.writeServerCertificate(issued, next.certPem);
  await site.promoteNextCertificateAuthority();
  // Certificates of the old CA are revoked: the router keeps connections made
  // with files it no longer uses (as skupper-router does, until an sslProfile's
  // oldestValidOrdinal ends them), and revocation ends exactly these, leaving the
  // links of sites that moved to the new CA as they are.
  const revokedAt = now.toISOString();
  await site.update((latest) => {
    const { caRotation: _done, ...rest } = latest;
    const grants = rest.grants.map((grant) => (grant.revokedAt === undefined && grant.caSerial !== rotation.toCaSerial ? { ...grant, revokedAt } : grant));
    return { document: { ...rest, grants }, result: undefined };
  });
  return { server: certificateInfo(issued.certPem), ca: certificateInfo(next.certPem), leftBehind: behind };
}

/**
 * During a rotation: who holds a client certificate of the old CA and none of
 * the new one, by site name (claims) or as `cert token "NAME"` (cert tokens do
 * not say who used them). Revoked and expired grants count for no one.
 */
export function onOldCa(document: SiteDocument, now = new Date()): string[] {
  const rotation = document.caRotation;
  if (!rotation) return [];
  const live = document.grants.filter((grant) => grant.revokedAt === undefined && Date.parse(grant.expiresAt) > now.getTime());
  const holder = (grant: GrantRecord) => grant.siteId ?? `token:${grant.tokenName}`;
  const moved = new Set(live.filter((grant) => grant.caSerial === rotation.toCaSerial).map(holder));
  const names = new Map<string, string>();
  for (const grant of live) {
    if (grant.caSerial === rotation.toCaSerial || moved.has(holder(grant))) continue;
    names.set(holder(grant), grant.siteName !== undefined ? `site "${grant.siteName}"` : `cert token "${grant.tokenName}"`);
  }
  return [...names.values()].sort();
}

async function reissue(ca: CertificateAuthority, current: CertificateInfo, document: SiteDocument) {
  const hosts = [...current.dnsNames, ...current.ipAddresses];
  return issueServerCertificate(ca, current.subjectCommonName || document.site.name, hosts);
}

/** Told apart from the old CA by more than its key: chain building looks issuers up by name first. */
function caCommonName(siteName: string, now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `kskup site CA ${stamp} ${siteName}`.slice(0, 64);
}

function bundle(...pems: string[]): string {
  return pems.map((pem) => (pem.endsWith('\n') ? pem : `${pem}\n`)).join('');
}
