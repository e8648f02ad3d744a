// RSA key pairs. Generation is done by Node's native crypto (OpenSSL, on the
// libuv thread pool) because node-forge's pure-JS keygen takes seconds per
// 2048-bit key; forge is only handed the result, for signing certificates.

import { generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';
import { PkiError } from './errors.js';

const RSA_MODULUS_BITS = 2048;
const generateKeyPairAsync = promisify(generateKeyPair);

export interface RsaKeyPair {
  /** PKCS#8 PEM, as handed back to callers. */
  readonly keyPem: string;
  readonly privateKey: forge.pki.rsa.PrivateKey;
  readonly publicKey: forge.pki.rsa.PublicKey;
}

/** A key pair as PEM only: for a site that keeps the private key and sends the public one. */
export async function generateKeyPem(): Promise<{ readonly keyPem: string; readonly publicKeyPem: string }> {
  const keys = await generateRsaKeyPair();
  return { keyPem: keys.keyPem, publicKeyPem: forge.pki.publicKeyToPem(keys.publicKey) };
}

export async function generateRsaKeyPair(): Promise<RsaKeyPair> {
  let pems: { publicKey: string; privateKey: string };
  try {
    pems = await generateKeyPairAsync('rsa', {
      modulusLength: RSA_MODULUS_BITS,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
  } catch {
    throw new PkiError('KSKUP_PKI_KEYGEN_FAILED', 'RSA key generation failed');
  }
  return {
    keyPem: pems.privateKey,
    privateKey: parsePrivateKeyPem(pems.privateKey, 'generated key'),
    publicKey: forge.pki.publicKeyFromPem(pems.publicKey),
  };
}

/** Parses an unencrypted RSA key (PKCS#1 or PKCS#8); `label` names it in errors. */
export function parsePrivateKeyPem(keyPem: string, label: string): forge.pki.rsa.PrivateKey {
  try {
    return forge.pki.privateKeyFromPem(keyPem);
  } catch {
    // Deliberately generic: the parser's own message may quote the input.
    throw new PkiError('KSKUP_PKI_INVALID_PEM', `${label} is not an unencrypted RSA private key in PEM form`);
  }
}

/** True when the private key is the partner of the public key. */
export function keysMatch(privateKey: forge.pki.rsa.PrivateKey, publicKey: forge.pki.PublicKey): boolean {
  const rsaPublic = publicKey as Partial<forge.pki.rsa.PublicKey>;
  return (
    rsaPublic.n !== undefined &&
    rsaPublic.e !== undefined &&
    privateKey.n.equals(rsaPublic.n) &&
    privateKey.e.equals(rsaPublic.e)
  );
}
