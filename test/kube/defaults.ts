// Defaulting the real API server applies on create and update (pkg/apis/*/v1
// defaults.go), for the fields a controller compares: a controller that
// compares its desired object with the stored one must see the same defaults
// as on a cluster, or it would update forever. Only the commonly read
// defaults are here; README.md lists what is not defaulted.

import type { ResourceType } from './resources.js';
import type { KubeObject } from './store.js';

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function setDefault(obj: Obj, key: string, value: unknown): void {
  if (obj[key] === undefined || obj[key] === null) obj[key] = value;
}

function objAt(parent: Obj, key: string): Obj {
  const v = parent[key];
  if (isObj(v)) return v;
  const created: Obj = {};
  parent[key] = created;
  return created;
}

/** An image with no tag or ":latest" is pulled Always, else IfNotPresent (SetDefaults_Container). */
function defaultPullPolicy(image: unknown): string {
  if (typeof image !== 'string') return 'IfNotPresent';
  const afterSlash = image.slice(image.lastIndexOf('/') + 1);
  if (image.includes('@')) return 'IfNotPresent';
  const colon = afterSlash.lastIndexOf(':');
  const tag = colon === -1 ? '' : afterSlash.slice(colon + 1);
  return tag === '' || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultContainers(list: unknown): void {
  if (!Array.isArray(list)) return;
  for (const c of list) {
    if (!isObj(c)) continue;
    setDefault(c, 'imagePullPolicy', defaultPullPolicy(c.image));
    setDefault(c, 'terminationMessagePath', '/dev/termination-log');
    setDefault(c, 'terminationMessagePolicy', 'File');
    setDefault(c, 'resources', {});
    if (Array.isArray(c.ports)) for (const p of c.ports) if (isObj(p)) setDefault(p, 'protocol', 'TCP');
  }
}

export function defaultPodSpec(spec: Obj): void {
  setDefault(spec, 'restartPolicy', 'Always');
  setDefault(spec, 'terminationGracePeriodSeconds', 30);
  setDefault(spec, 'dnsPolicy', 'ClusterFirst');
  setDefault(spec, 'securityContext', {});
  setDefault(spec, 'schedulerName', 'default-scheduler');
  setDefault(spec, 'enableServiceLinks', true);
  if (spec.serviceAccountName === undefined && typeof spec.serviceAccount === 'string') spec.serviceAccountName = spec.serviceAccount;
  setDefault(spec, 'serviceAccountName', 'default');
  spec.serviceAccount = spec.serviceAccountName;
  defaultContainers(spec.containers);
  defaultContainers(spec.initContainers);
}

function defaultTemplate(spec: Obj): void {
  const template = objAt(spec, 'template');
  defaultPodSpec(objAt(template, 'spec'));
}

/** Applies the type's defaults to `obj` in place (obj is a private copy). */
export function applyDefaults(rt: ResourceType, obj: KubeObject): void {
  const spec = (): Obj => objAt(obj, 'spec');
  switch (`${rt.group}/${rt.plural}`) {
    case '/secrets':
      setDefault(obj, 'type', 'Opaque');
      break;
    case '/services': {
      const s = spec();
      setDefault(s, 'type', 'ClusterIP');
      if (s.type !== 'ExternalName') {
        setDefault(s, 'sessionAffinity', 'None');
        setDefault(s, 'internalTrafficPolicy', 'Cluster');
      }
      if (s.type === 'NodePort' || s.type === 'LoadBalancer') setDefault(s, 'externalTrafficPolicy', 'Cluster');
      if (Array.isArray(s.ports)) {
        for (const p of s.ports) {
          if (!isObj(p)) continue;
          setDefault(p, 'protocol', 'TCP');
          setDefault(p, 'targetPort', p.port);
        }
      }
      break;
    }
    case '/pods':
      defaultPodSpec(spec());
      break;
    case 'apps/deployments': {
      const s = spec();
      setDefault(s, 'replicas', 1);
      setDefault(s, 'strategy', { type: 'RollingUpdate' });
      const strategy = s.strategy as Obj;
      if (strategy.type === 'RollingUpdate') setDefault(strategy, 'rollingUpdate', { maxUnavailable: '25%', maxSurge: '25%' });
      setDefault(s, 'revisionHistoryLimit', 10);
      setDefault(s, 'progressDeadlineSeconds', 600);
      defaultTemplate(s);
      break;
    }
    case 'apps/statefulsets': {
      const s = spec();
      setDefault(s, 'replicas', 1);
      setDefault(s, 'podManagementPolicy', 'OrderedReady');
      setDefault(s, 'updateStrategy', { type: 'RollingUpdate', rollingUpdate: { partition: 0 } });
      setDefault(s, 'revisionHistoryLimit', 10);
      setDefault(s, 'persistentVolumeClaimRetentionPolicy', { whenDeleted: 'Retain', whenScaled: 'Retain' });
      defaultTemplate(s);
      break;
    }
    case 'apps/daemonsets': {
      const s = spec();
      setDefault(s, 'updateStrategy', { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } });
      setDefault(s, 'revisionHistoryLimit', 10);
      defaultTemplate(s);
      break;
    }
    case '/namespaces':
      setDefault(spec(), 'finalizers', ['kubernetes']);
      // Set by the server on every namespace since Kubernetes 1.21.
      obj.metadata.labels = { ...(obj.metadata.labels ?? {}), 'kubernetes.io/metadata.name': obj.metadata.name };
      break;
    case 'discovery.k8s.io/endpointslices':
      if (Array.isArray(obj.ports)) for (const p of obj.ports) if (isObj(p)) setDefault(p, 'protocol', 'TCP');
      break;
  }
}

/** The status a new object starts with (the status subresource's PrepareForCreate). */
export function initialStatus(rt: ResourceType): unknown {
  switch (`${rt.group}/${rt.plural}`) {
    case '/namespaces':
      return { phase: 'Active' };
    case '/pods':
      return { phase: 'Pending', qosClass: 'BestEffort' };
    case '/services':
      return { loadBalancer: {} };
    default:
      return {};
  }
}
