// Which sites' flows a tcpConnector serves: kskup's `allowedSites` attribute
// of a tcpConnector (docs/policy.md), written by a site controller from its
// site policy's serviceAccess. Checked where a flow arrives at the router
// that would dial the backend, before it is dialled; a flow from a site not
// named is detached with POLICY_DENIED and counted per tcpConnector. A
// tcpConnector without the attribute (every skupper-router config) serves any
// site. This module owns the matching and the counts; it imports nothing of
// the TCP adaptor, which makes the one call (tcp-adaptor.ts, connectFlow).
import type { TcpConnectorEntity } from '../config/types.js';
import type { Logger } from '../log/logger.js';

/** The detach condition of a refused flow (a kskup condition, in the `kskup:` namespace like kskup:backend-unreachable). */
export const POLICY_DENIED = 'kskup:policy-denied';

/** Where a flow came from: the router whose tcpListener took the client (from the flow id), and its site name as link state knows it. */
export interface FlowOrigin {
  readonly router: string;
  readonly site?: string;
}

/** The sites of an `allowedSites` value: names or ids, separated by spaces or commas; undefined for an absent attribute (any site). */
export function allowedSitesOf(entity: Pick<TcpConnectorEntity, 'allowedSites'>): ReadonlySet<string> | undefined {
  if (entity.allowedSites === undefined) return undefined;
  return new Set(entity.allowedSites.split(/[\s,]+/).filter((site) => site !== ''));
}

/**
 * Whether `allowed` names the origin: its router id, its site name, or the
 * site id its router id is a replica of (a Kubernetes site's replica K is
 * `SITEID-K`, site-controller/kubernetes/router-replicas.ts). `self`, this
 * router, is always allowed: its own tcpListeners are its site's.
 */
export function originAllowed(allowed: ReadonlySet<string> | undefined, origin: FlowOrigin, self: string): boolean {
  if (allowed === undefined || origin.router === self) return true;
  if (allowed.has(origin.router) || (origin.site !== undefined && allowed.has(origin.site))) return true;
  const replica = /^(.+)-\d+$/.exec(origin.router);
  return replica !== null && allowed.has(replica[1]!);
}

/** Counts of refused flows per tcpConnector, and the log of them: once per (address, origin router), then at debug. */
export class FlowPolicy {
  private readonly denied = new Map<string, number>();
  private readonly logged = new Set<string>();

  constructor(
    private readonly selfId: string,
    private readonly log: Logger,
  ) {}

  /** Whether the tcpConnector serves a flow from `origin`. */
  allows(entity: TcpConnectorEntity, origin: FlowOrigin): boolean {
    return originAllowed(allowedSitesOf(entity), origin, this.selfId);
  }

  /** A flow for `address` from `origin` that no tcpConnector here serves: counted against each, logged, and the detach error to send. */
  deny(address: string, origin: FlowOrigin, connectors: readonly TcpConnectorEntity[]): { condition: string; description: string } {
    for (const connector of connectors) this.denied.set(connector.name, (this.denied.get(connector.name) ?? 0) + 1);
    const from = origin.site !== undefined ? `site "${origin.site}" (router ${origin.router})` : `router ${origin.router}`;
    const description = `policy: flows from ${from} to address "${address}" are not allowed at router ${this.selfId}`;
    const key = `${address}\u0000${origin.router}`;
    if (this.logged.has(key)) this.log.debug({ address, origin: origin.router }, description);
    else {
      this.logged.add(key);
      this.log.warn({ address, origin: origin.router, ...(origin.site !== undefined && { originSite: origin.site }) }, `${description} (refused; further refusals of it are logged at debug)`);
    }
    return { condition: POLICY_DENIED, description };
  }

  /** Listener side: a flow of ours was refused by the target's policy (its client was reset). Logged once per address and reason. */
  refusedByTarget(address: string, reason: string): void {
    const key = `refused\u0000${address}\u0000${reason}`;
    if (this.logged.has(key)) return;
    this.logged.add(key);
    this.log.warn({ address, reason }, `a flow for address ${address} was refused by its target: ${reason} (the client was reset; further refusals are not logged)`);
  }

  /** Flows refused at a tcpConnector since the router started (management's flowsDenied). */
  deniedAt(connectorName: string): number {
    return this.denied.get(connectorName) ?? 0;
  }
}
