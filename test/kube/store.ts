// The double's "etcd": objects by (storage kind, namespace, name), one
// cluster-wide resourceVersion counter, and a bounded history of changes.
//
// Every write takes the next resourceVersion, so resourceVersions are
// comparable across types as in etcd (clients must still treat them as opaque).
// The history keeps the last `historyLimit` changes; a watch or an exact list
// from before the oldest kept change is answered with 410 Expired, as a real
// server does after etcd compaction. Each change keeps the object before it, so
// a list at any retained resourceVersion is exact (a snapshot), as etcd's MVCC
// read is.

import { expired, timeout } from './status.js';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid: string;
  resourceVersion: string;
  generation?: number;
  generateName?: string;
  creationTimestamp: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  [key: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** A stored object: JSON, with the metadata the server maintains. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface Change {
  readonly rv: number;
  /** storageKind() of the object's type. */
  readonly kind: string;
  readonly type: ChangeType;
  /** The object after the change; for DELETED the last state, carrying the deletion's resourceVersion. */
  readonly object: KubeObject;
  /** The object before the change (absent for ADDED). */
  readonly previous: KubeObject | undefined;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function keyOf(kind: string, namespace: string, name: string): string {
  return `${kind}\u0000${namespace}\u0000${name}`;
}

export class Store {
  private rv = 1;
  private readonly objects = new Map<string, KubeObject>();
  private readonly history: Change[] = [];
  /** Changes up to and including this resourceVersion are no longer in the history. */
  private compactedRv = 0;
  private readonly listeners = new Set<(change: Change) => void>();

  /** @param historyLimit how many changes (all types together) a watch can resume across. */
  constructor(private readonly historyLimit: number) {}

  currentRv(): number {
    return this.rv;
  }

  /** The stored object (frozen: copy it before changing it), or undefined. */
  get(kind: string, namespace: string, name: string): KubeObject | undefined {
    return this.objects.get(keyOf(kind, namespace, name));
  }

  /** Current objects of a kind, in one namespace or (namespace undefined) all, sorted by namespace then name. */
  list(kind: string, namespace: string | undefined): KubeObject[] {
    const prefix = namespace === undefined ? `${kind}\u0000` : `${kind}\u0000${namespace}\u0000`;
    const out: KubeObject[] = [];
    for (const [key, obj] of this.objects) if (key.startsWith(prefix)) out.push(obj);
    return out.sort(byNamespaceAndName);
  }

  /**
   * The objects of a kind as they were at resourceVersion `rv`.
   * @throws ApiError 410 Expired when `rv` is older than the history; 504 Timeout when it is in the future.
   */
  listAt(kind: string, namespace: string | undefined, rv: number): KubeObject[] {
    this.checkRetained(rv);
    const state = new Map<string, KubeObject>();
    for (const obj of this.list(kind, namespace)) state.set(obj.metadata.namespace + '/' + obj.metadata.name, obj);
    // Undo the changes made after rv, newest first.
    for (let i = this.history.length - 1; i >= 0 && this.history[i]!.rv > rv; i--) {
      const c = this.history[i]!;
      if (c.kind !== kind || (namespace !== undefined && (c.object.metadata.namespace ?? '') !== namespace)) continue;
      const k = c.object.metadata.namespace + '/' + c.object.metadata.name;
      if (c.type === 'ADDED') state.delete(k);
      else state.set(k, c.previous!);
    }
    return [...state.values()].sort(byNamespaceAndName);
  }

  /**
   * Changes after resourceVersion `rv`, oldest first.
   * @throws ApiError 410 Expired when some of them are no longer kept.
   */
  changesSince(rv: number): Change[] {
    this.checkRetained(rv);
    return this.history.filter((c) => c.rv > rv);
  }

  private checkRetained(rv: number): void {
    if (rv < this.compactedRv) throw expired(`too old resource version: ${rv} (${this.compactedRv + 1})`);
    if (rv > this.rv) throw timeout(`Too large resource version: ${rv}, current: ${this.rv}`);
  }

  /** Writes an object (ADDED when new, else MODIFIED) at the next resourceVersion; returns the stored, frozen copy. */
  write(kind: string, object: KubeObject): KubeObject {
    const namespace = object.metadata.namespace ?? '';
    const key = keyOf(kind, namespace, object.metadata.name);
    const previous = this.objects.get(key);
    this.rv++;
    const stored = deepFreeze(structuredClone({ ...object, metadata: { ...object.metadata, resourceVersion: String(this.rv) } }));
    this.objects.set(key, stored);
    this.record({ rv: this.rv, kind, type: previous === undefined ? 'ADDED' : 'MODIFIED', object: stored, previous });
    return stored;
  }

  /** Removes an object at the next resourceVersion; returns its last state with that resourceVersion. */
  remove(kind: string, namespace: string, name: string): KubeObject | undefined {
    const key = keyOf(kind, namespace, name);
    const previous = this.objects.get(key);
    if (previous === undefined) return undefined;
    this.objects.delete(key);
    this.rv++;
    const last = deepFreeze({ ...structuredClone(previous), metadata: { ...structuredClone(previous.metadata), resourceVersion: String(this.rv) } });
    this.record({ rv: this.rv, kind, type: 'DELETED', object: last, previous });
    return last;
  }

  /** Calls `listener` synchronously after every change; returns the unsubscribe function. */
  subscribe(listener: (change: Change) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Test hook: forgets the whole history, so any watch from an older resourceVersion gets 410. */
  compact(): void {
    this.compactedRv = this.rv;
    this.history.length = 0;
  }

  private record(change: Change): void {
    this.history.push(change);
    while (this.history.length > this.historyLimit) this.compactedRv = this.history.shift()!.rv;
    for (const listener of [...this.listeners]) listener(change);
  }
}

function byNamespaceAndName(a: KubeObject, b: KubeObject): number {
  const na = a.metadata.namespace ?? '';
  const nb = b.metadata.namespace ?? '';
  if (na !== nb) return na < nb ? -1 : 1;
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}
