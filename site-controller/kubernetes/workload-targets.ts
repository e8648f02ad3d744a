// The pods behind a workload target (deployment/NAME): the pods its
// spec.selector selects that are Ready, as the kubelet reports them (the Pod's
// Ready condition, the same signal an EndpointSlice's `ready` is made of). Pure
// functions of the watched objects, so the router config follows every change.
import type { V1Deployment, V1LabelSelector, V1Pod } from '@kubernetes/client-node';

export interface WorkloadPods {
  /** The IPs of its ready pods, sorted (the router config lists them in a stable order). */
  readonly ips: readonly string[];
  /** Why it has none, when it has none for a reason other than having no ready pod. */
  readonly problem?: string;
}

/** The ready pods of `deployment` (undefined: no such Deployment) among `pods` of its namespace. */
export function deploymentPods(name: string, deployment: V1Deployment | undefined, pods: readonly V1Pod[]): WorkloadPods {
  const selected = deploymentPodStates(name, deployment, pods);
  const ips = selected.pods.flatMap((pod) => (pod.notReady === undefined && pod.ip !== undefined ? [pod.ip] : []));
  return { ips: [...new Set(ips)].sort(), ...(selected.problem !== undefined && { problem: selected.problem }) };
}

/** A pod a workload selects: ready (no `notReady`), or why not. */
export interface SelectedPod {
  readonly name: string;
  readonly ip?: string;
  /** Why it takes no flows: terminating, no pod IP yet, or its Ready condition is not True. */
  readonly notReady?: string;
}

/** Every pod `deployment` selects, ready or not, sorted by name (for `service status`); or why none can be. */
export function deploymentPodStates(name: string, deployment: V1Deployment | undefined, pods: readonly V1Pod[]): { pods: SelectedPod[]; problem?: string } {
  if (!deployment) return { pods: [], problem: `Deployment ${name} not found` };
  const matches = selectorMatcher(deployment.spec?.selector);
  if (typeof matches === 'string') return { pods: [], problem: `Deployment ${name}: spec.selector ${matches}` };
  return {
    pods: pods
      .filter((pod) => matches(pod.metadata?.labels ?? {}))
      .map((pod) => {
        const notReady = notReadyReason(pod);
        const ip = pod.status?.podIP;
        return { name: pod.metadata?.name ?? '', ...(ip && { ip }), ...(notReady !== undefined && { notReady }) };
      })
      .sort((x, y) => x.name.localeCompare(y.name)),
  };
}

/** Ready, with an IP, and not terminating: a pod being deleted takes no new flows. */
export function isReady(pod: V1Pod): boolean {
  return notReadyReason(pod) === undefined;
}

function notReadyReason(pod: V1Pod): string | undefined {
  if (pod.metadata?.deletionTimestamp) return 'terminating';
  if (!pod.status?.podIP) return 'no pod IP yet';
  const ready = pod.status.conditions?.find((condition) => condition.type === 'Ready');
  if (ready?.status === 'True') return undefined;
  return `not Ready${ready?.reason ? ` (${ready.reason})` : ''}`;
}

/**
 * A label selector as a predicate (Kubernetes' matchLabels and matchExpressions
 * with In, NotIn, Exists, DoesNotExist), or why it cannot be one. An empty
 * selector would select every pod of the namespace: refused.
 */
export function selectorMatcher(selector: V1LabelSelector | undefined): ((labels: Readonly<Record<string, string>>) => boolean) | string {
  const equal = Object.entries(selector?.matchLabels ?? {});
  const expressions = selector?.matchExpressions ?? [];
  if (equal.length === 0 && expressions.length === 0) return 'is empty: it would select every pod';
  for (const expression of expressions) {
    if (!['In', 'NotIn', 'Exists', 'DoesNotExist'].includes(expression.operator)) return `has an unknown operator "${expression.operator}"`;
  }
  return (labels) =>
    equal.every(([key, value]) => labels[key] === value) &&
    expressions.every(({ key, operator, values = [] }) => {
      const value = labels[key];
      if (operator === 'In') return value !== undefined && values.includes(value);
      if (operator === 'NotIn') return value === undefined || !values.includes(value);
      if (operator === 'Exists') return value !== undefined;
      return value === undefined;
    });
}
