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
  // Check every input before generating a key, which is the slow part.
  const prepared = prepare(ca, options);
  const keys = await generateRsaKeyPair();
  return { certPem: prepared.sign(keys.publicKey), keyPem: keys.keyPem, caPem: ca.certPem };
}

/**
 * Certifies a public key that someone else holds the private half of: a site
 * redeeming a claim sends only its public key, so its private key never travels.
 */
export function certifyPublicKey(ca: CertificateAuthority, publicKeyPem: string, options: IssueCertificateOptions): Omit<IssuedCertificate, 'keyPem'> {
  const prepared = prepare(ca, options);
  let publicKey: forge.pki.rsa.PublicKey;
  try {
    publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  } catch {
    throw new PkiError('KSKUP_PKI_INVALID_PEM', 'public key is not an RSA public key in PEM form');
  }
  if (publicKey.n.bitLength() < MIN_RSA_BITS) {
    throw new PkiError('KSKUP_PKI_INVALID_ARGUMENT', `public key is weaker than RSA ${MIN_RSA_BITS}`);
  }
  return { certPem: prepared.sign(publicKey), caPem: ca.certPem };
}

const MIN_RSA_BITS = 2048;

function prepare(ca: CertificateAuthority, options: IssueCertificateOptions): { sign(publicKey: forge.pki.rsa.PublicKey): string } {
  const { commonName, hosts = [], usage, validityDays = DEFAULT_LEAF_VALIDITY_DAYS } = options;
  const subject = commonNameSubject(commonName);
  if (!USAGES.includes(usage)) {
    throw new PkiError('KSKUP_PKI_INVALID_ARGUMENT', `usage must be one of ${USAGES.join(', ')}`);
  }
  const altNames = toAltNames(hosts);
  const signer = loadSigner(ca);
  return {
    sign: (publicKey) =>
      signCertificate({
        subject,
        issuer: signer.cert.subject.attributes,
        publicKey,
        signingKey: signer.key,
        validityDays,
        extensions: leafExtensions(usage, altNames, signer.cert),
      }),
  };
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
