// The EndpointSlice controller: one discovery.k8s.io/v1 EndpointSlice per
// Service with a selector (labels kubernetes.io/service-name and
// endpointslice.kubernetes.io/managed-by, owned by the Service), listing every
// selected pod that has an IP, with conditions ready (Ready and not
// terminating), serving (Ready) and terminating, as the real controller writes
// them; publishNotReadyAddresses makes every endpoint ready. Named target
// ports are resolved against each pod's container ports (a port that only
// some pods name gets the first pod's number: the real controller would write
// one slice per distinct port set). No 100-endpoint split.

import type { KubeObject } from '../store.js';
import { isObj, specOf, statusOf, type ClusterObjects } from './cluster-objects.js';
import { controllerRef, isPodReady, isTerminating, keyOf, ownedBy, splitKey } from './pod-facts.js';
import { QueuedController } from './work-queue.js';

type Obj = Record<string, unknown>;

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
const MANAGED_BY = 'endpointslice-controller.k8s.io';

/** A Service port's targetPort as a number for one pod: numbers as they are, names looked up in the pod's container ports. */
export function resolveTargetPort(svcPort: Obj, pod: KubeObject | undefined): number | undefined {
  const target = svcPort.targetPort ?? svcPort.port;
  if (typeof target === 'number') return target;
  if (typeof target === 'string' && /^\d+$/.test(target)) return Number(target);
  if (pod === undefined) return undefined;
  for (const c of (Array.isArray(specOf(pod).containers) ? specOf(pod).containers : []) as Obj[]) {
    for (const p of (Array.isArray(c.ports) ? c.ports : []) as Obj[]) if (p.name === target && typeof p.containerPort === 'number') return p.containerPort;
  }
  return undefined;
}

export function selects(svc: KubeObject, pod: KubeObject): boolean {
  const selector = specOf(svc).selector;
  if (!isObj(selector) || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => pod.metadata.labels?.[k] === v);
}

export class EndpointSliceController extends QueuedController {

  constructor(
    private readonly objects: ClusterObjects,
    onError: (what: string, err: unknown) => void,
  ) {
    super('EndpointSlice of Service', onError);
    this.unwatch = objects.watch(['services', 'pods', 'endpointSlices'], (type, obj) => {
      if (type === 'services') return this.queue.add(keyOf(obj));
      if (type === 'endpointSlices') {
        const svc = obj.metadata.labels?.[SERVICE_NAME_LABEL];
        if (svc !== undefined) this.queue.add(`${obj.metadata.namespace}/${svc}`);
        return;
      }
      for (const svc of objects.list('services', obj.metadata.namespace)) if (isObj(specOf(svc).selector)) this.queue.add(keyOf(svc));
    });
    for (const s of objects.list('services')) this.queue.add(keyOf(s));
  }

  protected async sync(key: string): Promise<void> {
    const [namespace, name] = splitKey(key);
    const svc = this.objects.get('services', namespace, name);
    if (svc === undefined || isTerminating(svc) || !isObj(specOf(svc).selector)) return; // slices go with their Service (GC)
    const spec = specOf(svc);
    const pods = this.objects.list('pods', namespace).filter((p) => selects(svc, p) && typeof statusOf(p).podIP === 'string');
    const svcPorts = (Array.isArray(spec.ports) ? spec.ports : []) as Obj[];
    const ports = svcPorts.map((p) => {
      const port = resolveTargetPort(p, pods[0]);
      return { name: typeof p.name === 'string' ? p.name : '', ...(port === undefined ? {} : { port }), protocol: p.protocol ?? 'TCP' };
    });
    const publishAll = spec.publishNotReadyAddresses === true;
    const endpoints = pods.map((p) => {
      const ps = specOf(p);
      const ready = isPodReady(p);
      const terminating = isTerminating(p);
      return {
        addresses: [String(statusOf(p).podIP)],
        conditions: { ready: publishAll || (ready && !terminating), serving: publishAll || ready, terminating },
        ...(ps.subdomain === name && typeof ps.hostname === 'string' ? { hostname: ps.hostname } : {}),
        ...(typeof ps.nodeName === 'string' ? { nodeName: ps.nodeName } : {}),
        targetRef: { kind: 'Pod', namespace, name: p.metadata.name, uid: p.metadata.uid },
      };
    });
    const existing = this.objects.list('endpointSlices', namespace).filter((s) => s.metadata.labels?.[SERVICE_NAME_LABEL] === name && ownedBy(s, svc));
    const [slice, ...extra] = existing;
    for (const e of extra) this.objects.delete('endpointSlices', namespace, e.metadata.name);
    const labels = { ...(svc.metadata.labels ?? {}), [SERVICE_NAME_LABEL]: name, 'endpointslice.kubernetes.io/managed-by': MANAGED_BY };
    if (slice === undefined) {
      this.objects.create('endpointSlices', namespace, {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { generateName: `${name}-`, labels, ownerReferences: [controllerRef(svc)] },
        addressType: 'IPv4',
        endpoints,
        ports,
      });
      return;
    }
    this.objects.update('endpointSlices', { ...slice, metadata: { ...slice.metadata, labels }, endpoints, ports });
  }
}
