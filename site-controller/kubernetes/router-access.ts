// Reaching a cluster site's router from outside the cluster, for `kskup router
// stat`: port-forward through the API to the router pod's local AMQP listener
// (5671), and authenticate as its controller does, with the client
// certificate in Secret kskup-local-client (that listener takes no other).
// Needs, in the site's namespace: list pods, get secrets, and get and create
// on pods/portforward (docs/kubernetes.md).
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import type { AmqpClientTarget } from '../../router/amqp/client-options.js';
import { SiteError } from '../site/errors.js';
import type { KubernetesAccess } from './kube-access.js';
import { describeApiError } from './kube-errors.js';
import { NAME_LABEL, NAMES, PORTS } from './manifests.js';
import { forwardPodPort, type ForwardedPort } from './pod-port-forward.js';

export interface RouterAccess {
  /** Where a management client connects: the forwarded port, TLS with the local client certificate. */
  readonly target: AmqpClientTarget;
  /** The router pod reached. */
  readonly pod: string;
  readonly forward: ForwardedPort;
}

/** Opens a port-forward to the site's ready router pod; close `forward` when done. */
export async function openRouterAccess(access: KubernetesAccess): Promise<RouterAccess> {
  const core = access.kubeConfig.makeApiClient(CoreV1Api);
  const namespace = access.namespace;
  const where = `namespace "${namespace}" of ${access.server}`;
  let pods: V1Pod[];
  try {
    pods = (await core.listNamespacedPod({ namespace, labelSelector: `${NAME_LABEL}=${NAMES.router}` })).items;
  } catch (error) {
    throw new SiteError(`cannot list the router pods in ${where}: ${describeApiError(error)}`, { cause: error });
  }
  // With router replicas, the first ready one by name (kskup-router-0 when it is ready), so that repeated calls ask the same router.
  const pod = pods
    .filter((candidate) => !candidate.metadata?.deletionTimestamp && candidate.status?.phase === 'Running' && candidate.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
    .map((candidate) => candidate.metadata?.name ?? '')
    .sort()[0];
  if (!pod) throw new SiteError(`no ready router pod (StatefulSet ${NAMES.router}) in ${where}${pods.length === 0 ? ': is there a site? (kskup status)' : ''}`);
  const client = await readLocalClient(access);
  const forward = await forwardPodPort(access.kubeConfig, namespace, pod, PORTS.amqp);
  return {
    pod,
    forward,
    // The router's local server certificate names its Service (site-identity.ts), not 127.0.0.1.
    target: { host: forward.host, port: forward.port, tls: { ...client, serverName: `${NAMES.routerLocal}.${namespace}.svc` } },
  };
}

/**
 * The router as a pod of the site reaches it: its local Service
 * (kskup-router-local, port 5671) inside the cluster, with the local client
 * certificate. Used by the console the chart runs in the cluster.
 */
export async function inClusterRouterTarget(access: KubernetesAccess): Promise<AmqpClientTarget> {
  const host = `${NAMES.routerLocal}.${access.namespace}.svc`;
  return { host, port: PORTS.amqp, tls: { ...(await readLocalClient(access)), serverName: host } };
}

/** PEM bytes of the local listener's CA and of the one client certificate it takes. */
export interface LocalClientTls {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/**
 * The router's local client certificate, its key and the local CA, from Secret
 * kskup-local-client (needs get on that Secret). SiteError naming the Secret
 * when it cannot be read or lacks a key (the controller writes it at its first start).
 */
export async function readLocalClient(access: KubernetesAccess): Promise<LocalClientTls> {
  const core = access.kubeConfig.makeApiClient(CoreV1Api);
  const where = `namespace "${access.namespace}" of ${access.server}`;
  let data: Record<string, string>;
  try {
    data = (await core.readNamespacedSecret({ name: NAMES.localClient, namespace: access.namespace })).data ?? {};
  } catch (error) {
    throw new SiteError(`cannot read Secret ${NAMES.localClient} (the router's local client certificate) in ${where}: ${describeApiError(error)}`, { cause: error });
  }
  const file = (key: string) => Buffer.from(data[key] ?? '', 'base64');
  const missing = ['tls.crt', 'tls.key', 'ca.crt'].filter((key) => file(key).length === 0);
  if (missing.length > 0) throw new SiteError(`Secret ${NAMES.localClient} in ${where} has no ${missing.join(', ')} (the controller writes it at its first start)`);
  return { ca: file('ca.crt'), cert: file('tls.crt'), key: file('tls.key') };
}
