// The control loop of a local site: keeps the router's config equal to what
// the site's state and the network ask for, and keeps the network told about
// this site. Inputs: site.json (changed by the CLI), announcements of other
// sites (service sync), target health probes, the heartbeat clock. Outputs:
// router.json applied to the running router as a diff, this site's
// announcements, and network.json (what this site knows of the network, for
// `service status` and `network status`). All work runs one pass at a time.
import type { Logger } from 'pino';
import { parseRouterConfig } from '../../router/config/index.js';
import type { Router } from '../../router/router.js';
import { routerConfigText, type SiteState } from '../site/desired-router-config.js';
import { routerAddress, type SiteDocument } from '../site/model.js';
import { announce, type SiteAnnouncement } from '../../service-controller/sync/announcement.js';
import { NetworkView, networkServices, type NetworkService } from '../../service-controller/sync/network-view.js';
import { SyncClient } from '../../service-controller/sync/sync-client.js';
import { allocateListenerPorts } from '../../service-controller/listener-ports.js';
import { atomicWrite, type SiteFolder } from './site-folder.js';
import { probeTargets } from '../../service-controller/target-health.js';

export interface SyncTimings {
  /** How often the full state is announced. */
  readonly heartbeatMs: number;
  /** A site unheard of for this long is forgotten, with its services. */
  readonly ttlMs: number;
  /** How often local targets are probed. */
  readonly healthMs: number;
}

/** How long a pass waits for new listeners to bind before it goes on. */
const BIND_WAIT_MS = 2_000;

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export const DEFAULT_SYNC_TIMINGS: SyncTimings = { heartbeatMs: 2_000, ttlMs: 10_000, healthMs: 5_000 };

/** The content of network.json. */
export interface NetworkSnapshot {
  readonly updatedAt: string;
  readonly self: SiteAnnouncement;
  readonly sites: readonly { readonly announcement: SiteAnnouncement; readonly heardAt: string }[];
  readonly services: readonly NetworkService[];
  /** This site's listener of each `service:port`. */
  readonly listeners: Readonly<Record<string, { readonly host: string; readonly port: number }>>;
}

export class SiteController {
  private readonly view: NetworkView;
  private readonly sync: SyncClient;
  private configText: string;
  private health = new Map<string, boolean>();
  private seq = 0;
  private lastAnnounced = '';
  private pass: Promise<void> = Promise.resolve();
  private readonly timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private readonly startedAt = Date.now();
  private configuredListeners: string[] = [];

  constructor(
    private readonly folder: SiteFolder,
    private document: SiteDocument,
    private readonly router: Router,
    initialConfigText: string,
    private readonly log: Logger,
    private readonly timings: SyncTimings,
    localTls?: { ca: Buffer; cert: Buffer; key: Buffer },
  ) {
    this.configText = initialConfigText;
    this.view = new NetworkView(document.site.id);
    this.sync = new SyncClient({
      port: document.site.ports.amqp,
      ...(localTls && { tls: localTls }),
      containerId: `${document.site.id}-controller`,
      log,
      onAnnouncement: (announcement) => this.hear(announcement),
      onReady: () => this.announce(true),
    });
  }

  start(): void {
    this.timers.push(
      setInterval(() => this.heartbeat(), this.timings.heartbeatMs),
      setInterval(() => this.schedule('health', () => this.probe()), this.timings.healthMs),
    );
    this.schedule('start', () => this.probe());
  }

  /** The site state changed (or may have): re-read it and follow. */
  stateChanged(trigger: string): void {
    this.schedule(trigger, async () => {
      const before = this.localTargets().join(',');
      this.document = await this.folder.read();
      // New targets are probed at once, so they are announced healthy without waiting a period.
      if (this.localTargets().join(',') !== before) await this.probe();
    });
  }

  /**
   * Stops. A site that is leaving for good tells the network, which forgets its
   * services at once; a site that only restarts says nothing, so that its
   * services stay everywhere (at the same ports) unless it stays away past the TTL.
   */
  async stop(leaving: boolean): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    await this.pass;
    if (leaving) {
      this.sync.publish(this.announcement(true));
      await this.sync.drain(500);
    }
    this.sync.close();
  }

  private heartbeat(): void {
    const gone = this.view.expire(Date.now(), this.timings.ttlMs);
    for (const site of gone) this.log.info({ siteId: site.id }, `site "${site.name}" not heard from for ${this.timings.ttlMs / 1000}s: forgetting its services`);
    this.announce(true);
    // A pass per heartbeat keeps network.json fresh and notices links that came up or went down.
    this.schedule(gone.length > 0 ? 'site expired' : 'heartbeat', async () => undefined);
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
    this.schedule(`site "${name}" ${heard}`, async () => undefined);
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

  private async follow(trigger: string): Promise<void> {
    const own = this.announcement(false);
    const services = networkServices([own, ...this.view.remote().map((heard) => heard.announcement)]);
    const wanted = new Map(services.flatMap((service) => service.ports.map((port) => [routerAddress(service.address, port), port] as const)));
    const listening = this.listeningAddresses;
    const recheck = new Set([...wanted.keys()].filter((address) => !listening.has(address)));
    const prune = Date.now() - this.startedAt > this.timings.ttlMs;
    const allocated = await allocateListenerPorts(this.document.listenerPorts, wanted, this.document.site.listenerHost, { prune, recheck });
    if (allocated) {
      this.document = await this.folder.update((current) => {
        const document = { ...current, listenerPorts: allocated };
        return { document, result: document };
      });
    }
    const nextText = routerConfigText(this.routerState(wanted));
    if (nextText !== this.configText) {
      this.configText = nextText;
      await atomicWrite(this.folder.routerConfigFile, nextText, 0o644);
      const applied = this.router.reconfigure(parseRouterConfig(nextText, this.folder.routerConfigFile).config);
      // reconfigure() resolves when new listeners have bound; one whose port is
      // taken retries in the background (and says so in the log), and must not
      // hold up every later change of this site.
      const bound = await Promise.race([applied.then(() => true), delay(BIND_WAIT_MS).then(() => false)]);
      this.log.info({ trigger, ...(bound ? {} : { pendingBinds: true }) }, 'router configuration follows the site state');
    }
    this.announce(false);
    await this.writeSnapshot(own, services);
  }

  /** Addresses this site has a tcpListener for in its running router config. */
  private get listeningAddresses(): Set<string> {
    return new Set(this.configuredListeners);
  }

  private routerState(wanted: ReadonlyMap<string, number>): SiteState {
    const { document } = this;
    // Ports kept for services not heard of (yet) are not listened on.
    const listeners = Object.entries(document.listenerPorts).filter(([address]) => wanted.has(address));
    this.configuredListeners = listeners.map(([address]) => address);
    return {
      ...this.folder.routerState(document),
      serviceConnectors: document.services.flatMap((service) =>
        service.targets.flatMap((target) =>
          service.ports.map((port, index) => ({ address: routerAddress(service.address, port), host: target.host, port: target.targetPorts[index] ?? port })),
        ),
      ),
      serviceListeners: listeners.map(([address, port]) => ({ address, host: document.site.listenerHost, port })),
    };
  }

  private localTargets(): string[] {
    return this.document.services.flatMap((service) => service.targets.flatMap((target) => target.targetPorts.map((port) => `${target.host}:${port}`))).sort();
  }

  private async probe(): Promise<void> {
    const targets = [...new Set(this.localTargets())].map((key) => {
      const separator = key.lastIndexOf(':');
      return { host: key.slice(0, separator), port: Number(key.slice(separator + 1)) };
    });
    this.health = await probeTargets(targets);
  }

  private announcement(final: boolean): SiteAnnouncement {
    this.seq = Math.max(this.seq + 1, Date.now());
    const connected = new Set(this.document.links.filter((link) => this.router.connectorStatus(`link-${link.name}`)?.state === 'up').map((link) => link.name));
    return announce(this.document, this.seq, connected, (host, port) => this.health.get(`${host}:${port}`) === true, final);
  }

  /** Sends our state if it changed since the last time, or always (heartbeats, newcomers). */
  private announce(always: boolean): void {
    if (this.stopped) return;
    const announcement = this.announcement(false);
    const content = JSON.stringify({ ...announcement, seq: 0 });
    if (!always && content === this.lastAnnounced) return;
    this.lastAnnounced = content;
    this.sync.publish(announcement);
  }

  private async writeSnapshot(own: SiteAnnouncement, services: readonly NetworkService[]): Promise<void> {
    const { listenerHost } = this.document.site;
    const snapshot: NetworkSnapshot = {
      updatedAt: new Date().toISOString(),
      self: own,
      sites: this.view.remote().map((heard) => ({ announcement: heard.announcement, heardAt: new Date(heard.heardAt).toISOString() })),
      services,
      listeners: Object.fromEntries(
        this.configuredListeners.flatMap((address) => {
          const port = this.document.listenerPorts[address];
          return port === undefined ? [] : [[address, { host: listenerHost, port }]];
        }),
      ),
    };
    await atomicWrite(this.folder.networkFile, `${JSON.stringify(snapshot, null, 2)}\n`, 0o644);
  }
}
