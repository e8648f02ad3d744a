// Which local port each service port's listener gets at this site: the
// service's own port if nothing holds it, otherwise a free one. Picked once and
// recorded, so restarts and unrelated changes never move a listener (unless
// another program took the port while the listener was down).
import { createServer } from 'node:net';

export interface AllocationOptions {
  /**
   * Drop the ports of addresses not wanted now. Off while a site has just
   * started and has not heard from everyone yet, so that a restart does not
   * move listeners of services it simply has not heard of again yet.
   */
  readonly prune: boolean;
  /**
   * Addresses whose recorded port this site does not hold yet (no listener of
   * ours is bound there): if another program took the port meanwhile, the
   * address gets a new one rather than a listener that can never bind.
   */
  readonly recheck: ReadonlySet<string>;
}

/** `wanted` maps each router address (`service:port`) to its service port. Returns the new table, or undefined if unchanged. */
export async function allocateListenerPorts(
  current: Readonly<Record<string, number>>,
  wanted: ReadonlyMap<string, number>,
  host: string,
  options: AllocationOptions = { prune: true, recheck: new Set() },
): Promise<Record<string, number> | undefined> {
  const next: Record<string, number> = {};
  for (const [address, port] of Object.entries(current)) {
    if (!wanted.has(address) && options.prune) continue;
    if (wanted.has(address) && options.recheck.has(address) && !(await canListen(host, port))) continue;
    next[address] = port;
  }
  const taken = new Set(Object.values(next));
  for (const [address, servicePort] of [...wanted.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    if (next[address] !== undefined) continue;
    const port = !taken.has(servicePort) && (await canListen(host, servicePort)) ? servicePort : await freePort(host, taken);
    next[address] = port;
    taken.add(port);
  }
  const changed = Object.keys(next).length !== Object.keys(current).length || Object.entries(next).some(([address, port]) => current[address] !== port);
  return changed ? next : undefined;
}

function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A port nothing listens on at `host` now, and not one of `taken`; rejects with the bind error if `host` cannot be listened on. */
export async function freePort(host: string, taken: ReadonlySet<number>): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen({ host, port: 0, exclusive: true }, () => {
        const address = server.address();
        server.close(() => (address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port'))));
      });
    });
    if (!taken.has(port)) return port;
  }
}
