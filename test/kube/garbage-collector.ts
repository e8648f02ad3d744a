// The cluster's garbage collector and namespace controller, run after every
// change (asynchronously, as in a cluster, so a test waits for the effect or
// calls idle()). Follows kube-controller-manager's GC:
// - an owner is "absent" when no object of the referenced kind and name (in the
//   dependent's namespace, or cluster-wide for cluster-scoped kinds) has the
//   referenced uid; a dependent whose owners are all absent is deleted
//   (background); dangling references next to live owners are removed;
// - `orphan` finalizer: the owner's references are removed from its dependents,
//   then the finalizer;
// - `foregroundDeletion` finalizer: the dependents are deleted, and the owner
//   is released once no dependent with blockOwnerDeletion=true remains;
// - a terminating namespace has its content deleted, then is removed.
// An owner reference to a kind the double does not serve is left alone, as the
// real GC cannot resolve it either.

import { findByKind, findResourceType, RESOURCE_TYPES, storageKind, type ResourceType } from './resources.js';
import { ApiError } from './status.js';
import type { Registry } from './registry.js';
import type { KubeObject, OwnerReference } from './store.js';

const NAMESPACES = findResourceType('', 'v1', 'namespaces')!;

interface Item {
  readonly rt: ResourceType;
  readonly obj: KubeObject;
}

export class GarbageCollector {
  private scheduled = false;
  private stopped = false;
  private waiters: Array<() => void> = [];
  private readonly unsubscribe: () => void;
  /** Failures of a pass other than races (kept for tests to assert on; a pass never throws). */
  readonly errors: unknown[] = [];

  constructor(private readonly registry: Registry) {
    this.unsubscribe = registry.store.subscribe(() => this.schedule());
  }

  /** Resolves once no pass is pending, i.e. everything collectable has been collected. */
  idle(): Promise<void> {
    if (!this.scheduled) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    for (const w of this.waiters.splice(0)) w();
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.stopped) return;
      this.pass();
      if (!this.scheduled) for (const w of this.waiters.splice(0)) w();
    });
  }

  private pass(): void {
    const items: Item[] = [];
    for (const rt of RESOURCE_TYPES) for (const obj of this.registry.store.list(storageKind(rt), undefined)) items.push({ rt, obj });
    const dependentsOf = (owner: KubeObject): Array<Item & { ref: OwnerReference }> => {
      const out: Array<Item & { ref: OwnerReference }> = [];
      for (const item of items) {
        const ref = item.obj.metadata.ownerReferences?.find((r) => r.uid === owner.metadata.uid);
        if (ref !== undefined) out.push({ ...item, ref });
      }
      return out;
    };
    for (const item of items) {
      this.attempt(() => {
        const { rt, obj } = item;
        const meta = obj.metadata;
        if (rt === NAMESPACES) {
          if (meta.deletionTimestamp !== undefined) this.finalizeNamespace(obj, items);
          return;
        }
        const finalizers = meta.finalizers ?? [];
        if (meta.deletionTimestamp !== undefined && finalizers.includes('orphan')) {
          for (const dep of dependentsOf(obj)) {
            this.rewrite(dep, (o) => {
              o.metadata.ownerReferences = o.metadata.ownerReferences!.filter((r) => r.uid !== meta.uid);
              if (o.metadata.ownerReferences.length === 0) delete o.metadata.ownerReferences;
            });
          }
          this.rewrite(item, (o) => (o.metadata.finalizers = finalizers.filter((f) => f !== 'orphan')));
          return;
        }
        if (meta.deletionTimestamp !== undefined && finalizers.includes('foregroundDeletion')) {
          const deps = dependentsOf(obj);
          for (const dep of deps) {
            if (dep.obj.metadata.deletionTimestamp !== undefined) continue;
            const policy = dependentsOf(dep.obj).length > 0 ? 'Foreground' : 'Background';
            this.registry.delete(dep.rt, dep.obj.metadata.namespace ?? '', dep.obj.metadata.name, { propagationPolicy: policy }, false);
          }
          if (!deps.some((d) => d.ref.blockOwnerDeletion === true)) {
            this.rewrite(item, (o) => (o.metadata.finalizers = finalizers.filter((f) => f !== 'foregroundDeletion')));
          }
          return;
        }
        const refs = meta.ownerReferences ?? [];
        if (refs.length === 0 || meta.deletionTimestamp !== undefined) return;
        const absent = refs.filter((r) => this.ownerState(r, meta.namespace) === 'absent');
        if (absent.length === 0) return;
        if (absent.length === refs.length) {
          this.registry.delete(rt, meta.namespace ?? '', meta.name, { propagationPolicy: 'Background' }, false);
        } else {
          this.rewrite(item, (o) => (o.metadata.ownerReferences = refs.filter((r) => !absent.includes(r))));
        }
      });
    }
  }

  private ownerState(ref: OwnerReference, namespace: string | undefined): 'absent' | 'present' | 'unknown' {
    const rt = findByKind(ref.apiVersion, ref.kind);
    if (rt === undefined) return 'unknown';
    const owner = this.registry.store.get(storageKind(rt), rt.namespaced ? (namespace ?? '') : '', ref.name);
    return owner === undefined || owner.metadata.uid !== ref.uid ? 'absent' : 'present';
  }

  private finalizeNamespace(ns: KubeObject, items: readonly Item[]): void {
    const name = ns.metadata.name;
    const content = items.filter((i) => i.rt.namespaced && i.obj.metadata.namespace === name);
    for (const { rt, obj } of content) {
      if (obj.metadata.deletionTimestamp === undefined) this.attempt(() => this.registry.delete(rt, name, obj.metadata.name, {}, false));
    }
    if (content.length > 0) return;
    const spec = (ns.spec ?? {}) as { finalizers?: string[] };
    if ((spec.finalizers ?? []).includes('kubernetes')) {
      this.rewrite({ rt: NAMESPACES, obj: ns }, (o) => (o.spec = { ...spec, finalizers: spec.finalizers!.filter((f) => f !== 'kubernetes') }));
      return;
    }
    if ((spec.finalizers ?? []).length === 0 && (ns.metadata.finalizers ?? []).length === 0) this.registry.removeSystem(NAMESPACES, '', name);
  }

  private rewrite(item: Item, change: (copy: KubeObject) => void): void {
    const current = this.registry.store.get(storageKind(item.rt), item.obj.metadata.namespace ?? '', item.obj.metadata.name);
    if (current === undefined || current.metadata.uid !== item.obj.metadata.uid) return;
    const copy = structuredClone(current) as KubeObject;
    change(copy);
    this.registry.writeSystem(item.rt, copy);
  }

  /** Runs one step; an object that changed or vanished meanwhile is retried by the next pass, which its change scheduled. */
  private attempt(step: () => void): void {
    try {
      step();
    } catch (err) {
      if (err instanceof ApiError && (err.status.code === 404 || err.status.code === 409)) return;
      this.errors.push(err);
    }
  }
}
