// Small questions about Pods that several controllers ask.

import type { KubeObject, OwnerReference } from '../store.js';
import { isObj, statusOf } from './cluster-objects.js';

/** The Pod's Ready condition is True (what Services and workload controllers count). */
export function isPodReady(pod: KubeObject): boolean {
  const conditions = statusOf(pod).conditions;
  return Array.isArray(conditions) && conditions.some((c) => isObj(c) && c.type === 'Ready' && c.status === 'True');
}

export function isTerminating(obj: KubeObject): boolean {
  return obj.metadata.deletionTimestamp !== undefined;
}

/** The owner reference with controller: true, if any. */
export function controllerOf(obj: KubeObject): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller === true);
}

export function ownedBy(obj: KubeObject, owner: KubeObject): boolean {
  return controllerOf(obj)?.uid === owner.metadata.uid;
}

/** The ownerReference a controller puts on what it creates. */
export function controllerRef(owner: KubeObject): OwnerReference {
  return { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name, uid: owner.metadata.uid, controller: true, blockOwnerDeletion: true };
}

export function keyOf(obj: KubeObject): string {
  return `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
}

export function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}

/** A condition with lastTransitionTime kept when its status did not change (as controllers do). */
export function condition(previous: unknown, type: string, status: boolean, reason: string, message: string, now: string): Record<string, unknown> {
  const old = Array.isArray(previous) ? previous.find((c) => isObj(c) && c.type === type) as Record<string, unknown> | undefined : undefined;
  const value = status ? 'True' : 'False';
  const since = old !== undefined && old.status === value && typeof old.lastTransitionTime === 'string' ? old.lastTransitionTime : now;
  return { type, status: value, reason, message, lastTransitionTime: since };
}
