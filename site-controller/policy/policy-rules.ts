// The questions a site's policy answers, as pure functions. Each takes the
// policy (undefined: the site has none, and everything is allowed) and says
// whether something is allowed, or, with `*Refusal`, why not in one line that
// names the policy field (for errors, status and `kskup policy check`).
import type { SitePolicy } from './site-policy.js';

/** `*` matches any run of characters (none included); everything else matches itself. */
export function matchesPattern(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value;
  const escaped = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`).test(value);
}

function allowedBy(patterns: readonly string[] | undefined, value: string): boolean {
  return patterns === undefined || patterns.some((pattern) => matchesPattern(pattern, value));
}

/** A site as a policy names it: by id, by name, or by either. */
export interface SiteRef {
  readonly id?: string;
  readonly name?: string;
}

function namesSite(entries: readonly string[], site: SiteRef): boolean {
  return entries.some((entry) => entry === site.id || entry === site.name);
}

function siteText(site: SiteRef): string {
  if (site.name !== undefined) return `site "${site.name}"${site.id !== undefined ? ` (${site.id})` : ''}`;
  return site.id !== undefined ? `site ${site.id}` : 'a site that was not named (a cert token)';
}

/** Why `site` may not link to this site, or undefined when it may. A site not named (a cert token's) may not once the list is set. */
export function linkInRefusal(policy: SitePolicy | undefined, site: SiteRef): string | undefined {
  const allowed = policy?.incomingLinks;
  if (allowed === undefined || namesSite(allowed, site)) return undefined;
  return `policy: ${siteText(site)} is not in incomingLinks${listText(allowed)}`;
}

/** Why this site may not link out to `host`, or undefined. */
export function linkOutRefusal(policy: SitePolicy | undefined, host: string): string | undefined {
  const allowed = policy?.outgoingLinks;
  if (allowedBy(allowed, host)) return undefined;
  return `policy: host "${host}" matches no pattern of outgoingLinks${listText(allowed)}`;
}

/** Why the target `type/name` may not be exposed here, or undefined. */
export function exposeRefusal(policy: SitePolicy | undefined, type: string, name: string): string | undefined {
  const allowed = policy?.exposedResources;
  if (allowedBy(allowed, `${type}/${name}`)) return undefined;
  return `policy: ${type}/${name} matches no pattern of exposedResources${listText(allowed)}`;
}

/** Why this site gets no listeners for service `name`, or undefined. */
export function importRefusal(policy: SitePolicy | undefined, name: string): string | undefined {
  const allowed = policy?.importedServices;
  if (allowedBy(allowed, name)) return undefined;
  return `policy: service "${name}" matches no pattern of importedServices${listText(allowed)}`;
}

/**
 * The sites (names and ids as the policy gives them) whose flows a service
 * exposed here takes, or undefined for any site. A service that several
 * serviceAccess rules match takes flows only from sites each of them allows.
 */
export function sitesAllowedToReach(policy: SitePolicy | undefined, service: string): readonly string[] | undefined {
  const rules = (policy?.serviceAccess ?? []).filter((rule) => matchesPattern(rule.service, service));
  if (rules.length === 0) return undefined;
  return rules.slice(1).reduce<string[]>((sites, rule) => sites.filter((site) => rule.sites.includes(site)), [...rules[0]!.sites]);
}

/** Why `site` may not reach service `name` exposed here, or undefined. */
export function reachRefusal(policy: SitePolicy | undefined, service: string, site: SiteRef): string | undefined {
  const allowed = sitesAllowedToReach(policy, service);
  if (allowed === undefined || namesSite(allowed, site)) return undefined;
  return `policy: ${siteText(site)} may not reach service "${service}" (serviceAccess allows ${allowed.length === 0 ? 'no other site' : allowed.join(', ')})`;
}

function listText(list: readonly string[] | undefined): string {
  return list === undefined ? '' : list.length === 0 ? ' (an empty list: none allowed)' : ` (${list.join(', ')})`;
}

/** The service name of a router address `service:port`. */
export function serviceOfAddress(address: string): string {
  const colon = address.lastIndexOf(':');
  return colon > 0 && /^\d+$/.test(address.slice(colon + 1)) ? address.slice(0, colon) : address;
}
