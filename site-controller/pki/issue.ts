// Issues leaf certificates (router listeners, connectors, clients) from a CA.

import forge from 'node-forge';
import { PkiError } from './errors.js';
import { leafExtensions } from './extensions.js';
import { toAltNames } from './hosts.js';
import { generateRsaKeyPair, keysMatch, parsePrivateKeyPem } from './keys.js';
import { isCertificateAuthority, parseCertificatePem } from './pem.js';
import { signCertificate } from './sign.js';
import { commonNameSubject } from './subject.js';
import type { CertificateAuthority, CertificateUsage, IssueCertificateOptions, IssuedCertificate } from './types.js';

const DEFAULT_LEAF_VALIDITY_DAYS = 825;
const USAGES: readonly CertificateUsage[] = ['server', 'client', 'both'];

export async function issueCertificate(ca: CertificateAuthority, options: IssueCertificateOptions): Promise<IssuedCertificate> {
  const { commonName, hosts = [], usage, validityDays = DEFAULT_LEAF_VALIDITY_DAYS } = options;
  // Check every input before generating a key, which is the slow part.
  const subject = commonNameSubject(commonName);
  if (!USAGES.includes(usage)) {
    throw new PkiError('KSKUP_PKI_INVALID_ARGUMENT', `usage must be one of ${USAGES.join(', ')}`);
  }
  const altNames = toAltNames(hosts);
  const signer = loadSigner(ca);

  const keys = await generateRsaKeyPair();
  const certPem = signCertificate({
    subject,
    issuer: signer.cert.subject.attributes,
    publicKey: keys.publicKey,
    signingKey: signer.key,
    validityDays,
    extensions: leafExtensions(usage, altNames, signer.cert),
  });
  return { certPem, keyPem: keys.keyPem, caPem: ca.certPem };
}

interface Signer {
  readonly cert: forge.pki.Certificate;
  readonly key: forge.pki.rsa.PrivateKey;
}

/** Parses the CA and checks it can sign: a CA certificate with its own key. */
function loadSigner(ca: CertificateAuthority): Signer {
  const cert = parseCertificatePem(ca.certPem, 'CA certificate');
  if (!isCertificateAuthority(cert)) {
    throw new PkiError('KSKUP_PKI_NOT_A_CA', 'CA certificate does not have basicConstraints cA=true');
  }
  const key = parsePrivateKeyPem(ca.keyPem, 'CA key');
  if (!keysMatch(key, cert.publicKey)) {
    throw new PkiError('KSKUP_PKI_KEY_MISMATCH', 'CA key does not belong to the CA certificate');
  }
  return { cert, key };
}
