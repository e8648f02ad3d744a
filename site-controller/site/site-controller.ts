// The control loop of a site, on any platform: keeps the router's config
// equal to what the site's state asks for. Inputs: the state (changed by the
// CLI) and whatever the site's services ask a pass for. Outputs: the router
// config, applied as a diff. All work runs one pass at a time.
// What differs between platforms (where files live, how a config reaches the
// router, where the snapshot goes) comes in as SiteControllerDeps.
// The services of the site (service sync, target probes, listener ports: the
// service part of the router config) are driven through SiteServices, an
// interface this loop defines and service-controller/ implements: the site
// imports nothing of the services; each platform's entry composes the two
// (service-controller/compose.ts).
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { routerConfigText, type SiteState } from './desired-router-config.js';
import { routerStateWithinPolicy, servicesWithinPolicy } from '../policy/policy-state.js';
import type { TlsBundleFiles } from './tls-bundles.js';
import type { ServiceRecord, ServiceTarget, SiteDocument } from './model.js';
import type { SiteStorage } from './storage.js';
import type { WorkloadEndpoints } from './workload-endpoints.js';

/**
 * What a site's services report of the network, for the status commands; the
 * platform stores it whole. Its full shape is the service controller's
 * (NetworkSnapshot in service-controller/network-snapshot.ts); typed here is
 * only what a platform acts on (Kubernetes: a Service per address).
 */
export interface ServicesSnapshot {
  /** This site, as announced. */
  readonly self: { readonly site: { readonly id: string } };
  /** Every service in the network, by router address prefix and service ports, and the sites that expose it. */
  readonly services: readonly { readonly address: string; readonly ports: readonly number[]; readonly exposedAt: readonly { readonly id: string }[] }[];
  /** This site's listener of each `service:port`. */
  readonly listeners: Readonly<Record<string, { readonly port: number }>>;
  /** Kubernetes: why the Service for an address is not kskup's to keep, by address (the platform adds it). */
  readonly serviceProblems?: Readonly<Record<string, string>>;
  /**
   * Kubernetes sites: objects whose kskup.io annotations do not expose them,
   * and why, by target (`deployment/backend`); absent when there are none.
   */
  readonly annotationProblems?: Readonly<Record<string, string>>;
}

/**
 * A service listener as the router has it: the port it is configured for, and
 * bound there, or not and why (`failed` once an attempt failed; before the
 * first attempt's outcome the reason is `binding`).
 */
export type ListenerStatus =
  | { readonly port: number; readonly listening: true }
  | { readonly port: number; readonly listening: false; readonly reason: string; readonly failed: boolean };

/** The site router's local AMQP listener (management, service sync): plain, or mutual TLS with this site's local client certificate. */
export interface RouterEndpoint {
  /** Default 127.0.0.1. */
  readonly host?: string;
  readonly port: number;
  readonly tls?: { readonly ca: Buffer; readonly cert: Buffer; readonly key: Buffer };
}

/** What the platform gives a site's services (through the site controller). */
export interface SiteServicesDeps {
  readonly storage: SiteStorage;
  readonly log: Logger;
  /** The site router's local AMQP listener, for service sync. */
  readonly routerEndpoint: RouterEndpoint;
  /** Whether the link's connection is up now. */
  readonly linkIsUp: (linkName: string) => boolean;
  /** Why the link is down (its connector's reason), when it is and the platform knows. */
  readonly linkProblem?: (linkName: string) => string | undefined;
  /** The router's bind status of the tcpListener for a router address (`service:port`); undefined if it has none. */
  readonly listenerStatus: (address: string) => ListenerStatus | undefined;
  /** Ports other sites on this host have recorded or hold: never chosen for a listener here. */
  readonly portsTakenElsewhere: () => Promise<ReadonlySet<number>>;
  readonly writeSnapshot: (snapshot: ServicesSnapshot) => Promise<void>;
  /**
   * The pods of a workload target (deployment/NAME, …) now, and which of their
   * ports take flows (readiness and the platform's probes). Platforms without
   * workloads leave it out; a target with no port taking flows gets no
   * tcpConnector (clients are then reset at once).
   */
  readonly workloadEndpoints?: (target: ServiceTarget) => WorkloadEndpoints;
  /**
   * Services the platform derives from the stored ones (a StatefulSet's
   * per-pod addresses), served and announced as if exposed here; asked on every pass.
   */
  readonly derivedServices?: (document: SiteDocument) => readonly ServiceRecord[];
  /**
   * Where the site's services register their Prometheus metrics (the health
   * changes counter): the router's registry on a local site (served at its
   * /metrics), the controller's on Kubernetes. None: not counted.
   */
  readonly metrics?: Registry;
}

/**
 * The services of a site as its control loop drives them. Their own inputs
 * (announcements heard, heartbeats, probes, listener status) run as `work` of
 * a pass through `schedule`; each pass then calls, in order: `allocate`,
 * `routerServices`, and `published` once the router has the pass's config.
 */
export interface SiteServices {
  /** Starts the services' own inputs. */
  start(): void;
  /** In a pass: the site document was read again. */
  documentChanged(document: SiteDocument): Promise<void>;
  /** A pass's first step: records what the services keep in the site document (listener ports); resolves with the document as stored now. */
  allocate(document: SiteDocument): Promise<SiteDocument>;
  /** The service part of the router config: tcpConnectors of targets here, tcpListeners of services in the network. */
  routerServices(document: SiteDocument, tlsBundles: Readonly<Record<string, TlsBundleFiles>>): Pick<SiteState, 'serviceConnectors' | 'serviceListeners'>;
  /** A pass's last step, once the router runs the config: tell the network, write the snapshot. */
  published(): Promise<void>;
  /** The router's listener for `address` bound or failed to bind. */
  listenerStatusChanged(address: string): void;
  /** The platform's workload targets changed (pods, readiness, probes): a pass that does not re-read the state. */
  targetsChanged(trigger: string): void;
  /** Whether the services have heard the whole network since start (until then nothing kept for it is pruned). */
  heardTheNetwork(): boolean;
  /** Stops the services' own inputs at once; nothing is sent after this but what `close` sends. */
  halt(): void;
  /** After the last pass: a site leaving for good tells the network; then closes. */
  close(leaving: boolean): Promise<void>;
}

/** Makes a site's services; `schedule` runs work in a pass of the site loop, one at a time with every other pass. */
export type SiteServicesFactory = (deps: SiteServicesDeps & { readonly schedule: (trigger: string, work: () => Promise<void>) => void }, document: SiteDocument) => SiteServices;

export interface SiteControllerDeps extends SiteServicesDeps {
  /** The router config's input for a state: the platform knows where it keeps certificates. */
  readonly routerState: (document: SiteDocument) => SiteState;
  /** Makes the router run this config; resolves once it is applied (listeners that cannot bind yet may keep retrying). */
  readonly applyRouterConfig: (text: string) => Promise<void>;
  /** The site's services, as the platform's entry composed them. */
  readonly services: SiteServicesFactory;
}

export class SiteController {
  private readonly services: SiteServices;
  private configText: string;
  private pass: Promise<void> = Promise.resolve();
  private stopped = false;

  private readonly log: Logger;

  /** `initialConfigText`: the config the router runs now. */
  constructor(
    private readonly deps: SiteControllerDeps,
    private document: SiteDocument,
    initialConfigText: string,
  ) {
    this.log = deps.log;
    this.configText = initialConfigText;
    this.document = servicesWithinPolicy(document);
    this.services = deps.services({ ...deps, schedule: (trigger, work) => this.schedule(trigger, work) }, this.document);
  }

  start(): void {
    this.services.start();
  }

  /** The site state changed (or may have): re-read it and follow. */
  stateChanged(trigger: string): void {
    this.schedule(trigger, async () => {
      // The services see only what the policy lets this site expose: targets it forbids are neither served nor announced.
      this.document = servicesWithinPolicy(await this.deps.storage.read());
      await this.services.documentChanged(this.document);
    });
  }

  /**
   * The router's listener for `address` bound or failed to bind: the services
   * ask a pass if it is theirs (one that failed moves to another port).
   */
  listenerStatusChanged(address: string): void {
    this.services.listenerStatusChanged(address);
  }

  /**
   * The pods of workload targets changed (readiness, a probe): a pass that
   * follows them without re-reading the state, so a pod that goes away leaves
   * the router config as soon as possible.
   */
  targetsChanged(trigger: string): void {
    this.services.targetsChanged(trigger);
  }

  /**
   * Stops. A site that is leaving for good tells the network, which forgets its
   * services at once; a site that only restarts says nothing, so that its
   * services stay everywhere (at the same ports) unless it stays away past the TTL.
   */
  async stop(leaving: boolean): Promise<void> {
    this.stopped = true;
    this.services.halt();
    await this.pass;
    await this.services.close(leaving);
  }

  /** Runs `work`, then brings router config, announcement and network.json up to date; one pass at a time. */
  private schedule(trigger: string, work: () => Promise<void>): void {
    this.pass = this.pass
      .then(async () => {
        if (this.stopped) return;
        await work();
        await this.follow(trigger);
      })
      .catch((error: unknown) => {
        // A bad state file or a failed apply must not stop the site: the running config stays; the next pass tries again.
        this.log.error({ trigger, reason: error instanceof Error ? error.message : String(error) }, 'could not apply the site state; the running configuration stays');
      });
  }

  /**
   * One TTL since this controller started: every live site has announced
   * itself since, so what is not heard of is gone. Until then nothing kept
   * for the network (listener ports, a platform's per-address objects) is pruned.
   */
  heardTheNetwork(): boolean {
    return this.services.heardTheNetwork();
  }

  private async follow(trigger: string): Promise<void> {
    this.document = servicesWithinPolicy(await this.services.allocate(this.document));
    const platform = this.deps.routerState(this.document);
    const nextText = routerConfigText(routerStateWithinPolicy({ ...platform, ...this.services.routerServices(this.document, platform.tlsBundles ?? {}) }, this.document));
    if (nextText !== this.configText) {
      this.configText = nextText;
      await this.deps.applyRouterConfig(nextText);
      this.log.info({ trigger }, 'router configuration follows the site state');
    }
    await this.services.published();
  }
}
