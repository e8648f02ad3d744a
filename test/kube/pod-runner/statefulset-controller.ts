// The StatefulSet controller: pods <name>-0..N-1 with stable names, hostname
// <name>-i and subdomain spec.serviceName (for per-pod DNS behind a headless
// Service), labelled controller-revision-hash, statefulset.kubernetes.io/pod-name
// and apps.kubernetes.io/pod-index. podManagementPolicy OrderedReady creates
// pod i only when pods 0..i-1 are Ready and removes the highest ordinal first,
// one at a time; Parallel does both at once. A changed template is rolled out
// from the highest ordinal down, one pod at a time, each waiting for the rest
// to be Ready (RollingUpdate; OnDelete waits for the user). No
// ControllerRevisions and no PersistentVolumeClaims (volumeClaimTemplates are
// not supported).

import type { KubeObject } from '../store.js';
import { specOf, type ClusterObjects } from './cluster-objects.js';
import { templateHash } from './names.js';
import { controllerOf, controllerRef, isPodReady, isTerminating, keyOf, ownedBy, splitKey } from './pod-facts.js';
import { QueuedController } from './work-queue.js';

type Obj = Record<string, unknown>;

export class StatefulSetController extends QueuedController {

  constructor(
    private readonly objects: ClusterObjects,
    private readonly nodeName: string,
    onError: (what: string, err: unknown) => void,
  ) {
    super('StatefulSet', onError);
    this.unwatch = objects.watch(['statefulSets', 'pods'], (type, obj) => {
      if (type === 'statefulSets') return this.queue.add(keyOf(obj));
      const owner = controllerOf(obj);
      if (owner?.kind === 'StatefulSet') this.queue.add(`${obj.metadata.namespace}/${owner.name}`);
    });
    for (const s of objects.list('statefulSets')) this.queue.add(keyOf(s));
  }

  protected async sync(key: string): Promise<void> {
    const [namespace, name] = splitKey(key);
    const set = this.objects.get('statefulSets', namespace, name);
    if (set === undefined || isTerminating(set)) return;
    const spec = specOf(set);
    const replicas = typeof spec.replicas === 'number' ? spec.replicas : 1;
    const parallel = spec.podManagementPolicy === 'Parallel';
    const onDelete = (spec.updateStrategy as Obj | undefined)?.type === 'OnDelete';
    const revision = `${name}-${templateHash(spec.template ?? {})}`;
    const byOrdinal = new Map<number, KubeObject>();
    for (const p of this.objects.list('pods', namespace)) {
      if (!ownedBy(p, set)) continue;
      const m = /-(\d+)$/.exec(p.metadata.name);
      if (m !== null && p.metadata.name === `${name}-${m[1]}`) byOrdinal.set(Number(m[1]), p);
    }

    let blocked = false;
    for (let i = 0; i < replicas && !blocked; i++) {
      const pod = byOrdinal.get(i);
      if (pod === undefined) {
        this.createPod(set, i, revision);
        if (!parallel) blocked = true;
      } else if (!parallel && (isTerminating(pod) || !isPodReady(pod))) {
        blocked = true;
      }
    }
    // Scale down: highest ordinal first.
    const extra = [...byOrdinal.entries()].filter(([i, p]) => i >= replicas && !isTerminating(p)).sort((a, b) => b[0] - a[0]);
    const allReady = [...byOrdinal.entries()].filter(([i]) => i < replicas).every(([, p]) => isPodReady(p) && !isTerminating(p));
    if (parallel) for (const [, p] of extra) this.objects.delete('pods', namespace, p.metadata.name);
    else if (extra.length > 0 && !blocked && allReady) this.objects.delete('pods', namespace, extra[0]![1].metadata.name);
    // Rolling update: the highest ordinal still on an old revision, once all are Ready.
    if (!onDelete && !blocked && extra.length === 0 && allReady && byOrdinal.size === replicas) {
      const stale = [...byOrdinal.entries()].filter(([, p]) => p.metadata.labels?.['controller-revision-hash'] !== revision).sort((a, b) => b[0] - a[0]);
      if (stale.length > 0) this.objects.delete('pods', namespace, stale[0]![1].metadata.name);
    }
    this.writeStatus(set, revision);
  }

  private createPod(set: KubeObject, ordinal: number, revision: string): void {
    const spec = specOf(set);
    const template = (spec.template ?? {}) as Obj;
    const meta = (template.metadata ?? {}) as Obj;
    const name = `${set.metadata.name}-${ordinal}`;
    const labels = {
      ...((meta.labels ?? {}) as Record<string, string>),
      'controller-revision-hash': revision,
      'statefulset.kubernetes.io/pod-name': name,
      'apps.kubernetes.io/pod-index': String(ordinal),
    };
    const podSpec: Obj = { ...structuredClone((template.spec ?? {}) as Obj), nodeName: this.nodeName, hostname: name };
    if (typeof spec.serviceName === 'string' && spec.serviceName !== '') podSpec.subdomain = spec.serviceName;
    this.objects.create('pods', set.metadata.namespace ?? 'default', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { ...meta, name, labels, ownerReferences: [controllerRef(set)] },
      spec: podSpec,
    });
  }

  private writeStatus(set: KubeObject, revision: string): void {
    const pods = this.objects.list('pods', set.metadata.namespace).filter((p) => ownedBy(p, set) && !isTerminating(p));
    const updated = pods.filter((p) => p.metadata.labels?.['controller-revision-hash'] === revision).length;
    const ready = pods.filter(isPodReady).length;
    const revisions = pods.map((p) => p.metadata.labels?.['controller-revision-hash']).filter((r): r is string => r !== undefined && r !== revision);
    const current = updated === pods.length ? revision : (revisions[0] ?? revision);
    this.objects.updateStatus('statefulSets', set, {
      observedGeneration: set.metadata.generation,
      replicas: pods.length,
      readyReplicas: ready,
      availableReplicas: ready,
      currentReplicas: pods.filter((p) => p.metadata.labels?.['controller-revision-hash'] === current).length,
      updatedReplicas: updated,
      currentRevision: current,
      updateRevision: revision,
      collisionCount: 0,
    });
  }
}
