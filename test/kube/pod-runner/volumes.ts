// What a pod's configMap, secret and projected volumes contain, computed from
// the pod spec and the objects they name (the kubelet's volume plugins, without
// the mounting). The AtomicWriter writes the result; emptyDir is just a folder.

import type { KubeObject } from '../store.js';
import type { PayloadFile } from './atomic-writer.js';
import { isObj, type ClusterObjects } from './cluster-objects.js';

type Obj = Record<string, unknown>;

/** A source object is missing or lacks a key and the volume is not optional: the pod cannot start (FailedMount). */
export class VolumeError extends Error {}

export interface VolumeSources {
  readonly objects: ClusterObjects;
  /** A bearer token for the pod's ServiceAccount (serviceAccountToken projections). */
  readonly serviceAccountToken: (namespace: string, name: string) => string;
}

/** configMap / secret data as bytes: ConfigMap data (UTF-8) and binaryData, Secret data (base64) and stringData. */
function dataOf(obj: KubeObject, secret: boolean): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const data = isObj(obj.data) ? obj.data : {};
  for (const [k, v] of Object.entries(data)) if (typeof v === 'string') out.set(k, secret ? Buffer.from(v, 'base64') : Buffer.from(v, 'utf8'));
  const binary = isObj(obj.binaryData) ? obj.binaryData : {};
  if (!secret) for (const [k, v] of Object.entries(binary)) if (typeof v === 'string') out.set(k, Buffer.from(v, 'base64'));
  return out;
}

interface KeySource {
  readonly name?: string;
  readonly items?: Array<{ key: string; path: string; mode?: number }>;
  readonly optional?: boolean;
}

function addKeys(out: Map<string, PayloadFile>, what: string, obj: KubeObject | undefined, secret: boolean, src: KeySource, mode: number): void {
  if (obj === undefined) {
    if (src.optional === true) return;
    throw new VolumeError(`${what} "${src.name ?? ''}" not found`);
  }
  const data = dataOf(obj, secret);
  if (src.items === undefined) {
    for (const [k, v] of data) out.set(k, { data: v, mode });
    return;
  }
  for (const item of src.items) {
    const v = data.get(item.key);
    if (v === undefined) {
      if (src.optional === true) continue;
      throw new VolumeError(`${what} "${src.name ?? ''}" has no key "${item.key}"`);
    }
    out.set(item.path, { data: v, mode: item.mode ?? mode });
  }
}

/**
 * The files of a configMap, secret or projected volume; undefined for other
 * kinds (emptyDir). defaultMode defaults to 0644, as the API server defaults it.
 * @throws VolumeError when a non-optional source or key is missing.
 */
export function volumePayload(pod: KubeObject, volume: Obj, sources: VolumeSources): Map<string, PayloadFile> | undefined {
  const namespace = pod.metadata.namespace ?? 'default';
  const out = new Map<string, PayloadFile>();
  const get = (type: 'configMaps' | 'secrets', name: unknown): KubeObject | undefined => (typeof name === 'string' ? sources.objects.get(type, namespace, name) : undefined);
  if (isObj(volume.configMap)) {
    const src = volume.configMap as KeySource & { defaultMode?: number };
    addKeys(out, 'configmap', get('configMaps', src.name), false, src, src.defaultMode ?? 0o644);
    return out;
  }
  if (isObj(volume.secret)) {
    const src = volume.secret as KeySource & { secretName?: string; defaultMode?: number };
    addKeys(out, 'secret', get('secrets', src.secretName), true, { ...src, name: src.secretName }, src.defaultMode ?? 0o644);
    return out;
  }
  if (isObj(volume.projected)) {
    const projected = volume.projected as { sources?: Obj[]; defaultMode?: number };
    const mode = projected.defaultMode ?? 0o644;
    for (const s of projected.sources ?? []) {
      if (isObj(s.configMap)) addKeys(out, 'configmap', get('configMaps', s.configMap.name), false, s.configMap as KeySource, mode);
      else if (isObj(s.secret)) addKeys(out, 'secret', get('secrets', s.secret.name), true, s.secret as KeySource, mode);
      else if (isObj(s.serviceAccountToken)) {
        const spec = isObj(pod.spec) ? pod.spec : {};
        const token = sources.serviceAccountToken(namespace, String(spec.serviceAccountName ?? 'default'));
        out.set(String(s.serviceAccountToken.path ?? 'token'), { data: Buffer.from(token), mode });
      } else if (isObj(s.downwardAPI)) {
        for (const item of ((s.downwardAPI.items ?? []) as Obj[])) {
          const field = isObj(item.fieldRef) ? String(item.fieldRef.fieldPath) : '';
          const value = field === 'metadata.namespace' ? namespace : field === 'metadata.name' ? pod.metadata.name : undefined;
          if (value === undefined) throw new VolumeError(`downwardAPI fieldPath "${field}" is not supported by the pod runner (metadata.name, metadata.namespace)`);
          out.set(String(item.path), { data: Buffer.from(value), mode });
        }
      }
    }
    return out;
  }
  return undefined;
}

/**
 * The volume the ServiceAccount admission plugin adds (kube-api-access-*):
 * token, ca.crt (the kube-root-ca.crt ConfigMap) and namespace, mounted at
 * /var/run/secrets/kubernetes.io/serviceaccount, where client-node's in-cluster config reads them.
 */
export function serviceAccountPayload(pod: KubeObject, sources: VolumeSources): Map<string, PayloadFile> {
  const namespace = pod.metadata.namespace ?? 'default';
  const spec = isObj(pod.spec) ? pod.spec : {};
  const ca = sources.objects.get('configMaps', namespace, 'kube-root-ca.crt');
  const caPem = isObj(ca?.data) && typeof ca.data['ca.crt'] === 'string' ? ca.data['ca.crt'] : undefined;
  if (caPem === undefined) throw new VolumeError(`configmap "kube-root-ca.crt" not found in namespace ${namespace}`);
  const mode = 0o644;
  return new Map([
    ['token', { data: Buffer.from(sources.serviceAccountToken(namespace, String(spec.serviceAccountName ?? 'default'))), mode }],
    ['ca.crt', { data: Buffer.from(caPem), mode }],
    ['namespace', { data: Buffer.from(namespace), mode }],
  ]);
}

export const SERVICE_ACCOUNT_MOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';
