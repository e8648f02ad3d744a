// The ports of a service/NAME target, from the Service as Kubernetes reads it:
// each ServicePort's `port` is a service port, its `targetPort` (default: the
// port) the target port, a number or the name of a container port that the
// selected pods resolve (Kubernetes resolves a named targetPort per pod, from
// spec.containers[].ports[].name). Resolved once, at expose time, to numbers.
import type { V1Pod, V1Service, V1ServicePort } from '@kubernetes/client-node';
import { selectorMatcher } from './workload-targets.js';

export interface PortPairs {
  /** Service ports, with the target port of each at the same index. */
  readonly ports: readonly number[];
  readonly targetPorts: readonly number[];
}

/**
 * The service and target ports for exposing `service`. `requested` (the
 * command line's --port, maybe without --target-port) wins; a requested port
 * the Service has takes its targetPort, another one itself. Without
 * `requested`, every TCP port of the Service. A named targetPort must name the
 * same container port number in every pod the Service selects (terminating
 * pods aside), else the answer is what is wrong (a string).
 */
export function serviceTargetPorts(
  service: V1Service,
  pods: readonly V1Pod[],
  requested?: { readonly ports: readonly number[]; readonly targetPorts?: readonly number[] },
): PortPairs | string {
  const name = service.metadata?.name ?? '';
  const tcp = (service.spec?.ports ?? []).filter((p) => (p.protocol ?? 'TCP') === 'TCP');
  if (requested?.targetPorts) return { ports: requested.ports, targetPorts: requested.targetPorts };
  const chosen: { port: number; servicePort: V1ServicePort | undefined }[] = requested
    ? requested.ports.map((port) => ({ port, servicePort: tcp.find((p) => p.port === port) }))
    : tcp.map((servicePort) => ({ port: servicePort.port, servicePort }));
  if (chosen.length === 0) return `Service ${name} has no TCP port: give --port`;
  const targetPorts: number[] = [];
  for (const { port, servicePort } of chosen) {
    const target = servicePort?.targetPort ?? port;
    const number = typeof target === 'number' || /^\d+$/.test(target) ? Number(target) : namedPort(name, port, target, service, pods);
    if (typeof number === 'string') return number;
    targetPorts.push(number);
  }
  return { ports: chosen.map(({ port }) => port), targetPorts };
}

function namedPort(serviceName: string, port: number, portName: string, service: V1Service, pods: readonly V1Pod[]): number | string {
  const matches = selectorMatcher({ matchLabels: service.spec?.selector ?? {} });
  if (typeof matches === 'string') return `Service ${serviceName}: spec.selector ${matches}`;
  const numbers = new Set<number>();
  for (const pod of pods) {
    if (pod.metadata?.deletionTimestamp || !matches(pod.metadata?.labels ?? {})) continue;
    for (const container of pod.spec?.containers ?? []) {
      for (const containerPort of container.ports ?? []) {
        if (containerPort.name === portName && (containerPort.protocol ?? 'TCP') === 'TCP') numbers.add(containerPort.containerPort);
      }
    }
  }
  const where = `Service ${serviceName} port ${port}: targetPort "${portName}"`;
  if (numbers.size === 0) return `${where} names no container port of the pods it selects (are any running?); give --target-port`;
  if (numbers.size > 1) return `${where} is port ${[...numbers].sort((a, b) => a - b).join(' in some pods and ')} in others; give --target-port`;
  return [...numbers][0] as number;
}
