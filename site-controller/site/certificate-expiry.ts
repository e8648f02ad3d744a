// When a site's certificates end, for `kskup status`: the site CA (and a
// rotation's next CA), the server certificate, and the client certificate of
// each link the site made. One that ends within EXPIRY_WARNING_DAYS, or has
// ended, comes with a warning that says what to do about it.
import { certificateInfo } from '../pki/index.js';
import { onOldCa } from './cert-rotation.js';
import type { SiteDocument } from './model.js';
import type { SiteCertificateStore } from './storage.js';

/** Warn this many days ahead: the window cert-manager renews in by default (a third of 90 days). */
export const EXPIRY_WARNING_DAYS = 30;

const DAY_MS = 86_400_000;

export type CertificateKind = 'site-ca' | 'next-site-ca' | 'server' | 'link';

export interface CertificateExpiry {
  readonly kind: CertificateKind;
  /** What it is, for people: `site CA`, `server certificate`, `link "west" client certificate`. */
  readonly name: string;
  /** Links only: the link's name. */
  readonly link?: string;
  readonly serial: string;
  readonly issuer: string;
  /** ISO 8601. */
  readonly notAfter: string;
  /** Whole days left, rounded down; negative once it has ended. */
  readonly daysLeft: number;
  /** `expiring`: within EXPIRY_WARNING_DAYS. */
  readonly state: 'valid' | 'expiring' | 'expired';
  /** Set when expiring or expired: one line that says what to do. */
  readonly warning?: string;
}

/** The rotation phase for status: `none`, or `overlap` with who is still on the old CA. */
export type RotationStatus =
  | { readonly phase: 'none' }
  | { readonly phase: 'overlap'; readonly startedAt: string; readonly fromCaSerial: string; readonly toCaSerial: string; readonly onOldCa: readonly string[] };

export interface SiteCertificatesReport {
  readonly certificates: readonly CertificateExpiry[];
  readonly caRotation: RotationStatus;
}

/** Reads every certificate the report covers; a link without its certificate yet is left out. */
export async function siteCertificatesReport(store: SiteCertificateStore, document: SiteDocument, namespace: string, now = new Date()): Promise<SiteCertificatesReport> {
  const [ca, next, server, links] = await Promise.all([
    store.siteCertificateAuthority(),
    store.nextCertificateAuthority(),
    store.serverCertificate(),
    Promise.all(document.links.map(async (link) => [link, await store.linkCertificate(link.name)] as const)),
  ]);
  const ns = `-n ${namespace}`;
  const certificates: CertificateExpiry[] = [
    expiry('site-ca', 'site CA', ca.certPem, now, `start a CA rotation: kskup rotate-certs --ca ${ns}`),
    ...(next ? [expiry('next-site-ca', 'next site CA (rotation)', next.certPem, now, `start a new CA rotation after this one: kskup rotate-certs --ca ${ns}`)] : []),
    expiry('server', 'server certificate', server.certPem, now, `renew it: kskup rotate-certs ${ns}`),
  ];
  for (const [link, certPem] of links) {
    if (certPem === undefined) continue;
    const fix = `ask site "${link.remoteSiteName}" for a new token and link again (kskup link delete ${link.name} ${ns}; kskup link create FILE ${ns})`;
    certificates.push({ ...expiry('link', `link "${link.name}" client certificate`, certPem, now, fix), link: link.name });
  }
  const rotation = document.caRotation;
  return {
    certificates,
    caRotation: rotation ? { phase: 'overlap', ...rotation, onOldCa: onOldCa(document, now) } : { phase: 'none' },
  };
}

function expiry(kind: CertificateKind, name: string, certPem: string, now: Date, fix: string): CertificateExpiry {
  const info = certificateInfo(certPem);
  const left = info.notAfter.getTime() - now.getTime();
  const daysLeft = Math.floor(left / DAY_MS);
  const state = left <= 0 ? 'expired' : left <= EXPIRY_WARNING_DAYS * DAY_MS ? 'expiring' : 'valid';
  const when = info.notAfter.toISOString();
  const warning =
    state === 'expired'
      ? `the ${name} expired at ${when}: ${fix}`
      : state === 'expiring'
        ? `the ${name} expires in ${daysLeft === 0 ? 'less than a day' : `${daysLeft} day${daysLeft === 1 ? '' : 's'}`} (${when}): ${fix}`
        : undefined;
  return { kind, name, serial: info.serialHex, issuer: info.issuerCommonName, notAfter: when, daysLeft, state, ...(warning !== undefined && { warning }) };
}
