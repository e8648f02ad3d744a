// The resource types the API server double serves: one row per type drives
// routing, discovery, storage keys, RBAC resource names and error messages.
// Names, kinds and flags follow the real API (`kubectl api-resources`).

/** How metadata.name is validated (apimachinery's ValidateNameFunc per type). */
export type NameRule =
  /** DNS-1123 subdomain: lower-case alphanumerics, '-', '.', at most 253 characters. */
  | 'subdomain'
  /** DNS-1123 label: lower-case alphanumerics and '-', at most 63 characters (namespaces). */
  | 'label'
  /** DNS-1035 label: as a DNS-1123 label but starting with a letter (services). */
  | 'label1035'
  /** Any name without '/', '%' and not '.' or '..' (RBAC objects). */
  | 'path';

export interface ResourceType {
  /** API group; '' is the core (legacy) group served under /api. */
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  /** The resource name in URLs and RBAC rules. */
  readonly plural: string;
  readonly singular: string;
  readonly namespaced: boolean;
  readonly shortNames: readonly string[];
  /** `log`: pods/log, a container's output (GET only; the api-server's podLogs hook supplies it). */
  readonly subresources: readonly ('status' | 'scale' | 'log')[];
  readonly nameRule: NameRule;
  /** metadata.generation is set at 1 and bumped on every change outside metadata and status. */
  readonly generation: boolean;
  /** PUT of a missing object creates it (endpoints, events); elsewhere it is 404. */
  readonly allowCreateOnUpdate: boolean;
  /** DELETE answers with the deleted object instead of a Status (pods, namespaces). */
  readonly returnDeletedObject: boolean;
}

type Row = Pick<ResourceType, 'group' | 'version' | 'kind' | 'plural' | 'namespaced'> & Partial<ResourceType>;

function row(r: Row): ResourceType {
  return Object.freeze({
    singular: r.kind.toLowerCase(),
    shortNames: [],
    subresources: [],
    nameRule: 'subdomain',
    generation: false,
    allowCreateOnUpdate: false,
    returnDeletedObject: false,
    ...r,
  });
}

export const RESOURCE_TYPES: readonly ResourceType[] = Object.freeze([
  row({ group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false, shortNames: ['ns'], subresources: ['status'], nameRule: 'label', returnDeletedObject: true }),
  row({ group: '', version: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true, shortNames: ['cm'] }),
  row({ group: '', version: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true }),
  row({ group: '', version: 'v1', kind: 'Service', plural: 'services', namespaced: true, shortNames: ['svc'], subresources: ['status'], nameRule: 'label1035' }),
  row({ group: '', version: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts', namespaced: true, shortNames: ['sa'] }),
  row({ group: '', version: 'v1', kind: 'Pod', plural: 'pods', namespaced: true, shortNames: ['po'], subresources: ['status', 'log'], returnDeletedObject: true }),
  row({ group: '', version: 'v1', kind: 'Endpoints', plural: 'endpoints', singular: 'endpoints', namespaced: true, shortNames: ['ep'], allowCreateOnUpdate: true }),
  row({ group: '', version: 'v1', kind: 'Event', plural: 'events', namespaced: true, shortNames: ['ev'], allowCreateOnUpdate: true }),
  row({ group: 'apps', version: 'v1', kind: 'Deployment', plural: 'deployments', namespaced: true, shortNames: ['deploy'], subresources: ['status', 'scale'], generation: true }),
  row({ group: 'apps', version: 'v1', kind: 'StatefulSet', plural: 'statefulsets', namespaced: true, shortNames: ['sts'], subresources: ['status', 'scale'], generation: true }),
  row({ group: 'apps', version: 'v1', kind: 'DaemonSet', plural: 'daemonsets', namespaced: true, shortNames: ['ds'], subresources: ['status'], generation: true }),
  row({ group: 'discovery.k8s.io', version: 'v1', kind: 'EndpointSlice', plural: 'endpointslices', namespaced: true }),
  row({ group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'Role', plural: 'roles', namespaced: true, nameRule: 'path' }),
  row({ group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'RoleBinding', plural: 'rolebindings', namespaced: true, nameRule: 'path' }),
  row({ group: 'coordination.k8s.io', version: 'v1', kind: 'Lease', plural: 'leases', namespaced: true }),
  row({ group: 'events.k8s.io', version: 'v1', kind: 'Event', plural: 'events', namespaced: true, shortNames: ['ev'], allowCreateOnUpdate: true }),
]);

/** "v1" for the core group, else "group/version": the apiVersion field of the type's objects. */
export function apiVersionOf(rt: ResourceType): string {
  return rt.group === '' ? rt.version : `${rt.group}/${rt.version}`;
}

/** "configmaps", "deployments.apps": how the real server names a resource in messages. */
export function qualifiedResource(rt: ResourceType): string {
  return rt.group === '' ? rt.plural : `${rt.plural}.${rt.group}`;
}

/**
 * The key under which objects are stored. core/v1 and events.k8s.io/v1 Events
 * are kept apart here (a real cluster stores one Event and converts between
 * the two schemas; the double does not convert).
 */
export function storageKind(rt: ResourceType): string {
  return `${rt.group}/${rt.plural}`;
}

export function findResourceType(group: string, version: string, plural: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((rt) => rt.group === group && rt.version === version && rt.plural === plural);
}

export function findByKind(apiVersion: string, kind: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((rt) => apiVersionOf(rt) === apiVersion && rt.kind === kind);
}
