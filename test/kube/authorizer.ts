// Who a bearer token is, and what they may do. The admin token is in
// system:masters (everything is allowed, as on a real cluster). ServiceAccount
// tokens are checked against namespaced Roles and RoleBindings stored in the
// double, as kube-apiserver's RBAC authorizer does: a rule allows a request
// when its verbs, apiGroups, resources ("pods/status" for a subresource, "*"
// for any) and resourceNames (if any) all match. There are no ClusterRoles in
// the double, so a RoleBinding to a ClusterRole grants nothing.

import { randomBytes } from 'node:crypto';
import { storageKind, findResourceType } from './resources.js';
import type { Store } from './store.js';

export interface UserInfo {
  readonly username: string;
  readonly groups: readonly string[];
}

/** The request as RBAC sees it (authorizer.Attributes). */
export interface RequestAttributes {
  /** get, list, watch, create, update, patch, delete, deletecollection. */
  readonly verb: string;
  readonly apiGroup: string;
  /** The resource's plural name. */
  readonly resource: string;
  readonly subresource: string;
  /** '' for cluster-scoped requests and lists across all namespaces. */
  readonly namespace: string;
  /** '' for create and for lists without a metadata.name field selector. */
  readonly name: string;
}

export interface Authorizer {
  allows(user: UserInfo, request: RequestAttributes): boolean;
}

/** Opaque bearer tokens (a real cluster's are JWTs; clients must not look inside either). */
export class TokenRegistry {
  private readonly users = new Map<string, UserInfo>();

  issue(user: UserInfo): string {
    const token = randomBytes(24).toString('base64url');
    this.users.set(token, user);
    return token;
  }

  /** A token for a ServiceAccount, with the user name and groups a real cluster gives it. */
  issueForServiceAccount(namespace: string, name: string): string {
    return this.issue({
      username: `system:serviceaccount:${namespace}:${name}`,
      groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
    });
  }

  authenticate(token: string): UserInfo | undefined {
    return this.users.get(token);
  }
}

type Rule = { verbs?: string[]; apiGroups?: string[]; resources?: string[]; resourceNames?: string[] };
type Subject = { kind?: string; name?: string; namespace?: string };

const ROLES = findResourceType('rbac.authorization.k8s.io', 'v1', 'roles')!;
const ROLE_BINDINGS = findResourceType('rbac.authorization.k8s.io', 'v1', 'rolebindings')!;

function ruleAllows(rule: Rule, r: RequestAttributes): boolean {
  const resource = r.subresource === '' ? r.resource : `${r.resource}/${r.subresource}`;
  const has = (list: string[] | undefined, v: string): boolean => (list ?? []).includes('*') || (list ?? []).includes(v);
  if (!has(rule.verbs, r.verb) || !has(rule.apiGroups, r.apiGroup)) return false;
  const resources = rule.resources ?? [];
  const resourceOk = resources.includes('*') || resources.includes(resource) || (r.subresource !== '' && resources.includes(`*/${r.subresource}`));
  if (!resourceOk) return false;
  const names = rule.resourceNames ?? [];
  return names.length === 0 || (r.name !== '' && names.includes(r.name));
}

function subjectIs(subject: Subject, user: UserInfo, bindingNamespace: string): boolean {
  switch (subject.kind) {
    case 'ServiceAccount':
      return user.username === `system:serviceaccount:${subject.namespace || bindingNamespace}:${subject.name}`;
    case 'User':
      return user.username === subject.name;
    case 'Group':
      return user.groups.includes(subject.name ?? '');
    default:
      return false;
  }
}

export class RbacAuthorizer implements Authorizer {
  constructor(private readonly store: Store) {}

  allows(user: UserInfo, r: RequestAttributes): boolean {
    if (user.groups.includes('system:masters')) return true;
    if (r.namespace === '') return false;
    for (const binding of this.store.list(storageKind(ROLE_BINDINGS), r.namespace)) {
      const subjects = (binding.subjects ?? []) as Subject[];
      if (!subjects.some((s) => subjectIs(s, user, r.namespace))) continue;
      const ref = binding.roleRef as { kind?: string; name?: string } | undefined;
      if (ref?.kind !== 'Role') continue;
      const role = this.store.get(storageKind(ROLES), r.namespace, ref.name ?? '');
      if (role !== undefined && ((role.rules ?? []) as Rule[]).some((rule) => ruleAllows(rule, r))) return true;
    }
    return false;
  }
}

/** The real server's 403 message: `configmaps "x" is forbidden: User "u" cannot get resource "configmaps" in API group "" in the namespace "ns"`. */
export function forbiddenMessage(user: UserInfo, r: RequestAttributes): string {
  const resource = r.subresource === '' ? r.resource : `${r.resource}/${r.subresource}`;
  const qualified = r.apiGroup === '' ? r.resource : `${r.resource}.${r.apiGroup}`;
  const what = r.name === '' ? qualified : `${qualified} "${r.name}"`;
  const scope = r.namespace === '' ? 'at the cluster scope' : `in the namespace "${r.namespace}"`;
  return `${what} is forbidden: User "${user.username}" cannot ${r.verb} resource "${resource}" in API group "${r.apiGroup}" ${scope}`;
}
