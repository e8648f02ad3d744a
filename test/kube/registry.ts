// The verbs on stored objects, with the real API server's semantics
// (k8s.io/apiserver/pkg/registry/generic/registry.Store plus each type's
// strategy): system fields, defaulting, validation, optimistic concurrency on
// resourceVersion, no-op updates that write nothing, the status and scale
// subresources, and deletion with finalizers and propagation policies. HTTP is
// not here (api-server.ts), nor who may do what (authorizer.ts), nor the
// garbage collector (garbage-collector.ts).

import { randomUUID, randomInt } from 'node:crypto';
import { applyDefaults, initialStatus } from './defaults.js';
import { jsonEqual } from './json-equal.js';
import { jsonPatch, mergePatch, PatchError, strategicMergePatch, type Json } from './patch.js';
import { apiVersionOf, findResourceType, type ResourceType } from './resources.js';
import { allocateService, type ServiceRanges } from './service-allocator.js';
import { matchesFields, matchesLabels, type FieldSelector, type LabelSelector } from './selectors.js';
import {
  alreadyExists,
  badRequest,
  conflict,
  forbidden,
  internalError,
  invalid,
  notFound,
  STALE_OBJECT,
  successStatus,
  unsupportedMediaType,
  ApiError,
  type FieldCause,
  type StatusObject,
} from './status.js';
import { storageKind } from './resources.js';
import { validateObject, validateUpdate } from './validation.js';
import type { KubeObject, ObjectMeta, Store } from './store.js';

type Obj = Record<string, unknown>;

export interface RegistryOptions {
  readonly ranges: ServiceRanges;
  /** PEM of the cluster CA, published in each namespace's kube-root-ca.crt ConfigMap. */
  readonly rootCaPem: string;
}

export interface DeleteOptions {
  /** Orphan, Background (the default) or Foreground. */
  readonly propagationPolicy?: string | undefined;
  readonly orphanDependents?: boolean | undefined;
  readonly preconditions?: { readonly uid?: string; readonly resourceVersion?: string } | undefined;
  /** Seconds a bound Pod gets to stop (default its spec.terminationGracePeriodSeconds); 0 removes it at once. Other types ignore it. */
  readonly gracePeriodSeconds?: number | undefined;
}

export interface DeleteResult {
  /** 200 when the object is gone, 202 when it waits for finalizers. */
  readonly code: 200 | 202;
  readonly body: KubeObject | StatusObject;
}

export interface ListOptions {
  readonly labelSelector: LabelSelector;
  readonly fieldSelector: FieldSelector;
  /** A resourceVersion to list at exactly (resourceVersionMatch=Exact or a continue token), else the current state. */
  readonly exactRv?: number | undefined;
}

/** The patch bodies the double applies; see patch.ts. */
export const PATCH_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json'] as const;

const NAMESPACES = findResourceType('', 'v1', 'namespaces')!;
const SERVICE_ACCOUNTS = findResourceType('', 'v1', 'serviceaccounts')!;
const CONFIG_MAPS = findResourceType('', 'v1', 'configmaps')!;

/** RFC 3339 with seconds, as metav1.Time serialises. */
export function timestamp(date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const PODS = findResourceType('', 'v1', 'pods')!;

/**
 * The grace period of a Pod deletion, or undefined when deletion is not
 * graceful: only Pods bound to a node (spec.nodeName) wait for their kubelet;
 * an unscheduled Pod has nobody to stop it, so it goes at once (as on a cluster).
 */
function podGracePeriod(rt: ResourceType, pod: KubeObject, options: DeleteOptions): number | undefined {
  if (rt !== PODS) return undefined;
  const spec = isObj(pod.spec) ? pod.spec : {};
  if (typeof spec.nodeName !== 'string' || spec.nodeName === '') return undefined;
  if (options.gracePeriodSeconds !== undefined) return Math.max(0, options.gracePeriodSeconds);
  return typeof spec.terminationGracePeriodSeconds === 'number' ? spec.terminationGracePeriodSeconds : 30;
}

/** The alphabet and length of names.SimpleNameGenerator (no vowels, no look-alike digits). */
const GENERATE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

function generateName(base: string): string {
  let suffix = '';
  for (let i = 0; i < 5; i++) suffix += GENERATE_ALPHABET[randomInt(GENERATE_ALPHABET.length)];
  return base.slice(0, 58) + suffix;
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every top-level field except the ones the server or the status subresource own: what a generation counts. */
function specPart(o: KubeObject): Obj {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o;
  return rest;
}

export class Registry {
  constructor(
    readonly store: Store,
    private readonly options: RegistryOptions,
  ) {}

  /** @throws ApiError 404 NotFound. */
  get(rt: ResourceType, namespace: string, name: string): KubeObject {
    const obj = this.store.get(storageKind(rt), rt.namespaced ? namespace : '', name);
    if (obj === undefined) throw notFound(rt, name);
    return obj;
  }

  /** The matching objects and the resourceVersion of the list. */
  list(rt: ResourceType, namespace: string | undefined, options: ListOptions): { items: KubeObject[]; rv: number } {
    const ns = rt.namespaced ? namespace : undefined;
    const rv = options.exactRv ?? this.store.currentRv();
    const all = options.exactRv === undefined ? this.store.list(storageKind(rt), ns) : this.store.listAt(storageKind(rt), ns, options.exactRv);
    const items = all.filter((o) => matchesLabels(options.labelSelector, o.metadata.labels) && matchesFields(options.fieldSelector, o));
    return { items, rv };
  }

  /** POST: a new object. @throws ApiError 400, 403 (namespace terminating), 404 (namespace), 409 AlreadyExists, 422, 500. */
  create(rt: ResourceType, namespace: string, body: unknown, dryRun: boolean): KubeObject {
    const obj = this.decode(rt, namespace, body);
    const meta = obj.metadata;
    if (meta.resourceVersion !== undefined && meta.resourceVersion !== '') {
      // The real server's storage layer refuses this as a plain 500.
      throw internalError('resourceVersion should not be set on objects to be created');
    }
    if ((meta.name === undefined || meta.name === '') && typeof meta.generateName === 'string' && meta.generateName !== '') {
      meta.name = generateName(meta.generateName);
    }
    if (rt.namespaced) this.checkNamespaceOpen(rt, namespace, meta.name ?? '');
    meta.uid = randomUUID();
    meta.creationTimestamp = timestamp();
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    delete meta.managedFields;
    delete meta.selfLink;
    if (rt.generation) meta.generation = 1;
    else delete meta.generation;
    if (rt.subresources.includes('status')) obj.status = initialStatus(rt);
    this.prepare(rt, obj);
    const causes = validateObject(rt, obj);
    this.fail(rt, obj, causes);
    if (this.store.get(storageKind(rt), meta.namespace ?? '', meta.name) !== undefined) throw alreadyExists(rt, meta.name);
    this.allocate(rt, obj, undefined);
    if (dryRun) return obj;
    const stored = this.store.write(storageKind(rt), obj);
    if (rt === NAMESPACES) this.populateNamespace(stored.metadata.name);
    return stored;
  }

  /**
   * PUT of the main resource (or of its status subresource).
   * @returns the stored object and whether it was created (endpoints and events allow create-on-update).
   * @throws ApiError 400 (name or namespace mismatch), 404, 409 Conflict (stale resourceVersion or uid), 422.
   */
  update(rt: ResourceType, namespace: string, name: string, body: unknown, subresource: 'status' | undefined, dryRun: boolean): { object: KubeObject; created: boolean } {
    const obj = this.decode(rt, namespace, body);
    if (obj.metadata.name !== name) {
      throw badRequest(`the name of the object (${obj.metadata.name ?? ''}) does not match the name on the URL (${name})`);
    }
    const old = this.store.get(storageKind(rt), rt.namespaced ? namespace : '', name);
    if (old === undefined) {
      if (rt.allowCreateOnUpdate && subresource === undefined) {
        delete (obj.metadata as Partial<ObjectMeta>).resourceVersion;
        return { object: this.create(rt, namespace, obj, dryRun), created: true };
      }
      throw notFound(rt, name);
    }
    this.checkPreconditions(rt, obj, old);
    let next: KubeObject;
    if (subresource === 'status') {
      // The status subresource changes status only (each type's statusStrategy.PrepareForUpdate).
      next = { ...structuredClone(old), status: structuredClone(obj.status ?? {}) };
    } else {
      next = obj;
      const meta = next.metadata;
      meta.uid = old.metadata.uid;
      meta.creationTimestamp = old.metadata.creationTimestamp;
      if (old.metadata.deletionTimestamp !== undefined) meta.deletionTimestamp = old.metadata.deletionTimestamp;
      else delete meta.deletionTimestamp;
      if (old.metadata.deletionGracePeriodSeconds !== undefined) meta.deletionGracePeriodSeconds = old.metadata.deletionGracePeriodSeconds;
      else delete meta.deletionGracePeriodSeconds;
      delete meta.managedFields;
      delete meta.selfLink;
      if (old.metadata.generation !== undefined) meta.generation = old.metadata.generation;
      else delete meta.generation;
      if (rt.subresources.includes('status')) next.status = structuredClone(old.status);
      this.prepare(rt, next);
      // Allocated values the new spec leaves out are kept (the service strategy's patchAllocatedValues), before validation.
      this.allocate(rt, next, old);
      this.fail(rt, next, [...validateObject(rt, next), ...validateUpdate(rt, next, old)]);
      if (rt.generation && !jsonEqual(specPart(next), specPart(old))) meta.generation = (old.metadata.generation ?? 0) + 1;
    }
    next.metadata.resourceVersion = old.metadata.resourceVersion;
    // A no-op update writes nothing: same resourceVersion, no watch event (as etcd3 GuaranteedUpdate).
    if (jsonEqual(next, old) || dryRun) return { object: dryRun ? next : old, created: false };
    const stored = this.store.write(storageKind(rt), next);
    return { object: this.finishIfReleased(rt, stored), created: false };
  }

  /**
   * PATCH of the main resource or its status subresource.
   * @throws ApiError 400 (malformed patch), 404, 409, 415 (patch type), 422.
   */
  patch(rt: ResourceType, namespace: string, name: string, contentType: string, patch: unknown, subresource: 'status' | undefined, dryRun: boolean): KubeObject {
    const old = this.get(rt, namespace, name);
    const patched = applyPatch(contentType, old as unknown as Json, patch as Json);
    return this.update(rt, namespace, name, patched, subresource, dryRun).object;
  }

  /** GET .../scale: an autoscaling/v1 Scale. */
  getScale(rt: ResourceType, namespace: string, name: string): KubeObject {
    return toScale(this.get(rt, namespace, name));
  }

  /** PUT or PATCH .../scale: changes spec.replicas only. @throws ApiError 409 on a stale resourceVersion, 422 on bad replicas. */
  updateScale(rt: ResourceType, namespace: string, name: string, body: unknown, patchType: string | undefined, dryRun: boolean): KubeObject {
    const old = this.get(rt, namespace, name);
    const scale = patchType === undefined ? body : applyPatch(patchType, toScale(old) as unknown as Json, body as Json);
    if (!isObj(scale) || !isObj(scale.spec)) throw badRequest('the body must be an autoscaling/v1 Scale');
    const meta = isObj(scale.metadata) ? scale.metadata : {};
    const replicas = scale.spec.replicas ?? 0;
    if (!Number.isInteger(replicas) || (replicas as number) < 0) {
      throw invalid({ ...rt, kind: 'Scale' }, name, [{ reason: 'FieldValueInvalid', field: 'spec.replicas', message: `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0` }]);
    }
    const next = structuredClone(old) as KubeObject;
    (next.spec as Obj).replicas = replicas;
    if (typeof meta.resourceVersion === 'string' && meta.resourceVersion !== '') next.metadata.resourceVersion = meta.resourceVersion;
    else delete (next.metadata as Partial<ObjectMeta>).resourceVersion;
    return toScale(this.update(rt, namespace, name, next, undefined, dryRun).object);
  }

  /**
   * DELETE: removes the object, or marks it (deletionTimestamp) while finalizers
   * remain. Orphan and Foreground add the `orphan` / `foregroundDeletion`
   * finalizer that the garbage collector acts on and then removes.
   * @throws ApiError 404, 409 (preconditions), 400 (unknown policy).
   */
  delete(rt: ResourceType, namespace: string, name: string, options: DeleteOptions, dryRun: boolean): DeleteResult {
    const old = this.get(rt, namespace, name);
    const pre = options.preconditions;
    if (pre?.uid !== undefined && pre.uid !== old.metadata.uid) {
      throw conflict(rt, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid}`);
    }
    if (pre?.resourceVersion !== undefined && pre.resourceVersion !== old.metadata.resourceVersion) {
      throw conflict(rt, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion}`);
    }
    if (options.orphanDependents !== undefined && options.propagationPolicy !== undefined) {
      throw badRequest('DeleteOptions: propagationPolicy and orphanDependents may not both be set');
    }
    const policy = options.propagationPolicy ?? (options.orphanDependents === true ? 'Orphan' : 'Background');
    if (!['Orphan', 'Background', 'Foreground'].includes(policy)) {
      throw badRequest(`DeleteOptions: propagationPolicy: Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan"`);
    }
    if (dryRun) return { code: 200, body: old };
    if (rt === NAMESPACES) return { code: 200, body: this.markNamespaceTerminating(old) };
    const finalizers = [...(old.metadata.finalizers ?? [])];
    const grace = podGracePeriod(rt, old, options);
    if (grace !== undefined && grace > 0 && old.metadata.deletionTimestamp === undefined) {
      // Graceful deletion of a bound Pod (pkg/registry/core/pod's CheckGracefulDelete):
      // the Pod is only marked; its kubelet stops the containers and then
      // deletes it again with gracePeriodSeconds 0.
      const marked = structuredClone(old) as KubeObject;
      marked.metadata.finalizers = finalizers.length > 0 ? finalizers : undefined;
      if (marked.metadata.finalizers === undefined) delete marked.metadata.finalizers;
      marked.metadata.deletionTimestamp = timestamp(new Date(Date.now() + grace * 1000));
      marked.metadata.deletionGracePeriodSeconds = grace;
      return { code: 200, body: this.store.write(storageKind(rt), marked) };
    }
    if (old.metadata.deletionTimestamp !== undefined && !(grace === 0 && finalizers.length === 0)) return { code: 202, body: old };
    if (policy === 'Orphan' && !finalizers.includes('orphan')) finalizers.push('orphan');
    if (policy === 'Foreground' && !finalizers.includes('foregroundDeletion')) finalizers.push('foregroundDeletion');
    if (finalizers.length > 0) {
      const marked = structuredClone(old) as KubeObject;
      marked.metadata.finalizers = finalizers;
      marked.metadata.deletionTimestamp = timestamp();
      marked.metadata.deletionGracePeriodSeconds = 0;
      return { code: 202, body: this.store.write(storageKind(rt), marked) };
    }
    const last = this.store.remove(storageKind(rt), old.metadata.namespace ?? '', name)!;
    return { code: 200, body: this.deletedBody(rt, last) };
  }

  /** DELETE on a collection: deletes each matching object; answers the list of what it deleted or marked. */
  deleteCollection(rt: ResourceType, namespace: string | undefined, list: ListOptions, options: DeleteOptions, dryRun: boolean): Obj {
    const items: Array<KubeObject | StatusObject> = [];
    for (const obj of this.list(rt, namespace, list).items) {
      try {
        const result = this.delete(rt, obj.metadata.namespace ?? '', obj.metadata.name, options, dryRun);
        items.push(isObj(result.body) && result.body.kind === 'Status' ? obj : result.body);
      } catch (err) {
        // Deleted meanwhile (by the garbage collector): nothing left to do for it.
        if (!(err instanceof ApiError && err.status.code === 404)) throw err;
      }
    }
    return { kind: `${rt.kind}List`, apiVersion: apiVersionOf(rt), metadata: { resourceVersion: String(this.store.currentRv()) }, items };
  }

  /** Writes an object as a controller of the cluster would (status changes, finalizer removal); skips no-op writes. */
  writeSystem(rt: ResourceType, obj: KubeObject): KubeObject {
    const old = this.store.get(storageKind(rt), obj.metadata.namespace ?? '', obj.metadata.name);
    if (old !== undefined && jsonEqual({ ...obj, metadata: { ...obj.metadata, resourceVersion: old.metadata.resourceVersion } }, old)) return old;
    return this.finishIfReleased(rt, this.store.write(storageKind(rt), obj));
  }

  /** Removes an object outright (the namespace controller's last step). */
  removeSystem(rt: ResourceType, namespace: string, name: string): void {
    this.store.remove(storageKind(rt), namespace, name);
  }

  private deletedBody(rt: ResourceType, last: KubeObject): KubeObject | StatusObject {
    if (rt.returnDeletedObject) return last;
    const details = { name: last.metadata.name, kind: rt.plural, uid: last.metadata.uid };
    return successStatus(rt.group === '' ? details : { ...details, group: rt.group });
  }

  /** An object marked for deletion whose finalizers are all gone is removed (the store's deleteWithoutFinalizers). */
  private finishIfReleased(rt: ResourceType, obj: KubeObject): KubeObject {
    if (rt === NAMESPACES || obj.metadata.deletionTimestamp === undefined || (obj.metadata.finalizers ?? []).length > 0) return obj;
    return this.store.remove(storageKind(rt), obj.metadata.namespace ?? '', obj.metadata.name) ?? obj;
  }

  private markNamespaceTerminating(old: KubeObject): KubeObject {
    if (old.metadata.deletionTimestamp !== undefined) return old;
    const marked = structuredClone(old) as KubeObject;
    marked.metadata.deletionTimestamp = timestamp();
    marked.metadata.deletionGracePeriodSeconds = 0;
    marked.status = { ...(isObj(marked.status) ? marked.status : {}), phase: 'Terminating' };
    return this.store.write(storageKind(NAMESPACES), marked);
  }

  /** What the service-account and root-CA publisher controllers put in every new namespace. */
  private populateNamespace(namespace: string): void {
    const base = (kind: string, name: string): KubeObject => ({
      apiVersion: 'v1',
      kind,
      metadata: { name, namespace, uid: randomUUID(), creationTimestamp: timestamp(), resourceVersion: '' },
    });
    this.store.write(storageKind(SERVICE_ACCOUNTS), base('ServiceAccount', 'default'));
    this.store.write(storageKind(CONFIG_MAPS), { ...base('ConfigMap', 'kube-root-ca.crt'), data: { 'ca.crt': this.options.rootCaPem } });
  }

  private checkNamespaceOpen(rt: ResourceType, namespace: string, name: string): void {
    const ns = this.store.get(storageKind(NAMESPACES), '', namespace);
    if (ns === undefined) throw notFound(NAMESPACES, namespace);
    if (ns.metadata.deletionTimestamp !== undefined) {
      throw forbidden(`${rt.plural} "${name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`, rt, name);
    }
  }

  private checkPreconditions(rt: ResourceType, obj: KubeObject, old: KubeObject): void {
    const rv = obj.metadata.resourceVersion;
    if (rv !== undefined && rv !== '' && rv !== old.metadata.resourceVersion) throw conflict(rt, old.metadata.name, STALE_OBJECT);
    const uid = obj.metadata.uid;
    if (uid !== undefined && uid !== '' && uid !== old.metadata.uid) {
      throw conflict(rt, old.metadata.name, `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${old.metadata.uid}`);
    }
  }

  /** Checks the envelope of a request body and returns a private copy with kind, apiVersion and namespace set. */
  private decode(rt: ResourceType, namespace: string, body: unknown): KubeObject {
    if (!isObj(body)) throw badRequest(`the body of a ${rt.kind} request must be a JSON object`);
    const obj = structuredClone(body) as Obj;
    const apiVersion = apiVersionOf(rt);
    if (obj.apiVersion !== undefined && obj.apiVersion !== apiVersion) {
      throw badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${apiVersion})`);
    }
    if (obj.kind !== undefined && obj.kind !== rt.kind) {
      throw badRequest(`the kind in the data (${String(obj.kind)}) does not match the expected kind (${rt.kind})`);
    }
    if (obj.metadata !== undefined && !isObj(obj.metadata)) throw badRequest('metadata must be an object');
    const meta = (obj.metadata ?? {}) as Obj;
    if (rt.namespaced) {
      if (meta.namespace !== undefined && meta.namespace !== '' && meta.namespace !== namespace) {
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      meta.namespace = namespace;
    } else {
      delete meta.namespace;
    }
    return { ...obj, apiVersion, kind: rt.kind, metadata: meta } as KubeObject;
  }

  /** Type-specific preparation before validation: Secret stringData, defaults. */
  private prepare(rt: ResourceType, obj: KubeObject): void {
    // Go's omitempty: an empty map or list in metadata is not stored (a merge patch that removes the last label leaves no labels).
    const meta = obj.metadata as Obj;
    for (const key of ['labels', 'annotations', 'finalizers', 'ownerReferences']) {
      const v = meta[key];
      if (v === null || (Array.isArray(v) && v.length === 0) || (isObj(v) && Object.keys(v).length === 0)) delete meta[key];
    }
    if (rt.plural === 'secrets' && rt.group === '' && isObj(obj.stringData)) {
      const data = isObj(obj.data) ? { ...obj.data } : {};
      for (const [k, v] of Object.entries(obj.stringData)) data[k] = Buffer.from(String(v), 'utf8').toString('base64');
      obj.data = data;
      delete obj.stringData;
    }
    applyDefaults(rt, obj);
  }

  private allocate(rt: ResourceType, obj: KubeObject, old: KubeObject | undefined): void {
    if (rt.group !== '' || rt.plural !== 'services') return;
    const others = this.store.list(storageKind(rt), undefined).filter((s) => s.metadata.uid !== obj.metadata.uid);
    this.fail(rt, obj, allocateService(obj, old, others, this.options.ranges));
  }

  private fail(rt: ResourceType, obj: KubeObject, causes: readonly FieldCause[]): void {
    if (causes.length > 0) throw invalid(rt, obj.metadata.name ?? '', causes);
  }
}

/**
 * Applies a PATCH body by its Content-Type.
 * @throws ApiError 415 for server-side apply and unknown types, 400 for a malformed patch, 422 for one that cannot apply.
 */
export function applyPatch(contentType: string, target: Json, patch: Json): Json {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  try {
    switch (type) {
      case 'application/json-patch+json':
        return jsonPatch(target, patch);
      case 'application/merge-patch+json':
        return mergePatch(target, patch);
      case 'application/strategic-merge-patch+json':
        return strategicMergePatch(target, patch);
      case 'application/apply-patch+yaml':
      case 'application/apply-patch+cbor':
        throw unsupportedMediaType(
          `the kskup API server double does not implement server-side apply (${type}): it needs managedFields and field ownership; send application/merge-patch+json or application/json-patch+json`,
        );
      default:
        throw unsupportedMediaType(`the body of the request was in an unknown format - accepted media types include: ${PATCH_TYPES.join(', ')}`);
    }
  } catch (err) {
    if (!(err instanceof PatchError)) throw err;
    if (err.kind === 'unsupported') throw unsupportedMediaType(err.message);
    if (err.kind === 'malformed') throw badRequest(err.message);
    const status: StatusObject = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: err.message, reason: 'Invalid', code: 422 };
    throw new ApiError(status);
  }
}

/** metav1.LabelSelector -> "a=b,c in (d)" as a Scale's status.selector. */
function selectorString(selector: unknown): string {
  if (!isObj(selector)) return '';
  const parts: string[] = [];
  if (isObj(selector.matchLabels)) for (const [k, v] of Object.entries(selector.matchLabels).sort()) parts.push(`${k}=${String(v)}`);
  if (Array.isArray(selector.matchExpressions)) {
    for (const e of selector.matchExpressions as Obj[]) {
      const values = Array.isArray(e.values) ? (e.values as string[]).join(',') : '';
      if (e.operator === 'In') parts.push(`${String(e.key)} in (${values})`);
      else if (e.operator === 'NotIn') parts.push(`${String(e.key)} notin (${values})`);
      else if (e.operator === 'Exists') parts.push(String(e.key));
      else if (e.operator === 'DoesNotExist') parts.push(`!${String(e.key)}`);
    }
  }
  return parts.join(',');
}

function toScale(obj: KubeObject): KubeObject {
  const spec = isObj(obj.spec) ? obj.spec : {};
  const status = isObj(obj.status) ? obj.status : {};
  const m = obj.metadata;
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion, creationTimestamp: m.creationTimestamp },
    spec: { replicas: spec.replicas ?? 0 },
    status: { replicas: status.replicas ?? 0, selector: selectorString(spec.selector) },
  };
}
