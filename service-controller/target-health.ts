// Whether the targets of services exposed at this site answer: a TCP connect
// that is closed at once, with a short timeout. The result travels in the
// site's announcements, so `service status` anywhere shows it, and this
// site's snapshot keeps the reason for `service status` here.
import { connect } from 'node:net';
import type { ProbeResult } from '../site-controller/site/workload-endpoints.js';

export type { ProbeResult } from '../site-controller/site/workload-endpoints.js';

/** How long a probe waits for the TCP handshake; one period of KSKUP_SYNC_HEALTH_MS (default 5 s) is far longer. */
export const PROBE_TIMEOUT_MS = 1_000;

/** Probes each `host:port` once, all at once; the results by `host:port`. */
export async function probeTargets(targets: readonly { host: string; port: number }[]): Promise<Map<string, ProbeResult>> {
  const results = await Promise.all(targets.map(async ({ host, port }) => [`${host}:${port}`, await probeTarget(host, port)] as const));
  return new Map(results);
}

/** A TCP connect to `host:port`, closed as soon as it is made; never rejects. */
export function probeTarget(host: string, port: number, timeoutMs = PROBE_TIMEOUT_MS): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (result: ProbeResult) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done({ ok: false, failure: 'timeout', reason: `no answer within ${timeoutMs} ms` }));
    socket.once('connect', () => done({ ok: true }));
    socket.once('error', (error: NodeJS.ErrnoException) => {
      const refused = error.code === 'ECONNREFUSED';
      done({ ok: false, failure: refused ? 'refused' : 'error', reason: refused ? 'connection refused (ECONNREFUSED)' : `${error.message}${error.code && !error.message.includes(error.code) ? ` (${error.code})` : ''}` });
    });
  });
}
