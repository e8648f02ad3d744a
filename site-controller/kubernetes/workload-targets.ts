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
  if (!deployment) return { ips: [], problem: `Deployment ${name} not found` };
  const selector = deployment.spec?.selector;
  const matches = selectorMatcher(selector);
  if (typeof matches === 'string') return { ips: [], problem: `Deployment ${name}: spec.selector ${matches}` };
  const ips = pods.filter((pod) => matches(pod.metadata?.labels ?? {}) && isReady(pod)).map((pod) => pod.status?.podIP as string);
  return { ips: [...new Set(ips)].sort() };
}

/**
 * The ready pods of a workload found by its label selector (a StatefulSet's
 * or DaemonSet's spec.selector; a Service's spec.selector as matchLabels).
 * `what`: `DaemonSet agent`, for the problem.
 */
export function selectedPods(what: string, object: object | undefined, selector: V1LabelSelector | undefined, pods: readonly V1Pod[]): WorkloadPods {
  if (!object) return { ips: [], problem: `${what} not found` };
  const matches = selectorMatcher(selector);
  if (typeof matches === 'string') return { ips: [], problem: `${what}: spec.selector ${matches}` };
  const ips = pods.filter((pod) => matches(pod.metadata?.labels ?? {}) && isReady(pod)).map((pod) => pod.status?.podIP as string);
  return { ips: [...new Set(ips)].sort() };
}

/** Ready, with an IP, and not terminating: a pod being deleted takes no new flows. */
export function isReady(pod: V1Pod): boolean {
  if (pod.metadata?.deletionTimestamp || !pod.status?.podIP) return false;
  return pod.status.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True') === true;
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
