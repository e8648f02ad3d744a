// Services exposed by kskup.io/* annotations on the namespace's Deployments,
// StatefulSets, DaemonSets and Services, kept in the site state beside those
// of `kskup expose`. The controller owns the annotated targets (marked
// `source: annotation`): each pass it computes them from the watched objects
// and writes the state only when they changed, so adding, changing or removing
// an annotation (or deleting the object) exposes, changes or unexposes.
//
// The CLI and the annotations never fight over one target: whichever exposed
// an object under an address first keeps it. An annotation whose target the
// CLI made is reported, not applied; `kskup expose` of an annotated object and
// `kskup unexpose` of an annotated target are refused (service-controller/services.ts).
// A problem is logged once, recorded once as an Event on the object, and shown
// by `kskup service status` (the snapshot's annotationProblems).
import type { CoreV1Api, KubernetesObject, V1DaemonSet, V1Deployment, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { HealthCheck, ServiceRecord, ServiceTarget, SiteDocument } from '../site/model.js';
import type { SiteStorage } from '../site/storage.js';
import { recordEvent } from './events.js';
import {
  ANNOTATED_KINDS,
  EXPOSURE_ANNOTATIONS,
  healthAnnotationValue,
  isProblem,
  readExposureAnnotations,
  type AnnotatedExposure,
  type AnnotatedKind,
  type AnnotatedObject,
  type AnnotationProblem,
} from './exposure-annotations.js';

/** The watched objects whose annotations may expose them. */
export interface AnnotatedSources {
  readonly deployments: readonly V1Deployment[];
  readonly statefulSets: readonly V1StatefulSet[];
  readonly daemonSets: readonly V1DaemonSet[];
  readonly services: readonly V1Service[];
}

/** Ports other sites expose an address with, as this site last heard (service sync). */
export type PortsElsewhere = (address: string) => readonly number[] | undefined;

/** `deployment/backend`: how targets, problems and `kskup expose` name an object. */
export function targetKey(kind: AnnotatedKind, name: string): string {
  return `${ANNOTATED_KINDS[kind]}/${name}`;
}

/** Every annotated object's exposure or problem, in a stable order (kind, then name). */
export function annotatedExposures(sources: AnnotatedSources): { exposures: AnnotatedExposure[]; problems: AnnotationProblem[] } {
  const read = (kind: AnnotatedKind, objects: readonly AnnotatedObject[]) =>
    [...objects].sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? '')).flatMap((object) => {
      const found = readExposureAnnotations(kind, object);
      return found ? [found] : [];
    });
  const all = [
    ...read('Deployment', sources.deployments.map((d) => ({ metadata: d.metadata, template: d.spec?.template }))),
    ...read('StatefulSet', sources.statefulSets.map((s) => ({ metadata: s.metadata, template: s.spec?.template }))),
    ...read('DaemonSet', sources.daemonSets.map((d) => ({ metadata: d.metadata, template: d.spec?.template }))),
    ...read('Service', sources.services.map((s) => ({ metadata: s.metadata, serviceSpec: s.spec }))),
  ];
  return { exposures: all.filter((e): e is AnnotatedExposure => !isProblem(e)), problems: all.filter(isProblem) };
}

/**
 * The document with its annotated targets replaced by `exposures` (the same
 * object when nothing changes, so no write happens), and the exposures that
 * could not be applied, with why. The rules are `kskup expose`'s: one address
 * has one set of ports at every site and target; a target the CLI made stays
 * the CLI's. A service with only annotated targets here, and none elsewhere,
 * follows its annotation's ports. The annotated targets of objects in `hold`
 * (whose annotations have a bad value now) stay as they are: a typo in an
 * annotation does not take a running service away; `held` says which did.
 *
 * The health check is the service's, not a target's (ServiceRecord.health).
 * A service with only annotated targets here has the check their
 * kskup.io/health gives (objects without one do not ask for any; two that
 * differ: the second is a problem), or none; while one of its targets is
 * held and no object gives one, it keeps the check it had. A service with
 * targets of `kskup expose` has the CLI's check: an annotated object of it
 * with another kskup.io/health is a problem.
 */
export function withAnnotatedServices(
  document: SiteDocument,
  exposures: readonly AnnotatedExposure[],
  elsewhere: PortsElsewhere,
  now = new Date(),
  hold: ReadonlySet<string> = new Set(),
): { document: SiteDocument; problems: AnnotationProblem[]; held: Set<string> } {
  const problems: AnnotationProblem[] = [];
  const held = new Set<string>();
  const before = new Map(document.services.map((service) => [service.address, service]));
  const byAddress = new Map<string, ServiceRecord>();
  /** The health check kskup.io/health gives each address, and the first object that gave it. */
  const healthOf = new Map<string, { health: HealthCheck; from: string }>();
  for (const service of document.services) {
    const targets = service.targets.filter((target) => target.source !== 'annotation' || hold.has(`${target.type}/${target.name}`));
    for (const target of targets) if (target.source === 'annotation') held.add(`${target.type}/${target.name}`);
    if (targets.length > 0) byAddress.set(service.address, { ...service, targets });
  }
  for (const exposure of exposures) {
    const { kind, name, address } = exposure;
    const type = ANNOTATED_KINDS[kind];
    const ports = exposure.ports.map((pair) => pair.port);
    const existing = byAddress.get(address);
    if (existing?.targets.some((target) => target.type === type && target.name === name && target.source !== 'annotation')) {
      problems.push({ kind, name, problem: `${type}/${name} is exposed as "${address}" by kskup expose: its annotations are not applied; kskup unexpose ${type}/${name} --address ${address} to let them manage it` });
      continue;
    }
    const have = existing?.ports ?? elsewhere(address);
    if (have && !samePorts(have, ports)) {
      const where = existing ? 'at this site' : 'at another site';
      problems.push({ kind, name, problem: `address "${address}" is exposed ${where} with port(s) ${have.join(',')}, not ${ports.join(',')}: annotate the same ${EXPOSURE_ANNOTATIONS.port} ports, or another ${EXPOSURE_ANNOTATIONS.address}` });
      continue;
    }
    if (exposure.health !== undefined) {
      const healthProblem = healthRefusal(address, exposure.health, existing, healthOf.get(address));
      if (healthProblem !== undefined) {
        problems.push({ kind, name, problem: `${EXPOSURE_ANNOTATIONS.health} "${healthAnnotationValue(exposure.health)}": ${healthProblem}` });
        continue;
      }
      if (!healthOf.has(address)) healthOf.set(address, { health: exposure.health, from: `${type}/${name}` });
    }
    const target: ServiceTarget = {
      type,
      name,
      host: name,
      targetPorts: exposure.ports.map((pair) => pair.targetPort),
      source: 'annotation',
      ...(exposure.weight !== undefined && { weight: exposure.weight }),
    };
    byAddress.set(
      address,
      existing
        ? { ...existing, targets: [...existing.targets, target] }
        : { address, protocol: 'tcp', ports, targets: [target], createdAt: before.get(address)?.createdAt ?? now.toISOString() },
    );
  }
  const services = [...byAddress.values()].map((service) => withAnnotatedHealth(service, healthOf.get(service.address)?.health, held)).sort((a, b) => a.address.localeCompare(b.address));
  const unchanged = JSON.stringify(services) === JSON.stringify(document.services);
  return { document: unchanged ? document : { ...document, services }, problems, held };
}

/**
 * Why an annotated object's kskup.io/health `health` cannot be the check of
 * `address` (withAnnotatedServices): `existing` is the address's record so
 * far, `given` the check an earlier object of it gave. Undefined: it can.
 */
function healthRefusal(address: string, health: HealthCheck, existing: ServiceRecord | undefined, given: { health: HealthCheck; from: string } | undefined): string | undefined {
  if (existing?.targets.some((t) => t.source !== 'annotation')) {
    if (sameHealth(existing.health, health)) return undefined;
    const cli = existing.health ? `the health check ${describeHealth(existing.health)}` : 'no health check';
    return `address "${address}" is exposed by kskup expose too, which gave it ${cli}: a service's check is kskup expose's while it has targets of kskup expose (kskup expose ... --health), or use another ${EXPOSURE_ANNOTATIONS.address}`;
  }
  if (given === undefined || sameHealth(given.health, health)) return undefined;
  return `address "${address}" has ${EXPOSURE_ANNOTATIONS.health} "${healthAnnotationValue(given.health)}" from ${given.from}: a service has one health check; annotate the same on each object of the address`;
}

/**
 * `service` with the health check its annotations give (`given`), if only
 * annotated targets serve it here: see withAnnotatedServices. Rebuilt with
 * `health` last, so the same check gives the same document.
 */
function withAnnotatedHealth(service: ServiceRecord, given: HealthCheck | undefined, held: ReadonlySet<string>): ServiceRecord {
  if (service.targets.some((t) => t.source !== 'annotation')) return service;
  // No object gives one, but a held target's object may still: keep what it was applied with.
  const health = given ?? (service.targets.some((t) => held.has(`${t.type}/${t.name}`)) ? service.health : undefined);
  const { health: _old, ...rest } = service;
  return health === undefined ? rest : { ...rest, health };
}

/** Why an annotated object is not exposed, by target key (`deployment/backend`). */
export type AnnotationProblems = Readonly<Record<string, string>>;

export interface AnnotatedServicesDeps {
  readonly core: CoreV1Api;
  readonly namespace: string;
  readonly log: Logger;
}

/** Keeps the site state's annotated targets following the annotations, and reports each problem once. */
export class AnnotatedServices {
  /** The problems of the last pass, for the snapshot. */
  problems: AnnotationProblems = {};
  /**
   * Addresses of annotated Services exposed under their own name, as last
   * applied: that Service is the name's Service in this namespace (it is the
   * user's and it serves), so kskup makes none of its own there.
   */
  servedByTheirOwnService: ReadonlySet<string> = new Set();
  /** The exposure of each object as last applied, so a change is said once. */
  private applied = new Map<string, string>();
  /** What the last sync worked from: the same again (a pass for a pod change, say) reads and writes nothing. */
  private lastInput = '';

  constructor(private readonly deps: AnnotatedServicesDeps) {}

  /**
   * Brings the state to the annotations; true if it changed (the site
   * controller then re-reads it). `stateVersion`: the resourceVersion of the
   * site state as watched; with the same annotations, ports elsewhere and
   * state as last time there is nothing to do.
   */
  async sync(storage: SiteStorage, sources: AnnotatedSources, elsewhere: PortsElsewhere, stateVersion?: string): Promise<boolean> {
    const { exposures, problems: parsed } = annotatedExposures(sources);
    const input = JSON.stringify({ exposures, parsed, elsewhere: exposures.map((e) => elsewhere(e.address) ?? null), stateVersion });
    if (stateVersion !== undefined && input === this.lastInput) return false;
    const hold = new Set(parsed.map((p) => targetKey(p.kind, p.name)));
    const { changed, problems: refused, held } = await storage.update((current) => {
      const next = withAnnotatedServices(current, exposures, elsewhere, new Date(), hold);
      const result = { changed: next.document !== current, problems: next.problems, held: next.held };
      return next.document === current ? { result } : { document: next.document, result };
    });
    const problems = [
      ...parsed.map((p) => (held.has(targetKey(p.kind, p.name)) ? { ...p, problem: `${p.problem}; the exposure stays as last applied until the annotations are fixed` } : p)),
      ...refused,
    ];
    const objects = objectsByKey(sources);
    const now: Record<string, string> = {};
    for (const { kind, name, problem } of problems) {
      const key = targetKey(kind, name);
      now[key] = problem;
      if (this.problems[key] === problem) continue;
      this.deps.log.error({ target: key, reason: problem }, `${kind} ${name}: its kskup.io annotations are not applied: ${problem}`);
      await this.event(objects.get(key), kind, 'Warning', 'NotExposed', `its ${EXPOSURE_ANNOTATIONS.proxy} annotations are not applied: ${problem}`);
    }
    const refusedKeys = new Set(Object.keys(now));
    const applied = new Map<string, string>();
    for (const exposure of exposures) {
      const key = targetKey(exposure.kind, exposure.name);
      if (refusedKeys.has(key)) continue;
      const ports = exposure.ports.map((p) => (p.port === p.targetPort ? String(p.port) : `${p.port}:${p.targetPort}`)).join(',');
      const extras = [...(exposure.weight === undefined ? [] : [`weight ${exposure.weight}`]), ...(exposure.health === undefined ? [] : [`health check ${healthAnnotationValue(exposure.health)}`])];
      const what = `as "${exposure.address}" on port(s) ${ports}${extras.length === 0 ? '' : ` with ${extras.join(', ')}`}`;
      applied.set(key, what);
      if (this.applied.get(key) === what) continue;
      this.deps.log.info({ target: key, address: exposure.address }, `${exposure.kind} ${exposure.name} exposed by its annotations ${what}`);
      await this.event(objects.get(key), exposure.kind, 'Normal', 'Exposed', `exposed by its annotations ${what}`);
    }
    for (const key of this.applied.keys()) {
      if (!applied.has(key) && !refusedKeys.has(key)) this.deps.log.info({ target: key }, `${key} is no longer exposed by annotations`);
    }
    this.applied = applied;
    this.problems = now;
    // After a write of ours the state has another version: the next pass looks once more, and then rests.
    this.lastInput = input;
    this.servedByTheirOwnService = new Set(exposures.filter((e) => e.kind === 'Service' && e.name === e.address && !refusedKeys.has(targetKey(e.kind, e.name))).map((e) => e.address));
    return changed;
  }

  /** An Event on the annotated object itself, where `kubectl describe` shows it. */
  private async event(object: KubernetesObject | undefined, kind: AnnotatedKind, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const name = object?.metadata?.name;
    if (!name || !object.metadata?.uid) return;
    await recordEvent(this.deps.core, this.deps.namespace, this.deps.log, { apiVersion: kind === 'Service' ? 'v1' : 'apps/v1', kind, name, uid: object.metadata.uid }, type, reason, message);
  }
}

function objectsByKey(sources: AnnotatedSources): Map<string, KubernetesObject> {
  const entries: [AnnotatedKind, readonly KubernetesObject[]][] = [
    ['Deployment', sources.deployments],
    ['StatefulSet', sources.statefulSets],
    ['DaemonSet', sources.daemonSets],
    ['Service', sources.services],
  ];
  return new Map(entries.flatMap(([kind, objects]) => objects.map((object) => [targetKey(kind, object.metadata?.name ?? ''), object] as const)));
}

function sameHealth(a: HealthCheck | undefined, b: HealthCheck | undefined): boolean {
  return JSON.stringify(a && [a.type, a.path, a.intervalMs, a.timeoutMs, a.healthyThreshold, a.unhealthyThreshold]) === JSON.stringify(b && [b.type, b.path, b.intervalMs, b.timeoutMs, b.healthyThreshold, b.unhealthyThreshold]);
}

/** `http:/healthz every 2000 ms (timeout 500 ms, out after 1 failure(s), back after 2 success(es))`: the whole check, since kskup expose's may be timed otherwise. */
function describeHealth(health: HealthCheck): string {
  return `${healthAnnotationValue(health)} every ${health.intervalMs} ms (timeout ${health.timeoutMs} ms, out after ${health.unhealthyThreshold} failure(s), back after ${health.healthyThreshold} success(es))`;
}

function samePorts(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((port, index) => port === b[index]);
}
