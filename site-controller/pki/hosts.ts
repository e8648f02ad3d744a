// Turns the `hosts` a caller asks for into subjectAltName entries: IP addresses
// (as detected by node:net isIP) become iPAddress names, the rest dNSName. IPs
// are encoded here rather than by node-forge, whose parser mangles IPv6 forms
// such as '::ffff:10.0.0.1'.

import { isIP } from 'node:net';
import { PkiError } from './errors.js';

/** GeneralName tags from RFC 5280. */
const DNS_NAME = 2;
const IP_ADDRESS = 7;

/** The shape node-forge's subjectAltName extension takes; `value` is a byte string. */
export interface AltName {
  readonly type: typeof DNS_NAME | typeof IP_ADDRESS;
  readonly value: string;
}

// Letters, digits, '-', '_' (seen in Kubernetes-generated names) and '.', with an
// optional leading '*.' wildcard label; 253 is the DNS limit on a full name.
const DNS_NAME_PATTERN = /^(\*\.)?[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?$/;
const DNS_NAME_MAX_LENGTH = 253;

export function toAltNames(hosts: readonly string[]): AltName[] {
  // Guards JavaScript callers (e.g. parsed YAML): a bare string would otherwise
  // be split into one-character "hosts".
  if (!Array.isArray(hosts) || !hosts.every((host) => typeof host === 'string')) {
    throw new PkiError('KSKUP_PKI_INVALID_ARGUMENT', 'hosts must be an array of strings');
  }
  const unique = [...new Set(hosts)];
  return unique.map(toAltName);
}

function toAltName(host: string): AltName {
  const family = isIP(host);
  if (family === 4) return { type: IP_ADDRESS, value: ipv4Bytes(host) };
  if (family === 6) return { type: IP_ADDRESS, value: ipv6Bytes(host) };
  if (host.length <= DNS_NAME_MAX_LENGTH && DNS_NAME_PATTERN.test(host)) {
    return { type: DNS_NAME, value: host };
  }
  throw new PkiError('KSKUP_PKI_INVALID_ARGUMENT', `host ${JSON.stringify(host)} is neither an IP address nor a DNS name`);
}

function ipv4Bytes(ip: string): string {
  return String.fromCharCode(...ip.split('.').map(Number));
}

function ipv6Bytes(ip: string): string {
  if (ip.includes('%')) {
    // A zone id ('fe80::1%eth0') names an interface on one host; it has no
    // place in a certificate.
    throw new PkiError('KSKUP_PKI_INVALID_ARGUMENT', `IP address ${JSON.stringify(ip)} has a zone id`);
  }
  const groups = ipv6Groups(ip);
  return String.fromCharCode(...groups.flatMap((group) => [group >> 8, group & 0xff]));
}

/** The eight 16-bit groups of an address that isIP() already accepted as IPv6. */
function ipv6Groups(ip: string): number[] {
  const [headText = '', tailText] = ip.split('::');
  const head = parseGroups(headText);
  if (tailText === undefined) return head;
  const tail = parseGroups(tailText);
  const zeros = new Array<number>(8 - head.length - tail.length).fill(0);
  return [...head, ...zeros, ...tail];
}

function parseGroups(text: string): number[] {
  if (text === '') return [];
  return text.split(':').flatMap((part) => {
    if (!part.includes('.')) return [parseInt(part, 16)];
    // Embedded IPv4 tail ('::ffff:1.2.3.4') fills the last two groups.
    const [a = 0, b = 0, c = 0, d = 0] = part.split('.').map(Number);
    return [(a << 8) | b, (c << 8) | d];
  });
}
