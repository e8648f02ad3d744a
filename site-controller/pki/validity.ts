// Validity windows. notBefore is backdated so that a peer whose clock runs a
// little behind ours does not reject a certificate we have just issued.

import { PkiError } from './errors.js';

const CLOCK_SKEW_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;
// X.509 GeneralizedTime has four year digits.
const LATEST_ENCODABLE = Date.UTC(9999, 11, 31, 23, 59, 59);

export interface ValidityWindow {
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export function validityWindow(validityDays: number, now: number = Date.now()): ValidityWindow {
  if (!Number.isFinite(validityDays) || validityDays <= 0) {
    throw new PkiError('KSKUP_PKI_INVALID_ARGUMENT', `validityDays must be a positive number, got ${String(validityDays)}`);
  }
  // Certificates carry whole seconds; truncating here makes what certificateInfo
  // reads back equal to what was chosen.
  const notBefore = wholeSeconds(now - CLOCK_SKEW_MS);
  const notAfter = wholeSeconds(now + validityDays * DAY_MS);
  if (notAfter > LATEST_ENCODABLE) {
    throw new PkiError('KSKUP_PKI_INVALID_ARGUMENT', `validityDays ${validityDays} reaches past the year 9999`);
  }
  return { notBefore: new Date(notBefore), notAfter: new Date(notAfter) };
}

function wholeSeconds(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}
