// The endpoints of a workload target at a Kubernetes site: its selected pods,
// each port judged by readiness first and the controller's TCP probe second
// (pod-probes.ts). What takes flows gets a tcpConnector; every pod, ready or
// not, is a row of `service status`.
import type { TargetPortState, WorkloadEndpoints } from '../site/workload-endpoints.js';
import type { PodProbeState } from './pod-probes.js';
import type { SelectedPod } from './workload-targets.js';

/**
 * `pods` (with `problem`, as targetPods gives them) as endpoints on
 * `targetPorts`. A ready pod whose port refuses the probe takes no flows; one
 * that does not answer in time keeps them (readiness says it serves, and the
 * controller may be the one cut off, e.g. by a NetworkPolicy), shown unhealthy.
 */
export function podEndpoints(
  selected: { readonly pods?: readonly SelectedPod[]; readonly problem?: string },
  targetPorts: readonly number[],
  probe: (ip: string, port: number) => PodProbeState,
): WorkloadEndpoints {
  return {
    endpoints: (selected.pods ?? []).map((pod) => ({
      pod: pod.name,
      ...(pod.ip !== undefined && { ip: pod.ip }),
      ports: targetPorts.map((port) => (pod.notReady !== undefined || pod.ip === undefined ? notReady(port, pod.notReady ?? 'no pod IP yet') : portState(port, probe(pod.ip, port)))),
    })),
    ...(selected.problem !== undefined && { problem: selected.problem }),
  };
}

function notReady(port: number, reason: string): TargetPortState {
  return { port, takesFlows: false, health: 'unhealthy', reason };
}

function portState(port: number, state: PodProbeState): TargetPortState {
  if (state.kind === 'off') return { port, takesFlows: true, health: 'healthy', reason: 'Ready (readiness only: this controller does not probe pod IPs)' };
  if (state.kind === 'pending') return { port, takesFlows: true, health: 'unknown', reason: 'Ready, not probed yet' };
  const { result } = state;
  if (result.ok) return { port, takesFlows: true, health: 'healthy' };
  if (result.failure === 'refused') return { port, takesFlows: false, health: 'unhealthy', reason: `Ready, but ${result.reason} on port ${port}: no tcpConnector` };
  return { port, takesFlows: true, health: 'unhealthy', reason: `Ready, but the controller's probe failed: ${result.reason}; flows still go to it (readiness says it serves)` };
}
