// Exposing services at a site: the rules, shared by every platform. A service
// is an address with ports; each target is something at this site that serves
// them. Everything is checked before the state changes, so a refused expose
// leaves the site as it was.
import { exposeRefusal } from '../site-controller/policy/policy-rules.js';
import { SiteError } from '../site-controller/site/errors.js';
import type { HealthCheck, ServiceLimits, ServiceLimitsSetting, ServiceRecord, SiteWeightsSetting, ServiceTarget, SiteDocument, TargetType } from '../site-controller/site/model.js';
import type { SiteStorage } from '../site-controller/site/storage.js';

export interface ExposeRequest {
  readonly type: TargetType;
  readonly name: string;
  readonly host: string;
  readonly address: string;
  readonly ports: readonly number[];
  readonly targetPorts: readonly number[];
  /** Serve TLS with this site's bundle of this name at every listener (undefined: as the service has it now). */
  readonly tlsCredentials?: string;
  /** The target speaks TLS: verify it against this site's bundle. */
  readonly tlsTrust?: ServiceTarget['tlsTrust'];
  /** The listeners' listen() backlog (ServiceRecord.backlog); undefined: as the service has it now. */
  readonly backlog?: number;
  /** The target's weight (ServiceTarget.weight); undefined: as the target has it now. */
  readonly weight?: number;
  /** The service's health check (ServiceRecord.health); undefined: as the service has it now. */
  readonly health?: HealthCheck;
}

/** The TLS credentials other sites expose an address with: a name, null for plain, undefined if unknown. */
export type KnownCredentials = (address: string) => string | null | undefined;

/** Ports other sites expose an address with, as this site knows them (service sync). */
export type KnownPorts = (address: string) => readonly number[] | undefined;

export interface ExposeOutcome {
  readonly service: ServiceRecord;
  /** False when the target was exposed already with the same ports: nothing changed. */
  readonly changed: boolean;
}

export async function exposeService(
  storage: SiteStorage,
  request: ExposeRequest,
  knownElsewhere: KnownPorts,
  now = new Date(),
  credentialsElsewhere: KnownCredentials = () => undefined,
): Promise<ExposeOutcome> {
  return storage.update<ExposeOutcome>((document) => {
    const refused = exposeRefusal(document.policy, request.type, request.name);
    if (refused !== undefined) throw new SiteError(`site "${document.site.name}" may not expose ${request.type}/${request.name}: ${refused}`);
    const existing = document.services.find((service) => service.address === request.address);
    if (existing?.targets.some((t) => t.type === request.type && t.name === request.name && t.source === 'annotation')) {
      throw new SiteError(`${request.type}/${request.name} is exposed as "${request.address}" by its kskup.io annotations: change or remove those instead`);
    }
    const elsewherePorts = knownElsewhere(request.address);
    // The one target of a service no other site exposes may change its ports: no other target or site disagrees.
    const onlyTarget = existing !== undefined && elsewherePorts === undefined && existing.targets.every((t) => t.type === request.type && t.name === request.name);
    const ports = onlyTarget ? undefined : (existing?.ports ?? elsewherePorts);
    if (ports && !samePorts(ports, request.ports)) {
      const where = existing ? `at this site ("${document.site.name}")` : 'at another site';
      throw new SiteError(
        `address "${request.address}" is already exposed ${where} with port(s) ${ports.join(',')}; expose it with the same ports, or choose another --address`,
      );
    }
    const tlsCredentials = existing ? checkSameCredentials(existing, request, document.site.name) : request.tlsCredentials;
    const elsewhere = credentialsElsewhere(request.address);
    if (elsewhere !== undefined && (elsewhere ?? undefined) !== tlsCredentials) {
      throw new SiteError(
        `address "${request.address}" is already exposed at another site ${elsewhere === null ? 'without TLS' : `with --tls-credentials ${elsewhere}`}; expose it ${elsewhere === null ? 'without --tls-credentials' : `with --tls-credentials ${elsewhere}`}, or choose another --address`,
      );
    }
    const same = existing?.targets.find((t) => t.type === request.type && t.name === request.name);
    const weight = request.weight ?? same?.weight;
    const target: ServiceTarget = {
      type: request.type,
      name: request.name,
      host: request.host,
      targetPorts: request.targetPorts,
      ...(request.tlsTrust && { tlsTrust: request.tlsTrust }),
      ...(weight !== undefined && { weight }),
    };
    // The backlog and the health check are the service's, not the target's: a request may change them (no other setting depends on them).
    const backlog = request.backlog ?? existing?.backlog;
    const health = request.health ?? existing?.health;
    const sameHealth = JSON.stringify(health) === JSON.stringify(existing?.health);
    if (same && JSON.stringify(same) === JSON.stringify(target) && backlog === existing?.backlog && sameHealth) return { result: { service: existing as ServiceRecord, changed: false } };
    const service: ServiceRecord = existing
      ? { ...existing, ports: request.ports, targets: [...existing.targets.filter((t) => t !== same), target], ...(backlog !== undefined && { backlog }), ...(health !== undefined && { health }) }
      : {
          address: request.address,
          protocol: 'tcp',
          ports: request.ports,
          targets: [target],
          ...(tlsCredentials !== undefined && { tlsCredentials }),
          ...(backlog !== undefined && { backlog }),
          ...(health !== undefined && { health }),
          createdAt: now.toISOString(),
        };
    const services = [...document.services.filter((s) => s !== existing), service].sort((a, b) => a.address.localeCompare(b.address));
    return { document: { ...document, services }, result: { service, changed: true } };
  });
}

export interface UnexposeOutcome {
  /** The addresses targets were removed from, and whether the service is gone from this site. */
  readonly removed: readonly { readonly address: string; readonly serviceGone: boolean }[];
}

/**
 * Removes `type/name` as a target of `address`, or of every address when none
 * is given. Targets made by annotations are the controller's: they are left,
 * and if only such match, the error says to remove the annotation.
 */
export async function unexposeService(storage: SiteStorage, type: TargetType, name: string, address?: string): Promise<UnexposeOutcome> {
  return storage.update<UnexposeOutcome>((document) => {
    const isIt = (t: ServiceTarget) => t.type === type && t.name === name && t.source !== 'annotation';
    const matches = (service: ServiceRecord) => (address === undefined || service.address === address) && service.targets.some(isIt);
    const affected = document.services.filter(matches);
    if (affected.length === 0) {
      const annotated = document.services.filter((s) => (address === undefined || s.address === address) && s.targets.some((t) => t.type === type && t.name === name));
      if (annotated.length > 0) {
        throw new SiteError(
          `${type}/${name} is exposed as ${annotated.map((s) => `"${s.address}"`).join(', ')} by its kskup.io annotations, not by kskup expose: remove the annotation kskup.io/proxy from it (kubectl annotate ${type} ${name} kskup.io/proxy-) to unexpose it`,
        );
      }
      throw new SiteError(notExposed(document, type, name, address));
    }
    const services: ServiceRecord[] = [];
    const removed: { address: string; serviceGone: boolean }[] = [];
    for (const service of document.services) {
      if (!affected.includes(service)) {
        services.push(service);
        continue;
      }
      const targets = service.targets.filter((t) => !isIt(t));
      removed.push({ address: service.address, serviceGone: targets.length === 0 });
      if (targets.length > 0) services.push({ ...service, targets });
    }
    return { document: { ...document, services }, result: { removed } };
  });
}

function notExposed(document: SiteDocument, type: TargetType, name: string, address: string | undefined): string {
  const exposed = document.services.flatMap((s) => s.targets.map((t) => `${t.type}/${t.name} as ${s.address}`));
  const what = address === undefined ? `${type}/${name} is not exposed` : `${type}/${name} is not exposed as "${address}"`;
  return `${what} at site "${document.site.name}"${exposed.length ? ` (exposed: ${exposed.join(', ')})` : ' (nothing is exposed here)'}`;
}

/** The credentials of an existing service: a request may leave them out, never change them (that would change every target's listeners). */
function checkSameCredentials(existing: ServiceRecord, request: ExposeRequest, siteName: string): string | undefined {
  if (request.tlsCredentials === undefined || request.tlsCredentials === existing.tlsCredentials) return existing.tlsCredentials;
  const now = existing.tlsCredentials === undefined ? 'without TLS' : `with --tls-credentials ${existing.tlsCredentials}`;
  throw new SiteError(`address "${request.address}" is already exposed at this site ("${siteName}") ${now}; unexpose its targets first to change that, or choose another --address`);
}

function samePorts(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((port, index) => port === b[index]);
}

/**
 * Records a site weights setting for `address` at this site (`kskup service
 * weights`); service sync carries it to every site, and the newest setting
 * heard anywhere applies. An empty `sites` clears the site weights.
 */
/**
 * Records a service's limits at this site (`kskup service limit`, `kskup
 * expose --max-flows ...`); service sync carries them to every site and the
 * newest setting heard anywhere applies. No field set clears the limits.
 */
export async function setServiceLimits(storage: SiteStorage, address: string, limits: ServiceLimits, now = new Date()): Promise<ServiceLimitsSetting> {
  return storage.update<ServiceLimitsSetting>((document) => {
    const setting: ServiceLimitsSetting = { limits: { ...limits }, setAt: now.toISOString() };
    return { document: { ...document, serviceLimits: { ...document.serviceLimits, [address]: setting } }, result: setting };
  });
}

export async function setSiteWeights(storage: SiteStorage, address: string, sites: Readonly<Record<string, number>>, now = new Date()): Promise<SiteWeightsSetting> {
  return storage.update<SiteWeightsSetting>((document) => {
    const setting: SiteWeightsSetting = { sites: { ...sites }, setAt: now.toISOString() };
    return { document: { ...document, siteWeights: { ...document.siteWeights, [address]: setting } }, result: setting };
  });
}
