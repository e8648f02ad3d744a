// Cluster DNS, as a hosts file per pod: `ip netns exec NAME` bind-mounts
// /etc/netns/NAME/hosts over /etc/hosts, and glibc's files backend answers
// getaddrinfo from it. Each file holds the pod's own name and every Service
// of the cluster under <svc>.<ns>.svc.cluster.local, <svc>.<ns>.svc and
// <svc>.<ns> (and <svc> alone in the pod's namespace, which a search path
// would give on a cluster). A headless Service lists its ready pods' IPs and,
// for pods whose subdomain is the Service, <hostname>.<svc>.<ns>.svc.cluster.local
// (StatefulSet pods). Files are rewritten in place (same inode), because the
// running processes see the bind-mounted inode, not the path.

import { mkdir, writeFile } from 'node:fs/promises';
import type { KubeObject } from '../store.js';
import { isObj, specOf, statusOf, type ClusterObjects } from './cluster-objects.js';
import { isPodReady, isTerminating } from './pod-facts.js';

export const CLUSTER_DOMAIN = 'cluster.local';

interface Registered {
  readonly namespace: string;
  readonly podName: string;
  readonly ip: string;
  readonly hostname: string;
  readonly subdomain: string | undefined;
  written: string;
}

function names(svc: string, ns: string, inNamespace: boolean): string[] {
  const out = [`${svc}.${ns}.svc.${CLUSTER_DOMAIN}`, `${svc}.${ns}.svc`, `${svc}.${ns}`];
  if (inNamespace) out.push(svc);
  return out;
}

export class ClusterDns {
  private readonly pods = new Map<string, Registered>();
  private scheduled = false;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly objects: ClusterObjects) {}

  /** Writes the hosts file of a pod's network namespace; later Service changes update it. */
  async register(netns: string, pod: KubeObject, ip: string): Promise<void> {
    const spec = specOf(pod);
    const entry: Registered = {
      namespace: pod.metadata.namespace ?? 'default',
      podName: pod.metadata.name,
      ip,
      hostname: typeof spec.hostname === 'string' ? spec.hostname : pod.metadata.name,
      subdomain: typeof spec.subdomain === 'string' ? spec.subdomain : undefined,
      written: '',
    };
    this.pods.set(netns, entry);
    await mkdir(`/etc/netns/${netns}`, { recursive: true });
    await this.write(netns, entry);
  }

  unregister(netns: string): void {
    this.pods.delete(netns);
  }

  /** Rewrites the files that changed, soon (coalesces bursts of Service and Pod changes). */
  refresh(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.writing = this.writing.then(async () => {
        for (const [netns, entry] of this.pods) await this.write(netns, entry).catch(() => undefined); // a pod being removed
      });
    });
  }

  /** Resolves when pending rewrites are done. */
  settled(): Promise<void> {
    return this.writing;
  }

  /** The hosts file of a pod in `namespace`. */
  hostsFile(entry: Pick<Registered, 'namespace' | 'ip' | 'hostname' | 'subdomain'>): string {
    const lines = ['# Kubernetes-managed hosts file (kskup pod runner).', '127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
    const self = entry.subdomain === undefined ? [entry.hostname] : [`${entry.hostname}.${entry.subdomain}.${entry.namespace}.svc.${CLUSTER_DOMAIN}`, entry.hostname];
    lines.push(`${entry.ip}\t${self.join(' ')}`);
    for (const svc of this.objects.list('services')) {
      const ns = svc.metadata.namespace ?? 'default';
      const spec = specOf(svc);
      const inNs = ns === entry.namespace;
      if (typeof spec.clusterIP === 'string' && spec.clusterIP !== 'None' && spec.clusterIP !== '') {
        lines.push(`${spec.clusterIP}\t${names(svc.metadata.name, ns, inNs).join(' ')}`);
        continue;
      }
      if (spec.clusterIP !== 'None' || !isObj(spec.selector)) continue;
      const selector = spec.selector as Record<string, string>;
      for (const pod of this.objects.list('pods', ns)) {
        const ip = statusOf(pod).podIP;
        if (typeof ip !== 'string' || isTerminating(pod)) continue;
        if (!Object.entries(selector).every(([k, v]) => pod.metadata.labels?.[k] === v)) continue;
        if (!isPodReady(pod) && spec.publishNotReadyAddresses !== true) continue;
        lines.push(`${ip}\t${names(svc.metadata.name, ns, inNs).join(' ')}`);
        const ps = specOf(pod);
        if (ps.subdomain === svc.metadata.name && typeof ps.hostname === 'string') {
          lines.push(`${ip}\t${[`${ps.hostname}.${svc.metadata.name}.${ns}.svc.${CLUSTER_DOMAIN}`, `${ps.hostname}.${svc.metadata.name}.${ns}.svc`, `${ps.hostname}.${svc.metadata.name}.${ns}`].join(' ')}`);
        }
      }
    }
    return `${lines.join('\n')}\n`;
  }

  private async write(netns: string, entry: Registered): Promise<void> {
    const text = this.hostsFile(entry);
    if (text === entry.written) return;
    // flag "w" truncates the existing file: same inode, so the bind mount shows the new text.
    await writeFile(`/etc/netns/${netns}/hosts`, text, { flag: 'w' });
    entry.written = text;
  }
}
