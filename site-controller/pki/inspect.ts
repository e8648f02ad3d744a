// Reads back the facts about a certificate that kskup cares about (status
// output, expiry checks, tests).

import forge from 'node-forge';
import { parseCertificatePem } from './pem.js';
import { commonNameOf } from './subject.js';
import type { CertificateInfo } from './types.js';

/** GeneralName tags from RFC 5280. */
const DNS_NAME = 2;
const IP_ADDRESS = 7;

export function certificateInfo(certPem: string): CertificateInfo {
  const cert = parseCertificatePem(certPem, 'certificate');
  const altNames = subjectAltNames(cert);
  return {
    subjectCommonName: commonNameOf(cert.subject),
    issuerCommonName: commonNameOf(cert.issuer),
    serialHex: cert.serialNumber.toLowerCase(),
    notBefore: cert.validity.notBefore,
    notAfter: cert.validity.notAfter,
    dnsNames: altNames.flatMap((name) => (name.type === DNS_NAME && typeof name.value === 'string' ? [name.value] : [])),
    ipAddresses: altNames.flatMap((name) => (name.type === IP_ADDRESS && typeof name.ip === 'string' ? [name.ip] : [])),
  };
}

/** How node-forge presents a parsed GeneralName; `ip` is set for iPAddress. */
interface ParsedAltName {
  readonly type?: unknown;
  readonly value?: unknown;
  readonly ip?: unknown;
}

function subjectAltNames(cert: forge.pki.Certificate): ParsedAltName[] {
  const extension: unknown = cert.getExtension('subjectAltName');
  if (typeof extension !== 'object' || extension === null || !('altNames' in extension)) return [];
  const { altNames } = extension;
  return Array.isArray(altNames) ? altNames.filter(isObject) : [];
}

function isObject(value: unknown): value is ParsedAltName {
  return typeof value === 'object' && value !== null;
}
