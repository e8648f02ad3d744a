// The Deployment controller, without ReplicaSets: the Deployment owns its
// Pods directly. Pods are named <deployment>-<pod-template-hash>-<5 chars> and
// labelled pod-template-hash, as the ReplicaSet in between would name them.
// A changed template rolls: pods of the new hash are created first (surge of
// the full replica count) and old pods are deleted as new ones become Ready;
// strategy Recreate deletes the old pods first. Status follows
// DeploymentStatus (replicas, updated, ready, available, observedGeneration,
// conditions Available and Progressing); minReadySeconds is not waited for.

import type { KubeObject } from '../store.js';
import { specOf, statusOf, type ClusterObjects } from './cluster-objects.js';
import { randomSuffix, templateHash } from './names.js';
import { condition, controllerOf, controllerRef, isPodReady, isTerminating, keyOf, ownedBy, splitKey } from './pod-facts.js';
import { QueuedController } from './work-queue.js';

type Obj = Record<string, unknown>;

/** Deletion order: not-ready before ready, then newest first (the ReplicaSet controller's ActivePods ranking, reduced). */
function deletionOrder(a: KubeObject, b: KubeObject): number {
  const ready = Number(isPodReady(a)) - Number(isPodReady(b));
  if (ready !== 0) return ready;
  return b.metadata.creationTimestamp.localeCompare(a.metadata.creationTimestamp);
}

export class DeploymentController extends QueuedController {

  constructor(
    private readonly objects: ClusterObjects,
    private readonly nodeName: string,
    onError: (what: string, err: unknown) => void,
  ) {
    super('Deployment', onError);
    this.unwatch = objects.watch(['deployments', 'pods'], (type, obj) => {
      if (type === 'deployments') return this.queue.add(keyOf(obj));
      const owner = controllerOf(obj);
      if (owner?.kind === 'Deployment') this.queue.add(`${obj.metadata.namespace}/${owner.name}`);
    });
    for (const d of objects.list('deployments')) this.queue.add(keyOf(d));
  }

  protected async sync(key: string): Promise<void> {
    const [namespace, name] = splitKey(key);
    const d = this.objects.get('deployments', namespace, name);
    if (d === undefined || isTerminating(d)) return; // the garbage collector deletes its pods
    const spec = specOf(d);
    const template = (spec.template ?? {}) as Obj;
    const hash = templateHash(template);
    const replicas = typeof spec.replicas === 'number' ? spec.replicas : 1;
    const recreate = (spec.strategy as Obj | undefined)?.type === 'Recreate';
    const owned = this.objects.list('pods', namespace).filter((p) => ownedBy(p, d));
    const active = owned.filter((p) => !isTerminating(p));
    const fresh = active.filter((p) => p.metadata.labels?.['pod-template-hash'] === hash);
    const old = active.filter((p) => p.metadata.labels?.['pod-template-hash'] !== hash);
    const freshReady = fresh.filter(isPodReady).length;

    if (recreate) {
      for (const p of old) this.objects.delete('pods', namespace, p.metadata.name);
    } else {
      // Keep as many old pods as new ones are still missing from Ready.
      const keep = Math.max(0, Math.min(replicas, replicas - freshReady));
      for (const p of [...old].sort(deletionOrder).slice(0, Math.max(0, old.length - keep))) this.objects.delete('pods', namespace, p.metadata.name);
    }
    const oldLeft = owned.some((p) => p.metadata.labels?.['pod-template-hash'] !== hash);
    if (!(recreate && oldLeft)) {
      for (let i = fresh.length; i < replicas; i++) this.createPod(d, template, hash);
    }
    for (const p of [...fresh].sort(deletionOrder).slice(0, Math.max(0, fresh.length - replicas))) this.objects.delete('pods', namespace, p.metadata.name);

    this.writeStatus(d, replicas);
  }

  private createPod(d: KubeObject, template: Obj, hash: string): void {
    const meta = (template.metadata ?? {}) as Obj;
    const labels = { ...((meta.labels ?? {}) as Record<string, string>), 'pod-template-hash': hash };
    this.objects.create('pods', d.metadata.namespace ?? 'default', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { ...meta, name: `${d.metadata.name}-${hash}-${randomSuffix()}`, labels, ownerReferences: [controllerRef(d)] },
      spec: { ...structuredClone((template.spec ?? {}) as Obj), nodeName: this.nodeName },
    });
  }

  private writeStatus(d: KubeObject, replicas: number): void {
    const spec = specOf(d);
    const hash = templateHash(spec.template ?? {});
    const active = this.objects.list('pods', d.metadata.namespace).filter((p) => ownedBy(p, d) && !isTerminating(p));
    const ready = active.filter(isPodReady).length;
    const updated = active.filter((p) => p.metadata.labels?.['pod-template-hash'] === hash).length;
    const updatedReady = active.filter((p) => p.metadata.labels?.['pod-template-hash'] === hash && isPodReady(p)).length;
    const maxUnavailable = Math.floor(replicas * 0.25); // RollingUpdate default 25%, rounded down
    const available = ready >= replicas - maxUnavailable;
    const complete = updated === replicas && updatedReady === replicas && active.length === replicas;
    const previous = statusOf(d).conditions;
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const withUpdate = (c: Obj): Obj => ({ ...c, lastUpdateTime: c.lastTransitionTime });
    const status: Obj = {
      observedGeneration: d.metadata.generation,
      replicas: active.length,
      updatedReplicas: updated,
      readyReplicas: ready,
      availableReplicas: ready,
      ...(active.length - ready > 0 ? { unavailableReplicas: Math.max(0, replicas - ready) } : {}),
      conditions: [
        withUpdate(condition(previous, 'Available', available, available ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable', available ? 'Deployment has minimum availability.' : 'Deployment does not have minimum availability.', now)),
        withUpdate(condition(previous, 'Progressing', true, complete ? 'NewReplicaSetAvailable' : 'ReplicaSetUpdated', complete ? `Pods of "${d.metadata.name}" with hash ${hash} are available.` : `Pods of "${d.metadata.name}" with hash ${hash} are progressing.`, now)),
      ],
    };
    this.objects.updateStatus('deployments', d, status);
  }
}
