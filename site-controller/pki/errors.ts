// The one error type the PKI module throws. Callers branch on `code`, which is
// stable; the message is for humans and is always written here, never copied
// from node-forge or OpenSSL, so that it cannot carry key material.

export type PkiErrorCode =
  | 'KSKUP_PKI_INVALID_PEM'
  | 'KSKUP_PKI_INVALID_ARGUMENT'
  | 'KSKUP_PKI_KEY_MISMATCH'
  | 'KSKUP_PKI_NOT_A_CA'
  | 'KSKUP_PKI_KEYGEN_FAILED'
  | 'KSKUP_PKI_SIGNING_FAILED';

export class PkiError extends Error {
  readonly code: PkiErrorCode;

  constructor(code: PkiErrorCode, message: string) {
    // No `cause`: underlying errors may quote the PEM they failed to parse.
    super(message);
    this.name = 'PkiError';
    this.code = code;
  }
}
