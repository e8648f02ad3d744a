// What a platform reports of the pods behind a workload target (deployment/NAME,
// …): each pod and, per target port, whether it takes flows and why. The site's
// services turn it into tcpConnectors and `service status` rows
// (service-controller/target-states.ts); the platform fills it in
// (site-controller/kubernetes/pod-targets.ts), probing pods with the TCP probe
// the composition hands it (ProbeResult). Types only.

/** One port of a target. */
export interface TargetPortState {
  /** The port the target listens on (the tcpConnector's port). */
  readonly port: number;
  /** Whether the router has a tcpConnector for it: new flows may go there. */
  readonly takesFlows: boolean;
  /** `unknown`: not probed yet. */
  readonly health: 'healthy' | 'unhealthy' | 'unknown';
  /** Why it is unhealthy or takes no flows, or how health was judged when that is not a probe. */
  readonly reason?: string;
}

/** One pod of a workload target. `ports` is in the order of the target's `targetPorts`. */
export interface WorkloadEndpoint {
  readonly pod: string;
  /** Its pod IP; absent while it has none. */
  readonly ip?: string;
  readonly ports: readonly TargetPortState[];
}

/** The pods of a workload target (deployment/NAME, …), as the platform sees them. */
export interface WorkloadEndpoints {
  readonly endpoints: readonly WorkloadEndpoint[];
  /** Why it has no pods, when that is not just "none is selected" (no such workload, a bad selector). */
  readonly problem?: string;
}

/**
 * One probe's outcome. `refused`: the host answered with a reset (nothing
 * listens on the port: the router's flows to it would fail too); `timeout`:
 * no answer within the probe's timeout (service-controller/target-health.ts) (down, or a firewall between prober and
 * target); `error`: any other failure (no route, a name that does not resolve).
 */
export type ProbeResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly failure: 'refused' | 'timeout' | 'error'; readonly reason: string };
