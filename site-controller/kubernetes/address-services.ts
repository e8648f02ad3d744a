// The Service of each address in the network, in the site's namespace: named
// after the address, with the service's ports, selecting the router pods, each
// targetPort the router's tcpListener port for that address:port. So a pod in
// this cluster reaches `ADDRESS:PORT` by DNS as if the workload ran here.
//
// Kept as Kubernetes Services are meant to be kept: updated in place, never
// deleted and re-created, so the ClusterIP that clients may have resolved and
// cached never changes. A Service of that name that kskup did not create (no
// label kskup.io/address naming the address) is never touched: its problem is
// reported instead. Removed when the address is gone from the network.
import type { CoreV1Api, V1OwnerReference, V1Service, V1ServicePort } from '@kubernetes/client-node';
import { routerAddress } from '../site/model.js';
import type { ServicesSnapshot } from '../site/site-controller.js';
import { apiStatus, describeApiError } from './kube-errors.js';
import { NAME_LABEL, PART_OF_LABEL, siteLabels } from './manifests.js';

/** On a Service kskup keeps for an address: the address. Only a Service with this label naming itself is kskup's to change or delete. */
export const ADDRESS_LABEL = 'kskup.io/address';

/** How long a name held by a foreign Service is left before it is tried again (the user may delete that Service). */
const FOREIGN_RECHECK_MS = 5_000;

/** The ports each address's Service should have, from what the site controller configured: only ports with a listener here. */
export function desiredAddressServices(snapshot: ServicesSnapshot): Map<string, V1ServicePort[]> {
  const desired = new Map<string, V1ServicePort[]>();
  for (const service of snapshot.services) {
    const ports = service.ports.flatMap((port) => {
      const listener = snapshot.listeners[routerAddress(service.address, port)];
      return listener && listener.port > 0 ? [{ name: `port-${port}`, protocol: 'TCP', port, targetPort: listener.port }] : [];
    });
    if (ports.length > 0) desired.set(service.address, ports);
  }
  return desired;
}

export function isAddressService(service: V1Service, address: string): boolean {
  const labels = service.metadata?.labels ?? {};
  return labels[ADDRESS_LABEL] === address && labels[PART_OF_LABEL] === 'kskup';
}

/** Why `address` cannot have its Service here: a Service of that name kskup did not make. */
export function foreignServiceProblem(address: string): string {
  return `a Service "${address}" that kskup did not create exists in this namespace (no label ${ADDRESS_LABEL}=${address}): it is left alone and pods here cannot reach the service by that name; delete that Service, or expose under another --address`;
}

export function addressService(namespace: string, address: string, ports: V1ServicePort[], owner: V1OwnerReference): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: address, namespace, labels: { ...siteLabels({ labels: {} }), [ADDRESS_LABEL]: address }, ownerReferences: [owner] },
    spec: { type: 'ClusterIP', selector: { [NAME_LABEL]: 'kskup-router', [PART_OF_LABEL]: 'kskup' }, ports },
  };
}

export class AddressServices {
  /** Address -> when a foreign Service was last found holding its name. */
  private readonly foreign = new Map<string, number>();

  constructor(
    private readonly core: CoreV1Api,
    private readonly namespace: string,
    /** The site's labelled Services as watched (the cache): ours are among them, foreign ones are not. */
    private readonly cached: (name: string) => V1Service | undefined,
    private readonly cachedAll: () => readonly V1Service[],
  ) {}

  /**
   * Brings the Services to `desired`; returns the problem of each address that
   * has none, by address. `prune` false: Services of addresses not desired are
   * kept (a controller that has just started has not heard the network yet, and
   * a Service deleted and made again would get another ClusterIP).
   */
  async sync(desired: ReadonlyMap<string, V1ServicePort[]>, owner: V1OwnerReference, prune: boolean): Promise<Record<string, string>> {
    const problems: Record<string, string> = {};
    for (const [address, ports] of desired) {
      try {
        const problem = await this.ensure(address, ports, owner);
        if (problem) problems[address] = problem;
      } catch (error) {
        problems[address] = `cannot write Service ${address}: ${describeApiError(error)}`;
      }
    }
    for (const address of this.foreign.keys()) if (!desired.has(address)) this.foreign.delete(address);
    for (const service of this.cachedAll()) {
      const name = service.metadata?.name ?? '';
      if (!prune || !isAddressService(service, name) || desired.has(name)) continue;
      // Preconditioned on the uid: a Service made again under that name since the cache saw it is not ours to delete.
      await this.core
        .deleteNamespacedService({ name, namespace: this.namespace, body: { preconditions: { uid: service.metadata?.uid ?? '' } } })
        .catch((error: unknown) => {
          if (apiStatus(error) !== 404 && apiStatus(error) !== 409) problems[name] = `cannot delete Service ${name}: ${describeApiError(error)}`;
        });
    }
    return problems;
  }

  private async ensure(address: string, ports: V1ServicePort[], owner: V1OwnerReference): Promise<string | undefined> {
    const body = addressService(this.namespace, address, ports, owner);
    const existing = this.cached(address);
    if (existing && !isAddressService(existing, address)) return foreignServiceProblem(address);
    if (existing) {
      if (samePorts(existing.spec?.ports ?? [], ports)) return undefined;
      // In place, with the ClusterIP it has: clients that resolved the name keep a working address.
      const spec = { ...existing.spec, ports, selector: body.spec?.selector };
      await this.core.replaceNamespacedService({ name: address, namespace: this.namespace, body: { ...existing, spec } });
      return undefined;
    }
    const seen = this.foreign.get(address);
    if (seen !== undefined && Date.now() - seen < FOREIGN_RECHECK_MS) return foreignServiceProblem(address);
    try {
      await this.core.createNamespacedService({ namespace: this.namespace, body });
      this.foreign.delete(address);
      return undefined;
    } catch (error) {
      if (apiStatus(error) !== 409) throw error;
      // Ours made by an earlier pass that the cache has not seen yet, or someone else's.
      const found = await this.core.readNamespacedService({ name: address, namespace: this.namespace });
      if (isAddressService(found, address)) return undefined;
      this.foreign.set(address, Date.now());
      return foreignServiceProblem(address);
    }
  }
}

function samePorts(have: readonly V1ServicePort[], want: readonly V1ServicePort[]): boolean {
  const key = (ports: readonly V1ServicePort[]) => JSON.stringify(ports.map((p) => [p.name, p.port, String(p.targetPort), p.protocol ?? 'TCP']));
  return key(have) === key(want);
}

