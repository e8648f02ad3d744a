// Assembles and signs one certificate. Shared by the CA (self-signed) and leaf
// paths so that serial, validity and digest policy cannot drift apart.

import forge from 'node-forge';
import { PkiError } from './errors.js';
import type { Extension } from './extensions.js';
import { randomSerialHex } from './serial.js';
import { validityWindow } from './validity.js';

export interface CertificateSpec {
  readonly subject: forge.pki.CertificateField[];
  readonly issuer: forge.pki.CertificateField[];
  readonly publicKey: forge.pki.rsa.PublicKey;
  readonly signingKey: forge.pki.rsa.PrivateKey;
  readonly validityDays: number;
  readonly extensions: readonly Extension[];
}

/** Returns the signed certificate as PEM. */
export function signCertificate(spec: CertificateSpec): string {
  const window = validityWindow(spec.validityDays);
  const cert = forge.pki.createCertificate();
  cert.version = 2; // X.509 v3, needed for extensions
  cert.serialNumber = randomSerialHex();
  cert.publicKey = spec.publicKey;
  cert.validity.notBefore = window.notBefore;
  cert.validity.notAfter = window.notAfter;
  cert.setSubject(spec.subject);
  cert.setIssuer(spec.issuer);
  try {
    cert.setExtensions([...spec.extensions]);
    cert.sign(spec.signingKey, forge.md.sha256.create());
  } catch {
    throw new PkiError('KSKUP_PKI_SIGNING_FAILED', 'could not encode or sign the certificate');
  }
  return forge.pki.certificateToPem(cert);
}
