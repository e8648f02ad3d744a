// The pods behind a workload target: deployment/NAME, statefulset/NAME (and
// one pod of it, for a per-pod address), daemonset/NAME, service/NAME (the pods its
// spec.selector selects) and `pods --selector k=v`. Each is the pods its
// selector selects that are Ready, as the kubelet reports them (the Pod's
// Ready condition, the same signal an EndpointSlice's `ready` is made of).
// Pure functions of the watched objects, so the router config follows every change.
import type { V1DaemonSet, V1Deployment, V1LabelSelector, V1Pod, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import type { ServiceTarget } from '../site/model.js';

export interface WorkloadPods {
  /** The IPs of its ready pods, sorted (the router config lists them in a stable order). */
  readonly ips: readonly string[];
  /** Every pod it selects, ready or not, sorted by name (for `service status`); absent with a problem. */
  readonly pods?: readonly SelectedPod[];
  /** Why it has none, when it has none for a reason other than having no ready pod. */
  readonly problem?: string;
}

/** The watched objects of the namespace a target is resolved against. */
export interface WorkloadObjects {
  readonly deployment: (name: string) => V1Deployment | undefined;
  readonly statefulSet: (name: string) => V1StatefulSet | undefined;
  readonly daemonSet: (name: string) => V1DaemonSet | undefined;
  readonly service: (name: string) => V1Service | undefined;
  readonly pods: readonly V1Pod[];
}

/** The ready pods of any workload target; a host target has none (it is its own host). */
export function targetPods(target: Pick<ServiceTarget, 'type' | 'name' | 'pod'>, objects: WorkloadObjects): WorkloadPods {
  switch (target.type) {
    case 'deployment':
      return deploymentPods(target.name, objects.deployment(target.name), objects.pods);
    case 'statefulset':
      return statefulSetPods(target.name, objects.statefulSet(target.name), objects.pods, target.pod);
    case 'daemonset':
      return daemonSetPods(target.name, objects.daemonSet(target.name), objects.pods);
    case 'service':
      return servicePods(target.name, objects.service(target.name), objects.pods);
    case 'pods':
      return labelledPods(target.name, objects.pods);
    default:
      return { ips: [] };
  }
}

/** The ready pods of `deployment` (undefined: no such Deployment) among `pods` of its namespace. */
export function deploymentPods(name: string, deployment: V1Deployment | undefined, pods: readonly V1Pod[]): WorkloadPods {
  if (!deployment) return { ips: [], problem: `Deployment ${name} not found` };
  return selectedPods(`Deployment ${name}: spec.selector`, deployment.spec?.selector, pods);
}

/**
 * The ready pods of a StatefulSet, or with `podName` only that one of them
 * (`NAME-ORDINAL`, the StatefulSet controller's stable pod name), for a per-pod address.
 */
export function statefulSetPods(name: string, set: V1StatefulSet | undefined, pods: readonly V1Pod[], podName?: string): WorkloadPods {
  if (!set) return { ips: [], problem: `StatefulSet ${name} not found` };
  const candidates = podName === undefined ? pods : pods.filter((pod) => pod.metadata?.name === podName);
  return selectedPods(`StatefulSet ${name}: spec.selector`, set.spec?.selector, candidates);
}

/**
 * The ready pods a Service selects (its spec.selector is matchLabels only).
 * A Service without a selector (endpoints kept by hand) or of type
 * ExternalName (a DNS alias) selects no pods: that is its problem.
 */
export function servicePods(name: string, service: V1Service | undefined, pods: readonly V1Pod[]): WorkloadPods {
  const problem = serviceSelectorProblem(name, service);
  if (problem) return { ips: [], problem };
  return selectedPods(`Service ${name}: spec.selector`, { matchLabels: service?.spec?.selector ?? {} }, pods);
}

/** Why a Service cannot be a target (undefined: it can). */
export function serviceSelectorProblem(name: string, service: V1Service | undefined): string | undefined {
  if (!service) return `Service ${name} not found`;
  if (service.spec?.type === 'ExternalName') {
    return `Service ${name} is of type ExternalName (a DNS alias for ${service.spec.externalName ?? 'another name'}): it selects no pods; expose host/${service.spec.externalName ?? 'NAME'} instead`;
  }
  if (Object.keys(service.spec?.selector ?? {}).length === 0) {
    return `Service ${name} has no spec.selector (its endpoints are kept by hand): it selects no pods; expose its pods with "pods --selector", or its addresses as host/ADDRESS`;
  }
  return undefined;
}

/** The ready pods a `pods --selector` target (its name is the canonical selector text) selects. */
export function labelledPods(selectorText: string, pods: readonly V1Pod[]): WorkloadPods {
  const labels = parseEqualitySelector(selectorText);
  if (typeof labels === 'string') return { ips: [], problem: `selector "${selectorText}": ${labels}` };
  return selectedPods(`selector "${selectorText}"`, { matchLabels: labels }, pods);
}

/** A pod a workload selects: ready (no `notReady`), or why not. */
export interface SelectedPod {
  readonly name: string;
  readonly ip?: string;
  /** Why it takes no flows: terminating, no pod IP yet, or its Ready condition is not True. */
  readonly notReady?: string;
}

function selectedPods(what: string, selector: V1LabelSelector | undefined, pods: readonly V1Pod[]): WorkloadPods {
  const matches = selectorMatcher(selector);
  if (typeof matches === 'string') return { ips: [], problem: `${what} ${matches}` };
  const selected: SelectedPod[] = pods
    .filter((pod) => matches(pod.metadata?.labels ?? {}))
    .map((pod) => {
      const notReady = notReadyReason(pod);
      const ip = pod.status?.podIP;
      return { name: pod.metadata?.name ?? '', ...(ip && { ip }), ...(notReady !== undefined && { notReady }) };
    })
    .sort((x, y) => x.name.localeCompare(y.name));
  const ips = selected.flatMap((pod) => (pod.notReady === undefined && pod.ip !== undefined ? [pod.ip] : []));
  return { ips: [...new Set(ips)].sort(), pods: selected };
}

/** The ready pods of a DaemonSet (one per node it runs on). */
export function daemonSetPods(name: string, set: V1DaemonSet | undefined, pods: readonly V1Pod[]): WorkloadPods {
  if (!set) return { ips: [], problem: `DaemonSet ${name} not found` };
  return selectedPods(`DaemonSet ${name}: spec.selector`, set.spec?.selector, pods);
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

// Label keys and values as Kubernetes validates them (apimachinery's
// IsQualifiedName and IsValidLabelValue): an optional DNS subdomain prefix and
// '/', then 1-63 alphanumerics with '-', '_', '.' inside.
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_PREFIX = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/**
 * `k=v[,k2=v2]` (kubectl's equality-based selector; `==` is taken as `=`) as
 * matchLabels, or what is wrong with it. Set-based forms (`in`, `!=`, `!k`)
 * are not taken: a target's selector must name its pods' labels exactly.
 */
export function parseEqualitySelector(text: string): Record<string, string> | string {
  const labels: Record<string, string> = {};
  if (text.trim() === '') return 'is empty: give k=v[,k2=v2]';
  for (const item of text.split(',')) {
    const match = /^\s*([^=!\s]+)\s*==?\s*([^=\s]*)\s*$/.exec(item);
    if (!match) return `"${item}" is not k=v (only equality is supported)`;
    const [, key = '', value = ''] = match;
    const slash = key.lastIndexOf('/');
    const [prefix, name] = slash < 0 ? [undefined, key] : [key.slice(0, slash), key.slice(slash + 1)];
    if (!LABEL_NAME.test(name) || (prefix !== undefined && !LABEL_PREFIX.test(prefix))) return `"${key}" is not a label key`;
    if (value === '' || !LABEL_NAME.test(value)) return `"${value}" is not a label value (1-63 letters, digits, '-', '_', '.')`;
    if (labels[key] !== undefined && labels[key] !== value) return `label "${key}" is given twice`;
    labels[key] = value;
  }
  return labels;
}

/** A selector in one canonical form (keys sorted): the name of a `pods` target, so the same selector is the same target. */
export function canonicalSelector(labels: Readonly<Record<string, string>>): string {
  return Object.keys(labels)
    .sort()
    .map((key) => `${key}=${labels[key]}`)
    .join(',');
}
