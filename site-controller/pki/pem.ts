// Certificate PEM parsing with kskup's own errors: node-forge's messages are
// inconsistent and some quote their input.

import forge from 'node-forge';
import { PkiError } from './errors.js';

/** Parses the first certificate in `certPem`; `label` names it in errors. */
export function parseCertificatePem(certPem: string, label: string): forge.pki.Certificate {
  if (typeof certPem !== 'string') {
    throw new PkiError('KSKUP_PKI_INVALID_PEM', `${label} is not a string`);
  }
  try {
    return forge.pki.certificateFromPem(certPem);
  } catch {
    throw new PkiError('KSKUP_PKI_INVALID_PEM', `${label} is not a PEM-encoded RSA certificate`);
  }
}

/** True when the certificate says it may sign other certificates. */
export function isCertificateAuthority(cert: forge.pki.Certificate): boolean {
  const constraints: unknown = cert.getExtension('basicConstraints');
  return typeof constraints === 'object' && constraints !== null && 'cA' in constraints && constraints.cA === true;
}
