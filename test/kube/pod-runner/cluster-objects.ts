// The pod runner's access to its cluster: reads from the API server double's
// store, writes through its registry (the code behind the HTTP verbs, so
// validation, resourceVersions, the status subresource and graceful deletion
// apply as they do to any client), and change notifications. The runner lives
// in the same process as the double, so it does not go through HTTPS; the
// objects it writes are the ones a kubelet or controller would write.

import type { KubeApiServer } from '../api-server.js';
import { findResourceType, storageKind, type ResourceType } from '../resources.js';
import { ApiError } from '../status.js';
import type { KubeObject } from '../store.js';

type Obj = Record<string, unknown>;

function rt(group: string, plural: string): ResourceType {
  const found = findResourceType(group, 'v1', plural); // every type the runner touches is at v1
  if (found === undefined) throw new Error(`pod runner: the API server double does not serve ${plural}`);
  return found;
}

export const TYPES = {
  pods: rt('', 'pods'),
  services: rt('', 'services'),
  configMaps: rt('', 'configmaps'),
  secrets: rt('', 'secrets'),
  serviceAccounts: rt('', 'serviceaccounts'),
  deployments: rt('apps', 'deployments'),
  statefulSets: rt('apps', 'statefulsets'),
  daemonSets: rt('apps', 'daemonsets'),
  endpointSlices: rt('discovery.k8s.io', 'endpointslices'),
} as const;

export type TypeName = keyof typeof TYPES;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function specOf(o: KubeObject): Obj {
  return isObj(o.spec) ? o.spec : {};
}

export function statusOf(o: KubeObject): Obj {
  return isObj(o.status) ? o.status : {};
}

function absent(err: unknown): boolean {
  return err instanceof ApiError && (err.status.code === 404 || err.status.code === 409);
}

export class ClusterObjects {
  constructor(private readonly api: KubeApiServer) {}

  get(type: TypeName, namespace: string, name: string): KubeObject | undefined {
    return this.api.store.get(storageKind(TYPES[type]), namespace, name);
  }

  list(type: TypeName, namespace?: string): KubeObject[] {
    return this.api.store.list(storageKind(TYPES[type]), namespace);
  }

  create(type: TypeName, namespace: string, body: Obj): KubeObject {
    return this.api.registry.create(TYPES[type], namespace, body, false);
  }

  /** Replaces an object's spec and metadata (PUT with its resourceVersion); undefined when it is gone or changed meanwhile (the next event retries). */
  update(type: TypeName, obj: KubeObject): KubeObject | undefined {
    try {
      return this.api.registry.update(TYPES[type], obj.metadata.namespace ?? '', obj.metadata.name, obj, undefined, false).object;
    } catch (err) {
      if (absent(err)) return undefined;
      throw err;
    }
  }

  /** PUT on the status subresource, with the resourceVersion read; undefined when the object is gone or changed meanwhile. */
  updateStatus(type: TypeName, obj: KubeObject, status: Obj): KubeObject | undefined {
    try {
      return this.api.registry.update(TYPES[type], obj.metadata.namespace ?? '', obj.metadata.name, { ...obj, status }, 'status', false).object;
    } catch (err) {
      if (absent(err)) return undefined;
      throw err;
    }
  }

  /** DELETE; a Pod bound to a node is only marked unless gracePeriodSeconds is 0. Missing objects are fine. */
  delete(type: TypeName, namespace: string, name: string, gracePeriodSeconds?: number, uid?: string): void {
    try {
      this.api.registry.delete(TYPES[type], namespace, name, { gracePeriodSeconds, preconditions: uid === undefined ? undefined : { uid } }, false);
    } catch (err) {
      if (!absent(err)) throw err;
    }
  }

  /** The scheduler's binding: sets spec.nodeName of an unbound Pod (the pods/binding subresource, which the double does not serve). */
  bind(pod: KubeObject, nodeName: string): KubeObject | undefined {
    const current = this.get('pods', pod.metadata.namespace ?? '', pod.metadata.name);
    if (current === undefined || current.metadata.uid !== pod.metadata.uid) return undefined;
    return this.api.registry.writeSystem(TYPES.pods, { ...structuredClone(current), spec: { ...specOf(current), nodeName } } as KubeObject);
  }

  /** Calls `listener` (after the change, asynchronously) with the type and namespace/name of each changed object of the given types. */
  watch(types: readonly TypeName[], listener: (type: TypeName, obj: KubeObject, deleted: boolean) => void): () => void {
    const byKind = new Map(types.map((t) => [storageKind(TYPES[t]), t] as const));
    return this.api.store.subscribe((change) => {
      const type = byKind.get(change.kind);
      if (type === undefined) return;
      // The store calls listeners inside its write: act after it, never re-entering it.
      queueMicrotask(() => listener(type, change.object, change.type === 'DELETED'));
    });
  }
}
