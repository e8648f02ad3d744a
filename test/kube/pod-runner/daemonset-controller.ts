// The DaemonSet controller, for the runner's one node: one pod per DaemonSet,
// named <name>-<5 chars>, labelled controller-revision-hash, bound to the node
// (as the DaemonSet controller pins pods with node affinity; nodeSelector and
// tolerations are not checked: the one node always fits). A changed template
// replaces the pod (RollingUpdate with maxUnavailable 1 on one node: delete,
// then create; OnDelete waits for the user). Status follows DaemonSetStatus
// (desiredNumberScheduled, currentNumberScheduled, numberReady,
// numberAvailable, updatedNumberScheduled, observedGeneration).

import type { KubeObject } from '../store.js';
import { specOf, type ClusterObjects } from './cluster-objects.js';
import { randomSuffix, templateHash } from './names.js';
import { controllerOf, controllerRef, isPodReady, isTerminating, keyOf, ownedBy, splitKey } from './pod-facts.js';
import { QueuedController } from './work-queue.js';

type Obj = Record<string, unknown>;

export class DaemonSetController extends QueuedController {
  constructor(
    private readonly objects: ClusterObjects,
    private readonly nodeName: string,
    onError: (what: string, err: unknown) => void,
  ) {
    super('DaemonSet', onError);
    this.unwatch = objects.watch(['daemonSets', 'pods'], (type, obj) => {
      if (type === 'daemonSets') return this.queue.add(keyOf(obj));
      const owner = controllerOf(obj);
      if (owner?.kind === 'DaemonSet') this.queue.add(`${obj.metadata.namespace}/${owner.name}`);
    });
    for (const d of objects.list('daemonSets')) this.queue.add(keyOf(d));
  }

  protected async sync(key: string): Promise<void> {
    const [namespace, name] = splitKey(key);
    const set = this.objects.get('daemonSets', namespace, name);
    if (set === undefined || isTerminating(set)) return;
    const spec = specOf(set);
    const onDelete = (spec.updateStrategy as Obj | undefined)?.type === 'OnDelete';
    const revision = templateHash(spec.template ?? {});
    const pods = this.objects.list('pods', namespace).filter((p) => ownedBy(p, set) && !isTerminating(p));
    const current = pods.filter((p) => p.metadata.labels?.['controller-revision-hash'] === revision);
    const stale = pods.filter((p) => p.metadata.labels?.['controller-revision-hash'] !== revision);
    // One pod per node: extra pods of the current revision go (a create raced a watch event).
    for (const extra of current.slice(1)) this.objects.delete('pods', namespace, extra.metadata.name);
    if (!onDelete) for (const old of stale) this.objects.delete('pods', namespace, old.metadata.name);
    // A new pod once the old one is gone (maxUnavailable 1, maxSurge 0); with OnDelete, once the user deleted it.
    const terminating = this.objects.list('pods', namespace).some((p) => ownedBy(p, set) && isTerminating(p));
    if (current.length === 0 && (onDelete ? stale.length === 0 : true) && !terminating) this.createPod(set, revision);
    this.writeStatus(set, revision);
  }

  private createPod(set: KubeObject, revision: string): void {
    const spec = specOf(set);
    const template = (spec.template ?? {}) as Obj;
    const meta = (template.metadata ?? {}) as Obj;
    const labels = { ...((meta.labels ?? {}) as Record<string, string>), 'controller-revision-hash': revision };
    this.objects.create('pods', set.metadata.namespace ?? 'default', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { ...meta, name: `${set.metadata.name}-${randomSuffix()}`, labels, ownerReferences: [controllerRef(set)] },
      spec: { ...structuredClone((template.spec ?? {}) as Obj), nodeName: this.nodeName },
    });
  }

  private writeStatus(set: KubeObject, revision: string): void {
    const pods = this.objects.list('pods', set.metadata.namespace).filter((p) => ownedBy(p, set) && !isTerminating(p));
    const ready = pods.filter(isPodReady).length;
    this.objects.updateStatus('daemonSets', set, {
      observedGeneration: set.metadata.generation,
      desiredNumberScheduled: 1,
      currentNumberScheduled: Math.min(1, pods.length),
      numberMisscheduled: 0,
      numberReady: ready,
      numberAvailable: ready,
      numberUnavailable: 1 - Math.min(1, ready),
      updatedNumberScheduled: pods.filter((p) => p.metadata.labels?.['controller-revision-hash'] === revision).length,
    });
  }
}
