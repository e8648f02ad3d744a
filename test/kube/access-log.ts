// What each user asked of the API server double and whether RBAC allowed it,
// as (verb, apiGroup, resource[/subresource]): enough to check that a Role
// grants exactly what its user needs (every rule entry used, nothing denied).
// A real cluster's audit log records the same attributes.
import type { RequestAttributes, UserInfo } from './authorizer.js';

/** `verb group/resource`, the core group as "": `list /pods`, `get /pods/portforward`, `watch apps/deployments`. */
export function accessKey(verb: string, apiGroup: string, resource: string): string {
  return `${verb} ${apiGroup}/${resource}`;
}

export class AccessLog {
  private readonly allowed = new Map<string, Set<string>>();
  private readonly refused = new Map<string, string[]>();

  record(user: UserInfo, request: RequestAttributes, allowed: boolean): void {
    const resource = request.subresource === '' ? request.resource : `${request.resource}/${request.subresource}`;
    const key = accessKey(request.verb, request.apiGroup, resource);
    if (allowed) {
      let keys = this.allowed.get(user.username);
      if (keys === undefined) this.allowed.set(user.username, (keys = new Set()));
      keys.add(key);
    } else {
      const denied = this.refused.get(user.username) ?? [];
      denied.push(`${key}${request.name ? ` "${request.name}"` : ''} in namespace "${request.namespace}"`);
      this.refused.set(user.username, denied);
    }
  }

  /** The distinct (verb, group, resource) a user was allowed, sorted. */
  used(username: string): string[] {
    return [...(this.allowed.get(username) ?? [])].sort();
  }

  /** Every request of a user that RBAC refused, in order. */
  denied(username: string): string[] {
    return [...(this.refused.get(username) ?? [])];
  }
}
