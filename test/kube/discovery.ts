// Discovery documents (/api, /api/v1, /apis, /apis/GROUP, /apis/GROUP/VERSION)
// in the legacy (unaggregated) format, which client-node's KubernetesObjectApi
// reads to map apiVersion + kind to a URL and whether it is namespaced.

import { apiVersionOf, RESOURCE_TYPES, type ResourceType } from './resources.js';

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function groups(): Map<string, string[]> {
  const byGroup = new Map<string, string[]>();
  for (const rt of RESOURCE_TYPES) {
    if (rt.group === '') continue;
    const versions = byGroup.get(rt.group) ?? [];
    if (!versions.includes(rt.version)) versions.push(rt.version);
    byGroup.set(rt.group, versions);
  }
  return byGroup;
}

/** GET /api: meta/v1 APIVersions. */
export function coreVersions(): object {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1' }] };
}

function apiGroup(name: string, versions: string[]): object {
  const list = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions: list, preferredVersion: list[0] };
}

/** GET /apis: meta/v1 APIGroupList. */
export function groupList(): object {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: [...groups()].map(([name, versions]) => apiGroup(name, versions)) };
}

/** GET /apis/GROUP: meta/v1 APIGroup, or undefined for a group the double does not serve. */
export function groupDocument(group: string): object | undefined {
  const versions = groups().get(group);
  return versions === undefined ? undefined : { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(group, versions) };
}

function resourceEntries(rt: ResourceType): object[] {
  const main = {
    name: rt.plural,
    singularName: rt.singular,
    namespaced: rt.namespaced,
    kind: rt.kind,
    verbs: rt.plural === 'namespaces' ? ALL_VERBS.filter((v) => v !== 'deletecollection') : ALL_VERBS,
    ...(rt.shortNames.length > 0 ? { shortNames: [...rt.shortNames] } : {}),
  };
  const subs = rt.subresources.map((sub) =>
    sub === 'status'
      ? { name: `${rt.plural}/status`, singularName: '', namespaced: rt.namespaced, kind: rt.kind, verbs: ['get', 'patch', 'update'] }
      : sub === 'log'
        ? { name: `${rt.plural}/log`, singularName: '', namespaced: rt.namespaced, kind: rt.kind, verbs: ['get'] }
        : { name: `${rt.plural}/scale`, singularName: '', namespaced: rt.namespaced, group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: ['get', 'patch', 'update'] },
  );
  return [main, ...subs];
}

/** GET /api/v1 or /apis/GROUP/VERSION: meta/v1 APIResourceList, or undefined when not served. */
export function resourceList(group: string, version: string): object | undefined {
  const types = RESOURCE_TYPES.filter((rt) => rt.group === group && rt.version === version);
  if (types.length === 0) return undefined;
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: apiVersionOf(types[0]!), resources: types.flatMap(resourceEntries) };
}
