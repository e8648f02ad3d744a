// kskup PKI: owns the certificate authority and certificate issuing for sites
// (self-signed CAs, server/client leaf certificates, reading certificates back).
// Imports nothing else of the project, so any component can depend on it.
// Never logs: key PEMs pass through as plain strings and errors never quote them.
// RSA 2048 keys from Node's native crypto; node-forge only builds and signs.

export { createCertificateAuthority } from './authority.js';
export { certifyPublicKey, issueCertificate } from './issue.js';
export { generateKeyPem } from './keys.js';
export { certificateInfo } from './inspect.js';
export { PkiError } from './errors.js';
export type { PkiErrorCode } from './errors.js';
export type {
  CertificateAuthority,
  CertificateInfo,
  CertificateUsage,
  CreateCertificateAuthorityOptions,
  IssueCertificateOptions,
  IssuedCertificate,
} from './types.js';
export { pkcs12Bundle } from './pkcs12.js';
export type { Pkcs12Contents } from './pkcs12.js';
