// Limits password guessing at a claims endpoint, per claim and per source
// address (docs/sites.md, "Password guessing"). A failed attempt is a claim
// refused as 403 (wrong password, or a claim that is revoked, expired or used
// up) or 404 (no such claim: guessing names). After FREE_FAILURES failures
// within FORGET_AFTER_MS, each further failure locks the claim (or the source)
// for a time that doubles, from BASE_LOCK_MS up to MAX_LOCK_MS. While locked,
// requests are refused with 429 and Retry-After before the password is
// looked at, so a lock cannot be guessed through, and they do not lengthen it.
//
// A claim's lock holds back only sources that have failed on record: a source
// with no failures (the site the token was made for, elsewhere) still
// redeems a locked claim, so an attacker cannot keep its owner out by
// guessing. A guesser from many addresses gets one try per address before its
// addresses are held by the claim's lock as well. IPv6 sources are counted by
// /64, the block one host usually holds.
import { isIPv6 } from 'node:net';

export interface GuessLimits {
  /** Failures within the window before the first lock. */
  readonly freeFailures: number;
  /** The first lock; each further failure doubles it. */
  readonly baseLockMs: number;
  readonly maxLockMs: number;
  /** A record with no failure for this long is forgotten. */
  readonly forgetAfterMs: number;
  /** The most sources and claims remembered; the longest quiet are forgotten first. */
  readonly maxEntries: number;
}

export const DEFAULT_GUESS_LIMITS: GuessLimits = {
  freeFailures: 5,
  baseLockMs: 1_000,
  maxLockMs: 5 * 60_000,
  forgetAfterMs: 15 * 60_000,
  maxEntries: 10_000,
};

export type GuessVerdict = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number; readonly reason: string };

interface Failures {
  failures: number;
  lastFailureAt: number;
  lockedUntil: number;
  /** Requests refused during the current lock; the first one is logged. */
  refusedInLock: number;
}

export interface GuessLog {
  warn(fields: object, message: string): void;
}

export class GuessLimiter {
  private readonly claims = new Map<string, Failures>();
  private readonly sources = new Map<string, Failures>();

  constructor(
    private readonly log: GuessLog,
    private readonly limits: GuessLimits = DEFAULT_GUESS_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether a request for `claim` from `remote` (an IP address) may be tried now. */
  check(remote: string, claim: string): GuessVerdict {
    const now = this.now();
    const source = sourceKey(remote);
    const bySource = this.current(this.sources, source, now);
    const byClaim = this.current(this.claims, claim, now);
    const sourceLocked = bySource !== undefined && bySource.lockedUntil > now;
    // A claim's lock holds back only sources with failures on record.
    const claimLocked = byClaim !== undefined && byClaim.lockedUntil > now && bySource !== undefined;
    if (!sourceLocked && !claimLocked) return { allowed: true };
    const until = Math.max(sourceLocked ? bySource.lockedUntil : 0, claimLocked ? byClaim.lockedUntil : 0);
    const reason = sourceLocked ? `too many failed claims from ${source}` : `too many failed attempts on claim "${claim}"`;
    const record = sourceLocked ? bySource : byClaim!;
    if (record.refusedInLock++ === 0) {
      this.log.warn(
        { claim, remote: source, failures: record.failures, lockedForMs: until - now },
        `claims endpoint: ${reason}; refusing ${sourceLocked ? 'that source' : 'that claim to sources that failed'} for ${Math.ceil((until - now) / 1000)} s`,
      );
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((until - now) / 1000)), reason: `${reason}: try again in ${Math.max(1, Math.ceil((until - now) / 1000))} s` };
  }

  /** Counts the outcome of a request that was tried: an HTTP status of the claims endpoint. */
  record(remote: string, claim: string, status: number): void {
    if (status !== 403 && status !== 404) return;
    const now = this.now();
    this.fail(this.sources, sourceKey(remote), now);
    this.fail(this.claims, claim, now);
  }

  private fail(map: Map<string, Failures>, key: string, now: number): void {
    const record = this.current(map, key, now) ?? { failures: 0, lastFailureAt: now, lockedUntil: 0, refusedInLock: 0 };
    record.failures++;
    record.lastFailureAt = now;
    const over = record.failures - this.limits.freeFailures;
    if (over > 0) {
      record.lockedUntil = now + Math.min(this.limits.maxLockMs, this.limits.baseLockMs * 2 ** Math.min(over - 1, 30));
      record.refusedInLock = 0;
    }
    // Re-inserted last: a Map keeps insertion order, so the first entry is the longest quiet.
    map.delete(key);
    map.set(key, record);
    while (map.size > this.limits.maxEntries) map.delete(map.keys().next().value!);
  }

  /** The record of `key`, unless it is forgotten by now. */
  private current(map: Map<string, Failures>, key: string, now: number): Failures | undefined {
    const record = map.get(key);
    if (record && now - record.lastFailureAt > this.limits.forgetAfterMs && record.lockedUntil <= now) {
      map.delete(key);
      return undefined;
    }
    return record;
  }
}

/** An IPv4 address as it is (also when IPv4-mapped), an IPv6 address as its /64. */
export function sourceKey(remote: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remote);
  if (mapped) return mapped[1]!;
  if (!isIPv6(remote)) return remote;
  const [head = '', tail = ''] = remote.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = remote.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((group) => group.replace(/^0+(?=.)/, '').toLowerCase()).join(':')}::/64`;
}
