// Certificate serial numbers as an sslProfile's revokedSerials lists them, in
// one normal form so that the same serial compares equal however it is written:
// Node's TLSSocket.getPeerCertificate().serialNumber is upper-case hex that may
// keep a leading zero byte (a DER INTEGER's sign padding), kskup's PKI gives
// lower-case hex as encoded, and people write "0A:1B:2C" from openssl output.

/** Hex digits, optionally in groups separated by ':' ("0a1b2c", "0A:1B:2C"). */
const SERIAL = /^[0-9a-f]+(?::[0-9a-f]+)*$/i;

/** Items are separated by spaces and/or commas. */
const SEPARATORS = /[\s,]+/;

/** Lower case, no ':', no leading zeros ("00:0A:1B" -> "a1b"); "0" stays "0". */
export function normaliseSerial(serial: string): string {
  const digits = serial.replace(/:/g, '').toLowerCase().replace(/^0+/, '');
  return digits === '' ? '0' : digits;
}

export type SerialList = { readonly ok: true; readonly serials: readonly string[] } | { readonly ok: false; readonly bad: readonly string[] };

/**
 * Splits and checks a written list. The serials come back normalised, without
 * duplicates and sorted, so that reordering the list is not a config change.
 */
export function parseSerialList(text: string): SerialList {
  const items = text.split(SEPARATORS).filter((item) => item !== '');
  const bad = items.filter((item) => !SERIAL.test(item));
  if (bad.length > 0) return { ok: false, bad };
  return { ok: true, serials: [...new Set(items.map(normaliseSerial))].sort() };
}

/** The list as the config file writes it (space-separated, normalised). */
export function formatSerialList(serials: readonly string[]): string {
  return serials.join(' ');
}
