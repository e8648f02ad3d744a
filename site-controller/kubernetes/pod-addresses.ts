// Per-pod addresses of an exposed StatefulSet (Skupper's headless mode): a
// StatefulSet NAME exposed as ADDRESS also gets the address NAME-ORDINAL.ADDRESS
// for each ordinal below spec.replicas, served only by the pod NAME-ORDINAL.
// The members of a database spread over clusters reach each other through
// them by name (each site has a Service per address; see address-services.ts
// for how such an address names its Service).
//
// Derived from the site document and the watched StatefulSets on every pass,
// never stored: a scale up or down adds or removes addresses without a CLI
// command, and unexposing the StatefulSet removes them with it.
import type { V1StatefulSet } from '@kubernetes/client-node';
import type { ServiceRecord, SiteDocument } from '../site/model.js';

/** `NAME-ORDINAL.ADDRESS`: the pod's stable name (StatefulSet pod identity) under the service's address. */
export function podAddress(statefulSetName: string, ordinal: number, address: string): string {
  return `${statefulSetName}-${ordinal}.${address}`;
}

/**
 * The per-pod services of every StatefulSet target in `document`: one per
 * ordinal 0..spec.replicas-1 (spec.replicas defaults to 1, as in Kubernetes;
 * a missing StatefulSet has none), with the ports, target ports and TLS of
 * the service it belongs to. An address the document exposes itself wins.
 */
export function perPodServices(document: SiteDocument, statefulSet: (name: string) => V1StatefulSet | undefined): ServiceRecord[] {
  const stored = new Set(document.services.map((service) => service.address));
  const derived = new Map<string, ServiceRecord>();
  for (const service of document.services) {
    for (const target of service.targets) {
      if (target.type !== 'statefulset' || target.pod !== undefined) continue;
      const set = statefulSet(target.name);
      const replicas = set ? (set.spec?.replicas ?? 1) : 0;
      for (let ordinal = 0; ordinal < replicas; ordinal++) {
        const address = podAddress(target.name, ordinal, service.address);
        if (stored.has(address) || derived.has(address)) continue;
        const pod = `${target.name}-${ordinal}`;
        derived.set(address, { ...service, address, targets: [{ ...target, host: pod, pod }] });
      }
    }
  }
  return [...derived.values()].sort((a, b) => a.address.localeCompare(b.address));
}
