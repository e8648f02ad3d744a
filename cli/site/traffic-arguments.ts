// Command-line values of weighted routing and health checks (docs/traffic.md):
// each parser throws commander's InvalidArgumentError naming what is wrong,
// which the CLI reports as a usage error (exit 2) with the flag.
import { InvalidArgumentError } from 'commander';
import type { HealthCheck } from '../../site-controller/site/model.js';

/** The tcpConnector `weight` range (router/config/schema.ts). */
export const MAX_WEIGHT = 1_000_000;

/** Interval 5 s and timeout 1 s as the TCP probe had them; 1 failure takes a target out (within one interval), 2 successes bring it back (no flapping on one lucky answer). */
export const DEFAULT_HEALTH_CHECK = { intervalMs: 5_000, timeoutMs: 1_000, healthyThreshold: 2, unhealthyThreshold: 1 } as const;

export function parseWeight(value: string): number {
  const weight = /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(weight) || weight > MAX_WEIGHT) throw new InvalidArgumentError(`"${value}" is not a weight: give a whole number from 0 (drain) to ${MAX_WEIGHT}.`);
  return weight;
}

/** `tcp` or `http:/PATH`. */
export function parseHealth(value: string): Pick<HealthCheck, 'type' | 'path'> {
  if (value === 'tcp') return { type: 'tcp' };
  const path = value.startsWith('http:') ? value.slice('http:'.length) : undefined;
  if (path !== undefined && path.startsWith('/') && !/[\s\u0000-\u001f]/.test(path)) return { type: 'http', path };
  throw new InvalidArgumentError(`"${value}" is not a health check: give tcp, or http:/PATH (a path starting with /, no spaces), e.g. http:/healthz.`);
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
