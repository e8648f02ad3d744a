// The TCP side of the router: tcpListeners accept clients and start flows,
// tcpConnectors take flows that arrive for their address and open the backend
// connection.
//
// With an sslProfile a tcpListener serves TLS and a tcpConnector dials it
// (tls-edges.ts); the flow between them carries the plain bytes either way.
//
// A client that connects to a tcpListener whose address has no reachable
// tcpConnector (none here, no peer serving it) is reset at once: it sees
// "connection reset" immediately instead of hanging. The port stays bound either
// way, so it cannot be taken by another process while a link is briefly down.
// A tcpListener whose port cannot be bound is retried (its port is the
// config's to choose) and its status says why it is down.
import type { Socket } from 'node:net';
import type { EventContext, Message, Receiver, Sender } from 'rhea';
import type { TcpConnectorEntity, TcpListenerEntity } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import type { RouterMetrics } from '../metrics.js';
import { bindServer, type BindStatus, type BoundServer } from '../net/bound-server.js';
import { listenBacklog } from '../net/listen-backlog.js';
import { markOwnLink } from '../peer/own-links.js';
import type { Target } from '../routing/index.js';
import type { PeerConnection } from '../peer/peer-connection.js';
import { DESTINATION_PROPERTY, FORWARD_SUFFIX, REUSE_PROPERTY, REVERSE_SUFFIX, classifyFlowMessage, flowStartMessage } from './flow-protocol.js';
import { LinkPairPool, type LinkPair } from './link-pair-pool.js';
import { FlowRelay } from './flow-relay.js';
import { spliceSockets } from './local-splice.js';
import { TcpFlow, type UnsentStream } from './tcp-flow.js';
import type { FlowRecord, FlowRecorder } from '../flows/flow-records.js';
import { flowResult } from '../flows/flow-outcome.js';
import type { TlsMaterial } from '../tls/ssl-profile.js';
import { BackendDialler, createTcpListenerServer, resetSocket } from './tls-edges.js';
import { FlowPolicy, POLICY_DENIED, type FlowOrigin } from '../policy/flow-policy.js';
import { anyWeighted, weightOf, WeightedChoice } from './weighted-choice.js';
import { RateLimits, type Admitted } from './rate-limits.js';

export interface TcpAdaptorDeps {
  readonly routerId: string;
  readonly log: Logger;
  readonly metrics: RouterMetrics;
  /** The flow records and totals (router/flows/): written at open, first byte back and end. */
  readonly flowRecords: FlowRecorder;
  /** Routers (this one included, at cost 0) that serve the address and can be reached, with their path cost. */
  readonly targets: (address: string) => readonly Target[];
  /** The connection to the next hop towards a router. */
  readonly peerTowards: (routerId: string) => PeerConnection | undefined;
  /** At an interior router: an attached edge router serving the address. */
  readonly edgeServing: (address: string) => PeerConnection | undefined;
  /** Edge routers leave the choice of destination to their uplink. */
  readonly isEdge: boolean;
  /** Told when the set of addresses with a local tcpConnector changes. */
  readonly onServedAddressesChanged: () => void;
  /** Told when a tcpListener's bind status changes (bound, or down and why). */
  readonly onListenerStatus: (entity: TcpListenerEntity, status: BindStatus) => void;
  /** A router's site name, when link state knows it: the origin of a flow for tcpConnectors' allowedSites. */
  readonly siteOf: (routerId: string) => string | undefined;
}

export interface TcpListenerStatus {
  /** The port its config names (0: any). */
  readonly port: number;
  readonly bind: BindStatus;
}

interface ListenerRuntime {
  readonly entity: TcpListenerEntity;
  readonly bound: BoundServer;
  readonly setRevokedSerials: (serials: readonly string[]) => void;
}

interface ConnectorRuntime {
  readonly entity: TcpConnectorEntity;
  readonly dialler: BackendDialler;
  openFlows: number;
  /** Set when its backend refused or timed out: passed over until then while others can serve. */
  unreachableUntil: number;
}

/** Half of a flow's link pair that arrived before the other half. */
interface PendingPair {
  forward?: Receiver;
  reverse?: Sender;
  timer: NodeJS.Timeout;
}

const PAIR_TIMEOUT_MS = 10_000;
const BACKEND_CONNECT_TIMEOUT_MS = 10_000;
/** How long a target that could not reach its backend is passed over while others can serve. */
const OUT_OF_ROTATION_MS = 10_000;
const MAX_TARGET_ATTEMPTS = 3;

/**
 * The router a flow came in at, from its id: `<router id>.<start time>.<n>`
 * (the listener side's flowIdPrefix and counter, both base 36 without dots),
 * so the router id is everything before the last two dots.
 */
export function listenerRouterOf(flowId: string): string {
  const parts = flowId.split('.');
  return parts.length >= 3 ? parts.slice(0, -2).join('.') : flowId;
}

function siteField(site: string | undefined): { site?: string } {
  return site === undefined ? {} : { site };
}

function rotationKey(router: string, address: string): string {
  return `${router}\u0000${address}`;
}

export class TcpAdaptor {
  private readonly deps: TcpAdaptorDeps;
  private readonly listeners = new Map<string, ListenerRuntime>();
  private readonly connectors = new Map<string, ConnectorRuntime>();
  private readonly pending = new Map<string, PendingPair>();
  private readonly flows = new Set<TcpFlow>();
  private readonly relays = new Set<FlowRelay>();
  /** Open flows from here per destination router, for the balanced choice. */
  private readonly flowsTo = new Map<string, number>();
  /** Targets (router and address) that failed to reach a backend, out of rotation until the time given. */
  private readonly unreachableUntil = new Map<string, number>();
  private readonly localSockets = new Set<Socket>();
  /** Listener side: link pairs left attached by finished flows, for the next flow to the same router and address. */
  private readonly pairPool = new LinkPairPool();
  /** Connector side: reused pairs between flows, waiting for a flow-start message. */
  private readonly idlePairs = new Set<LinkPair>();
  private readonly flowIdPrefix: string;
  private nextFlow = 0;
  private roundRobin = 0;
  /** tcpConnectors' allowedSites: who may open flows here, and the refusals counted. */
  readonly policy: FlowPolicy;
  /** Per address: the weighted choice among target routers (listener side), and among local tcpConnectors (connector side). */
  private readonly routerChoices = new Map<string, WeightedChoice>();
  private readonly connectorChoices = new Map<string, WeightedChoice>();
  /** Connector side: the rate limits of each address its tcpConnectors give (flow-limiter.ts). */
  readonly limits: RateLimits;

  constructor(deps: TcpAdaptorDeps) {
    this.deps = deps;
    this.policy = new FlowPolicy(deps.routerId, deps.log);
    this.limits = new RateLimits(deps.routerId, deps.log, (address) => [...this.connectors.values()].filter((c) => c.entity.address === address).map((c) => c.entity), (address) => deps.metrics.address(address));
    // Unique across restarts of this router, so a peer never confuses two runs' flows.
    this.flowIdPrefix = `${deps.routerId}.${Date.now().toString(36)}`;
  }

  // ---- tcpListener ----

  /** `material`: the sslProfile's, loaded and checked, when the tcpListener serves TLS. */
  addListener(entity: TcpListenerEntity, material?: TlsMaterial): ListenerRuntime {
    const { server, setRevokedSerials } = createTcpListenerServer(entity, material, this.deps.log, (socket) => this.onClient(entity, socket));
    const bound = bindServer(
      server,
      { host: entity.host, port: entity.port, backlog: listenBacklog(entity.backlog) },
      this.deps.log,
      `tcpListener "${entity.name}" for address ${entity.address}${material ? ' (TLS)' : ''}`,
      (status) => this.deps.onListenerStatus(entity, status),
    );
    const runtime = { entity, bound, setRevokedSerials };
    this.listeners.set(entity.name, runtime);
    return runtime;
  }

  /** The port the named tcpListener is configured for, and whether it is bound there (or why not); undefined for one not configured. */
  listenerStatus(name: string): TcpListenerStatus | undefined {
    const runtime = this.listeners.get(name);
    return runtime && { port: runtime.entity.port, bind: runtime.bound.status() };
  }

  /** A revokedSerials-only change of an sslProfile: applied to the tcpListeners using it without unbinding them. */
  setRevokedSerials(profileName: string, serials: readonly string[]): void {
    for (const listener of this.listeners.values()) {
      if (listener.entity.sslProfile === profileName) listener.setRevokedSerials(serials);
    }
  }

  /** Stops accepting; flows already open through it carry on until they end. */
  removeListener(name: string): void {
    this.listeners.get(name)?.bound.close();
    this.listeners.delete(name);
  }

  private onClient(entity: TcpListenerEntity, client: Socket): void {
    const record = this.deps.flowRecords.open({
      identity: '',
      role: 'listener-side',
      vanAddress: entity.address,
      ...(client.remoteAddress !== undefined && { sourceHost: client.remoteAddress }),
      ...(client.remotePort !== undefined && { sourcePort: client.remotePort }),
      listener: entity.name,
      listenerRouter: this.deps.routerId,
    });
    this.routeClient(entity, client, new Set(), record);
  }

  /**
   * Sends a client to a target. When the target turns out to have no working
   * backend before a byte was sent (refused, timed out, no tcpConnector), the
   * target is taken out of rotation for a while and the client goes to another
   * one instead of failing, up to MAX_TARGET_ATTEMPTS targets.
   */
  private routeClient(entity: TcpListenerEntity, client: Socket, tried: Set<string>, record: FlowRecord, unsent?: UnsentStream): void {
    const { address } = entity;
    const counters = this.deps.metrics.address(address);
    let destination = this.pickTarget(address, tried);
    if (destination === this.deps.routerId) {
      const local = this.pickConnector(address);
      if (local) return this.startLocal(entity, client, tried, record, unsent);
      // Advertised here on behalf of an attached edge router.
      destination = this.deps.edgeServing(address)?.remoteId;
    }
    const peer = destination === undefined ? undefined : this.deps.peerTowards(destination);
    if (!peer || destination === undefined || client.destroyed) {
      counters.flowsFailed++;
      this.deps.log.debug({ address, listener: entity.name, tried: [...tried] }, 'no reachable tcpConnector: client reset');
      client.on('error', () => undefined);
      resetSocket(client);
      const why = tried.size === 0 ? `no reachable tcpConnector for address "${address}"` : `no other target for address "${address}" (tried ${[...tried].join(', ')})`;
      this.deps.flowRecords.end(record, 'no-route', why, { octets: 0, octetsReverse: 0 });
      return;
    }
    const id = `${this.flowIdPrefix}.${(this.nextFlow++).toString(36)}`;
    // Edge routers leave the destination to their uplink, so their pairs are never reused (the next flow may go elsewhere).
    const reusable = !this.deps.isEdge;
    const pooled = reusable ? this.pairPool.take(peer, destination, address) : undefined;
    const { sender, receiver } = pooled ?? this.openFlowLinks(peer, id, address, reusable ? destination : undefined, reusable);
    this.countFlowTo(destination, +1);
    const onUnreachable = (reason: string, canRetry: boolean, notDelivered: UnsentStream, refused: boolean): boolean => {
      if (refused) {
        // The target would not take this flow (its policy, its rate limits): another may. It stays in rotation for the next client.
        this.deps.log.debug({ address, target: destination, reason }, 'flow refused by its target: trying another');
        tried.add(destination);
        if (!canRetry || tried.size >= MAX_TARGET_ATTEMPTS || this.pickTarget(address, tried) === undefined) return false;
        setImmediate(() => this.routeClient(entity, client, tried, record, notDelivered));
        return true;
      }
      this.unreachableUntil.set(rotationKey(destination, address), Date.now() + OUT_OF_ROTATION_MS);
      // resendBytes: what the flow had already sent on a reused pair before the far side found its backend gone; it goes to the next target.
      const resendBytes = notDelivered.chunks.reduce((sum, chunk) => sum + chunk.length, 0);
      this.deps.log.info(
        { address, target: destination, reason, ...(canRetry && { resendBytes }) },
        `target ${destination} for address ${address} is out of rotation for ${OUT_OF_ROTATION_MS / 1000} s: ${reason}`,
      );
      if (!canRetry) return false;
      tried.add(destination);
      if (tried.size >= MAX_TARGET_ATTEMPTS || this.pickTarget(address, tried) === undefined) return false;
      setImmediate(() => this.routeClient(entity, client, tried, record, notDelivered));
      return true;
    };
    record.identity = id;
    record.connectorRouter = destination;
    this.deps.flowRecords.routed(record);
    const onFirstByteOut = () => this.deps.flowRecords.firstByteBack(record);
    this.startFlow(
      peer,
      {
        id,
        address,
        socket: client,
        sender,
        receiver,
        connecting: false,
        onUnreachable,
        onFirstByteOut,
        ...(unsent && { unsent }),
        ...(pooled && { reused: { start: flowStartMessage(id) } }),
        ...(reusable && { releasable: () => agreedToReuse(sender) && agreedToReuse(receiver) }),
      },
      record,
      (flow) => {
        this.countFlowTo(destination, -1);
        if (flow.released) this.pairPool.put(peer, destination, address, { sender, receiver });
      },
    );
  }

  /**
   * The balanced choice: the target router with the fewest flows opened from
   * here plus path cost; round robin among equals. This router's own
   * tcpConnectors count as one target at cost 0. Targets already tried for this
   * client are skipped, and so are targets out of rotation while others remain.
   * When a target advertises a weight for the address, the choice is by weight
   * instead (weighted-choice.ts; weight 0 drains), unless every target has
   * weight 0: then the weights are ignored, so a switch from 100/0 to 0/100
   * never resets a client whichever site's new weight arrives first.
   */
  private pickTarget(address: string, tried: ReadonlySet<string> = new Set()): string | undefined {
    const all = this.deps.targets(address);
    const untried = all.filter((target) => !tried.has(target.router));
    const now = Date.now();
    const inRotation = untried.filter((target) => (this.unreachableUntil.get(rotationKey(target.router, address)) ?? 0) <= now);
    if (anyWeighted(all) && all.some((target) => weightOf(target) > 0)) {
      const choice = choiceFor(this.routerChoices, address);
      const keyed = (targets: readonly Target[]) => targets.map((target) => ({ ...target, key: target.router }));
      return (choice.pick(keyed(inRotation)) ?? choice.pick(keyed(untried)))?.router;
    }
    const targets = inRotation.length > 0 ? inRotation : untried;
    if (targets.length === 0) return undefined;
    const load = (target: Target) =>
      target.cost + (target.router === this.deps.routerId ? this.localFlows(address) : (this.flowsTo.get(target.router) ?? 0));
    const lowest = Math.min(...targets.map(load));
    const least = targets.filter((target) => load(target) === lowest);
    return least[this.roundRobin++ % least.length]!.router;
  }

  private localFlows(address: string): number {
    let open = 0;
    for (const connector of this.connectors.values()) if (connector.entity.address === address) open += connector.openFlows;
    return open;
  }

  private countFlowTo(router: string, delta: number): void {
    this.flowsTo.set(router, (this.flowsTo.get(router) ?? 0) + delta);
  }

  /** Attaches a flow's link pair on a connection, naming the router where it must end, and offering to reuse it (flow-protocol.ts). */
  private openFlowLinks(peer: PeerConnection, id: string, address: string, destination: string | undefined, reusable = false): { sender: Sender; receiver: Receiver } {
    const properties = {
      ...(destination !== undefined && { [DESTINATION_PROPERTY]: destination }),
      ...(reusable && { [REUSE_PROPERTY]: true }),
    };
    const sender = markOwnLink(peer.connection.open_sender({ name: id + FORWARD_SUFFIX, target: { address }, snd_settle_mode: 1, properties }));
    const receiver = markOwnLink(
      peer.connection.open_receiver({ name: id + REVERSE_SUFFIX, source: { address }, credit_window: 0, autoaccept: false, properties }),
    );
    return { sender, receiver };
  }

  /**
   * A client for a tcpConnector of this router: under the address's rate
   * limits like a flow from elsewhere (it waits unread, or is refused and goes
   * to another target if there is one, else is reset).
   */
  private startLocal(entity: TcpListenerEntity, client: Socket, tried: Set<string>, record: FlowRecord, unsent?: UnsentStream): void {
    const { address } = entity;
    const ignore = () => undefined;
    const gone = () => admission?.cancel();
    let decided = false;
    const stopWatching = () => {
      decided = true;
      client.off('error', ignore);
      client.off('close', gone);
    };
    const admission = this.limits.request(
      address,
      (admitted) => {
        stopWatching();
        const target = this.pickConnector(address);
        if (target && !client.destroyed) return this.spliceLocal(client, target, record, unsent, admitted);
        admitted.release();
        this.routeClient(entity, client, tried.add(this.deps.routerId), record, unsent);
      },
      (error) => {
        stopWatching();
        tried.add(this.deps.routerId);
        if (tried.size < MAX_TARGET_ATTEMPTS && this.pickTarget(address, tried) !== undefined) return this.routeClient(entity, client, tried, record, unsent);
        this.deps.metrics.address(address).flowsFailed++;
        client.on('error', ignore);
        resetSocket(client);
        this.deps.flowRecords.end(record, 'denied', error.description, { octets: 0, octetsReverse: 0 });
      },
    );
    if (!admission) {
      const target = this.pickConnector(address);
      if (target) this.spliceLocal(client, target, record, unsent);
      return;
    }
    if (decided) return;
    // Waiting: the client is not read meanwhile; if it goes, it leaves the queue.
    client.on('error', ignore);
    client.once('close', gone);
  }

  private spliceLocal(client: Socket, target: ConnectorRuntime, record: FlowRecord, unsent?: UnsentStream, admitted?: Admitted): void {
    const { address } = target.entity;
    // A TLS backend socket holds what the client sends until its handshake is done and verified.
    const { socket: backend } = target.dialler.dial();
    // What a target elsewhere could not take goes first; the client's end of stream, if it was seen then, will not be seen again.
    for (const chunk of unsent?.chunks ?? []) backend.write(chunk);
    if (unsent?.ended) backend.end();
    target.openFlows++;
    this.localSockets.add(client).add(backend);
    record.identity = `${this.flowIdPrefix}.${(this.nextFlow++).toString(36)}`;
    record.connectorRouter = this.deps.routerId;
    this.deps.flowRecords.routed(record);
    let connected = false;
    backend.once('connect', () => (connected = true));
    const shaping = { toBackend: () => this.limits.limiter(address)?.toBackend, fromBackend: () => this.limits.limiter(address)?.fromBackend };
    spliceSockets(client, backend, this.deps.metrics.address(address), (error, ended) => {
      admitted?.release();
      target.openFlows--;
      this.localSockets.delete(client);
      this.localSockets.delete(backend);
      if (error) this.deps.log.debug({ address, reason: error }, 'local flow failed');
      const result =
        error === undefined
          ? 'closed'
          : ended.failed === 'client'
            ? 'reset-by-client'
            : connected
              ? 'reset-by-server'
              : error.includes('ECONNREFUSED')
                ? 'refused'
                : 'unreachable';
      this.deps.flowRecords.end(record, result, error, { octets: ended.bytesIn, octetsReverse: ended.bytesOut });
    }, shaping);
  }

  // ---- tcpConnector ----

  /** `material`: the sslProfile's, loaded and checked, when the backend speaks TLS. */
  addConnector(entity: TcpConnectorEntity, material?: TlsMaterial): void {
    const dialler = new BackendDialler(entity, material, this.deps.log);
    this.connectors.set(entity.name, { entity, dialler, openFlows: 0, unreachableUntil: 0 });
    this.limits.changed(entity.address);
    this.deps.onServedAddressesChanged();
  }

  /** Stops taking new flows; flows already open to it carry on until they end. */
  removeConnector(name: string): void {
    const runtime = this.connectors.get(name);
    if (!runtime) return;
    this.connectors.delete(name);
    this.limits.changed(runtime.entity.address);
    this.deps.onServedAddressesChanged();
  }

  /** Addresses that tcpListeners here take clients for. */
  listenedAddresses(): string[] {
    return [...new Set([...this.listeners.values()].map((l) => l.entity.address))].sort();
  }

  servedAddresses(): string[] {
    return [...new Set([...this.connectors.values()].map((c) => c.entity.address))].sort();
  }

  /**
   * Per address whose tcpConnectors here carry a weight: the sum of their
   * weights (one without counts as DEFAULT_WEIGHT), which link state
   * advertises so that listener sides elsewhere split flows by site.
   */
  servedWeights(): Record<string, number> {
    const weighted = new Set([...this.connectors.values()].filter((c) => c.entity.weight !== undefined).map((c) => c.entity.address));
    const sums: Record<string, number> = {};
    for (const connector of this.connectors.values()) {
      const { address } = connector.entity;
      if (weighted.has(address)) sums[address] = (sums[address] ?? 0) + weightOf(connector.entity);
    }
    return sums;
  }

  private servesLocally(address: string): boolean {
    for (const connector of this.connectors.values()) if (connector.entity.address === address) return true;
    return false;
  }

  /**
   * The least busy tcpConnector for the address (of those that serve `origin`,
   * when given), round robin among equals; by weight when the connectors carry
   * one (as pickTarget, weight 0 drains).
   */
  private pickConnector(address: string, origin?: FlowOrigin): ConnectorRuntime | undefined {
    const all = [...this.connectors.values()].filter((c) => c.entity.address === address && (origin === undefined || this.policy.allows(c.entity, origin)));
    const now = Date.now();
    const healthy = all.filter((c) => c.unreachableUntil <= now);
    const weighted = all.map((c) => ({ key: c.entity.name, ...(c.entity.weight !== undefined && { weight: c.entity.weight }), runtime: c }));
    if (anyWeighted(weighted) && weighted.some((c) => weightOf(c) > 0)) {
      const choice = choiceFor(this.connectorChoices, address);
      return (choice.pick(weighted.filter((c) => healthy.includes(c.runtime))) ?? choice.pick(weighted))?.runtime;
    }
    const candidates = healthy.length > 0 ? healthy : all;
    if (candidates.length === 0) return undefined;
    const fewest = Math.min(...candidates.map((c) => c.openFlows));
    const least = candidates.filter((c) => c.openFlows === fewest);
    return least[this.roundRobin++ % least.length];
  }

  /**
   * A link of a flow arrived from a peer. Both halves are needed before the
   * backend is dialled; they normally arrive in the same frame batch.
   */
  acceptFlowLink(peer: PeerConnection, link: { receiver?: Receiver; sender?: Sender }): void {
    const name = (link.receiver ?? link.sender)?.name ?? '';
    const suffix = link.receiver ? FORWARD_SUFFIX : REVERSE_SUFFIX;
    const id = name.slice(0, -suffix.length);
    const key = `${peer.remoteId ?? '?'}/${id}`;
    let pair = this.pending.get(key);
    if (!pair) {
      pair = {
        timer: setTimeout(() => {
          this.pending.delete(key);
          pair?.forward?.close({ condition: 'amqp:precondition-failed', description: 'flow link pair incomplete' });
          pair?.reverse?.close({ condition: 'amqp:precondition-failed', description: 'flow link pair incomplete' });
        }, PAIR_TIMEOUT_MS),
      };
      this.pending.set(key, pair);
    }
    if (link.receiver) pair.forward = link.receiver;
    if (link.sender) pair.reverse = link.sender;
    // Answered in this link's own attach, which rhea writes after this event: a pair
    // that ends here (it names this router) may carry the next flow; relayed ones never are.
    const offered = (link.receiver ?? link.sender)!;
    if (offersReuse(offered, this.deps.routerId) && this.servesLocally(offeredAddress(offered))) acceptReuse(offered);
    if (!pair.forward || !pair.reverse) return;
    clearTimeout(pair.timer);
    this.pending.delete(key);
    this.connectFlow(peer, id, pair.forward, pair.reverse);
  }

  /**
   * A reused pair between flows, at the connector side: the next flow starts
   * with a flow-start message on its forward link. Anything else is refused; a
   * detach (the listener side let the pair go) ends it.
   */
  private awaitNextFlow(peer: PeerConnection, pair: LinkPair): void {
    const { sender: reverse, receiver: forward } = pair;
    const stop = () => {
      forward.off('message', onMessage);
      forward.off('receiver_close', onClose);
      reverse.off('sender_close', onClose);
      this.idlePairs.delete(pair);
    };
    const onClose = () => {
      stop();
      if (!forward.is_closed()) forward.close();
      if (!reverse.is_closed()) reverse.close();
    };
    const onMessage = (context: EventContext) => {
      context.delivery?.update(true);
      const message = context.message ? classifyFlowMessage(context.message) : undefined;
      stop();
      if (message?.kind !== 'start') {
        const error = { condition: 'amqp:precondition-failed', description: `expected a flow-start message on an idle reused link pair, got ${message?.kind ?? 'nothing'}` };
        forward.close(error);
        reverse.close(error);
        return;
      }
      this.connectFlow(peer, message.flowId, forward, reverse, true);
    };
    forward.on('message', onMessage);
    forward.on('receiver_close', onClose);
    reverse.on('sender_close', onClose);
    this.idlePairs.add(pair);
  }

  private connectFlow(peer: PeerConnection, id: string, forward: Receiver, reverse: Sender, reused = false): void {
    const address = (forward.target as { address?: string } | undefined)?.address ?? '';
    const requested = (forward.properties as Record<string, unknown> | undefined)?.[DESTINATION_PROPERTY];
    // A flow from an edge router names no destination: choose one for it, as for a local client.
    const destination =
      typeof requested === 'string' ? requested : peer.remoteMode === 'edge' ? this.pickTarget(address) : this.deps.routerId;
    if (destination !== undefined && destination !== this.deps.routerId) {
      this.relayFlow(peer, id, address, destination, forward, reverse);
      return;
    }
    // Policy: only tcpConnectors whose allowedSites name the flow's site take it; when there are some here and none does, it is refused before any backend is dialled.
    const originRouter = listenerRouterOf(id);
    const origin: FlowOrigin = { router: originRouter, ...siteField(this.deps.siteOf(originRouter)) };
    const target = destination === undefined ? undefined : this.pickConnector(address, origin);
    const here = target || destination === undefined ? [] : [...this.connectors.values()].filter((c) => c.entity.address === address);
    if (here.length > 0) {
      this.deps.metrics.address(address).flowsDenied++;
      refusePair(forward, reverse, this.policy.deny(address, origin, here.map((c) => c.entity)));
      return;
    }
    // A pair agreed for reuse is never relayed (to an edge router here): the relay could not carry its next flow.
    const reusable = agreedToReuse(forward) && agreedToReuse(reverse);
    const edge = target || reusable ? undefined : this.deps.edgeServing(address);
    if (edge?.remoteId && edge !== peer) {
      this.relayFlow(peer, id, address, edge.remoteId, forward, reverse);
      return;
    }
    if (!target) {
      this.deps.metrics.address(address).flowsFailed++;
      refusePair(forward, reverse, { condition: 'amqp:not-found', description: `no tcpConnector for address "${address}" at router ${this.deps.routerId}` });
      return;
    }
    this.admitFlow(peer, address, forward, reverse, (admitted, early) => {
      // The connectors may have changed while the flow waited: choose again.
      const chosen = admitted ? this.pickConnector(address, origin) : target;
      if (!chosen) {
        admitted?.release();
        this.deps.metrics.address(address).flowsFailed++;
        const error = { condition: 'amqp:not-found', description: `no tcpConnector for address "${address}" at router ${this.deps.routerId}` };
        forward.close(error);
        reverse.close(error);
        return;
      }
      this.dialBackend(peer, id, address, chosen, forward, reverse, { reused, reusable, early, ...(admitted && { admitted }) });
    });
  }

  /**
   * Rate limits (rate-limits.ts): the flow starts at once when the address has
   * none or is under them; otherwise it waits, its backend not dialled and no
   * credit granted (a reused pair's early messages are kept, at most the credit
   * the pair had left), and then starts or is refused with kskup:rate-limited.
   * A detach meanwhile (the client went away) takes it out of the queue.
   */
  private admitFlow(peer: PeerConnection, address: string, forward: Receiver, reverse: Sender, start: (admitted: Admitted | undefined, early: Message[]) => void): void {
    const early: Message[] = [];
    const onMessage = (context: EventContext) => {
      context.delivery?.update(true);
      if (context.message) early.push(context.message);
    };
    const onClose = () => {
      stopWaiting();
      admission?.cancel();
      if (!forward.is_closed()) forward.close();
      if (!reverse.is_closed()) reverse.close();
    };
    let waiting = false;
    let decided = false;
    // The connection lost while waiting: out of the queue (the links are gone with it).
    const lost = { abort: () => onClose() };
    const stopWaiting = () => {
      if (!waiting) return;
      waiting = false;
      peer.flows.delete(lost);
      forward.off('message', onMessage);
      forward.off('receiver_close', onClose);
      reverse.off('sender_close', onClose);
    };
    const admission = this.limits.request(
      address,
      (admitted) => {
        decided = true;
        stopWaiting();
        start(admitted, early);
      },
      (error) => {
        decided = true;
        stopWaiting();
        refusePair(forward, reverse, error);
      },
    );
    if (!admission) return start(undefined, early);
    // Still undecided: wait for the turn with the links watched.
    if (!decided) {
      waiting = true;
      peer.flows.add(lost);
      forward.on('message', onMessage);
      forward.on('receiver_close', onClose);
      reverse.on('sender_close', onClose);
    }
  }

  /** Dials the chosen tcpConnector's backend and starts the flow on the pair. */
  private dialBackend(
    peer: PeerConnection,
    id: string,
    address: string,
    target: ConnectorRuntime,
    forward: Receiver,
    reverse: Sender,
    how: { reused: boolean; reusable: boolean; early: readonly Message[]; admitted?: Admitted },
  ): void {
    const { reused, reusable, early, admitted } = how;
    const buckets = this.limits.limiter(address);
    const shaping = buckets?.toBackend && buckets.fromBackend ? { toSocket: buckets.toBackend, fromSocket: buckets.fromBackend } : undefined;
    const { socket: backend, readyEvent } = target.dialler.dial();
    // A backend host that drops SYNs (or stalls its TLS handshake) would otherwise
    // hold the client for the OS's connect timeout (minutes); the flow fails with ETIMEDOUT instead.
    const connectTimer = setTimeout(() => backend.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })), BACKEND_CONNECT_TIMEOUT_MS);
    backend.once(readyEvent, () => clearTimeout(connectTimer));
    backend.once('close', () => clearTimeout(connectTimer));
    target.openFlows++;
    let connected = false;
    backend.once(readyEvent, () => (connected = true));
    const record = this.deps.flowRecords.open({
      identity: id,
      role: 'connector-side',
      vanAddress: address,
      listenerRouter: listenerRouterOf(id),
      connectorRouter: this.deps.routerId,
      connector: target.entity.name,
      destinationHost: target.entity.host,
      destinationPort: target.entity.port,
    });
    this.deps.flowRecords.routed(record);
    this.startFlow(
      peer,
      {
        id,
        address,
        socket: backend,
        sender: reverse,
        receiver: forward,
        connecting: true,
        readyEvent,
        ...(reused && { reused: {} }),
        ...(reusable && { releasable: () => true }),
        ...(early.length > 0 && { early }),
        ...(shaping && { shaping }),
      },
      record,
      (flow) => {
        admitted?.release();
        target.openFlows--;
        if (!connected) target.unreachableUntil = Date.now() + OUT_OF_ROTATION_MS;
        if (flow.released) this.awaitNextFlow(peer, { sender: reverse, receiver: forward });
      },
    );
  }

  /** A flow for another router: on to the next hop, joined link to link. */
  private relayFlow(upstream: PeerConnection, id: string, address: string, destination: string, forwardIn: Receiver, reverseOut: Sender): void {
    const downstream = this.deps.peerTowards(destination);
    if (!downstream || downstream === upstream) {
      refusePair(forwardIn, reverseOut, { condition: 'amqp:not-found', description: `no route from router ${this.deps.routerId} to router ${destination}` });
      return;
    }
    const { sender: forwardOut, receiver: reverseIn } = this.openFlowLinks(downstream, id, address, destination);
    const handle = { abort: (reason: string) => relay.abort(reason) };
    const relay: FlowRelay = new FlowRelay(id, address, { forwardIn, reverseOut }, { forwardOut, reverseIn }, this.deps.log, () => {
      upstream.flows.delete(handle);
      downstream.flows.delete(handle);
      this.relays.delete(relay);
    });
    upstream.flows.add(handle);
    downstream.flows.add(handle);
    this.relays.add(relay);
  }

  private startFlow(
    peer: PeerConnection,
    parts: {
      id: string;
      address: string;
      socket: Socket;
      sender: Sender;
      receiver: Receiver;
      connecting: boolean;
      readyEvent?: 'connect' | 'secureConnect';
      onUnreachable?: (reason: string, canRetry: boolean, unsent: UnsentStream, refused: boolean) => boolean;
      unsent?: UnsentStream;
      onFirstByteOut?: () => void;
      reused?: { start?: Buffer };
      releasable?: () => boolean;
    },
    record: FlowRecord,
    onEnd?: (flow: TcpFlow) => void,
  ): void {
    const flow = new TcpFlow({
      ...parts,
      carrier: peer,
      counters: this.deps.metrics.address(parts.address),
      log: this.deps.log,
      onClosed: (closed, error) => {
        peer.flows.delete(closed);
        this.flows.delete(closed);
        onEnd?.(closed);
        if (error) this.deps.log.debug({ flow: closed.id, address: closed.address, reason: error }, 'flow failed');
        if (error !== undefined && closed.endInfo?.remoteCondition === POLICY_DENIED) this.policy.refusedByTarget(closed.address, error);
        // An error without endInfo: the client was let go to try another target, and its record goes with it.
        if (error !== undefined && closed.endInfo === undefined) return;
        const listenerSide = closed.side === 'listener-side';
        const result = flowResult({ role: closed.side, reason: error, ...closed.endInfo });
        this.deps.flowRecords.end(record, result, error, {
          octets: listenerSide ? closed.bytesIn : closed.bytesOut,
          octetsReverse: listenerSide ? closed.bytesOut : closed.bytesIn,
        });
      },
    });
    peer.flows.add(flow);
    this.flows.add(flow);
  }

  /** Link events of flows that reach the connection (their own handlers take the rest). */
  static isFlowLink(context: EventContext): boolean {
    const name = (context.receiver ?? context.sender)?.name ?? '';
    return context.receiver ? name.endsWith(FORWARD_SUFFIX) : name.endsWith(REVERSE_SUFFIX);
  }

  /** Open flows and relays, for management. */
  flowRows(): Record<string, unknown>[] {
    return [
      ...[...this.flows].map((flow) => ({
        identity: flow.id,
        name: flow.id,
        address: flow.address,
        state: flow.currentState,
        bytesIn: flow.bytesIn,
        bytesOut: flow.bytesOut,
        role: flow.side,
      })),
      ...[...this.relays].map((relay) => ({ identity: relay.id, name: relay.id, address: relay.address, state: 'open', bytesIn: null, bytesOut: null, role: 'relay' })),
    ];
  }

  openFlowCount(): number {
    return this.flows.size;
  }

  /** Closes every listener and flow: used at shutdown. */
  stop(): void {
    for (const name of [...this.listeners.keys()]) this.removeListener(name);
    for (const flow of [...this.flows]) flow.abort('router shutting down', 'network');
    for (const relay of [...this.relays]) relay.abort('router shutting down');
    for (const socket of this.localSockets) socket.destroy();
    for (const pair of this.pending.values()) clearTimeout(pair.timer);
    this.pending.clear();
    this.pairPool.stop();
    this.limits.stop();
    for (const pair of [...this.idlePairs]) {
      pair.sender.close();
      pair.receiver.close();
    }
    this.idlePairs.clear();
  }
}

function choiceFor(choices: Map<string, WeightedChoice>, address: string): WeightedChoice {
  let choice = choices.get(address);
  if (!choice) choices.set(address, (choice = new WeightedChoice()));
  return choice;
}

/** The listener side offered reuse (REUSE_PROPERTY) for a pair that ends at `routerId`. */
function offersReuse(link: Sender | Receiver, routerId: string): boolean {
  const properties = link.properties as Record<string, unknown> | undefined;
  return properties?.[REUSE_PROPERTY] === true && properties[DESTINATION_PROPERTY] === routerId;
}

/** The service address of a flow link: the forward link's target, the reverse link's source. */
function offeredAddress(link: Sender | Receiver): string {
  const terminus = (link.is_receiver() ? link.target : link.source) as { address?: string } | undefined;
  return terminus?.address ?? '';
}

/** This side's attach performative as rhea 3.0.5 keeps it (link.local.attach), written when rhea next processes the link. */
function localAttach(link: Sender | Receiver): { properties?: Record<string, unknown> } {
  return (link as unknown as { local: { attach: { properties?: Record<string, unknown> } } }).local.attach;
}

/** Answers the offer in this side's attach, before rhea writes it. */
function acceptReuse(link: Sender | Receiver): void {
  const attach = localAttach(link);
  attach.properties = { ...attach.properties, [REUSE_PROPERTY]: true };
}

/** Both attaches of this link carry REUSE_PROPERTY: ours offered or accepted, and the peer's. */
function agreedToReuse(link: Sender | Receiver): boolean {
  const remote = link.properties as Record<string, unknown> | undefined;
  return localAttach(link).properties?.[REUSE_PROPERTY] === true && remote?.[REUSE_PROPERTY] === true;
}

/**
 * Refuses a flow's link pair at the connector side: both links are detached
 * with `error` on the next turn, once the attach replies of both are written.
 * If a detach went out before the other link's attach reply, rhea at the
 * listener side, which closes that other link on the first detach, re-opens it
 * when the reply comes (link.on_attach opens whatever it is given) and attaches
 * it a second time; the duplicate attach ("Attach already received") drops the
 * whole inter-router connection with every flow on it. A pair reused between
 * flows was answered long ago; waiting a turn costs it nothing. What arrives on
 * the forward link meanwhile (on a reused pair the client's bytes follow the
 * flow-start at once) is settled and dropped: unhandled, rhea would keep it in
 * the session's incoming buffer, and every later delivery of the session
 * behind it.
 */
function refusePair(forward: Receiver, reverse: Sender, error: { condition: string; description: string }): void {
  forward.on('message', (context: EventContext) => context.delivery?.update(true));
  setImmediate(() => {
    if (!forward.is_closed()) forward.close(error);
    if (!reverse.is_closed()) reverse.close(error);
  });
}
