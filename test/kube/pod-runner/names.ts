// Names and hashes the workload controllers give pods.

import { createHash, randomInt } from 'node:crypto';

/** names.SimpleNameGenerator's alphabet (no vowels, no look-alike digits), also rand.SafeEncodeString's. */
const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** The 5-character suffix of generated names. */
export function randomSuffix(): string {
  let s = '';
  for (let i = 0; i < 5; i++) s += ALPHABET[randomInt(ALPHABET.length)];
  return s;
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * The pod-template-hash: 10 characters of the safe alphabet from a hash of the
 * template. (Kubernetes hashes the Go struct with FNV-32a; the value differs,
 * the property that matters is the same: a changed template, a new hash.)
 */
export function templateHash(template: unknown): string {
  const digest = createHash('sha256').update(stableJson(template)).digest();
  let s = '';
  for (let i = 0; i < 10; i++) s += ALPHABET[digest[i]! % ALPHABET.length];
  return s;
}
