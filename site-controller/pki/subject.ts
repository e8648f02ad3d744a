// Subject names. kskup names every certificate by a CN alone: peers are
// identified by subjectAltName (servers) or by which CA signed them (clients).

import type forge from 'node-forge';
import { PkiError } from './errors.js';

// RFC 5280's upper bound (ub-common-name); OpenSSL refuses longer ones.
const COMMON_NAME_MAX_LENGTH = 64;

export function commonNameSubject(commonName: string): forge.pki.CertificateField[] {
  if (typeof commonName !== 'string' || commonName.length === 0 || commonName.length > COMMON_NAME_MAX_LENGTH) {
    throw new PkiError('KSKUP_PKI_INVALID_ARGUMENT', `commonName must be 1 to ${COMMON_NAME_MAX_LENGTH} characters`);
  }
  return [{ name: 'commonName', value: commonName }];
}

/** The CN of a forge subject or issuer, or '' when it has none. */
export function commonNameOf(name: forge.pki.Certificate['subject']): string {
  const field: unknown = name.getField('CN');
  if (typeof field !== 'object' || field === null || !('value' in field)) return '';
  return typeof field.value === 'string' ? field.value : '';
}
