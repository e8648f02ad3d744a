// Plain data shapes of the PKI module: what callers pass in and get back.
// Keys travel as PEM strings only, so nothing here can leak a key by accident
// through a toString() or a structured log of a forge object.

/** A self-signed certificate authority that can issue leaf certificates. */
export interface CertificateAuthority {
  readonly certPem: string;
  /** PKCS#8 PEM. Secret: never log it. */
  readonly keyPem: string;
}

export interface CreateCertificateAuthorityOptions {
  readonly commonName: string;
  /** Defaults to 3650 (ten years). */
  readonly validityDays?: number;
}

/** Which side of a TLS handshake the certificate may authenticate. */
export type CertificateUsage = 'server' | 'client' | 'both';

export interface IssueCertificateOptions {
  readonly commonName: string;
  /** DNS names and IP addresses, put into subjectAltName (omitted when empty). */
  readonly hosts?: readonly string[];
  readonly usage: CertificateUsage;
  /** Defaults to 825 days, the longest lifetime clients such as Apple's accept. */
  readonly validityDays?: number;
}

export interface IssuedCertificate {
  readonly certPem: string;
  /** PKCS#8 PEM. Secret: never log it. */
  readonly keyPem: string;
  /** The issuing CA's certificate, so a peer can be given its trust anchor. */
  readonly caPem: string;
}

/** What certificateInfo() reads back out of a certificate. */
export interface CertificateInfo {
  /** '' when the subject has no CN. */
  readonly subjectCommonName: string;
  /** '' when the issuer has no CN. */
  readonly issuerCommonName: string;
  /** Lower-case hex, exactly as encoded in the certificate. */
  readonly serialHex: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
}
