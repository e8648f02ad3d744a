// Certificate serial numbers: random, so that two certificates from the same CA
// never share one even across CA restarts (RFC 5280 requires uniqueness per CA,
// and CA/B baseline rules ask for at least 64 bits of randomness).

import { randomBytes } from 'node:crypto';

const SERIAL_BYTES = 16;

/** 32 hex digits encoding a positive, minimally DER-encoded INTEGER. */
export function randomSerialHex(): string {
  const bytes = randomBytes(SERIAL_BYTES);
  const first = bytes[0] ?? 0;
  // A set high bit would make the DER INTEGER negative; a zero first byte would
  // be non-minimal padding, which OpenSSL rejects when parsing.
  bytes[0] = (first & 0x7f) || 0x01;
  return bytes.toString('hex');
}
