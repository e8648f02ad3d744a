// Each target of the services exposed at this site, as `service status` shows
// it here: a host target, or one row per pod of a workload target, with the
// state of each of its ports (probe, readiness) and whether the router sends
// it flows. Pure: the site controller hands in the probes, the platform the pods.
import { routerAddress, type ServiceRecord, type ServiceTarget } from '../site-controller/site/model.js';
import type { ProbeResult } from './target-health.js';
import type { CheckState } from './health-checks.js';
import type { TargetPortState, WorkloadEndpoints } from '../site-controller/site/workload-endpoints.js';

export type { TargetPortState, WorkloadEndpoint, WorkloadEndpoints } from '../site-controller/site/workload-endpoints.js';

/** A row of `service status` "at this site". */
export interface LocalTargetState {
  readonly address: string;
  /** `host/NAME`, `deployment/NAME`, … */
  readonly target: string;
  /** The pod, for a workload target. */
  readonly pod?: string;
  /** Where the router reaches it: the host, or the pod IP. */
  readonly host?: string;
  /** Per service port, in the service's order. */
  readonly ports: readonly (TargetPortState & { readonly servicePort: number })[];
  /** A workload without pods: why (absent when it merely has none). */
  readonly problem?: string;
}

/**
 * The rows for every target of `services`: host targets from their last probe
 * (`probes`, by `host:port`; host targets always have their connectors),
 * workload targets from `workload` (none when the platform has no workloads).
 */
export function localTargetStates(
  services: readonly ServiceRecord[],
  probes: ReadonlyMap<string, ProbeResult>,
  workload: ((target: ServiceTarget) => WorkloadEndpoints) | undefined,
  /** The state of a target port (a host's, or a pod IP's) under its service's health check (`--health`): it decides health and whether it takes flows. */
  checked: (address: string, host: string, port: number) => CheckState | undefined = () => undefined,
): LocalTargetState[] {
  return services.flatMap((service) =>
    service.targets.flatMap((target): LocalTargetState[] => {
      const name = `${target.type}/${target.name}`;
      const withServicePorts = (ports: readonly TargetPortState[]) => ports.map((state, index) => ({ ...state, servicePort: service.ports[index] ?? state.port }));
      if (target.type === 'host') {
        const ports = target.targetPorts.map((port): TargetPortState => {
          const check = service.health === undefined ? undefined : checked(service.address, target.host, port);
          return check === undefined || check.state === 'unknown' ? hostPortState(port, probes.get(`${target.host}:${port}`)) : checkedPortState(port, check);
        });
        return [{ address: service.address, target: name, host: target.host, ports: withServicePorts(ports) }];
      }
      const pods = workload?.(target) ?? { endpoints: [], problem: `${target.type} targets are not served on this platform` };
      if (pods.endpoints.length === 0) return [{ address: service.address, target: name, ports: [], problem: pods.problem ?? 'no pods' }];
      // A pod port that takes flows by readiness is then under the service's health check, when it has one.
      const podPorts = (ip: string | undefined, ports: readonly TargetPortState[]) =>
        ports.map((state) => {
          const check = service.health === undefined || ip === undefined || !state.takesFlows ? undefined : checked(service.address, ip, state.port);
          return check === undefined || check.state === 'unknown' ? state : checkedPortState(state.port, check);
        });
      return pods.endpoints.map((endpoint) => ({ address: service.address, target: name, pod: endpoint.pod, ...(endpoint.ip !== undefined && { host: endpoint.ip }), ports: withServicePorts(podPorts(endpoint.ip, endpoint.ports)) }));
    }),
  );
}

function checkedPortState(port: number, check: CheckState): TargetPortState {
  const changes = `${check.changes} health change(s)`;
  return check.state === 'unhealthy'
    ? { port, takesFlows: false, health: 'unhealthy', reason: `${check.reason ?? 'failing its health check'}; out of rotation; ${changes}` }
    : { port, takesFlows: true, health: 'healthy', ...(check.changes > 1 && { reason: changes }) };
}

function hostPortState(port: number, probe: ProbeResult | undefined): TargetPortState {
  if (probe === undefined) return { port, takesFlows: true, health: 'unknown', reason: 'not probed yet' };
  return probe.ok ? { port, takesFlows: true, health: 'healthy' } : { port, takesFlows: true, health: 'unhealthy', reason: probe.reason };
}

/** The router addresses (`address:port`) and hosts a workload target's pods take flows on. */
export function workloadConnectors(service: ServiceRecord, target: ServiceTarget, pods: WorkloadEndpoints): { address: string; host: string; port: number }[] {
  return pods.endpoints.flatMap((endpoint) =>
    service.ports.flatMap((servicePort, index) => {
      const state = endpoint.ports[index];
      if (endpoint.ip === undefined || !state?.takesFlows) return [];
      return [{ address: routerAddress(service.address, servicePort), host: endpoint.ip, port: target.targetPorts[index] ?? servicePort }];
    }),
  );
}
