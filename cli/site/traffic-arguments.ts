// Command-line values of weighted routing and health checks (docs/traffic.md):
// each parser throws commander's InvalidArgumentError naming what is wrong,
// which the CLI reports as a usage error (exit 2) with the flag.
import { InvalidArgumentError } from 'commander';
import type { HealthCheck } from '../../site-controller/site/model.js';
import { parseHealthValue, parseWeightValue } from '../../site-controller/site/traffic-values.js';

// Shared with the Kubernetes controller's kskup.io/weight and kskup.io/health annotations.
export { DEFAULT_HEALTH_CHECK } from '../../site-controller/site/traffic-values.js';

export function parseWeight(value: string): number {
  const weight = parseWeightValue(value);
  if (typeof weight === 'string') throw new InvalidArgumentError(`"${value}" is ${weight}.`);
  return weight;
}

/** `tcp` or `http:/PATH`. */
export function parseHealth(value: string): Pick<HealthCheck, 'type' | 'path'> {
  const check = parseHealthValue(value);
  if (typeof check === 'string') throw new InvalidArgumentError(`"${value}" is ${check}.`);
  return check;
}

/** `500ms`, `2s`, or a number of seconds; 10 ms to 1 hour. In ms. */
export function parseDuration(value: string, flag: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*$/.exec(value);
  const ms = match ? Math.round(Number(match[1]) * (match[2] === 'ms' ? 1 : 1000)) : Number.NaN;
  if (!Number.isFinite(ms) || ms < 10 || ms > 3_600_000) throw new InvalidArgumentError(`${flag} "${value}" is not a duration from 10ms to 3600s: give e.g. 500ms, 2s or 1.5 (seconds).`);
  return ms;
}

export function parseThreshold(value: string, flag: string): number {
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > 100) throw new InvalidArgumentError(`${flag} "${value}" is not a count from 1 to 100.`);
  return n;
}

/** A whole number from `min` (a count of flows, per second or at once); `flag` names the option in the error. */
export function parseLimitCount(value: string, flag: string, min = 1): number {
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > 1_000_000_000) throw new InvalidArgumentError(`${flag} "${value}" is not a whole number from ${min} to 1000000000.`);
  return n;
}

const BYTE_UNITS: Readonly<Record<string, number>> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** Bytes per second: `10MiB/s`, `500KB/s`, `1GiB`, or a number of bytes; KB, MB, GB are powers of 1000, KiB, MiB, GiB of 1024. At least 1 KiB/s. */
export function parseBandwidth(value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?(?:\/s)?\s*$/i.exec(value);
  const unit = BYTE_UNITS[(match?.[2] ?? '').toLowerCase()];
  const bytes = match && unit !== undefined ? Math.round(Number(match[1]) * unit) : Number.NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 1024) {
    throw new InvalidArgumentError(`--bandwidth "${value}" is not a rate of at least 1KiB/s: give e.g. 10MiB/s, 500KB/s or a number of bytes per second.`);
  }
  return bytes;
}
