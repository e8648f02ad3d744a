// Where other sites reach a Kubernetes site: read off its ingress Service.
// A LoadBalancer gives an address once the cloud has assigned one; a NodePort
// is reached at a node's address (the node the controller runs on, which it
// knows from the downward API, so no ClusterRole is needed to read Nodes) and
// the node ports; `--ingress-host` overrides the host either way. `none`
// reaches nobody outside: such a site links out but issues no tokens.
import type { V1Service } from '@kubernetes/client-node';
import type { IngressType } from './manifests.js';
import { NAMES, PORTS } from './manifests.js';

export interface IngressAddress {
  readonly host: string;
  readonly interRouter: number;
  readonly edge: number;
  readonly claims: number;
}

/** Either the address, or why there is none yet (shown as "pending" with this reason). */
export type IngressResolution = { readonly ok: true; readonly address: IngressAddress } | { readonly ok: false; readonly pending: string };

export interface IngressInputs {
  readonly type: IngressType;
  readonly ingressHost?: string;
  /** The node the controller runs on (status.hostIP), for NodePort. */
  readonly nodeAddress?: string;
}

/**
 * The address of the site's ingress Service (`service` is NAMES.router, read
 * from the API). Port numbers are the ones other sites dial: the Service's
 * ports, or its node ports.
 */
export function resolveIngress(inputs: IngressInputs, service: V1Service | undefined): IngressResolution {
  if (inputs.type === 'none') return { ok: false, pending: 'the site has --ingress none: other sites cannot reach it' };
  if (!service) return { ok: false, pending: `Service ${NAMES.router} does not exist yet` };
  const port = (name: string, fallback: number): number | undefined => {
    const found = service.spec?.ports?.find((candidate) => candidate.name === name);
    return inputs.type === 'nodeport' ? found?.nodePort : (found?.port ?? fallback);
  };
  const interRouter = port('inter-router', PORTS.interRouter);
  const edge = port('edge', PORTS.edge);
  const claims = port('claims', PORTS.claims);
  if (interRouter === undefined || edge === undefined || claims === undefined) {
    return { ok: false, pending: `Service ${NAMES.router} has no node ports assigned yet` };
  }
  const host = inputs.ingressHost ?? hostOf(inputs, service);
  if (host === undefined) {
    return {
      ok: false,
      pending:
        inputs.type === 'loadbalancer'
          ? `Service ${NAMES.router} has no LoadBalancer address yet; use --ingress nodeport or --ingress-host if this cluster has no load balancer`
          : 'the node address of the controller pod is not known (status.hostIP); use --ingress-host',
    };
  }
  return { ok: true, address: { host, interRouter, edge, claims } };
}

function hostOf(inputs: IngressInputs, service: V1Service): string | undefined {
  if (inputs.type === 'nodeport') return inputs.nodeAddress || undefined;
  const ingress = service.status?.loadBalancer?.ingress?.find((entry) => entry.ip || entry.hostname);
  return ingress?.ip || ingress?.hostname || undefined;
}
