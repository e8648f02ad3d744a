// Validation as the real API server does it on create and update (the
// ValidateX / ValidateXUpdate functions of pkg/apis/*/validation): each
// problem is a FieldCause with the field's path; all are reported at once in
// one 422 Invalid. Only the rules for the fields kskup writes are here, but
// those are as strict as a cluster's.

import { cause, type FieldCause } from './status.js';
import { labelKeyProblem, labelValueProblem } from './selectors.js';
import type { NameRule, ResourceType } from './resources.js';
import type { KubeObject } from './store.js';
import { jsonEqual } from './json-equal.js';

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;

/** The name problem for a rule, or undefined (apimachinery's IsDNS1123Subdomain and friends). */
export function nameProblem(rule: NameRule, name: string): string | undefined {
  switch (rule) {
    case 'subdomain':
      if (name.length > 253) return 'must be no more than 253 characters';
      return DNS1123_SUBDOMAIN.test(name)
        ? undefined
        : "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    case 'label':
      if (name.length > 63) return 'must be no more than 63 characters';
      return DNS1123_LABEL.test(name)
        ? undefined
        : "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
    case 'label1035':
      if (name.length > 63) return 'must be no more than 63 characters';
      return DNS1035_LABEL.test(name)
        ? undefined
        : "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
    case 'path':
      if (name === '.' || name === '..') return `may not be '${name}'`;
      if (name.includes('/') || name.includes('%')) return "may not contain '/' or '%'";
      return undefined;
  }
}

function validateStringMap(map: unknown, field: string, checkKey: (k: string) => string | undefined, checkValue?: (v: string) => string | undefined): FieldCause[] {
  if (map === undefined || map === null) return [];
  if (!isObj(map)) return [cause.invalid(field, map, 'must be a map of strings')];
  const out: FieldCause[] = [];
  for (const [k, v] of Object.entries(map)) {
    const kp = checkKey(k);
    if (kp !== undefined) out.push(cause.invalid(field, k, kp));
    if (typeof v !== 'string') out.push(cause.invalid(`${field}[${k}]`, v, 'must be a string'));
    else if (checkValue !== undefined) {
      const vp = checkValue(v);
      if (vp !== undefined) out.push(cause.invalid(`${field}[${k}]`, v, vp));
    }
  }
  return out;
}

/** metadata checks common to every type (ValidateObjectMeta). */
export function validateMetadata(rt: ResourceType, obj: KubeObject): FieldCause[] {
  const m = obj.metadata;
  const out: FieldCause[] = [];
  if (typeof m.name !== 'string' || m.name === '') {
    out.push(cause.required('metadata.name', 'name or generateName is required'));
  } else {
    const p = nameProblem(rt.nameRule, m.name);
    if (p !== undefined) out.push(cause.invalid('metadata.name', m.name, p));
  }
  out.push(...validateStringMap(m.labels, 'metadata.labels', labelKeyProblem, labelValueProblem));
  out.push(...validateStringMap(m.annotations, 'metadata.annotations', labelKeyProblem));
  if (m.annotations !== undefined && JSON.stringify(m.annotations).length > 262144) {
    out.push({ reason: 'FieldValueTooLong', field: 'metadata.annotations', message: 'Too long: must have at most 262144 bytes' });
  }
  if (m.ownerReferences !== undefined) {
    if (!Array.isArray(m.ownerReferences)) {
      out.push(cause.invalid('metadata.ownerReferences', m.ownerReferences, 'must be a list'));
    } else {
      let controllers = 0;
      m.ownerReferences.forEach((ref, i) => {
        const f = `metadata.ownerReferences[${i}]`;
        for (const key of ['apiVersion', 'kind', 'name', 'uid'] as const) {
          if (typeof ref?.[key] !== 'string' || ref[key] === '') out.push(cause.required(`${f}.${key}`));
        }
        if (ref?.controller === true) controllers++;
      });
      if (controllers > 1) out.push(cause.invalid('metadata.ownerReferences', m.ownerReferences, 'Only one reference can have Controller set to true'));
    }
  }
  if (m.finalizers !== undefined && (!Array.isArray(m.finalizers) || m.finalizers.some((f) => typeof f !== 'string'))) {
    out.push(cause.invalid('metadata.finalizers', m.finalizers, 'must be a list of strings'));
  }
  return out;
}

function validatePort(value: unknown, field: string, out: FieldCause[]): void {
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 65535) {
    out.push(cause.invalid(field, value, 'must be between 1 and 65535, inclusive'));
  }
}

function validateContainers(list: unknown, field: string, out: FieldCause[], required: boolean): void {
  if (list === undefined || list === null || (Array.isArray(list) && list.length === 0)) {
    if (required) out.push(cause.required(field));
    return;
  }
  if (!Array.isArray(list)) {
    out.push(cause.invalid(field, list, 'must be a list'));
    return;
  }
  const names = new Set<string>();
  list.forEach((c: unknown, i) => {
    const f = `${field}[${i}]`;
    if (!isObj(c)) return void out.push(cause.invalid(f, c, 'must be an object'));
    if (typeof c.name !== 'string' || c.name === '') out.push(cause.required(`${f}.name`));
    else {
      const p = nameProblem('label', c.name);
      if (p !== undefined) out.push(cause.invalid(`${f}.name`, c.name, p));
      if (names.has(c.name)) out.push(cause.duplicate(`${f}.name`, c.name));
      names.add(c.name);
    }
    if (typeof c.image !== 'string' || c.image.trim() === '') out.push(cause.required(`${f}.image`));
    if (Array.isArray(c.ports)) {
      c.ports.forEach((p: unknown, j) => {
        if (isObj(p)) validatePort(p.containerPort, `${f}.ports[${j}].containerPort`, out);
      });
    }
  });
}

function validatePodSpec(spec: unknown, field: string, out: FieldCause[]): void {
  if (!isObj(spec)) return void out.push(cause.required(field));
  validateContainers(spec.containers, `${field}.containers`, out, true);
  validateContainers(spec.initContainers, `${field}.initContainers`, out, false);
  const policies = ['Always', 'OnFailure', 'Never'];
  if (spec.restartPolicy !== undefined && !policies.includes(spec.restartPolicy as string)) {
    out.push(cause.notSupported(`${field}.restartPolicy`, spec.restartPolicy, policies));
  }
}

function labelSelectorMatches(selector: Obj, labels: Record<string, string>): boolean {
  const matchLabels = isObj(selector.matchLabels) ? (selector.matchLabels as Record<string, string>) : {};
  if (!Object.entries(matchLabels).every(([k, v]) => labels[k] === v)) return false;
  const exprs = Array.isArray(selector.matchExpressions) ? (selector.matchExpressions as Obj[]) : [];
  return exprs.every((e) => {
    const key = e.key as string;
    const values = Array.isArray(e.values) ? (e.values as string[]) : [];
    const has = Object.hasOwn(labels, key);
    switch (e.operator) {
      case 'In':
        return has && values.includes(labels[key]!);
      case 'NotIn':
        return !has || !values.includes(labels[key]!);
      case 'Exists':
        return has;
      case 'DoesNotExist':
        return !has;
      default:
        return false;
    }
  });
}

/** Workloads (Deployment, StatefulSet, DaemonSet): a non-empty selector that selects the template's labels. */
function validateWorkload(obj: KubeObject, out: FieldCause[]): void {
  const spec = obj.spec;
  if (!isObj(spec)) return void out.push(cause.required('spec'));
  const selector = spec.selector;
  const template = isObj(spec.template) ? spec.template : {};
  const labels = isObj(template.metadata) && isObj(template.metadata.labels) ? (template.metadata.labels as Record<string, string>) : {};
  if (!isObj(selector)) {
    out.push(cause.required('spec.selector'));
  } else if (Object.keys(selector.matchLabels ?? {}).length === 0 && !(Array.isArray(selector.matchExpressions) && selector.matchExpressions.length > 0)) {
    out.push(cause.invalid('spec.selector', selector, 'empty selector is invalid for deployment'));
  } else if (!labelSelectorMatches(selector, labels)) {
    out.push(cause.invalid('spec.template.metadata.labels', labels, '`selector` does not match template `labels`'));
  }
  if (spec.replicas !== undefined && (!Number.isInteger(spec.replicas) || (spec.replicas as number) < 0)) {
    out.push(cause.invalid('spec.replicas', spec.replicas, 'must be greater than or equal to 0'));
  }
  validatePodSpec(template.spec, 'spec.template.spec', out);
}

function validateDataKeys(map: unknown, field: string, out: FieldCause[]): void {
  if (map === undefined || map === null) return;
  if (!isObj(map)) return void out.push(cause.invalid(field, map, 'must be a map of strings'));
  for (const k of Object.keys(map)) {
    if (!CONFIG_KEY.test(k) || k === '.' || k === '..' || k.length > 253) {
      out.push(cause.invalid(field, k, "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"));
    }
  }
}

const SERVICE_TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'];
const PROTOCOLS = ['TCP', 'UDP', 'SCTP'];

function validateService(obj: KubeObject, out: FieldCause[]): void {
  const spec = isObj(obj.spec) ? obj.spec : {};
  const type = spec.type ?? 'ClusterIP';
  if (!SERVICE_TYPES.includes(type as string)) out.push(cause.notSupported('spec.type', type, SERVICE_TYPES));
  const ports = spec.ports;
  const headless = spec.clusterIP === 'None';
  if (type === 'ExternalName') {
    if (typeof spec.externalName !== 'string' || spec.externalName === '') out.push(cause.required('spec.externalName'));
  } else if (!Array.isArray(ports) || ports.length === 0) {
    if (!headless) out.push(cause.required('spec.ports'));
  }
  if (!Array.isArray(ports)) return;
  const names = new Set<string>();
  ports.forEach((p: unknown, i) => {
    const f = `spec.ports[${i}]`;
    if (!isObj(p)) return void out.push(cause.invalid(f, p, 'must be an object'));
    if (ports.length > 1 && (typeof p.name !== 'string' || p.name === '')) out.push(cause.required(`${f}.name`));
    if (typeof p.name === 'string' && p.name !== '') {
      const np = nameProblem('label', p.name);
      if (np !== undefined) out.push(cause.invalid(`${f}.name`, p.name, np));
      if (names.has(p.name)) out.push(cause.duplicate(`${f}.name`, p.name));
      names.add(p.name);
    }
    validatePort(p.port, `${f}.port`, out);
    if (p.protocol !== undefined && !PROTOCOLS.includes(p.protocol as string)) out.push(cause.notSupported(`${f}.protocol`, p.protocol, PROTOCOLS));
    if (p.nodePort !== undefined && p.nodePort !== 0 && type !== 'NodePort' && type !== 'LoadBalancer') {
      out.push(cause.forbidden(`${f}.nodePort`, `may not be used when \`type\` is '${String(type)}'`));
    }
  });
  if (spec.selector !== undefined) out.push(...validateStringMap(spec.selector, 'spec.selector', labelKeyProblem, labelValueProblem));
}

function validateRbacRole(obj: KubeObject, out: FieldCause[]): void {
  const rules = obj.rules;
  if (rules === undefined || rules === null) return;
  if (!Array.isArray(rules)) return void out.push(cause.invalid('rules', rules, 'must be a list'));
  rules.forEach((r: unknown, i) => {
    const f = `rules[${i}]`;
    if (!isObj(r)) return void out.push(cause.invalid(f, r, 'must be an object'));
    if (!Array.isArray(r.verbs) || r.verbs.length === 0) out.push(cause.required(`${f}.verbs`, 'verbs must contain at least one value'));
    if (r.nonResourceURLs !== undefined) out.push(cause.invalid(`${f}.nonResourceURLs`, r.nonResourceURLs, 'namespaced rules cannot apply to non-resource URLs'));
    if (!Array.isArray(r.apiGroups) || r.apiGroups.length === 0) out.push(cause.required(`${f}.apiGroups`, 'resource rules must supply at least one api group'));
    if (!Array.isArray(r.resources) || r.resources.length === 0) out.push(cause.required(`${f}.resources`, 'resource rules must supply at least one resource'));
  });
}

function validateRoleBinding(obj: KubeObject, out: FieldCause[]): void {
  const ref = obj.roleRef;
  if (!isObj(ref)) return void out.push(cause.required('roleRef'));
  if (ref.apiGroup !== 'rbac.authorization.k8s.io') out.push(cause.notSupported('roleRef.apiGroup', ref.apiGroup, ['rbac.authorization.k8s.io']));
  if (ref.kind !== 'Role' && ref.kind !== 'ClusterRole') out.push(cause.notSupported('roleRef.kind', ref.kind, ['Role', 'ClusterRole']));
  if (typeof ref.name !== 'string' || ref.name === '') out.push(cause.required('roleRef.name'));
  const subjects = obj.subjects;
  if (Array.isArray(subjects)) {
    subjects.forEach((s: unknown, i) => {
      const f = `subjects[${i}]`;
      if (!isObj(s)) return void out.push(cause.invalid(f, s, 'must be an object'));
      if (typeof s.name !== 'string' || s.name === '') out.push(cause.required(`${f}.name`));
      if (!['ServiceAccount', 'User', 'Group'].includes(s.kind as string)) out.push(cause.notSupported(`${f}.kind`, s.kind, ['ServiceAccount', 'User', 'Group']));
    });
  }
}

function validateEndpointSlice(obj: KubeObject, out: FieldCause[]): void {
  const types = ['IPv4', 'IPv6', 'FQDN'];
  if (obj.addressType === undefined) out.push(cause.required('addressType'));
  else if (!types.includes(obj.addressType as string)) out.push(cause.notSupported('addressType', obj.addressType, types));
  if (Array.isArray(obj.endpoints)) {
    obj.endpoints.forEach((e: unknown, i) => {
      const addresses = isObj(e) ? e.addresses : undefined;
      if (!Array.isArray(addresses) || addresses.length === 0) out.push(cause.required(`endpoints[${i}].addresses`, 'must contain at least 1 address'));
      else if (addresses.length > 100) out.push({ reason: 'FieldValueTooMany', field: `endpoints[${i}].addresses`, message: 'Too many: must have at most 100 items' });
    });
  }
}

function validateNewEvent(obj: KubeObject, out: FieldCause[]): void {
  for (const f of ['eventTime', 'reportingController', 'reportingInstance', 'action', 'reason']) {
    if (obj[f] === undefined || obj[f] === '') out.push(cause.required(f));
  }
  if (obj.type !== undefined && obj.type !== 'Normal' && obj.type !== 'Warning') out.push(cause.notSupported('type', obj.type, ['Normal', 'Warning']));
}

function validateCoreEvent(obj: KubeObject, out: FieldCause[]): void {
  const involved = isObj(obj.involvedObject) ? obj.involvedObject : undefined;
  if (involved === undefined) return void out.push(cause.required('involvedObject'));
  if (involved.namespace !== undefined && involved.namespace !== '' && involved.namespace !== obj.metadata.namespace) {
    out.push(cause.invalid('involvedObject.namespace', involved.namespace, 'does not match event.namespace'));
  }
}

/** Problems with a new object of type rt (after defaulting). */
export function validateObject(rt: ResourceType, obj: KubeObject): FieldCause[] {
  const out = validateMetadata(rt, obj);
  switch (`${rt.group}/${rt.plural}`) {
    case '/configmaps': {
      validateDataKeys(obj.data, 'data', out);
      validateDataKeys(obj.binaryData, 'binaryData', out);
      if (isObj(obj.data) && isObj(obj.binaryData)) {
        for (const k of Object.keys(obj.data)) if (Object.hasOwn(obj.binaryData, k)) out.push(cause.invalid(`data[${k}]`, k, 'duplicate of key present in binaryData'));
      }
      break;
    }
    case '/secrets': {
      validateDataKeys(obj.data, 'data', out);
      if (isObj(obj.data)) {
        for (const [k, v] of Object.entries(obj.data)) {
          if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 !== 0) out.push(cause.invalid(`data[${k}]`, '<value omitted>', 'illegal base64 data'));
        }
      }
      const data = isObj(obj.data) ? obj.data : {};
      if (obj.type === 'kubernetes.io/tls') for (const k of ['tls.crt', 'tls.key']) if (!Object.hasOwn(data, k)) out.push(cause.required(`data[${k}]`));
      if (obj.type === 'kubernetes.io/service-account-token' && typeof obj.metadata.annotations?.['kubernetes.io/service-account.name'] !== 'string') {
        out.push(cause.required('metadata.annotations[kubernetes.io/service-account.name]'));
      }
      break;
    }
    case '/services':
      validateService(obj, out);
      break;
    case '/pods':
      validatePodSpec(obj.spec, 'spec', out);
      break;
    case 'apps/deployments':
    case 'apps/statefulsets':
    case 'apps/daemonsets':
      validateWorkload(obj, out);
      break;
    case 'rbac.authorization.k8s.io/roles':
      validateRbacRole(obj, out);
      break;
    case 'rbac.authorization.k8s.io/rolebindings':
      validateRoleBinding(obj, out);
      break;
    case 'discovery.k8s.io/endpointslices':
      validateEndpointSlice(obj, out);
      break;
    case 'events.k8s.io/events':
      validateNewEvent(obj, out);
      break;
    case '/events':
      validateCoreEvent(obj, out);
      break;
    case 'coordination.k8s.io/leases': {
      const d = isObj(obj.spec) ? obj.spec.leaseDurationSeconds : undefined;
      if (d !== undefined && d !== null && (!Number.isInteger(d) || (d as number) <= 0)) out.push(cause.invalid('spec.leaseDurationSeconds', d, 'must be greater than 0'));
      break;
    }
  }
  return out;
}

const same = jsonEqual;

/** Problems with changing `old` into `obj` that a new object would not have (ValidateXUpdate): immutable fields. */
export function validateUpdate(rt: ResourceType, obj: KubeObject, old: KubeObject): FieldCause[] {
  const out: FieldCause[] = [];
  const spec = (o: KubeObject): Obj => (isObj(o.spec) ? o.spec : {});
  if (old.metadata.deletionTimestamp !== undefined) {
    const before = new Set(old.metadata.finalizers ?? []);
    if ((obj.metadata.finalizers ?? []).some((f) => !before.has(f))) {
      out.push(cause.forbidden('metadata.finalizers', 'no new finalizers can be added if the object is being deleted'));
    }
  }
  switch (`${rt.group}/${rt.plural}`) {
    case '/configmaps':
    case '/secrets':
      if (old.immutable === true) {
        if (obj.immutable !== true) out.push(cause.forbidden('immutable', 'field is immutable when `immutable` is set'));
        if (!same(obj.data, old.data) || !same(obj.binaryData, old.binaryData)) out.push(cause.forbidden('data', 'field is immutable when `immutable` is set'));
      }
      if (rt.plural === 'secrets' && obj.type !== old.type) out.push(cause.immutable('type', obj.type));
      break;
    case '/services': {
      const ip = spec(old).clusterIP;
      if (ip !== undefined && spec(obj).clusterIP !== ip && spec(old).type !== 'ExternalName' && spec(obj).type !== 'ExternalName') {
        out.push(cause.invalid('spec.clusterIPs[0]', spec(obj).clusterIP, 'may not change once set'));
      }
      break;
    }
    case '/pods': {
      // Only container images may change (ValidatePodUpdate, simplified to the common case).
      const strip = (s: Obj): unknown => ({
        ...s,
        containers: Array.isArray(s.containers) ? s.containers.map((c: Obj) => ({ ...c, image: undefined })) : s.containers,
      });
      if (!same(strip(spec(obj)), strip(spec(old)))) {
        out.push(cause.forbidden('spec', 'pod updates may not change fields other than `spec.containers[*].image`, `spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations), `spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)'));
      }
      break;
    }
    case 'apps/deployments':
    case 'apps/daemonsets':
      if (!same(spec(obj).selector, spec(old).selector)) out.push(cause.immutable('spec.selector', spec(obj).selector));
      break;
    case 'apps/statefulsets': {
      if (!same(spec(obj).selector, spec(old).selector)) out.push(cause.immutable('spec.selector', spec(obj).selector));
      const mutable = ['replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy', 'minReadySeconds', 'revisionHistoryLimit', 'selector'];
      const rest = (s: Obj): Obj => Object.fromEntries(Object.entries(s).filter(([k]) => !mutable.includes(k)));
      if (!same(rest(spec(obj)), rest(spec(old)))) {
        out.push(cause.forbidden('spec', "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"));
      }
      break;
    }
    case 'rbac.authorization.k8s.io/rolebindings':
      if (!same(obj.roleRef, old.roleRef)) out.push(cause.invalid('roleRef', obj.roleRef, 'cannot change roleRef'));
      break;
    case 'discovery.k8s.io/endpointslices':
      if (obj.addressType !== old.addressType) out.push(cause.immutable('addressType', obj.addressType));
      break;
  }
  return out;
}
