// Parsers for option values. Each throws commander's InvalidArgumentError, which
// becomes "option '--x <v>' argument 'y' is invalid. <reason>" and exit 2.
import { InvalidArgumentError } from 'commander';

export function parsePort(value: string): number {
  const port = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError('not a port number (1-65535).');
  return port;
}

export function parseSeconds(value: string): number {
  const seconds = /^\d*\.?\d+$/.test(value) ? Number(value) : NaN;
  if (!(seconds > 0)) throw new InvalidArgumentError('not a positive number of seconds.');
  return seconds;
}

export function parsePositiveInteger(value: string): number {
  const number = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(number) || number < 1) throw new InvalidArgumentError('not a whole number of 1 or more.');
  return number;
}

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90s`, `15m`, `1h30m`, `7d` -> milliseconds. */
export function parseDuration(value: string): number {
  if (!/^(\d+[smhd])+$/.test(value)) throw new InvalidArgumentError('not a duration: use a number and a unit (s, m, h, d), e.g. 15m, 1h30m, 7d.');
  let total = 0;
  for (const [, amount, unit] of value.matchAll(/(\d+)([smhd])/g)) total += Number(amount) * (UNIT_MS[unit ?? 's'] ?? 0);
  if (total <= 0) throw new InvalidArgumentError('must be longer than 0.');
  return total;
}

/** A duration for people: 900000 -> "15m", 5400000 -> "1h30m". */
export function formatDuration(ms: number): string {
  let rest = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86_400], ['h', 3_600], ['m', 60], ['s', 1]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join('') || '0s';
}
