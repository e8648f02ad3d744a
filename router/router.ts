// The router process's core: holds the running configuration and the runtime
// objects made from it, applies configuration diffs to itself without a
// restart, and handles every AMQP connection (inter-router, edge, normal).
import type { Duplex } from 'node:stream';
import rhea from 'rhea';
import type { Connection, Container, EventContext } from 'rhea';
import { diffRouterConfig, tlsMaterialChanged } from './config/diff.js';
import type { ConfigDiff, ConnectorEntity, EntityDiff, ListenerEntity, RouterConfig, SslProfileEntity } from './config/types.js';
import { HttpListener } from './http/http-listener.js';
import type { Logger, RouterLogging } from './log/logger.js';
import { RouterMetrics } from './metrics.js';
import type { BindStatus } from './net/bound-server.js';
import { AmqpListener } from './peer/amqp-listener.js';
import { heldDeliveries } from './peer/held-deliveries.js';
import { isOwnLink } from './peer/own-links.js';
import { tuneRhea } from './peer/rhea-tuning.js';
import { rejectUnreadableInput } from './peer/unreadable-input.js';
import { describeSocketError } from './peer/socket-errors.js';
import { ConnectorGenerations } from './peer/connector-generations.js';
import { GROUP_ORDINAL_KEY, InterRouterConnector } from './peer/inter-router-connector.js';
import { ManagementAgent, MANAGEMENT_ADDRESS, type FlowType, type RuntimeType } from './management/management-agent.js';
import { answerFlowQuery, FLOWS_ADDRESS_PREFIX } from './flows/flow-query.js';
import { CONSUMER_PREFIX, MESSAGES_ADDRESS, MessagingAgent } from './messaging/messaging-agent.js';
import { NetworkAgent } from './network/network-agent.js';
import { FlowRecorder } from './flows/flow-records.js';
import { FlowQueryAgent } from './flows/flow-query-agent.js';
import { LinkOctets } from './peer/link-octets.js';
import { siteNameOf } from './flows/site-name.js';
import { VERSION } from './version.js';
import { CONTROL_ADDRESS, PeerConnection, type PeerOrigin } from './peer/peer-connection.js';
import { TcpAdaptor, type TcpListenerStatus } from './tcp/tcp-adaptor.js';
import { ordinalsOf } from './tls/connection-ordinals.js';
import { profileFingerprint } from './tls/profile-files.js';
import { loadTlsMaterial, type TlsMaterial } from './tls/ssl-profile.js';

export const PRODUCT = 'kskup';
/** How long a dropped connection's peer has to answer the AMQP close before its socket is destroyed. */
const DROP_GRACE_MS = 2_000;
/** How often sslProfile files are looked at for changes on disk (profile-files.ts). */
const PROFILE_CHECK_MS = 1_000;

/** Told of each change of a tcpListener's bind status, by entity name. */
export type TcpListenerWatcher = (name: string, status: BindStatus) => void;

export class Router {
  private config: RouterConfig;
  private readonly logging: RouterLogging;
  private readonly log: Logger;
  private readonly serverLog: Logger;
  readonly metrics = new RouterMetrics();
  private readonly container: Container;
  private readonly tcp: TcpAdaptor;
  private readonly network: NetworkAgent;
  private readonly amqpListeners = new Map<string, AmqpListener>();
  private readonly httpListeners = new Map<string, HttpListener>();
  private readonly connectors = new Map<string, ConnectorGenerations>();
  private readonly management: ManagementAgent;
  private readonly messaging: MessagingAgent;
  readonly flowRecords: FlowRecorder;
  private readonly flowQuery: FlowQueryAgent;
  private readonly connections = new Set<ConnectionRecord>();
  /** The AMQP connection of each accepted socket, to close one whose certificate is revoked. */
  private readonly acceptedConnections = new WeakMap<Duplex, Connection>();
  private nextConnection = 1;
  private readonly startedAt = Date.now();
  /** Connections whose peer has said hello. */
  private readonly established = new Set<PeerConnection>();
  /** Bytes over each link, per peer router, for the flow query's link counters. */
  private readonly linkOctets = new LinkOctets();
  private readonly establishedCallbacks = new WeakMap<PeerConnection, () => void>();
  private readonly tcpListenerWatchers = new Set<TcpListenerWatcher>();
  /** Why an entity (`tcpListener "x"`) is not running, while it is not. */
  private readonly entityErrors = new Map<string, string>();
  private stopped = false;
  /** Fingerprint of each sslProfile's files as last applied (profile-files.ts). */
  private readonly profileFiles = new Map<string, string>();
  private profileTimer: NodeJS.Timeout | undefined;

  /** Relative file names in sslProfiles are resolved against this folder (the config file's). */
  private readonly baseDir: string;

  /** `options.flowRecords`: how many flow records the ring keeps (router/flows/flow-records.ts). */
  constructor(config: RouterConfig, logging: RouterLogging, baseDir = process.cwd(), options: { readonly flowRecords?: number } = {}) {
    this.config = config;
    this.flowRecords = new FlowRecorder(options.flowRecords);
    // Read once: the router id does not change either without a restart.
    const siteName = siteNameOf(config.router.metadata);
    this.baseDir = baseDir;
    this.logging = logging;
    logging.setLevels(config.logs);
    this.log = logging.module('ROUTER');
    this.serverLog = logging.module('SERVER');
    tuneRhea();
    // Outcomes pass back to senders as they came: rhea would turn a "modified"
    // (delivery-failed) into "released", which tells a sender it is safe to resend.
    this.container = rhea.create_container({ id: config.router.id, treat_modified_as_released: false } as never);
    // A link error nobody handled would be re-emitted as 'error' on the container: never crash on it.
    this.container.on('error', (error: unknown) => this.serverLog.warn({ reason: String(error) }, 'unhandled AMQP error'));
    this.messaging = new MessagingAgent({
      selfId: config.router.id,
      log: logging.module('MESSAGING'),
      addresses: () => this.config.addresses,
      consumersOf: (address) => this.network.targets(CONSUMER_PREFIX + address),
      peerTowards: (routerId) => this.network.peerTowards(routerId),
      isEdge: config.router.mode === 'edge',
      uplink: () => this.network.uplink(),
      edgesConsuming: (address) => this.network.edgesServing(CONSUMER_PREFIX + address),
      onConsumersChanged: () => this.network.addressesChanged(),
    });
    this.tcp = new TcpAdaptor({
      routerId: config.router.id,
      log: logging.module('TCP_ADAPTOR'),
      metrics: this.metrics,
      flowRecords: this.flowRecords,
      targets: (address) => this.network.flowTargets(address),
      peerTowards: (routerId) => this.network.peerTowards(routerId),
      edgeServing: (address) => this.network.edgeServing(address),
      isEdge: config.router.mode === 'edge',
      onServedAddressesChanged: () => this.network.addressesChanged(),
      onListenerStatus: (entity, status) => {
        for (const watcher of this.tcpListenerWatchers) watcher(entity.name, status);
      },
      siteOf: (routerId) => this.network.siteOf(routerId),
    });
    this.network = new NetworkAgent({
      selfId: config.router.id,
      // A standalone router is an interior one that the parser lets have no inter-router or edge connections.
      mode: config.router.mode === 'edge' ? 'edge' : 'interior',
      log: logging.module('ROUTER_HELLO'),
      helloIntervalMs: config.router.helloIntervalSeconds * 1000,
      helloMaxAgeMs: config.router.helloMaxAgeSeconds * 1000,
      ...(config.router.raIntervalSeconds !== undefined && { refreshMs: config.router.raIntervalSeconds * 1000 }),
      ...(config.router.remoteLsMaxAgeSeconds !== undefined && { adMaxAgeMs: config.router.remoteLsMaxAgeSeconds * 1000 }),
      servedAddresses: () => [...this.tcp.servedAddresses(), ...this.messaging.advertised()],
      servedWeights: () => this.tcp.servedWeights(),
      dropPeer: (peer, reason) => this.dropPeer(peer, reason),
      onNeighbourUp: (peer) => this.onNeighbourUp(peer),
      onRoutingChanged: () => this.messaging.routingChanged(),
      ...(siteName !== undefined && { siteName }),
    });
    this.flowQuery = new FlowQueryAgent({
      selfId: config.router.id,
      ...(siteName !== undefined && { siteName }),
      recorder: this.flowRecords,
      siteOf: (routerId) => this.network.siteOf(routerId),
      linkOctets: () => this.linkOctets.rows(),
      edgeRouters: () => this.network.edgeRouters(),
      messaging: this.messaging,
      log: logging.module('ROUTER'),
    });
    this.management = new ManagementAgent(
      {
        config: () => this.config,
        reconfigure: async (next) => void (await this.reconfigure(next)),
        rows: (type) => this.rows(type),
        flowRows: (type) => this.flowRows(type),
        connectorStatus: (name) => this.connectorStatus(name),
        tcpListenerStatus: (name) => this.tcpListenerStatus(name)?.bind,
        entityError: (type, name) => this.entityError(type, name),
        flowsDenied: (name) => this.flowsDenied(name),
        rateLimited: (address) => {
          const { flowsWaiting, flowsRateLimited } = this.metrics.address(address);
          return { flowsWaiting, flowsRateLimited };
        },
      },
      logging.module('AGENT'),
    );
    this.metrics.flowTotals = () => this.flowRecords.allTotals();
    this.metrics.siteOf = (routerId) => this.network.siteOf(routerId);
    this.metrics.links = () => this.network.links();
    this.metrics.connectors = () => [...this.connectors.keys()].map((name) => ({ name, up: this.connectorStatus(name)?.state === 'up' }));
    this.metrics.routes = () => new Map(this.tcp.listenedAddresses().map((address) => [address, this.network.targets(address).length]));
    this.metrics.heldDeliveries = () => {
      const total = { incoming: 0, outgoing: 0 };
      for (const peer of this.established) {
        const held = heldDeliveries(peer.connection);
        total.incoming += held.incoming;
        total.outgoing += held.outgoing;
      }
      return total;
    };
  }

  get id(): string {
    return this.config.router.id;
  }

  /**
   * Brings up everything the configuration names; resolves when all listeners
   * have bound once and every tcpListener has bound or failed its first try.
   */
  async start(): Promise<void> {
    const empty = diffRouterConfig(emptyLike(this.config), this.config);
    this.log.info({ mode: this.config.router.mode }, `router ${this.id} starting (${this.config.router.mode})`);
    await this.apply(empty);
    // Stopped while the listeners were binding: start nothing more.
    if (this.stopped) return;
    this.flowQuery.start();
    this.network.start();
    this.profileTimer = setInterval(() => void this.checkProfileFiles().catch((error: unknown) => this.log.error({ reason: String(error) }, 'could not apply changed sslProfile files')), PROFILE_CHECK_MS);
    this.profileTimer.unref();
  }

  /** Moves the running router to `next`, touching only what differs. */
  async reconfigure(next: RouterConfig): Promise<ConfigDiff> {
    const diff = diffRouterConfig(this.config, next);
    if (next.router.id !== this.config.router.id) {
      this.log.warn({ from: this.config.router.id, to: next.router.id }, 'router id changes take effect only after a restart');
    }
    this.config = { ...next, router: { ...next.router, id: this.config.router.id } };
    if (diff.logsChanged) this.logging.setLevels(next.logs);
    await this.apply(diff);
    if (!diff.empty) this.log.info(summarise(diff), 'configuration applied');
    return diff;
  }

  /**
   * `filesChanged`: profiles whose files changed on disk while their entity
   * stayed the same; they are applied like a changed profile.
   *
   * A changed sslProfile is applied in place to the AMQP and HTTP listeners and
   * connectors that use it and are running (applyProfile): new handshakes use
   * the new files, links stay up, and the rotation ordinals act as in
   * skupper-router. Restarting them would drop every link they carry. Such an
   * entity that is not running (its profile could not be loaded) is started
   * again. tcpListeners and tcpConnectors restart when the handshake material
   * changed: new clients get the new key material, flows already open carry on.
   */
  private async apply(diff: ConfigDiff, filesChanged: ReadonlySet<string> = new Set()): Promise<void> {
    for (const profile of [...diff.sslProfiles.added, ...diff.sslProfiles.changed.map((c) => c.after)]) this.recordProfileFiles(profile);
    for (const profile of diff.sslProfiles.removed) this.profileFiles.delete(profile.name);
    const removedProfiles = new Set(diff.sslProfiles.removed.map((p) => p.name));
    const updatedProfiles = new Map(diff.sslProfiles.changed.map((c) => [c.after.name, c.after]));
    const materialChanged = new Set(
      diff.sslProfiles.changed.filter((c) => filesChanged.has(c.after.name) || tlsMaterialChanged(c.before, c.after)).map((c) => c.after.name),
    );
    const profileGone = (entity: { sslProfile?: string }) => entity.sslProfile !== undefined && removedProfiles.has(entity.sslProfile);
    const peerRestart = (running: (name: string) => boolean) => (entity: { name: string; sslProfile?: string }) =>
      profileGone(entity) || (entity.sslProfile !== undefined && updatedProfiles.has(entity.sslProfile) && !running(entity.name));
    const tcpRestart = (entity: { sslProfile?: string }) => profileGone(entity) || (entity.sslProfile !== undefined && materialChanged.has(entity.sslProfile));

    const { toStop: listenersToStop, toStart: listenersToStart } = restarts(diff.listeners, this.config.listeners, peerRestart((name) => this.listenerRunning(name)));
    const { toStop: connectorsToStop, toStart: connectorsToStart } = restarts(diff.connectors, this.config.connectors, peerRestart((name) => this.connectors.has(name)));
    const tcpListeners = restarts(diff.tcpListeners, this.config.tcpListeners, tcpRestart);
    const tcpConnectors = restarts(diff.tcpConnectors, this.config.tcpConnectors, tcpRestart);

    for (const entity of listenersToStop) this.stopListener(entity.name);
    for (const entity of connectorsToStop) this.stopConnector(entity.name);
    for (const entity of tcpListeners.toStop) {
      this.tcp.removeListener(entity.name);
      this.entityErrors.delete(`tcpListener "${entity.name}"`);
    }
    for (const entity of tcpConnectors.toStop) {
      this.tcp.removeConnector(entity.name);
      this.entityErrors.delete(`tcpConnector "${entity.name}"`);
    }

    // Before anything starts: what starts now has the profile's new state already.
    const started = new Set([...listenersToStart.map((e) => `listener "${e.name}"`), ...connectorsToStart.map((e) => `connector "${e.name}"`)]);
    for (const profile of updatedProfiles.values()) this.applyProfile(profile, started);

    for (const entity of tcpConnectors.toStart) {
      const material = this.material(entity.sslProfile, `tcpConnector "${entity.name}"`);
      if (material !== 'invalid') this.tcp.addConnector(entity, material);
    }
    const ready: Promise<void>[] = [];
    for (const entity of tcpListeners.toStart) {
      // Never plain when TLS was asked for: without its key material the port stays unbound.
      const material = this.material(entity.sslProfile, `tcpListener "${entity.name}"`);
      if (material !== 'invalid') ready.push(this.tcp.addListener(entity, material).bound.settled);
    }
    for (const entity of listenersToStart) {
      const start = this.startListener(entity);
      if (start) ready.push(start);
    }
    for (const entity of connectorsToStart) this.startConnector(entity);
    await Promise.all(ready);
  }

  private listenerRunning(name: string): boolean {
    return this.amqpListeners.has(name) || this.httpListeners.has(name);
  }

  /**
   * A changed sslProfile reaches the running listeners and connectors that use
   * it (except those in `skip`, about to be started with it): new key material
   * for new handshakes, the revokedSerials list, and the rotation ordinals.
   * New files that cannot be loaded leave the running entities on the key
   * material they have, with an error logged; revocations and the expiry of
   * old ordinals are applied all the same, since they only end connections.
   * tcpListeners take the revokedSerials list here too.
   */
  private applyProfile(profile: SslProfileEntity, skip: ReadonlySet<string>): void {
    const serials = profile.revokedSerials ?? [];
    this.tcp.setRevokedSerials(profile.name, serials);
    const listeners = [...this.amqpListeners.values(), ...this.httpListeners.values()].filter(
      (l) => l.entity.sslProfile === profile.name && !skip.has(`listener "${l.entity.name}"`),
    );
    const connectors = [...this.connectors.values()].filter((c) => c.entity.sslProfile === profile.name && !skip.has(`connector "${c.entity.name}"`));
    if (listeners.length === 0 && connectors.length === 0) return;
    const ordinals = ordinalsOf(profile);
    let material: TlsMaterial | undefined;
    try {
      material = loadTlsMaterial(profile, this.baseDir);
    } catch (error) {
      const users = [...listeners.map((l) => `listener "${l.entity.name}"`), ...connectors.map((c) => `connector "${c.entity.name}"`)];
      this.serverLog.error(
        { sslProfile: profile.name, reason: (error as Error).message },
        `${(error as Error).message}; ${users.join(', ')} keep${users.length === 1 ? 's' : ''} the key material ${users.length === 1 ? 'it has' : 'they have'}`,
      );
    }
    for (const listener of listeners) {
      if (material) listener.updateTls(material, ordinals);
      else {
        listener.setRevokedSerials(serials);
        listener.expire(ordinals.oldestValidOrdinal);
      }
    }
    for (const connector of connectors) {
      if (material) connector.update(material, ordinals);
      else connector.expire(ordinals.oldestValidOrdinal);
    }
  }

  private recordProfileFiles(profile: SslProfileEntity): void {
    this.profileFiles.set(profile.name, profileFingerprint(profile, this.baseDir));
  }

  /**
   * Looks whether any sslProfile's files changed on disk (a renewed
   * certificate, a key that was missing): what uses such a profile is started
   * again with the new material; connections already open carry on. Runs every
   * PROFILE_CHECK_MS, and on SIGHUP.
   */
  async checkProfileFiles(): Promise<void> {
    if (this.stopped) return;
    const changed = [...this.config.sslProfiles.values()].filter((profile) => this.profileFiles.get(profile.name) !== profileFingerprint(profile, this.baseDir));
    if (changed.length === 0) return;
    const names = new Set(changed.map((profile) => profile.name));
    this.log.info({ sslProfiles: [...names] }, `the files of sslProfile ${[...names].map((name) => `"${name}"`).join(', ')} changed on disk: applying them`);
    const unchanged = diffRouterConfig(this.config, this.config);
    await this.apply({ ...unchanged, empty: false, sslProfiles: { ...unchanged.sslProfiles, changed: changed.map((profile) => ({ before: profile, after: profile })) } }, names);
  }

  /**
   * The sslProfile's key material for `user` (`tcpListener "x"`), or 'invalid'
   * when it cannot be loaded: then the entity is not started, the reason is
   * logged and kept for management (operStatus down, connectionMsg) until the
   * entity is started again or removed.
   */
  private material(profileName: string | undefined, user: string): TlsMaterial | undefined | 'invalid' {
    this.entityErrors.delete(user);
    if (profileName === undefined) return undefined;
    const profile = this.config.sslProfiles.get(profileName);
    const fail = (reason: string): 'invalid' => {
      this.serverLog.error({ entity: user, sslProfile: profileName, reason }, `${user}: ${reason}; not started`);
      this.entityErrors.set(user, reason);
      return 'invalid';
    };
    if (!profile) return fail(`sslProfile "${profileName}" does not exist`);
    try {
      return loadTlsMaterial(profile, this.baseDir);
    } catch (error) {
      return fail((error as Error).message);
    }
  }

  /** Why an entity is not running (its sslProfile could not be loaded), for management. */
  entityError(type: 'listener' | 'connector' | 'tcpListener' | 'tcpConnector', name: string): string | undefined {
    return this.entityErrors.get(`${type} "${name}"`);
  }

  /** Flows the tcpConnector refused by its allowedSites since the router started. */
  flowsDenied(tcpConnector: string): number {
    return this.tcp.policy.deniedAt(tcpConnector);
  }

  private startListener(entity: ListenerEntity): Promise<void> | undefined {
    if (entity.http) {
      const material = this.material(entity.sslProfile, `listener "${entity.name}"`);
      if (material === 'invalid') return undefined;
      const http = new HttpListener(entity, material, this.ordinalsOf(entity.sslProfile), {
        log: this.logging.module('HTTP'),
        metrics: this.metrics,
        isReady: () => !this.stopped,
        acceptWebSocket: (stream, tlsOrdinal) => this.acceptConnection(stream, entity, tlsOrdinal),
        drop: (stream, reason, condition) => this.dropConnection(stream, reason, condition),
      });
      this.httpListeners.set(entity.name, http);
      return http.ready;
    }
    const material = this.material(entity.sslProfile, `listener "${entity.name}"`);
    if (material === 'invalid') return undefined;
    const listener = new AmqpListener(entity, material, this.ordinalsOf(entity.sslProfile), {
      log: this.serverLog,
      accept: (socket, accepted, tlsOrdinal) => this.acceptConnection(socket, accepted, tlsOrdinal),
      refuse: (socket, reason) => this.refuseConnection(socket, entity, reason),
      drop: (socket, reason, condition) => this.dropConnection(socket, reason, condition),
    });
    this.amqpListeners.set(entity.name, listener);
    return listener.ready;
  }

  private stopListener(name: string): void {
    this.entityErrors.delete(`listener "${name}"`);
    this.amqpListeners.get(name)?.stop();
    this.amqpListeners.delete(name);
    this.httpListeners.get(name)?.stop();
    this.httpListeners.delete(name);
  }

  private startConnector(entity: ConnectorEntity): void {
    const material = this.material(entity.sslProfile, `connector "${entity.name}"`);
    if (material === 'invalid') return;
    const make = (generationMaterial: TlsMaterial | undefined, ordinal: number) =>
      new InterRouterConnector(
        entity,
        generationMaterial,
        {
          container: this.container,
          log: this.serverLog,
          connectionOptions: (e) => this.connectionOptions(e, Boolean(generationMaterial?.cert)),
          adopt: (connection, socket, e, established, tlsOrdinal) =>
            this.adopt(connection, socket, { kind: 'connector', name: e.name, cost: e.cost, tlsOrdinal, groupOrdinal: ordinal }, e.role, established),
        },
        ordinal,
      );
    const connector = new ConnectorGenerations(entity, material, this.ordinalsOf(entity.sslProfile), make, this.serverLog);
    this.connectors.set(entity.name, connector);
    connector.start();
  }

  /** The rotation ordinals of the named sslProfile now (0 and 0 without one). */
  private ordinalsOf(profileName: string | undefined) {
    return ordinalsOf(profileName === undefined ? undefined : this.config.sslProfiles.get(profileName));
  }

  private stopConnector(name: string): void {
    this.entityErrors.delete(`connector "${name}"`);
    this.connectors.get(name)?.stop();
    this.connectors.delete(name);
  }

  /**
   * With a certificate a connector authenticates with SASL EXTERNAL. ANONYMOUS
   * stays enabled after it: a kskup listener that refuses our certificate
   * offers only ANONYMOUS, to tell us why in the AMQP close; the listener, not
   * the connector, decides whom it accepts (docs/security-attributes.md).
   */
  private connectionOptions(entity: { maxFrameSize: number; idleTimeoutSeconds: number }, withCertificate: boolean): Record<string, unknown> {
    const options: Record<string, unknown> = {
      id: this.id,
      container_id: this.id,
      max_frame_size: entity.maxFrameSize,
      idle_time_out: entity.idleTimeoutSeconds * 1000,
      // Flows manage their own credit; nothing is auto-accepted.
      credit_window: 0,
      // Unsent deliveries a session may hold, over all its links (rhea's default
      // is 2048): room for thousands of flows sending at once, e.g. all closing.
      session_buffer_size: 16_384,
      autoaccept: false,
      properties: { product: PRODUCT, mode: this.config.router.mode },
    };
    if (withCertificate) {
      const mechanisms = this.container.sasl.client_mechanisms();
      mechanisms.enable_external();
      mechanisms.enable_anonymous(this.id);
      options.sasl_mechanisms = mechanisms;
      options.enable_sasl_external = true;
      options.cert = true;
    }
    return options;
  }

  private acceptConnection(socket: Duplex, entity: ListenerEntity, tlsOrdinal: number | undefined): void {
    const options = {
      ...this.connectionOptions(entity, false),
      enable_sasl_external: entity.authenticatePeer,
      require_sasl: entity.authenticatePeer,
    };
    const connection = this.container.create_connection(options as never) as Connection & { accept(socket: Duplex): Connection };
    this.acceptedConnections.set(socket, connection);
    this.adopt(connection, socket, { kind: 'listener', name: entity.name, cost: 1, tlsOrdinal }, entity.role);
    connection.accept(socket);
  }

  /**
   * Ends an accepted connection with the reason in the AMQP close, as a refusal
   * does, so that the dialling router's connector status says why. adopt() ends
   * the socket when the peer answers the close; one that does not is cut off.
   */
  private dropConnection(socket: Duplex, reason: string, condition = 'amqp:unauthorized-access'): void {
    const timer = setTimeout(() => socket.destroy(), DROP_GRACE_MS);
    socket.once('close', () => clearTimeout(timer));
    const connection = this.acceptedConnections.get(socket);
    if (connection) connection.close({ condition, description: reason });
    else socket.destroy();
  }

  /**
   * Speaks just enough AMQP to a client that failed certificate checks to close
   * the connection with the reason, so that its log says why; nothing else is
   * done on it. Dropped after a few seconds if the client says nothing.
   */
  private refuseConnection(socket: Duplex, entity: ListenerEntity, reason: string): void {
    const connection = this.container.create_connection({ ...this.connectionOptions(entity, false) } as never) as Connection & {
      accept(socket: Duplex): Connection;
    };
    const timer = setTimeout(() => socket.destroy(), 5_000);
    socket.once('close', () => clearTimeout(timer));
    connection.on('connection_open', () => connection.close({ condition: 'amqp:unauthorized-access', description: reason }));
    connection.on('receiver_open', (context: EventContext) => context.receiver?.close());
    connection.on('sender_open', (context: EventContext) => context.sender?.close());
    connection.on('disconnected', () => undefined);
    connection.on('error', (error: unknown) => rejectUnreadableInput(connection, error));
    connection.on('protocol_error', (error: unknown) => rejectUnreadableInput(connection, error));
    connection.accept(socket);
  }

  /**
   * Wires a fresh AMQP connection's events; the role decides what it may do.
   * An inter-router connection counts as up once the peer's first router-state
   * message arrives: that proves a kskup router at the other end, and a server
   * that opens only to close again with a refusal never counts as a link.
   */
  private adopt(connection: Connection, socket: Duplex, origin: PeerOrigin, role: string, onEstablished?: () => void): void {
    const isPeer = role === 'inter-router' || role === 'edge';
    const peer = isPeer ? new PeerConnection(connection, origin, socket, this.serverLog) : undefined;
    if (peer) this.linkOctets.track(peer);
    if (peer && onEstablished) this.establishedCallbacks.set(peer, onEstablished);
    let open = false;
    connection.on('connection_open', () => {
      if (!peer) return;
      open = true;
      // The dialling side's group ordinal (its sslProfile ordinal), as skupper-router passes it.
      if (origin.kind === 'listener') peer.groupOrdinal = groupOrdinalOf(connection);
      peer.remoteId = connection.container_id;
      peer.startControl();
      this.network.connectionOpened(peer);
    });
    const record: ConnectionRecord = {
      identity: String(this.nextConnection++),
      host: remoteOf(socket),
      role,
      dir: origin.kind === 'connector' ? 'out' : 'in',
      via: origin.name,
      container: () => peer?.remoteId ?? connection.container_id ?? '',
      opened: () => (peer ? this.established.has(peer) : open),
      tlsOrdinal: origin.tlsOrdinal,
      groupOrdinal: () => peer?.groupOrdinal,
    };
    this.connections.add(record);
    socket.once('close', () => {
      this.connections.delete(record);
      if (peer) this.linkOctets.retire(peer);
      if (!peer) this.messaging.connectionClosed(connection);
    });
    connection.on('connection_open', () => {
      if (!peer) open = true;
    });
    connection.on('receiver_open', (context: EventContext) => {
      const receiver = context.receiver;
      if (isOwnLink(receiver)) return;
      const target = (receiver?.target as { address?: string } | undefined)?.address;
      if (receiver && !peer) {
        return target === MANAGEMENT_ADDRESS ? this.management.acceptRequestLink(receiver) : this.messaging.acceptProducer(receiver);
      }
      if (receiver && peer && open && target === MESSAGES_ADDRESS) return this.messaging.acceptPeerLink(receiver);
      if (!receiver || !peer || !open) return this.refuseLink(context, role);
      if ((receiver.target as { address?: string } | undefined)?.address === CONTROL_ADDRESS) {
        peer.acceptControl(receiver, (message) => this.network.onControl(peer, message));
      } else if (TcpAdaptor.isFlowLink(context)) {
        this.tcp.acceptFlowLink(peer, { receiver });
      } else this.refuseLink(context, role);
    });
    connection.on('sender_open', (context: EventContext) => {
      if (isOwnLink(context.sender)) return;
      if (context.sender && !peer) {
        const dynamic = (context.sender.source as { dynamic?: boolean } | undefined)?.dynamic;
        return dynamic ? this.management.acceptReplyLink(context.sender) : this.messaging.acceptConsumer(context.sender);
      }
      if (!peer || !open || !TcpAdaptor.isFlowLink(context)) return this.refuseLink(context, role);
      if (context.sender) this.tcp.acceptFlowLink(peer, { sender: context.sender });
    });
    // Links close on their own handlers; these only keep rhea from reporting them as unhandled.
    connection.on('sender_close', () => undefined);
    connection.on('receiver_close', () => undefined);
    connection.on('connection_error', () => undefined);
    // Bytes that cannot be read: the peer is told why (unreadable-input.ts) before rhea hangs up.
    connection.on('protocol_error', (error: unknown) => {
      const told = rejectUnreadableInput(connection, error);
      this.serverLog.warn({ reason: String(error), remote: record.host }, `AMQP protocol error; connection ${told ? 'refused' : 'dropped'}`);
    });
    // rhea reports here what went wrong inside its own processing (a frame that does not decode, too); the connection is dropped after it.
    connection.on('error', (error: unknown) => {
      const told = rejectUnreadableInput(connection, error);
      this.serverLog.warn(
        { reason: String(error), remote: record.host, stack: (error as Error).stack?.split('\n').slice(0, 6).join(' | ') },
        `AMQP connection error; connection ${told ? 'refused' : 'dropped'}`,
      );
    });
    let down = false;
    const onDown = (reason: string) => {
      if (!peer || down) return;
      down = true;
      open = false;
      peer.closeFlows('inter-router connection lost');
      this.network.connectionLost(peer);
      this.messaging.neighbourLost(peer);
      if (!this.established.delete(peer)) return;
      this.metrics.interRouterConnections--;
      this.serverLog.info({ peer: peer.remoteId, reason }, `inter-router connection to ${peer.remoteId} is down`);
    };
    connection.on('disconnected', (context: EventContext) => onDown(context.error ? describeSocketError(context.error) : 'connection lost'));
    // The last word: a socket destroyed locally (a connector removed) raises neither of rhea's events.
    socket.once('close', () => onDown('connection closed'));
    // rhea raises no 'disconnected' once a connection is closed at both ends.
    connection.on('connection_close', () => {
      const error = connection.error as { description?: string } | undefined;
      onDown(error?.description ? `closed: ${error.description}` : 'closed');
      if (origin.kind === 'listener') setImmediate(() => socket.end());
    });
  }

  /**
   * An inter-router connection counts as up once the peer's first hello
   * arrives: that proves a kskup router at the other end, and a server that
   * opens only to close again with a refusal never counts as a link.
   */
  private onNeighbourUp(peer: PeerConnection): void {
    this.established.add(peer);
    this.metrics.interRouterConnections++;
    const { origin } = peer;
    this.serverLog.info({ peer: peer.remoteId, via: `${origin.kind} ${origin.name}` }, `inter-router connection to ${peer.remoteId} is up (${origin.kind} "${origin.name}")`);
    this.establishedCallbacks.get(peer)?.();
    this.messaging.neighbourUp(peer);
  }

  /** A neighbour that stopped saying hello: drop the connection so that routes move and a connector redials. */
  private dropPeer(peer: PeerConnection, reason: string): void {
    this.serverLog.warn({ peer: peer.remoteId, reason }, `dropping inter-router connection: ${reason}`);
    peer.drop({ condition: 'amqp:resource-limit-exceeded', description: reason });
  }

  private refuseLink(context: EventContext, role: string): void {
    const link = context.receiver ?? context.sender;
    const description =
      role === 'normal'
        ? 'only $management is served to clients in this kskup version; AMQP messaging comes later'
        : 'unexpected link on an inter-router connection';
    link?.close({ condition: 'amqp:not-implemented', description });
  }

  /** kskup.flowRecord and kskup.flowTotal rows: what a flow query answers, every record and total (docs/flows.md). */
  private flowRows(type: FlowType): Record<string, unknown>[] {
    const reply = answerFlowQuery(
      { limit: this.flowRecords.capacity },
      { router: this.id, capacity: this.flowRecords.capacity },
      this.flowRecords.records(),
      this.flowRecords.allTotals(),
      (routerId) => this.network.siteOf(routerId),
    );
    if (type === 'kskup.flowRecord') return reply.records.map((record) => ({ ...record, name: record.identity }));
    return reply.totals.map((totals) => ({ ...totals, identity: `${totals.vanAddress}/${totals.role}/${totals.peerRouter}` }));
  }

  /** Management's view of the runtime entity types (docs/management.md). */
  private rows(type: RuntimeType): Record<string, unknown>[] {
    switch (type) {
      case 'router':
        return [
          {
            identity: this.id,
            name: this.id,
            id: this.id,
            mode: this.config.router.mode,
            version: VERSION,
            helloIntervalSeconds: this.config.router.helloIntervalSeconds,
            helloMaxAgeSeconds: this.config.router.helloMaxAgeSeconds,
            connectionCount: this.connections.size,
            nodeCount: this.network.knownRouters().length,
            addrCount: this.rows('router.address').length,
            flowCount: this.tcp.openFlowCount(),
            uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
          },
        ];
      case 'connection':
        return [...this.connections].map((c) => ({
          identity: c.identity,
          name: c.identity,
          host: c.host,
          role: c.role,
          dir: c.dir,
          via: c.via,
          container: c.container(),
          opened: c.opened(),
          // skupper-router: tlsOrdinal only for TLS connections; groupOrdinal for inter-router ones.
          ssl: c.tlsOrdinal !== undefined,
          tlsOrdinal: c.tlsOrdinal ?? null,
          groupOrdinal: c.role === 'inter-router' ? (c.groupOrdinal() ?? 0) : null,
        }));
      case 'router.node': {
        const routes = this.network.routes();
        return this.network.knownRouters().map((ad) => {
          const route = routes.get(ad.origin);
          const self = ad.origin === this.id;
          return {
            identity: ad.origin,
            name: ad.origin,
            id: ad.origin,
            nextHop: self ? '(self)' : (route?.nextHop ?? '(unreachable)'),
            cost: self ? 0 : (route?.cost ?? null),
            hops: self ? 0 : (route?.hops ?? null),
            mode: ad.mode,
            addresses: ad.addresses.filter(isShownAddress),
            neighbours: Object.keys(ad.neighbours).sort(),
          };
        });
      }
      case 'router.address': {
        const addresses = new Set([...this.tcp.listenedAddresses(), ...this.tcp.servedAddresses(), ...this.network.knownRouters().flatMap((ad) => ad.addresses.filter(isShownAddress))]);
        return [...addresses].sort().map((address) => {
          const targets = this.network.targets(address);
          return {
            identity: address,
            name: address,
            distribution: 'balanced',
            localTargets: this.tcp.servedAddresses().includes(address) ? 1 : 0,
            remoteRouters: targets.filter((t) => t.router !== this.id).map((t) => t.router),
            routes: targets.length,
          };
        });
      }
      case 'flow':
        return this.tcp.flowRows();
      case 'router.link':
        // Each open flow is a pair of links: one per direction.
        return this.tcp.flowRows().flatMap((flow) =>
          (['fwd', 'rev'] as const).map((direction) => ({
            identity: `${String(flow.identity)}:${direction}`,
            name: `${String(flow.identity)}:${direction}`,
            linkType: 'flow',
            linkDir: flow.role === 'connector-side' ? (direction === 'fwd' ? 'in' : 'out') : direction === 'fwd' ? 'out' : 'in',
            owningAddr: flow.address,
            role: flow.role,
          })),
        );
    }
  }

  /** A tcpListener's configured port and whether it is bound there, or why not; undefined if there is none by that name. */
  tcpListenerStatus(name: string): TcpListenerStatus | undefined {
    return this.tcp.listenerStatus(name);
  }

  /** Calls `watcher` on every change of a tcpListener's bind status, from now on; returns the way to stop. */
  watchTcpListeners(watcher: TcpListenerWatcher): () => void {
    this.tcpListenerWatchers.add(watcher);
    return () => this.tcpListenerWatchers.delete(watcher);
  }

  /** A connector's link state, for management (`connectionStatus`, `connectionMsg`). */
  connectorStatus(name: string) {
    return this.connectors.get(name)?.status();
  }

  /** Stops accepting, closes flows and connections. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.profileTimer);
    this.log.info('router stopping');
    this.tcp.stop();
    for (const name of [...this.connectors.keys()]) this.stopConnector(name);
    for (const name of [...this.amqpListeners.keys(), ...this.httpListeners.keys()]) this.stopListener(name);
    this.network.stop();
    for (const peer of this.established) peer.connection.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** What to stop and start for one entity kind: its diff, plus the entities whose sslProfile changed. */
function restarts<T extends { name: string; sslProfile?: string }>(
  diff: EntityDiff<T>,
  current: ReadonlyMap<string, T>,
  usesChangedProfile: (entity: T) => boolean,
): { toStop: T[]; toStart: T[] } {
  const toStop = [...diff.removed, ...diff.changed.map((c) => c.before)];
  const toStart = [...diff.added, ...diff.changed.map((c) => c.after)];
  for (const entity of current.values()) {
    if (usesChangedProfile(entity) && !toStart.some((started) => started.name === entity.name)) {
      toStop.push(entity);
      toStart.push(entity);
    }
  }
  return { toStop, toStart };
}

function emptyLike(config: RouterConfig): RouterConfig {
  return {
    router: config.router,
    listeners: new Map(),
    connectors: new Map(),
    sslProfiles: new Map(),
    tcpListeners: new Map(),
    tcpConnectors: new Map(),
    addresses: [],
    logs: config.logs,
  };
}

function summarise(diff: ConfigDiff): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kind of ['listeners', 'connectors', 'sslProfiles', 'tcpListeners', 'tcpConnectors'] as const) {
    const d = diff[kind];
    const names = (list: readonly { name: string }[]) => list.map((e) => e.name);
    if (d.added.length || d.removed.length || d.changed.length) {
      out[kind] = { added: names(d.added), removed: names(d.removed), changed: names(d.changed.map((c) => c.after)) };
    }
  }
  return out;
}

interface ConnectionRecord {
  readonly identity: string;
  readonly host: string;
  readonly role: string;
  readonly dir: 'in' | 'out';
  readonly via: string;
  container(): string;
  opened(): boolean;
  /** The sslProfile ordinal a TLS connection was made with; undefined without TLS. */
  readonly tlsOrdinal: number | undefined;
  groupOrdinal(): number | undefined;
}

/** The group ordinal a dialling router put in its open properties (GROUP_ORDINAL_KEY), or 0. */
function groupOrdinalOf(connection: Connection): number {
  const properties = (connection as unknown as { remote?: { open?: { properties?: Record<string, unknown> } } }).remote?.open?.properties;
  const value = Number(properties?.[GROUP_ORDINAL_KEY] ?? 0);
  return Number.isSafeInteger(value) && value >= 0 ? value : 0;
}

function remoteOf(socket: Duplex): string {
  const { remoteAddress, remotePort } = socket as Duplex & { remoteAddress?: string; remotePort?: number };
  return remoteAddress ? `${remoteAddress}:${remotePort}` : 'websocket';
}

/** Each router's flow-query address is in link state for routing, but it is the router's own machinery, not an address anyone serves: management leaves it out. */
function isShownAddress(address: string): boolean {
  return !address.startsWith(`${CONSUMER_PREFIX}${FLOWS_ADDRESS_PREFIX}`);
}
