// Creates a self-signed certificate authority: the trust root a site hands to
// the routers it links with.

import { commonNameSubject } from './subject.js';
import { caExtensions } from './extensions.js';
import { generateRsaKeyPair } from './keys.js';
import { signCertificate } from './sign.js';
import type { CertificateAuthority, CreateCertificateAuthorityOptions } from './types.js';

const DEFAULT_CA_VALIDITY_DAYS = 3650;

export async function createCertificateAuthority(options: CreateCertificateAuthorityOptions): Promise<CertificateAuthority> {
  const { commonName, validityDays = DEFAULT_CA_VALIDITY_DAYS } = options;
  // Validate before spending time on a key.
  const subject = commonNameSubject(commonName);
  const keys = await generateRsaKeyPair();
  const certPem = signCertificate({
    subject,
    issuer: subject,
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    validityDays,
    extensions: caExtensions(),
  });
  return { certPem, keyPem: keys.keyPem };
}
