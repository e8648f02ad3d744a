// A site's policy: what the site lets other sites do with it, and what it
// does itself (docs/policy.md). Parsed here at the edge from a YAML or JSON
// document into a frozen SitePolicy, every problem collected with the field it
// is in, so that one `kskup policy set` names all of them. Stored whole in the
// site document (site.json on the local platform, the site state ConfigMap on
// Kubernetes); no policy means everything is allowed.
import { parse as parseYaml } from 'yaml';

export const POLICY_API_VERSION = 'kskup.io/v1alpha1';
export const POLICY_KIND = 'SitePolicy';

/** Per service (by name pattern): the sites whose flows its tcpConnectors here take. */
export interface ServiceAccessRule {
  readonly service: string;
  readonly sites: readonly string[];
}

/**
 * Each list is absent (no restriction) or the only things allowed; an empty
 * list allows nothing. Patterns take `*` for any run of characters.
 */
export interface SitePolicy {
  readonly apiVersion: typeof POLICY_API_VERSION;
  readonly kind: typeof POLICY_KIND;
  /** Sites that may link to this one, by name or id (no patterns: an identity is exact). */
  readonly incomingLinks?: readonly string[];
  /** Hosts this site may link out to (patterns), as the token names them. */
  readonly outgoingLinks?: readonly string[];
  /** Targets that may be exposed here: `TYPE/NAME` patterns (`deployment/*`, `host/db`). */
  readonly exposedResources?: readonly string[];
  /** Services this site gets listeners for (name patterns). */
  readonly importedServices?: readonly string[];
  /** Services exposed here that only some sites may reach; a service matched by several rules must be allowed by each. */
  readonly serviceAccess?: readonly ServiceAccessRule[];
}

export class PolicyError extends Error {
  override readonly name: string = 'PolicyError';
  readonly code = 'KSKUP_POLICY_INVALID';
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`${source}: ${problems.join('; ')}`);
  }
}

const LIST_FIELDS = ['incomingLinks', 'outgoingLinks', 'exposedResources', 'importedServices'] as const;
const FIELDS = new Set<string>(['apiVersion', 'kind', ...LIST_FIELDS, 'serviceAccess']);
// A site name (DNS label) or id (a UUID), or a pattern of host, resource or service names.
const ITEM = /^[A-Za-z0-9*][A-Za-z0-9.*:/_=,-]*$/;

/** Parses a policy document (YAML, of which JSON is a part); `source` names it in errors (a file name). */
export function parseSitePolicy(text: string, source: string): SitePolicy {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new PolicyError(source, [`not YAML or JSON: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`]);
  }
  return checkSitePolicy(raw, source);
}

/** Checks a value already read (the stored copy in a site document, a parsed file). */
export function checkSitePolicy(raw: unknown, source: string): SitePolicy {
  const problems: string[] = [];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new PolicyError(source, ['is not a mapping of fields (apiVersion, kind, ...)']);
  const value = raw as Record<string, unknown>;
  for (const key of Object.keys(value)) {
    if (!FIELDS.has(key)) problems.push(`field "${key}" is not a policy field (fields: ${[...FIELDS].join(', ')})`);
  }
  if (value.apiVersion !== POLICY_API_VERSION) problems.push(`apiVersion ${describe(value.apiVersion)}: must be "${POLICY_API_VERSION}"`);
  if (value.kind !== POLICY_KIND) problems.push(`kind ${describe(value.kind)}: must be "${POLICY_KIND}"`);
  const policy: Record<string, unknown> = { apiVersion: POLICY_API_VERSION, kind: POLICY_KIND };
  for (const field of LIST_FIELDS) {
    if (value[field] === undefined) continue;
    const list = stringList(value[field], field, problems, field === 'incomingLinks' ? 'name' : 'pattern');
    if (list) policy[field] = list;
  }
  if (value.serviceAccess !== undefined) {
    if (!Array.isArray(value.serviceAccess)) problems.push(`serviceAccess: must be a list of {service, sites}, not ${describe(value.serviceAccess)}`);
    else {
      const rules: ServiceAccessRule[] = [];
      value.serviceAccess.forEach((entry: unknown, index) => {
        const where = `serviceAccess[${index}]`;
        if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return problems.push(`${where}: must be a mapping {service, sites}`);
        const rule = entry as Record<string, unknown>;
        for (const key of Object.keys(rule)) if (key !== 'service' && key !== 'sites') problems.push(`${where}.${key}: not a field (fields: service, sites)`);
        const service = item(rule.service, `${where}.service`, problems, 'pattern');
        const sites = rule.sites === undefined ? (problems.push(`${where}.sites: missing (a list of site names or ids; [] for none)`), undefined) : stringList(rule.sites, `${where}.sites`, problems, 'name');
        if (service !== undefined && sites) rules.push(Object.freeze({ service, sites }));
        return undefined;
      });
      policy.serviceAccess = Object.freeze(rules);
    }
  }
  if (problems.length > 0) throw new PolicyError(source, problems);
  return Object.freeze(policy) as unknown as SitePolicy;
}

function stringList(raw: unknown, where: string, problems: string[], kind: 'name' | 'pattern'): readonly string[] | undefined {
  if (!Array.isArray(raw)) {
    problems.push(`${where}: must be a list (of ${kind === 'name' ? 'site names or ids' : 'patterns'}; [] for none), not ${describe(raw)}`);
    return undefined;
  }
  const items = raw.map((entry: unknown, index) => item(entry, `${where}[${index}]`, problems, kind));
  return items.every((entry) => entry !== undefined) ? Object.freeze([...new Set(items as string[])]) : undefined;
}

function item(raw: unknown, where: string, problems: string[], kind: 'name' | 'pattern'): string | undefined {
  if (typeof raw !== 'string' || raw === '') {
    problems.push(`${where}: must be a non-empty string, not ${describe(raw)}`);
    return undefined;
  }
  if (!ITEM.test(raw)) {
    problems.push(`${where}: "${raw}" has characters a ${kind === 'name' ? 'site name or id' : 'pattern'} cannot have`);
    return undefined;
  }
  if (kind === 'name' && raw.includes('*')) {
    problems.push(`${where}: "${raw}" is a pattern; sites are named exactly (a name or id)`);
    return undefined;
  }
  return raw;
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (typeof value === 'string') return `"${value}"`;
  return Array.isArray(value) ? 'a list' : typeof value === 'object' && value !== null ? 'a mapping' : String(value);
}
