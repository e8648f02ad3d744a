// The values of weighted routing and health checks as people write them
// (docs/traffic.md), parsed where both the CLI (`kskup expose --weight`,
// `--health`) and the Kubernetes controller (kskup.io/weight, kskup.io/health
// annotations) can use them: each parser returns the value, or the reason it
// is not one (a string), which each caller prefixes with the flag or
// annotation and the value. Pure; imports nothing but the site model's types.
import type { HealthCheck } from './model.js';

/** The tcpConnector `weight` range, 0 to this (router/config/schema.ts). */
export const MAX_WEIGHT = 1_000_000;

/** Interval 5 s and timeout 1 s as the TCP probe had them; 1 failure takes a target out (within one interval), 2 successes bring it back (no flapping on one lucky answer). */
export const DEFAULT_HEALTH_CHECK = { intervalMs: 5_000, timeoutMs: 1_000, healthyThreshold: 2, unhealthyThreshold: 1 } as const;

/** A weight: a whole number from 0 (drain) to MAX_WEIGHT, in decimal (spaces around it allowed). The number, or why `value` is not one. */
export function parseWeightValue(value: string): number | string {
  const weight = /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(weight) || weight > MAX_WEIGHT) return `not a weight: give a whole number from 0 (drain) to ${MAX_WEIGHT}`;
  return weight;
}

/** A health check's kind: `tcp`, or `http:/PATH` (a path starting with `/`, no spaces or control characters). The check, or why `value` is not one. */
export function parseHealthValue(value: string): Pick<HealthCheck, 'type' | 'path'> | string {
  if (value === 'tcp') return { type: 'tcp' };
  const path = value.startsWith('http:') ? value.slice('http:'.length) : undefined;
  if (path !== undefined && path.startsWith('/') && !/[\s\u0000-\u001f]/.test(path)) return { type: 'http', path };
  return 'not a health check: give tcp, or http:/PATH (a path starting with /, no spaces), e.g. http:/healthz';
}
