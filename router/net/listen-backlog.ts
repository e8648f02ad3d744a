// The listen() backlog of a tcpListener. skupper-router uses SOMAXCONN, the
// operating system's maximum, when `backlog` is 0 (its default) or larger than
// SOMAXCONN (src/adaptors/adaptor_common.c). On Linux the kernel's current
// limit is /proc/sys/net/core/somaxconn; Node.js's own default (511) would
// drop connections in a burst that the host could otherwise queue.
import { readFileSync } from 'node:fs';

/** What Linux has used as SOMAXCONN since 5.4; the C constant elsewhere is smaller, and the kernel caps any value. */
const FALLBACK_SOMAXCONN = 4096;

let somaxconn: number | undefined;

/** The operating system's maximum listen() backlog, read once. */
export function systemMaxBacklog(): number {
  if (somaxconn === undefined) {
    try {
      const value = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
      somaxconn = Number.isInteger(value) && value > 0 ? value : FALLBACK_SOMAXCONN;
    } catch {
      somaxconn = FALLBACK_SOMAXCONN;
    }
  }
  return somaxconn;
}

/** A tcpListener's `backlog` as listen() gets it: 0, or more than the maximum, means the maximum. */
export function listenBacklog(configured: number): number {
  const max = systemMaxBacklog();
  return configured <= 0 || configured > max ? max : configured;
}
