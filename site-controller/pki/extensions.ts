// X.509 v3 extensions, in the object shapes node-forge encodes. Kept apart from
// the signing code so the policy (what a CA and a leaf may do) reads in one place.

import forge from 'node-forge';
import type { AltName } from './hosts.js';
import type { CertificateUsage } from './types.js';

/** The subset of node-forge's extension descriptors that kskup uses. */
export type Extension =
  | { readonly name: 'basicConstraints'; readonly cA: boolean; readonly critical: true }
  | {
      readonly name: 'keyUsage';
      readonly critical: true;
      readonly keyCertSign?: true;
      readonly cRLSign?: true;
      readonly digitalSignature?: true;
      readonly keyEncipherment?: true;
    }
  | { readonly name: 'extKeyUsage'; readonly serverAuth: boolean; readonly clientAuth: boolean }
  | { readonly name: 'subjectAltName'; readonly altNames: readonly AltName[] }
  | { readonly name: 'subjectKeyIdentifier' }
  | { readonly name: 'authorityKeyIdentifier'; readonly keyIdentifier: string };

export function caExtensions(): Extension[] {
  return [
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', critical: true, keyCertSign: true, cRLSign: true },
    // forge fills the value in from the certificate's own public key.
    { name: 'subjectKeyIdentifier' },
  ];
}

export function leafExtensions(usage: CertificateUsage, altNames: readonly AltName[], caCert: forge.pki.Certificate): Extension[] {
  const extensions: Extension[] = [
    { name: 'basicConstraints', cA: false, critical: true },
    // digitalSignature for (EC)DHE suites, keyEncipherment for RSA key transport.
    { name: 'keyUsage', critical: true, digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: usage !== 'client', clientAuth: usage !== 'server' },
    { name: 'authorityKeyIdentifier', keyIdentifier: authorityKeyId(caCert) },
  ];
  // An empty subjectAltName is invalid (RFC 5280 4.2.1.6), so a leaf with no
  // hosts, typically a client certificate, goes without one.
  if (altNames.length > 0) extensions.push({ name: 'subjectAltName', altNames });
  return extensions;
}

/**
 * The issuer's key identifier as a byte string. OpenSSL compares it with the
 * CA's subjectKeyIdentifier when building chains, so it is copied from there;
 * a CA made elsewhere without one gets forge's standard SHA-1 of its key.
 */
function authorityKeyId(caCert: forge.pki.Certificate): string {
  const ski: unknown = caCert.getExtension('subjectKeyIdentifier');
  if (typeof ski === 'object' && ski !== null && 'subjectKeyIdentifier' in ski && typeof ski.subjectKeyIdentifier === 'string') {
    return forge.util.hexToBytes(ski.subjectKeyIdentifier);
  }
  return caCert.generateSubjectKeyIdentifier().getBytes();
}
