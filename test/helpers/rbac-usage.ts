// RBAC minimality of the controller's Role: what the Role grants (CONTROLLER_RULES,
// as `verb group/resource`) against what the controller's ServiceAccount used
// and was refused in the API server double during an end-to-end test
// (test/kube/access-log.ts).
import { CONTROLLER_RULES, NAMES } from '../../site-controller/kubernetes/manifests.js';
import { accessKey } from '../kube/access-log.js';
import type { Cluster } from './kube-clusters.js';

/** Every (verb, group, resource) the controller's Role grants, sorted. */
export function grantedControllerAccess(): string[] {
  return CONTROLLER_RULES.flatMap((rule) =>
    (rule.apiGroups ?? []).flatMap((group) => (rule.resources ?? []).flatMap((resource) => rule.verbs.map((verb) => accessKey(verb, group, resource)))),
  ).sort();
}

/** What the site controller's ServiceAccount used and was refused in these clusters' sites. */
export function controllerAccess(clusters: readonly Cluster[]): { used: string[]; denied: string[] } {
  const used = new Set<string>();
  const denied: string[] = [];
  for (const cluster of clusters) {
    const user = `system:serviceaccount:${cluster.namespace}:${NAMES.controller}`;
    for (const key of cluster.runner.api.accessLog.used(user)) used.add(key);
    denied.push(...cluster.runner.api.accessLog.denied(user));
  }
  return { used: [...used].sort(), denied };
}

/**
 * Grants the sites test (test/kubernetes-sites.test.ts) does not use, each
 * with the path that does; the services test (test/kubernetes-services.test.ts)
 * asserts that it uses them.
 */
export const USED_ONLY_BY_SERVICES: Readonly<Record<string, string>> = {
  'create /services': 'the Service of an exposed address, in every cluster site',
  'update /services': 'its ports changed in place (re-expose), keeping the ClusterIP',
  'delete /services': 'unexpose: the Service of an address that is gone',
  'get /services': 'create answered 409: ours from an earlier pass, or a foreign Service of that name',
};
