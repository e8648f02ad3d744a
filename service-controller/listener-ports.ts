// Which local port each service port's listener gets at this site: the
// service's own port if nothing holds it, otherwise a free one. Picked once and
// recorded, so restarts, unrelated changes and a service that is out of sight
// for a while never move a listener, unless it cannot be bound there: another
// program (or another site on this host) took the port while the listener was
// down, or between the choice and the bind.
import { createServer } from 'node:net';
import { freePort } from '../site-controller/site/free-port.js';

export interface AllocationOptions {
  /**
   * Drop the ports of addresses not wanted now. Off while a site has just
   * started and has not heard from everyone yet, so that a restart does not
   * move listeners of services it simply has not heard of again yet.
   * Default: true.
   */
  readonly prune: boolean;
  /**
   * Addresses not wanted now whose recorded port is kept all the same: their
   * service went out of sight only a short while ago (its site is cut off or
   * paused), and when it is back its listener must be where clients expect it.
   */
  readonly retain: ReadonlySet<string>;
  /**
   * Addresses whose recorded port this site does not hold yet (no listener of
   * ours is bound there): if another program took the port meanwhile, the
   * address gets a new one rather than a listener that can never bind.
   */
  readonly recheck: ReadonlySet<string>;
  /**
   * Addresses whose listener is configured but could not bind its recorded
   * port: each gets another port (never the one that failed). If no port can
   * be had at all (the host is not an address of this machine), the recorded
   * one stays, and the listener keeps saying why it is down.
   */
  readonly move: ReadonlySet<string>;
  /**
   * Ports that others on this host have recorded or hold (other sites): never
   * chosen for a new or moved listener. Asked for only when a port is chosen.
   */
  readonly avoid: () => Promise<ReadonlySet<number>>;
}

const DEFAULTS: AllocationOptions = { prune: true, retain: new Set(), recheck: new Set(), move: new Set(), avoid: async () => new Set() };

/**
 * `wanted` maps each router address (`service:port`) to its service port;
 * `current` is the recorded table (address -> local port). Returns the new
 * table, or undefined if unchanged.
 */
export async function allocateListenerPorts(
  current: Readonly<Record<string, number>>,
  wanted: ReadonlyMap<string, number>,
  host: string,
  given: Partial<AllocationOptions> = {},
): Promise<Record<string, number> | undefined> {
  const options = { ...DEFAULTS, ...given };
  let avoided: ReadonlySet<number> | undefined;
  const avoid = async () => (avoided ??= await options.avoid());

  const next: Record<string, number> = {};
  /** Ports that failed to bind: not to be chosen again now. */
  const failed = new Set<number>();
  for (const [address, port] of Object.entries(current)) {
    if (!wanted.has(address) && options.prune && !options.retain.has(address)) continue;
    if (wanted.has(address) && options.move.has(address)) {
      failed.add(port);
      continue;
    }
    if (wanted.has(address) && options.recheck.has(address) && ((await avoid()).has(port) || !(await canListen(host, port)))) continue;
    next[address] = port;
  }
  const taken = new Set(Object.values(next));
  for (const [address, servicePort] of [...wanted.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    if (next[address] !== undefined) continue;
    const excluded = new Set([...taken, ...failed, ...(await avoid())]);
    let port: number;
    if (!excluded.has(servicePort) && (await canListen(host, servicePort))) port = servicePort;
    else {
      try {
        port = await freePort(host, excluded);
      } catch {
        // Nothing can listen on `host` at all: keep what was recorded (or the
        // service port) and let the listener report why it cannot bind.
        port = current[address] ?? servicePort;
      }
    }
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
