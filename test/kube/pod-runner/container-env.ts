// A container's environment as the kubelet builds it: the image's ENV, the
// Service environment of the pod's namespace (enableServiceLinks) and the
// kubernetes Service's variables, then envFrom, then env (value, fieldRef,
// configMapKeyRef, secretKeyRef), later entries winning; $(VAR) references to
// earlier variables are expanded, $$ escapes a $.

import type { KubeObject } from '../store.js';
import { isObj, specOf, type ClusterObjects } from './cluster-objects.js';

type Obj = Record<string, unknown>;

/** A referenced ConfigMap, Secret, key or field is missing (the kubelet's CreateContainerConfigError). */
export class EnvError extends Error {}

export interface PodFacts {
  readonly podIP: string;
  readonly hostIP: string;
  readonly nodeName: string;
}

function fieldValue(pod: KubeObject, path: string, facts: PodFacts): string {
  const spec = specOf(pod);
  switch (path) {
    case 'metadata.name': return pod.metadata.name;
    case 'metadata.namespace': return pod.metadata.namespace ?? 'default';
    case 'metadata.uid': return pod.metadata.uid;
    case 'status.podIP': return facts.podIP;
    case 'status.hostIP': return facts.hostIP;
    case 'spec.nodeName': return facts.nodeName;
    case 'spec.serviceAccountName': return String(spec.serviceAccountName ?? 'default');
  }
  const label = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (label !== null) return (label[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations)?.[label[2]!] ?? '';
  throw new EnvError(`fieldRef "${path}" is not supported (metadata.name, metadata.namespace, metadata.uid, metadata.labels['…'], status.podIP, status.hostIP, spec.nodeName, spec.serviceAccountName)`);
}

function keyValue(objects: ClusterObjects, namespace: string, ref: Obj, secret: boolean): string | undefined {
  const what = secret ? 'secret' : 'configmap';
  const obj = objects.get(secret ? 'secrets' : 'configMaps', namespace, String(ref.name));
  const optional = ref.optional === true;
  if (obj === undefined) {
    if (optional) return undefined;
    throw new EnvError(`${what} "${String(ref.name)}" not found`);
  }
  const data = isObj(obj.data) ? obj.data : {};
  const raw = data[String(ref.key)];
  if (typeof raw !== 'string') {
    if (optional) return undefined;
    throw new EnvError(`couldn't find key ${String(ref.key)} in ${what} ${namespace}/${String(ref.name)}`);
  }
  return secret ? Buffer.from(raw, 'base64').toString('utf8') : raw;
}

/** $(VAR) expansion (third_party/forked/golang/expansion): unknown references stay as written. */
export function expand(value: string, env: Record<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) => (m === '$$' ? '$' : name !== undefined && name in env ? env[name]! : m));
}

function serviceEnvName(name: string): string {
  return name.toUpperCase().replace(/-/g, '_');
}

/** Docker-link style variables of one Service (FOO_SERVICE_HOST, FOO_SERVICE_PORT, FOO_PORT, ...). */
function serviceVariables(svc: KubeObject, env: Record<string, string>): void {
  const spec = specOf(svc);
  const ip = spec.clusterIP;
  if (typeof ip !== 'string' || ip === 'None' || ip === '') return;
  const ports = Array.isArray(spec.ports) ? (spec.ports as Obj[]) : [];
  if (ports.length === 0) return;
  const base = serviceEnvName(svc.metadata.name);
  env[`${base}_SERVICE_HOST`] = ip;
  env[`${base}_SERVICE_PORT`] = String(ports[0]!.port);
  for (const p of ports) if (typeof p.name === 'string' && p.name !== '') env[`${base}_SERVICE_PORT_${serviceEnvName(p.name)}`] = String(p.port);
  const proto = String(ports[0]!.protocol ?? 'TCP').toLowerCase();
  env[`${base}_PORT`] = `${proto}://${ip}:${String(ports[0]!.port)}`;
  for (const p of ports) {
    const pr = String(p.protocol ?? 'TCP');
    const prefix = `${base}_PORT_${String(p.port)}_${pr}`;
    env[prefix] = `${pr.toLowerCase()}://${ip}:${String(p.port)}`;
    env[`${prefix}_PROTO`] = pr.toLowerCase();
    env[`${prefix}_PORT`] = String(p.port);
    env[`${prefix}_ADDR`] = ip;
  }
}

/**
 * The environment of `container` in `pod`.
 * @throws EnvError naming the missing ConfigMap, Secret, key or unsupported field.
 */
export function containerEnv(objects: ClusterObjects, pod: KubeObject, container: Obj, facts: PodFacts, imageEnv: Readonly<Record<string, string>>): Record<string, string> {
  const namespace = pod.metadata.namespace ?? 'default';
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', ...imageEnv };
  const spec = specOf(pod);
  env.HOSTNAME = typeof spec.hostname === 'string' ? spec.hostname : pod.metadata.name;
  if (spec.enableServiceLinks !== false) {
    for (const svc of objects.list('services', namespace)) serviceVariables(svc, env);
  }
  const kubernetes = objects.get('services', 'default', 'kubernetes');
  if (kubernetes !== undefined) serviceVariables(kubernetes, env);
  for (const from of (Array.isArray(container.envFrom) ? container.envFrom : []) as Obj[]) {
    const prefix = typeof from.prefix === 'string' ? from.prefix : '';
    const secret = isObj(from.secretRef);
    const ref = (secret ? from.secretRef : from.configMapRef) as Obj | undefined;
    if (ref === undefined) continue;
    const obj = objects.get(secret ? 'secrets' : 'configMaps', namespace, String(ref.name));
    if (obj === undefined) {
      if (ref.optional === true) continue;
      throw new EnvError(`${secret ? 'secret' : 'configmap'} "${String(ref.name)}" not found`);
    }
    for (const [k, v] of Object.entries(isObj(obj.data) ? obj.data : {})) {
      if (typeof v === 'string') env[prefix + k] = secret ? Buffer.from(v, 'base64').toString('utf8') : v;
    }
  }
  for (const e of (Array.isArray(container.env) ? container.env : []) as Obj[]) {
    const name = String(e.name);
    if (typeof e.value === 'string') env[name] = expand(e.value, env);
    else if (isObj(e.valueFrom)) {
      const from = e.valueFrom;
      let value: string | undefined;
      if (isObj(from.fieldRef)) value = fieldValue(pod, String(from.fieldRef.fieldPath), facts);
      else if (isObj(from.configMapKeyRef)) value = keyValue(objects, namespace, from.configMapKeyRef, false);
      else if (isObj(from.secretKeyRef)) value = keyValue(objects, namespace, from.secretKeyRef, true);
      else throw new EnvError(`env ${name}: valueFrom ${Object.keys(from).join(', ')} is not supported (fieldRef, configMapKeyRef, secretKeyRef)`);
      if (value !== undefined) env[name] = value;
    } else env[name] = '';
  }
  return env;
}
