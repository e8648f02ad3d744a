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
//
// An address that is not a valid Service name (a per-pod address
// `db-0.db` has a dot) gets a Service named by `addressServiceName`; the
// annotation kskup.io/address on every Service kskup keeps names its address.
import { createHash } from 'node:crypto';
import type { CoreV1Api, V1OwnerReference, V1Service, V1ServicePort } from '@kubernetes/client-node';
import { routerAddress } from '../site/model.js';
import type { ServicesSnapshot } from '../site/site-controller.js';
import { apiStatus, describeApiError } from './kube-errors.js';
import { NAME_LABEL, PART_OF_LABEL, siteLabels } from './manifests.js';

/** On a Service kskup keeps for an address: the address. Only a Service with this label naming itself is kskup's to change or delete. */
export const ADDRESS_LABEL = 'kskup.io/address';

/** On a Service kskup keeps: the full address it is for (the label holds the Service's name, which may be derived from it). */
export const ADDRESS_ANNOTATION = 'kskup.io/address';

/** A DNS-1035 label, which a Service name must be (Kubernetes' validation). */
const DNS_1035 = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const HASH_LENGTH = 8;

/**
 * The name of an address's Service: the address itself when it is a valid
 * Service name (a DNS-1035 label: 1-63 lower-case letters, digits and '-',
 * starting with a letter, ending with a letter or digit); else the address
 * lower-cased with every other character ('.' of a per-pod address) made '-'
 * (`db-0.db` -> `db-0-db`); if that is still no DNS-1035 label (too long, a
 * leading digit), its first 54 characters that can start one, '-', and the
 * first 8 hex digits of the address's SHA-256 (`kskup-` + hash when nothing is left).
 */
export function addressServiceName(address: string): string {
  if (DNS_1035.test(address)) return address;
  const dashed = address.toLowerCase().replace(/[^a-z0-9-]/g, '-');
  if (DNS_1035.test(dashed)) return dashed;
  const hash = createHash('sha256').update(address).digest('hex').slice(0, HASH_LENGTH);
  const base = dashed.replace(/^[^a-z]+/, '').slice(0, 63 - HASH_LENGTH - 1).replace(/-+$/, '');
  return `${base || 'kskup'}-${hash}`;
}

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

/** Whether `service` is one kskup keeps under the Service name `name` (its label names it). */
export function isAddressService(service: V1Service, name: string): boolean {
  const labels = service.metadata?.labels ?? {};
  return labels[ADDRESS_LABEL] === name && labels[PART_OF_LABEL] === 'kskup';
}

/** Why `address` cannot have its Service here: a Service of that name kskup did not make. */
export function foreignServiceProblem(address: string): string {
  const name = addressServiceName(address);
  return `a Service "${name}" that kskup did not create exists in this namespace (no label ${ADDRESS_LABEL}=${name}): it is left alone and pods here cannot reach the service by that name; delete that Service, or expose under another --address`;
}

export function addressService(namespace: string, address: string, ports: V1ServicePort[], owner: V1OwnerReference): V1Service {
  const name = addressServiceName(address);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, labels: { ...siteLabels({ labels: {} }), [ADDRESS_LABEL]: name }, annotations: { [ADDRESS_ANNOTATION]: address }, ownerReferences: [owner] },
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
    /** Service name -> the address that has it (the first, in address order, when two map to one name). */
    const names = new Map<string, string>();
    for (const [address, ports] of [...desired].sort(([a], [b]) => a.localeCompare(b))) {
      const name = addressServiceName(address);
      const holder = names.get(name);
      if (holder !== undefined) {
        problems[address] = `its Service name "${name}" is that of address "${holder}": pods here reach "${holder}" by that name; expose under another --address`;
        continue;
      }
      names.set(name, address);
      try {
        const problem = await this.ensure(address, ports, owner);
        if (problem) problems[address] = problem;
      } catch (error) {
        problems[address] = `cannot write Service ${name}: ${describeApiError(error)}`;
      }
    }
    for (const name of this.foreign.keys()) if (!names.has(name)) this.foreign.delete(name);
    for (const service of this.cachedAll()) {
      const name = service.metadata?.name ?? '';
      if (!prune || !isAddressService(service, name) || names.has(name)) continue;
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
    const name = addressServiceName(address);
    const existing = this.cached(name);
    if (existing && !isAddressService(existing, name)) return foreignServiceProblem(address);
    if (existing) {
      const annotated = existing.metadata?.annotations?.[ADDRESS_ANNOTATION] === address;
      if (annotated && samePorts(existing.spec?.ports ?? [], ports)) return undefined;
      // In place, with the ClusterIP it has: clients that resolved the name keep a working address.
      const spec = { ...existing.spec, ports, selector: body.spec?.selector };
      const metadata = { ...existing.metadata, annotations: { ...existing.metadata?.annotations, [ADDRESS_ANNOTATION]: address } };
      await this.core.replaceNamespacedService({ name, namespace: this.namespace, body: { ...existing, metadata, spec } });
      return undefined;
    }
    const seen = this.foreign.get(name);
    if (seen !== undefined && Date.now() - seen < FOREIGN_RECHECK_MS) return foreignServiceProblem(address);
    try {
      await this.core.createNamespacedService({ namespace: this.namespace, body });
      this.foreign.delete(name);
      return undefined;
    } catch (error) {
      if (apiStatus(error) !== 409) throw error;
      // Ours made by an earlier pass that the cache has not seen yet, or someone else's.
      const found = await this.core.readNamespacedService({ name, namespace: this.namespace });
      if (isAddressService(found, name)) return undefined;
      this.foreign.set(name, Date.now());
      return foreignServiceProblem(address);
    }
  }
}

function samePorts(have: readonly V1ServicePort[], want: readonly V1ServicePort[]): boolean {
  const key = (ports: readonly V1ServicePort[]) => JSON.stringify(ports.map((p) => [p.name, p.port, String(p.targetPort), p.protocol ?? 'TCP']));
  return key(have) === key(want);
}

