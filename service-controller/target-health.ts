// Whether the targets of services exposed at this site answer: a TCP connect
// that is closed at once, with a short timeout. The result travels in the
// site's announcements, so `service status` anywhere shows it.
import { connect } from 'node:net';

const PROBE_TIMEOUT_MS = 1_000;

export async function probeTargets(targets: readonly { host: string; port: number }[]): Promise<Map<string, boolean>> {
  const results = await Promise.all(targets.map(async ({ host, port }) => [`${host}:${port}`, await answers(host, port)] as const));
  return new Map(results);
}

function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(PROBE_TIMEOUT_MS, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
