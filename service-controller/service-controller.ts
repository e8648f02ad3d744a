// The services of one site, on any platform, driven by the site's control loop
// (SiteServices in site-controller/site/site-controller.ts): keeps the network
// told about this site's services and hears the others (service sync), probes
// the targets here, picks each service listener's local port, and gives the
// service part of the router config (tcpConnectors, tcpListeners). Its own
// inputs (announcements of other sites, target health probes, the heartbeat
// clock, the router's listener status) each run as work of a site pass; after
// the pass it announces this site and writes a snapshot of what this site
// knows of the network (for `service status` and `network status`).
// A listener the router cannot bind at its port moves to a free one at once.
import type { Logger } from 'pino';
import type { ListenerStatus, SiteServices, SiteServicesDeps } from '../site-controller/site/site-controller.js';
import type { ServiceConnector, SiteState } from '../site-controller/site/desired-router-config.js';
import { bundleUseProblem, type TlsBundleFiles } from '../site-controller/site/tls-bundles.js';
import { routerAddress, type ServiceRecord, type ServiceTarget, type SiteDocument } from '../site-controller/site/model.js';
import { VERSION } from '../router/version.js';
import { importRefusal } from '../site-controller/policy/policy-rules.js';
import { allocateListenerPorts } from './listener-ports.js';
import type { NetworkSnapshot, SnapshotListener } from './network-snapshot.js';
import { announce, type SiteAnnouncement } from './sync/announcement.js';
import { StallClock } from './stall-clock.js';
import { NetworkView, networkServices, serviceAccessRefusal, type NetworkService } from './sync/network-view.js';
import { SyncClient } from './sync/sync-client.js';
import { probeTargets, type ProbeResult } from './target-health.js';
import { checkKey, HealthChecks, type CheckedTarget } from './health-checks.js';
import { siteShare } from './limits.js';
import { healthChangesCounter } from './health-metrics.js';
import { splitWeight, targetKey } from './weights.js';
import { localTargetStates, workloadConnectors, type WorkloadEndpoints } from './target-states.js';

export interface SyncTimings {
  /** How often the full state is announced. */
  readonly heartbeatMs: number;
  /** A site unheard of for this long is forgotten, with its services. */
  readonly ttlMs: number;
  /** How often local targets are probed. */
  readonly healthMs: number;
}

export const DEFAULT_SYNC_TIMINGS: SyncTimings = { heartbeatMs: 2_000, ttlMs: 10_000, healthMs: 5_000 };

/**
 * How long a listener's port stays recorded for a service that went out of
 * sight (its site cut off, paused or restarting; or unexposed): one hour, so
 * that clients find it on the same port when it is back. Other sites on this
 * host avoid recorded ports meanwhile.
 */
export const LISTENER_PORT_RETENTION_MS = 60 * 60_000;

/**
 * After this process stood still (a heartbeat came a whole period late), it
 * announces itself every RESYNC_EVERY_MS for RESYNC_FOR_MS: its links were
 * dropped by the other sites meanwhile and come back within about 3 s (a
 * connector redials at most 3 s after an attempt, routing-protocol.md), and the
 * first announcement that gets through makes the others announce back at once
 * (a newcomer is answered), instead of both waiting for a heartbeat.
 */
const RESYNC_EVERY_MS = 250;
const RESYNC_FOR_MS = 5_000;

/**
 * Heartbeat periods service sync must have listened for before what it has
 * not heard of counts as gone (heardTheNetwork): every live site announces
 * itself once a period, so two periods hear each at least once.
 */
const HEARD_AFTER_HEARTBEATS = 2;

/** KSKUP_SYNC_HEARTBEAT_MS, KSKUP_SYNC_TTL_MS and KSKUP_SYNC_HEALTH_MS override the defaults (tests, tuning). */
export function syncTimingsFromEnv(env: Readonly<Record<string, string | undefined>>): SyncTimings {
  const read = (name: string, fallback: number) => {
    const value = Number(env[name]);
    return Number.isInteger(value) && value > 0 ? value : fallback;
  };
  return {
    heartbeatMs: read('KSKUP_SYNC_HEARTBEAT_MS', DEFAULT_SYNC_TIMINGS.heartbeatMs),
    ttlMs: read('KSKUP_SYNC_TTL_MS', DEFAULT_SYNC_TIMINGS.ttlMs),
    healthMs: read('KSKUP_SYNC_HEALTH_MS', DEFAULT_SYNC_TIMINGS.healthMs),
  };
}

export interface ServiceControllerDeps extends SiteServicesDeps {
  readonly timings: SyncTimings;
  /** Runs `work` in a pass of the site loop (one at a time), then the pass. */
  readonly schedule: (trigger: string, work: () => Promise<void>) => void;
}

/** What a pass computed in `allocate` for its later steps. */
interface PassPlan {
  readonly own: SiteAnnouncement;
  readonly services: readonly NetworkService[];
  readonly wanted: ReadonlyMap<string, number>;
}

export class ServiceController implements SiteServices {
  private readonly view: NetworkView;
  private readonly sync: SyncClient;
  private health = new Map<string, ProbeResult>();
  private seq = 0;
  private lastAnnounced = '';
  private readonly timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private readonly startedAt = Date.now();
  /** When service sync first attached (ms since the epoch). */
  private firstHeardAt: number | undefined;
  /** Recorded addresses not wanted now, and since when (ms since the epoch), for LISTENER_PORT_RETENTION_MS. */
  private readonly goneSince = new Map<string, number>();
  /** Addresses this site has a tcpListener for in the config it last gave its router. */
  private configuredListeners: ReadonlySet<string> = new Set();
  /** Wanted listeners this site does not configure because their TLS credentials are missing here, with why. */
  private blockedListeners: ReadonlyMap<string, string> = new Map();
  /** Targets without their trust bundle, as last logged. */
  private trustProblems: ReadonlySet<string> = new Set();
  /** A pass for a listener's status change is queued and has not started yet. */
  private listenerPassQueued = false;
  /** A pass for a change of workload targets is queued and has not started yet. */
  private targetsPassQueued = false;
  private plan: PassPlan | undefined;
  private stallClock: StallClock | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  /** Active health checks of the targets of services that have one (ServiceRecord.health). */
  private readonly checks: HealthChecks;
  /** Each local target's weight as the last router config has it (targetKey), for announcements. */
  private targetWeights: ReadonlyMap<string, number> = new Map();

  private readonly log: Logger;
  private readonly timings: SyncTimings;

  constructor(
    private readonly deps: ServiceControllerDeps,
    private document: SiteDocument,
  ) {
    this.log = deps.log;
    this.timings = deps.timings;
    this.view = new NetworkView(document.site.id);
    // Deaf until service sync attaches.
    this.view.deaf(Date.now());
    this.sync = new SyncClient({
      ...deps.routerEndpoint,
      containerId: `${document.site.id}-controller`,
      log: deps.log,
      onAnnouncement: (announcement) => this.hear(announcement),
      onReady: () => this.rejoined(),
      onLost: () => this.view.deaf(Date.now()),
    });
    // A target that changes state leaves (or rejoins) the router config in a pass of its own, at once.
    this.checks = new HealthChecks(deps.log, (target) => this.deps.schedule(`health of ${target.key}`, async () => undefined), healthChangesCounter(deps.metrics));
  }

  start(): void {
    this.stallClock = new StallClock(this.timings.heartbeatMs);
    this.timers.push(
      setInterval(() => this.heartbeat(), this.timings.heartbeatMs),
      setInterval(() => this.deps.schedule('health', () => this.probe()), this.timings.healthMs),
    );
    this.deps.schedule('start', () => this.probe());
    this.checks.setTargets(this.checkedTargets());
    // A pass as soon as the network counts as heard, so what was kept from before the start is pruned then, not at the next heartbeat.
    const heardAt = setTimeout(() => {
      if (!this.stopped && this.heardTheNetwork()) this.deps.schedule('heard the network', async () => undefined);
    }, Math.max(0, this.startedAt + this.timings.ttlMs + 1 - Date.now()));
    this.timers.push(heardAt);
  }

  async documentChanged(document: SiteDocument): Promise<void> {
    const before = JSON.stringify(this.localTargets());
    this.document = document;
    if (!this.stopped && this.stallClock) this.checks.setTargets(this.checkedTargets());
    // New targets are probed at once, so they are announced healthy without waiting a period.
    if (JSON.stringify(this.localTargets()) !== before) await this.probe();
  }

  /**
   * The router's listener for `address` bound or failed to bind: a pass moves
   * a failed one to another port and writes the new status to the snapshot.
   * Changes that come while a pass for them is queued share that pass.
   */
  listenerStatusChanged(address: string): void {
    if (this.listenerPassQueued || !this.configuredListeners.has(address)) return;
    this.listenerPassQueued = true;
    this.deps.schedule('listener status', async () => {
      this.listenerPassQueued = false;
    });
  }

  /**
   * The pods of workload targets changed (readiness, a probe): a pass that
   * follows them without re-reading the state, so a pod that goes away leaves
   * the router config as soon as possible. Changes that come while such a pass
   * is queued share it.
   */
  targetsChanged(trigger: string): void {
    if (this.targetsPassQueued) return;
    this.targetsPassQueued = true;
    this.deps.schedule(trigger, async () => {
      this.targetsPassQueued = false;
    });
  }

  halt(): void {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    clearInterval(this.resyncTimer);
    this.checks.stop();
  }

  async close(leaving: boolean): Promise<void> {
    if (leaving) {
      this.sync.publish(this.announcement(true));
      await this.sync.drain(500);
    }
    this.sync.close();
  }

  private heartbeat(): void {
    const stoodStillMs = this.stallClock?.tick() ?? 0;
    if (stoodStillMs > 0) this.resync(stoodStillMs);
    const gone = this.view.expire(Date.now(), this.timings.ttlMs);
    for (const site of gone) this.log.info({ siteId: site.id }, `site "${site.name}" not heard from for ${this.timings.ttlMs / 1000}s: forgetting its services`);
    this.announce(true);
    // A pass per heartbeat keeps network.json fresh and notices links that came up or went down.
    this.deps.schedule(gone.length > 0 ? 'site expired' : 'heartbeat', async () => undefined);
  }

  /**
   * Service sync is attached (again): the time it could not hear is pardoned,
   * so each site has the TTL counted while we listened (a router replica
   * deleted behind its Service, a router restart), and we announce ourselves.
   */
  private rejoined(): void {
    const now = Date.now();
    this.view.listening(now);
    this.firstHeardAt ??= now;
    this.announce(true);
  }

  /** After this process stood still for `ms`: keep what the others announced, and announce often until the links are back. */
  private resync(ms: number): void {
    this.view.pardon(ms);
    this.log.info({ stoodStillMs: ms }, `this process stood still for ${(ms / 1000).toFixed(1)}s (paused or starved): announcing every ${RESYNC_EVERY_MS} ms for ${RESYNC_FOR_MS / 1000}s`);
    clearInterval(this.resyncTimer);
    const until = Date.now() + RESYNC_FOR_MS;
    this.resyncTimer = setInterval(() => {
      if (Date.now() >= until) clearInterval(this.resyncTimer);
      this.announce(true);
    }, RESYNC_EVERY_MS);
  }

  private hear(announcement: SiteAnnouncement): void {
    const heard = this.view.hear(announcement, Date.now());
    if (heard === 'ignored' || heard === 'same') return;
    const name = announcement.site.name;
    if (heard === 'new') {
      this.log.info({ siteId: announcement.site.id }, `heard from site "${name}"`);
      // A newcomer learns about us now, not at our next heartbeat.
      this.announce(true);
    }
    if (heard === 'gone') this.log.info({ siteId: announcement.site.id }, `site "${name}" left the network`);
    this.deps.schedule(`site "${name}" ${heard}`, async () => undefined);
  }

  /**
   * Every live site has announced itself since this controller started, so
   * what is not heard of is gone: one TTL since the start, with service sync
   * attached now and for at least HEARD_AFTER_HEARTBEATS heartbeat periods
   * (a router that took long to answer at the start has not been heard for a
   * TTL). Until then nothing kept for the network (listener ports, a
   * platform's per-address objects) is pruned.
   */
  heardTheNetwork(): boolean {
    const now = Date.now();
    return (
      this.view.hearing() &&
      now - this.startedAt > this.timings.ttlMs &&
      this.firstHeardAt !== undefined &&
      now - this.firstHeardAt > HEARD_AFTER_HEARTBEATS * this.timings.heartbeatMs
    );
  }

  async allocate(document: SiteDocument): Promise<SiteDocument> {
    this.document = document;
    if (!this.stopped && this.stallClock) this.checks.setTargets(this.checkedTargets());
    const own = this.announcement(false);
    const services = networkServices([own, ...this.view.remote().map((heard) => heard.announcement)]);
    const wanted = new Map(services.flatMap((service) => service.ports.map((port) => [routerAddress(service.address, port), port] as const)));
    const recheck = new Set([...wanted.keys()].filter((address) => !this.configuredListeners.has(address)));
    const move = this.unboundListeners(wanted);
    const prune = this.heardTheNetwork();
    const { listenerHost } = this.document.site;
    const allocated = await allocateListenerPorts(this.document.listenerPorts, wanted, listenerHost, {
      prune,
      retain: this.recentlyGone(wanted),
      recheck,
      move: new Set(move.keys()),
      avoid: this.deps.portsTakenElsewhere,
    });
    for (const [address, reason] of move) {
      const [from, to] = [this.document.listenerPorts[address], allocated?.[address]];
      if (to !== undefined && to !== from) this.log.warn({ address, from, to, reason }, `listener for ${address} cannot listen on ${listenerHost}:${from} (${reason}): moving it to port ${to}`);
    }
    if (allocated) {
      this.document = await this.deps.storage.update((current) => {
        const document = { ...current, listenerPorts: allocated };
        return { document, result: document };
      });
    }
    this.plan = { own, services, wanted };
    return this.document;
  }

  /**
   * Recorded addresses not wanted now that went out of sight less than
   * LISTENER_PORT_RETENTION_MS ago, counted from when this process first saw
   * them missing (a restart counts afresh: it keeps more, never less).
   */
  private recentlyGone(wanted: ReadonlyMap<string, number>): ReadonlySet<string> {
    const now = Date.now();
    for (const address of this.goneSince.keys()) if (wanted.has(address) || !(address in this.document.listenerPorts)) this.goneSince.delete(address);
    const kept = new Set<string>();
    for (const address of Object.keys(this.document.listenerPorts)) {
      if (wanted.has(address)) continue;
      const since = this.goneSince.get(address) ?? now;
      this.goneSince.set(address, since);
      if (now - since < LISTENER_PORT_RETENTION_MS) kept.add(address);
    }
    return kept;
  }

  routerServices(document: SiteDocument, tlsBundles: Readonly<Record<string, TlsBundleFiles>>): Pick<SiteState, 'serviceConnectors' | 'serviceListeners'> {
    this.document = document;
    const { wanted, services } = this.currentPlan();
    return this.routerState(wanted, services, tlsBundles);
  }

  async published(): Promise<void> {
    const { services } = this.currentPlan();
    // Made anew rather than the plan's: the allocation and the router config may have changed the listeners it carries.
    const own = this.announcement(false);
    this.announce(false, own);
    await this.writeSnapshot(own, services);
  }

  private currentPlan(): PassPlan {
    if (!this.plan) throw new Error('a pass of the site services must start with allocate()');
    return this.plan;
  }

  /** Wanted listeners the router tried and failed to bind at their recorded port, with the reason. */
  private unboundListeners(wanted: ReadonlyMap<string, number>): Map<string, string> {
    const unbound = new Map<string, string>();
    for (const address of this.configuredListeners) {
      const status = wanted.has(address) ? this.listenerStatus(address) : undefined;
      if (status && !status.listening && status.failed) unbound.set(address, status.reason);
    }
    return unbound;
  }

  /** The router's status of the listener at its recorded port: one still at an older port (a change not applied yet) is not that listener. */
  private listenerStatus(address: string): ListenerStatus | undefined {
    const status = this.deps.listenerStatus(address);
    return status && status.port === this.document.listenerPorts[address] ? status : undefined;
  }

  private routerState(
    wanted: ReadonlyMap<string, number>,
    services: readonly NetworkService[],
    tlsBundles: Readonly<Record<string, TlsBundleFiles>>,
  ): Pick<SiteState, 'serviceConnectors' | 'serviceListeners'> {
    const { document } = this;
    const tls = tlsOfListeners(services, tlsBundles, document.site.name);
    // A service no exposing site lets this site reach (their policies' serviceAccess) is not listened for: its clients would only be reset there;
    // nor is one this site's own policy does not import. The port stays recorded, so the listener comes back at the same port when allowed.
    const blocked = new Map([...tls.blocked, ...accessBlocked(services, document.site), ...notImported(services, document)]);
    // Ports kept for services not heard of (yet) are not listened on; nor are those whose TLS cannot be served here.
    const listeners = Object.entries(document.listenerPorts).filter(([address]) => wanted.has(address) && !blocked.has(address));
    this.configuredListeners = new Set(listeners.map(([address]) => address));
    this.blockedListeners = new Map([...blocked].filter(([address]) => wanted.has(address)));
    // A host target is one connector per port; a workload target one per pod and port that takes flows;
    // none for a target its health check finds unhealthy.
    const siteName = document.site.name;
    const targetWeights = new Map<string, number>();
    const connectors = this.exposedServices().flatMap((service) => {
      const perTarget = service.targets.map((target) => ({
        target,
        connectors: (target.type === 'host'
          ? service.ports.map((port, index) => ({ address: routerAddress(service.address, port), host: target.host, port: target.targetPorts[index] ?? port }))
          : workloadConnectors(service, target, this.workloadEndpoints(target))
        )
          .filter((connector) => this.inRotation(service, connector.host, connector.port))
          .map((connector): ServiceConnector => ({ ...connector, ...(target.tlsTrust && { tlsTrust: target.tlsTrust }) })),
      }));
      // The site weight in force (kskup service weights) wins over the targets' own: split over every connector here.
      const siteWeight = services.find((s) => s.address === service.address)?.siteWeights?.sites[siteName];
      const weighted =
        siteWeight !== undefined
          ? splitWeight(siteWeight, perTarget.flatMap((t) => t.connectors))
          : perTarget.flatMap((t) => (t.target.weight === undefined ? t.connectors : splitWeight(t.target.weight, t.connectors)));
      // The service's limits in force, this site's share of them, on each of its connectors here (limits.ts).
      const known = services.find((s) => s.address === service.address);
      const share = siteShare(known?.limits?.limits, new Set([...(known?.exposedAt ?? []).map((site) => site.id), document.site.id]).size);
      const firstAddress = routerAddress(service.address, service.ports[0] ?? 0);
      for (const { target, connectors: own } of perTarget) {
        const weights = weighted.filter((c) => c.address === firstAddress && own.some((o) => o.host === c.host && o.port === c.port && o.address === c.address));
        const weight = weights.some((c) => c.weight !== undefined) ? weights.reduce((sum, c) => sum + (c.weight ?? 0), 0) : target.weight;
        if (weight !== undefined) targetWeights.set(targetKey(service.address, target), weight);
      }
      return share === undefined ? weighted : weighted.map((connector) => ({ ...connector, limits: share }));
    });
    this.targetWeights = targetWeights;
    this.reportMissingTrust(connectors, tlsBundles);
    // The backlog travels with the service (its announcements): every router address of it gets it.
    const backlogs = new Map(services.flatMap((s) => (s.backlog === undefined ? [] : s.ports.map((port) => [routerAddress(s.address, port), s.backlog as number] as const))));
    return {
      serviceConnectors: connectors,
      serviceListeners: listeners.map(([address, port]) => {
        const credentials = tls.credentials.get(address);
        const backlog = backlogs.get(address);
        return { address, host: document.site.listenerHost, port, ...(credentials !== undefined && { tlsCredentials: credentials }), ...(backlog !== undefined && { backlog }) };
      }),
    };
  }

  /** A target whose trust bundle is gone has no connector (never a plain one): said once per cause. */
  private reportMissingTrust(connectors: readonly ServiceConnector[], bundles: Readonly<Record<string, TlsBundleFiles>>): void {
    const problems = new Set<string>();
    for (const connector of connectors) {
      if (!connector.tlsTrust) continue;
      const { name } = connector.tlsTrust;
      const files = bundles[name];
      const problem = files ? bundleUseProblem(name, { hasCert: files.certFile !== undefined, hasCa: files.caCertFile !== undefined }, 'trust') : `TLS trust "${name}" not found at this site`;
      if (problem) problems.add(`${connector.address} at ${connector.host}:${connector.port}: ${problem}; the target takes no flows`);
    }
    for (const problem of problems) if (!this.trustProblems.has(problem)) this.log.error({ reason: problem }, `service target without its TLS trust: ${problem}`);
    this.trustProblems = problems;
  }

  /** The stored services and those the platform derives from them. */
  private exposedServices(): readonly ServiceRecord[] {
    const derived = this.deps.derivedServices?.(this.document) ?? [];
    return derived.length === 0 ? this.document.services : [...this.document.services, ...derived];
  }

  private workloadEndpoints(target: ServiceTarget): WorkloadEndpoints {
    return this.deps.workloadEndpoints?.(target) ?? { endpoints: [] };
  }

  /** Every host:port a local host target listens on, once each, sorted (so two lists compare as text). Workloads are not probed here: their readiness is the platform's (and --health, checkedTargets). */
  private localTargets(): { host: string; port: number }[] {
    const byKey = new Map<string, { host: string; port: number }>();
    for (const service of this.document.services) {
      for (const target of service.targets) {
        if (target.type !== 'host') continue;
        for (const port of target.targetPorts) byKey.set(`${target.host}:${port}`, { host: target.host, port });
      }
    }
    return [...byKey.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, target]) => target);
  }

  /**
   * The targets of services with a health check: one check per target port of
   * a host target; per pod IP and target port of a workload target, for the
   * pods that take flows there (readiness and the platform's probes count
   * first: a pod they leave out has no connector to take away). Asked on every
   * pass, so pods that come and go start and stop being checked.
   */
  private checkedTargets(): CheckedTarget[] {
    return this.exposedServices().flatMap((service) => {
      const check = service.health;
      if (check === undefined) return [];
      return service.targets.flatMap((target) => {
        const ports = target.type === 'host' ? target.targetPorts.map((port) => ({ host: target.host, port })) : workloadConnectors(service, target, this.workloadEndpoints(target));
        return ports.map(({ host, port }) => ({ key: checkKey(service.address, host, port), address: service.address, host, port, check }));
      });
    });
  }

  /** False only for a target port its service's health check finds unhealthy; unchecked and not yet probed ones take flows. */
  private inRotation(service: ServiceRecord, host: string, port: number): boolean {
    if (service.health === undefined) return true;
    return this.checks.state(checkKey(service.address, host, port))?.state !== 'unhealthy';
  }

  private async probe(): Promise<void> {
    this.health = await probeTargets(this.localTargets());
  }

  private announcement(final: boolean): SiteAnnouncement {
    this.seq = Math.max(this.seq + 1, Date.now());
    const connected = new Set(this.document.links.filter((link) => this.deps.linkIsUp(link.name)).map((link) => link.name));
    // A workload target is healthy on a port while a pod takes flows there (readiness and the platform's probe, then --health).
    const services = this.exposedServices();
    const ready = new Set(
      services.flatMap((service) =>
        service.targets
          .filter((t) => t.type !== 'host')
          .flatMap((t) =>
            workloadConnectors(service, t, this.workloadEndpoints(t))
              .filter((connector) => this.inRotation(service, connector.host, connector.port))
              .map((connector) => `${t.host}:${connector.port}`),
          ),
      ),
    );
    return announce(
      { ...this.document, services },
      this.seq,
      {
        connectedLinks: connected,
        healthy: (host, port, address) => {
          const service = address === undefined ? undefined : services.find((s) => s.address === address);
          const checked = service?.health === undefined ? undefined : this.checks.state(checkKey(service.address, host, port));
          if (checked !== undefined && checked.state !== 'unknown') return checked.state === 'healthy';
          return this.health.get(`${host}:${port}`)?.ok === true || ready.has(`${host}:${port}`);
        },
        weight: (address, target) => this.targetWeights.get(targetKey(address, target)),
        ...(this.deps.linkProblem && { linkProblem: this.deps.linkProblem }),
        listeners: this.listenerStates(),
        version: VERSION,
      },
      final,
    );
  }

  /** Sends our state if it changed since the last time, or always (heartbeats, newcomers). */
  private announce(always: boolean, announcement = this.announcement(false)): void {
    if (this.stopped) return;
    const content = JSON.stringify({ ...announcement, seq: 0 });
    if (!always && content === this.lastAnnounced) return;
    this.lastAnnounced = content;
    this.sync.publish(announcement);
  }

  /** This site's service listeners: those in its router config with the router's bind status, and those it cannot have (why). */
  private listenerStates(): (SnapshotListener & { readonly address: string })[] {
    const { listenerHost } = this.document.site;
    return [
      ...[...this.configuredListeners].flatMap((address) => {
        const port = this.document.listenerPorts[address];
        if (port === undefined) return [];
        const status = this.listenerStatus(address);
        return [
          status?.listening
            ? { address, host: listenerHost, port, listening: true }
            : { address, host: listenerHost, port, listening: false, reason: status?.reason ?? 'not in the router configuration yet' },
        ];
      }),
      ...[...this.blockedListeners].map(([address, reason]) => ({ address, host: listenerHost, port: this.document.listenerPorts[address] ?? 0, listening: false, reason })),
    ];
  }

  private async writeSnapshot(own: SiteAnnouncement, services: readonly NetworkService[]): Promise<void> {
    const snapshot: NetworkSnapshot = {
      updatedAt: new Date().toISOString(),
      self: own,
      sites: this.view.remote().map((heard) => ({ announcement: heard.announcement, heardAt: new Date(heard.heardAt).toISOString() })),
      services,
      targets: localTargetStates(this.exposedServices(), this.health, this.deps.workloadEndpoints, (address, host, port) => this.checks.state(checkKey(address, host, port))),
      listeners: Object.fromEntries(this.listenerStates().map(({ address, ...listener }) => [address, listener])),
    };
    await this.deps.writeSnapshot(snapshot);
  }
}

/**
 * The router addresses of services this site's own policy does not import,
 * with why (its router config leaves them out too: routerStateWithinPolicy);
 * here so that the listener is announced and shown with the policy's reason.
 */
function notImported(services: readonly NetworkService[], document: SiteDocument): Map<string, string> {
  return new Map(
    services.flatMap((service) => {
      // As routerStateWithinPolicy: a service exposed here too has no listener here unless imported.
      const refusal = importRefusal(document.policy, service.address);
      return refusal === undefined ? [] : service.ports.map((port) => [routerAddress(service.address, port), `not imported: ${refusal}`] as const);
    }),
  );
}

/** The router addresses of services this site may not reach (serviceAccessRefusal), with why. */
function accessBlocked(services: readonly NetworkService[], self: { readonly id: string; readonly name: string }): Map<string, string> {
  return new Map(
    services.flatMap((service) => {
      const refusal = serviceAccessRefusal(service, self);
      return refusal === undefined ? [] : service.ports.map((port) => [routerAddress(service.address, port), refusal] as const);
    }),
  );
}

/**
 * Which listeners serve TLS with which credentials, and which cannot be had
 * here (with the reason `service status` shows): credentials this site lacks,
 * or exposing sites that disagree.
 */
function tlsOfListeners(
  services: readonly NetworkService[],
  bundles: Readonly<Record<string, TlsBundleFiles>>,
  siteName: string,
): { credentials: Map<string, string>; blocked: Map<string, string> } {
  const credentials = new Map<string, string>();
  const blocked = new Map<string, string>();
  for (const service of services) {
    const addresses = service.ports.map((port) => routerAddress(service.address, port));
    const name = service.tlsCredentials;
    let problem = service.tlsConflict;
    if (problem === undefined && name !== undefined) {
      const files = bundles[name];
      problem = files
        ? bundleUseProblem(name, { hasCert: files.certFile !== undefined, hasCa: files.caCertFile !== undefined }, 'credentials')
        : `TLS credentials "${name}" not found at this site: kskup tls import FOLDER --name ${name} -n ${siteName} (or, on Kubernetes, a Secret ${name})`;
    }
    for (const address of addresses) {
      if (problem !== undefined) blocked.set(address, problem);
      else if (name !== undefined) credentials.set(address, name);
    }
  }
  return { credentials, blocked };
}
