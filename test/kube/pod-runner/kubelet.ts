// The kubelet of the cluster's one node: binds unscheduled Pods to the node
// (the scheduler's one decision here), runs a PodWorker per Pod, stops it when
// the Pod is marked for deletion (or removed outright), refreshes pods'
// volumes when a ConfigMap or Secret changes and their hosts files when a
// Service or Pod changes.

import type { KubeObject } from '../store.js';
import { specOf, type ClusterObjects } from './cluster-objects.js';
import { PodWorker, type NodeContext } from './pod-worker.js';

export class Kubelet {
  private readonly workers = new Map<string, PodWorker>(); // by Pod uid
  private readonly unwatch: () => void;
  private stopped = false;

  constructor(private readonly node: NodeContext) {
    const objects: ClusterObjects = node.objects;
    this.unwatch = objects.watch(['pods', 'configMaps', 'secrets', 'services'], (type, obj, deleted) => {
      if (this.stopped) return;
      if (type === 'pods') {
        this.checkPod(obj, deleted);
        node.dns.refresh();
      } else if (type === 'services') {
        node.dns.refresh();
      } else {
        for (const w of this.workers.values()) {
          if (w.namespace === obj.metadata.namespace) void w.refreshVolumes().catch((err: unknown) => node.onError(`volumes of Pod ${w.namespace}/${w.name}`, err));
        }
      }
    });
    for (const pod of objects.list('pods')) this.checkPod(pod, false);
  }

  /** The worker of a Pod by namespace and name (the newest, when a name was reused). */
  worker(namespace: string, name: string): PodWorker | undefined {
    let found: PodWorker | undefined;
    for (const w of this.workers.values()) if (w.namespace === namespace && w.name === name) found = w;
    return found;
  }

  /** Stops every pod (SIGKILL after the capped grace period) and removes their namespaces; Pod objects are left alone. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatch();
    await Promise.all([...this.workers.values()].map((w) => w.terminate(0).catch(() => undefined)));
    this.workers.clear();
  }

  private checkPod(pod: KubeObject, deleted: boolean): void {
    const spec = specOf(pod);
    const uid = pod.metadata.uid;
    let worker = this.workers.get(uid);
    if (deleted) {
      // Removed without waiting for us (force deletion, gracePeriodSeconds 0).
      if (worker !== undefined) void worker.terminate(0).finally(() => this.workers.delete(uid));
      return;
    }
    if (typeof spec.nodeName !== 'string' || spec.nodeName === '') {
      if (pod.metadata.deletionTimestamp === undefined) this.node.objects.bind(pod, this.node.nodeName);
      return;
    }
    if (spec.nodeName !== this.node.nodeName) return;
    if (worker === undefined) {
      if (pod.metadata.deletionTimestamp !== undefined) {
        this.node.objects.delete('pods', pod.metadata.namespace ?? 'default', pod.metadata.name, 0, uid);
        return;
      }
      worker = new PodWorker(pod, this.node);
      this.workers.set(uid, worker);
      const w = worker;
      void w.start().catch((err: unknown) => {
        this.node.onError(`start of Pod ${w.namespace}/${w.name}`, err);
      });
    }
    worker.update(pod);
    if (pod.metadata.deletionTimestamp !== undefined) {
      const w = worker;
      void w.terminate(pod.metadata.deletionGracePeriodSeconds ?? 30)
        .catch((err: unknown) => this.node.onError(`termination of Pod ${w.namespace}/${w.name}`, err))
        .finally(() => this.workers.delete(uid));
    }
  }
}
