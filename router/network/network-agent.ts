// The router's part in the network: neighbours by hello, link state by flooding,
// routes by computation. It owns the link-state database and the route table,
// and answers "which peer connection leads to router X" and "which routers
// serve address Y". docs/routing-protocol.md describes the protocol.
//
// Edge routers take no part in link state. An edge router sends its addresses to
// one interior router (its active uplink: the first of its edge connections to
// come up), which advertises them as its own and passes their flows on to it;
// every flow the edge router cannot serve itself goes to that uplink.
import type { Logger } from '../log/logger.js';
import type { PeerConnection } from '../peer/peer-connection.js';
import { computeRoutes, LinkStateDatabase, targetsFor, type LinkStateAd, type RouteTable, type Served, type Target } from '../routing/index.js';
import { anyWeighted, DEFAULT_WEIGHT, weightOf, WeightedChoice } from '../tcp/weighted-choice.js';
import type { ControlMessage } from './control-messages.js';

/**
 * Own ad re-advertised this often (router raIntervalSeconds), with a new
 * sequence number so that every router floods it on, however far away: an ad
 * not refreshed for remoteLsMaxAgeSeconds (default 60, as skupper-router's) is
 * dropped, which is how the ads of routers that vanished age out.
 */
export const DEFAULT_REFRESH_MS = 10_000;
export const DEFAULT_AD_MAX_AGE_MS = 60_000;
const LIVENESS_CHECK_MS = 250;

export interface NetworkAgentDeps {
  readonly selfId: string;
  readonly mode: 'interior' | 'edge';
  readonly log: Logger;
  readonly helloIntervalMs: number;
  readonly helloMaxAgeMs: number;
  readonly refreshMs?: number;
  readonly adMaxAgeMs?: number;
  /** Addresses served here (tcpConnectors). */
  readonly servedAddresses: () => readonly string[];
  /** The weights of addresses served here whose tcpConnectors carry one (the sum per address); advertised with them. */
  readonly servedWeights?: () => Readonly<Record<string, number>>;
  /** Drops a peer that fell silent; its connection then goes down the usual way. */
  readonly dropPeer: (peer: PeerConnection, reason: string) => void;
  /** A neighbour said hello for the first time on this connection. */
  readonly onNeighbourUp: (peer: PeerConnection) => void;
  /**
   * Link state was recomputed (an ad came or went, or the routes changed), or
   * an edge router's uplink changed: what targets() answers may differ now.
   */
  readonly onRoutingChanged?: () => void;
  /** This router's site name (router metadata), advertised in hellos and link state. */
  readonly siteName?: string;
}

/** Per neighbour connection: what its hellos told us about the link. */
interface LinkTiming {
  /** The `time` of its last hello, and when (our clock, ms) it arrived. */
  lastTime?: number;
  lastAt?: number;
  /** The last round-trip time measured (ms). */
  rttMs?: number;
  site?: string;
}

export class NetworkAgent {
  private readonly deps: NetworkAgentDeps;
  private readonly database: LinkStateDatabase;
  /** Neighbours that have said hello, per connection. */
  private readonly neighbours = new Set<PeerConnection>();
  /** At an interior router: attached edge routers and the addresses each serves, with their weights. */
  private readonly edges = new Map<PeerConnection, Served>();
  /** Edge router id -> the interior router whose ad lists it (its uplink), from the link-state database. */
  private edgeUplinks = new Map<string, string>();
  /** Per address: the choice among this router's edge routers when a flow for it ends here (edgeServing). */
  private readonly edgeChoices = new Map<string, WeightedChoice>();
  private edgeRoundRobin = 0;
  private readonly epoch = Date.now();
  private seq = 0;
  private routeTable: RouteTable = new Map();
  private readonly timings = new WeakMap<PeerConnection, LinkTiming>();
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;

  constructor(deps: NetworkAgentDeps) {
    this.deps = deps;
    this.database = new LinkStateDatabase(deps.selfId);
    this.database.own(this.ownAd());
  }

  private get refreshMs(): number {
    return this.deps.refreshMs ?? DEFAULT_REFRESH_MS;
  }

  start(): void {
    this.timers = [
      setInterval(() => this.sayHello(), this.deps.helloIntervalMs),
      // Checked more often than hellos are sent, so that a silent neighbour is
      // dropped within helloMaxAge + 1/4 s, not helloMaxAge + one hello interval.
      // The verdict waits for the I/O poll (setImmediate runs after it): timers
      // run first when the event loop comes back from a stall (a long batch of
      // work, a machine short of CPU), and whatever the neighbour sent during
      // the stall is still unread then. The router's own pause must not be
      // taken for the neighbour's silence.
      setInterval(() => setImmediate(() => this.dropSilent()), LIVENESS_CHECK_MS),
      // A copy of an ad seen before stops at the first router (flooding must end), so a
      // refresh is a new ad: re-sending the old one would reach only the neighbours.
      setInterval(() => this.originate('refresh'), this.refreshMs),
      setInterval(() => this.expireAds(), this.refreshMs / 2),
    ];
    for (const timer of this.timers) timer.unref();
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
  }

  /** A control link is open: introduce ourselves. */
  connectionOpened(peer: PeerConnection): void {
    peer.send(this.hello(peer));
  }

  connectionLost(peer: PeerConnection): void {
    if (!this.neighbours.delete(peer)) return;
    if (this.isEdge) {
      this.announceToUplink();
      return;
    }
    this.edges.delete(peer);
    this.originate('neighbour lost');
  }

  addressesChanged(): void {
    if (this.isEdge) this.announceToUplink();
    else this.originate('addresses changed');
  }

  private get isEdge(): boolean {
    return this.deps.mode === 'edge';
  }

  /**
   * At an edge router: the uplink in use, the first edge connection that came
   * up and is still up; one with a higher group ordinal (made after a
   * certificate rotation) takes over, as skupper-router's edge connection
   * manager upgrades to the connection with the higher TLS ordinal.
   */
  uplink(): PeerConnection | undefined {
    let best: PeerConnection | undefined;
    for (const peer of this.neighbours) {
      if (peer.remoteMode === 'interior' && (!best || peer.groupOrdinal > best.groupOrdinal)) best = peer;
    }
    return best;
  }

  private announcedTo: PeerConnection | undefined;

  private announceToUplink(): void {
    const uplink = this.uplink();
    if (uplink) uplink.send({ type: 'edge-state', addresses: [...this.deps.servedAddresses()], ...weightsOf(this.deps.servedWeights?.()) });
    if (uplink !== this.announcedTo) {
      this.deps.log.info({ uplink: uplink?.remoteId }, uplink ? `edge uplink is ${uplink.remoteId}` : 'no edge uplink');
      this.announcedTo = uplink;
      this.deps.onRoutingChanged?.();
    }
  }

  /**
   * At an interior router: an attached edge router that serves the address,
   * for a flow that ends here without a tcpConnector here (sent by a router
   * that predates LinkStateAd.edges, or an edge router's flow). Of several,
   * by their weights when any has one (weighted-choice.ts), else in turn.
   */
  edgeServing(address: string): PeerConnection | undefined {
    const serving = this.edgeConnections(address);
    if (serving.length <= 1) return serving[0]?.peer;
    if (anyWeighted(serving) && serving.some((edge) => weightOf(edge) > 0)) {
      let choice = this.edgeChoices.get(address);
      if (!choice) this.edgeChoices.set(address, (choice = new WeightedChoice()));
      return choice.pick(serving)?.peer;
    }
    return serving[this.edgeRoundRobin++ % serving.length]!.peer;
  }

  /** Per edge router attached here that serves the address: its newest connection and its weight; by router id. */
  private edgeConnections(address: string): { key: string; peer: PeerConnection; weight?: number }[] {
    return this.newestEdgeConnections()
      .filter(({ served }) => served.addresses.includes(address))
      .map(({ id, peer, served: { weights } }) => ({ key: id, peer, ...(weights !== undefined && Object.hasOwn(weights, address) && { weight: weights[address]! }) }));
  }

  /**
   * Each edge router attached here that sent its state, by router id: its
   * newest connection (the highest group ordinal: one made after a
   * certificate rotation) and what that connection said it serves.
   */
  private newestEdgeConnections(): { id: string; peer: PeerConnection; served: Served }[] {
    const newest = new Map<string, PeerConnection>();
    for (const peer of this.edges.keys()) {
      if (peer.remoteId === undefined) continue;
      const known = newest.get(peer.remoteId);
      if (!known || peer.groupOrdinal > known.groupOrdinal) newest.set(peer.remoteId, peer);
    }
    return [...newest]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([id, peer]) => ({ id, peer, served: this.edges.get(peer)! }));
  }

  /** At an interior router: the ids of the edge routers attached here that have sent their addresses (this is their uplink). */
  edgeRouters(): string[] {
    return [...new Set([...this.edges.keys()].flatMap((peer) => (peer.remoteId === undefined ? [] : [peer.remoteId])))].sort();
  }

  /** At an interior router: every attached edge router that serves the address (multicast reaches them all). */
  edgesServing(address: string): PeerConnection[] {
    return [...this.edges].flatMap(([peer, served]) => (served.addresses.includes(address) ? [peer] : []));
  }

  onControl(peer: PeerConnection, message: ControlMessage): void {
    switch (message.type) {
      case 'hello':
        return this.onHello(peer, message);
      case 'lsa':
        return this.onAd(peer, message.ad);
      case 'summary':
        if (this.isEdge) return;
        for (const ad of this.database.missingFrom(message.summary)) peer.send({ type: 'lsa', ad });
        return;
      case 'edge-state':
        if (this.isEdge || peer.remoteMode !== 'edge') return;
        this.edges.set(peer, { addresses: message.addresses, ...(message.weights !== undefined && { weights: message.weights }) });
        this.originate('edge addresses changed');
        return;
    }
  }

  routes(): RouteTable {
    return this.routeTable;
  }

  /** The connection that leads to `routerId`: the cheapest one to its next hop. */
  peerTowards(routerId: string): PeerConnection | undefined {
    if (this.isEdge) {
      const uplink = this.uplink();
      return uplink && uplink.remoteId === routerId ? uplink : undefined;
    }
    let edge: PeerConnection | undefined;
    for (const peer of this.edges.keys()) if (peer.remoteId === routerId && (!edge || peer.groupOrdinal > edge.groupOrdinal)) edge = peer;
    if (edge) return edge;
    const route = this.routeTable.get(routerId);
    if (!route) {
      // An edge router attached to another interior router: towards that one, which passes the flow on.
      const uplink = this.edgeUplinks.get(routerId);
      return uplink !== undefined && uplink !== routerId && this.routeTable.has(uplink) ? this.peerTowards(uplink) : undefined;
    }
    // The cheapest; of equal cost, the newest rotation (the higher group ordinal).
    let best: PeerConnection | undefined;
    for (const peer of this.interiorNeighbours()) {
      if (peer.remoteId !== route.nextHop) continue;
      if (!best || peer.cost < best.cost || (peer.cost === best.cost && peer.groupOrdinal > best.groupOrdinal)) best = peer;
    }
    return best;
  }

  /**
   * Routers (this one included, at cost 0) that serve the address and can be
   * reached. At an edge router: itself if it serves the address, else its
   * uplink, which finds the rest.
   */
  targets(address: string): Target[] {
    if (this.isEdge) {
      if (this.deps.servedAddresses().includes(address)) return [{ router: this.deps.selfId, cost: 0 }];
      const uplink = this.uplink();
      return uplink?.remoteId ? [{ router: uplink.remoteId, cost: uplink.cost }] : [];
    }
    return targetsFor(address, this.deps.selfId, this.database.all(), this.routeTable);
  }

  /**
   * The targets of a TCP flow for the address: as targets(), but edge routers
   * behind interior routers are targets of their own, with their own weights
   * (targetsFor with edges), so the listener side splits flows among the sites
   * of edge routers too. A flow to one names it as its destination; interior
   * routers on the way pass it on (peerTowards).
   */
  flowTargets(address: string): Target[] {
    if (this.isEdge) return this.targets(address);
    return targetsFor(address, this.deps.selfId, this.database.all(), this.routeTable, { edges: true });
  }

  knownRouters(): LinkStateAd[] {
    return this.database.all();
  }

  private hello(peer: PeerConnection): ControlMessage {
    const timing = this.timings.get(peer);
    const now = Date.now();
    return {
      type: 'hello',
      id: this.deps.selfId,
      mode: this.deps.mode,
      epoch: this.epoch,
      cost: peer.origin.kind === 'connector' ? peer.origin.cost : 0,
      ...(this.deps.siteName !== undefined && { site: this.deps.siteName }),
      time: now,
      ...(timing?.lastTime !== undefined && timing.lastAt !== undefined && { echo: timing.lastTime, held: now - timing.lastAt }),
    };
  }

  /**
   * The neighbours that are up: router id, site name, and the last round-trip
   * time of the link (ms; from hellos echoed both ways, so it includes what
   * queued ahead of them on a busy link).
   */
  links(): { routerId: string; site?: string; rttMs?: number }[] {
    return [...this.neighbours].flatMap((peer) => {
      if (!peer.remoteId) return [];
      const timing = this.timings.get(peer);
      return [{ routerId: peer.remoteId, ...(timing?.site !== undefined && { site: timing.site }), ...(timing?.rttMs !== undefined && { rttMs: timing.rttMs }) }];
    });
  }

  /** A router's site name, from its link-state ad or (an edge neighbour) its hello. */
  siteOf(routerId: string): string | undefined {
    if (routerId === this.deps.selfId) return this.deps.siteName;
    const fromAd = this.database.get(routerId)?.site;
    if (fromAd !== undefined) return fromAd;
    const uplink = this.edgeUplinks.get(routerId);
    const fromUplink = uplink === undefined ? undefined : this.database.get(uplink)?.edges?.[routerId]?.site;
    if (fromUplink !== undefined) return fromUplink;
    for (const peer of this.neighbours) if (peer.remoteId === routerId) return this.timings.get(peer)?.site;
    return undefined;
  }

  private onHello(peer: PeerConnection, hello: Extract<ControlMessage, { type: 'hello' }>): void {
    if (hello.cost > 0) peer.cost = hello.cost;
    const now = Date.now();
    const timing = this.timings.get(peer) ?? {};
    this.timings.set(peer, timing);
    if (hello.time !== undefined) Object.assign(timing, { lastTime: hello.time, lastAt: now });
    if (hello.site !== undefined) timing.site = hello.site;
    // Our own clock at both ends of the measurement; a peer's held time larger than the round trip is a bad hello, not a negative RTT.
    if (hello.echo !== undefined && hello.held !== undefined && now - hello.echo - hello.held >= 0) timing.rttMs = now - hello.echo - hello.held;
    if (this.neighbours.has(peer)) return;
    peer.remoteId = hello.id;
    peer.remoteMode = hello.mode;
    this.neighbours.add(peer);
    this.deps.onNeighbourUp(peer);
    if (this.isEdge) {
      this.announceToUplink();
    } else if (hello.mode === 'interior') {
      // A neighbour that restarted: the ad held from its previous life lists links
      // it no longer has, and with it the route computation would send flows to
      // routers it cannot reach yet. Its new ad follows this hello.
      const held = this.database.get(hello.id);
      if (held && held.epoch < hello.epoch) this.database.remove(hello.id);
      peer.send({ type: 'summary', summary: this.database.summary() });
      this.originate('neighbour up');
    }
  }

  private onAd(from: PeerConnection, ad: LinkStateAd): void {
    if (this.isEdge || from.remoteMode !== 'interior') return;
    const result = this.database.accept(ad, Date.now());
    if (result !== 'newer') return;
    for (const peer of this.interiorNeighbours()) if (peer !== from) peer.send({ type: 'lsa', ad });
    this.recompute();
  }

  /** Our own state changed: a new ad, flooded, and new routes. */
  private originate(why: string): void {
    if (this.isEdge) return;
    this.seq++;
    const ad = this.ownAd();
    this.database.own(ad);
    this.deps.log.debug({ seq: ad.seq, neighbours: ad.neighbours, addresses: ad.addresses, why }, 'link state originated');
    this.flood({ type: 'lsa', ad });
    this.recompute();
  }

  private ownAd(): LinkStateAd {
    const neighbours: Record<string, number> = {};
    for (const peer of this.interiorNeighbours()) {
      if (!peer.remoteId) continue;
      const known = neighbours[peer.remoteId];
      neighbours[peer.remoteId] = known === undefined ? peer.cost : Math.min(known, peer.cost);
    }
    const local: Served = { addresses: [...this.deps.servedAddresses()].sort(), ...weightsOf(this.deps.servedWeights?.()) };
    const edges = this.edgesServed();
    const base = {
      origin: this.deps.selfId,
      epoch: this.epoch,
      seq: this.seq,
      mode: this.deps.mode,
      neighbours,
      ...(this.deps.siteName !== undefined && { site: this.deps.siteName }),
    };
    if (Object.keys(edges).length === 0) return { ...base, ...local };
    const all = [local, ...Object.values(edges)];
    return { ...base, addresses: [...new Set(all.flatMap((served) => served.addresses))].sort(), ...weightsOf(totalWeights(all)), edges, local };
  }

  /** The edge routers attached here that sent their state, by router id (of one router's connections, the newest), with their site names. */
  private edgesServed(): Record<string, Served & { site?: string }> {
    const edges: Record<string, Served & { site?: string }> = {};
    for (const { id, peer, served } of this.newestEdgeConnections()) {
      const site = this.timings.get(peer)?.site;
      edges[id] = { addresses: [...served.addresses].sort(), ...weightsOf(served.weights), ...(site !== undefined && { site }) };
    }
    return edges;
  }

  private flood(message: ControlMessage): void {
    if (this.isEdge) return;
    for (const peer of this.interiorNeighbours()) peer.send(message);
  }

  private *interiorNeighbours(): Iterable<PeerConnection> {
    for (const peer of this.neighbours) if (peer.remoteMode === 'interior') yield peer;
  }

  private recompute(): void {
    const before = this.routeTable;
    const ads = this.database.all();
    this.routeTable = computeRoutes(this.deps.selfId, ads);
    this.edgeUplinks = new Map();
    for (const ad of ads) {
      if (ad.origin === this.deps.selfId || ad.edges === undefined) continue;
      // An edge router listed by two ads (its uplink moved, the old ad not yet replaced): the nearer one.
      for (const edge of Object.keys(ad.edges)) {
        const known = this.edgeUplinks.get(edge);
        const cost = this.routeTable.get(ad.origin)?.cost ?? Infinity;
        if (known === undefined || cost < (this.routeTable.get(known)?.cost ?? Infinity)) this.edgeUplinks.set(edge, ad.origin);
      }
    }
    if (!sameRoutes(before, this.routeTable)) {
      const summary = Object.fromEntries([...this.routeTable].map(([router, route]) => [router, `${route.nextHop}/${route.cost}`]));
      this.deps.log.info({ routes: summary }, 'routes changed');
    }
    // Even with the same routes, an ad may have brought or taken an address.
    this.deps.onRoutingChanged?.();
  }

  private sayHello(): void {
    for (const peer of this.neighbours) peer.send(this.hello(peer));
  }

  /** Drops neighbours from which nothing (no hello, no other frame) has arrived for helloMaxAge. */
  private dropSilent(): void {
    if (this.stopped) return;
    const now = Date.now();
    for (const peer of [...this.neighbours]) {
      if (now - peer.lastHeard > this.deps.helloMaxAgeMs) {
        this.deps.dropPeer(peer, `nothing heard from ${peer.remoteId} for ${this.deps.helloMaxAgeMs / 1000} s`);
      }
    }
  }

  private expireAds(): void {
    const removed = this.database.expire(Date.now(), this.deps.adMaxAgeMs ?? DEFAULT_AD_MAX_AGE_MS);
    if (removed.length > 0) {
      this.deps.log.info({ routers: removed }, 'link state of unheard routers expired');
      this.recompute();
    }
  }
}

/** The ad's `weights` field: absent when nothing served here is weighted, so ads of unweighted routers stay as they were. */
function weightsOf(weights: Readonly<Record<string, number>> | undefined): { weights?: Readonly<Record<string, number>> } {
  return weights !== undefined && Object.keys(weights).length > 0 ? { weights } : {};
}

/**
 * Per address, the sum of the weights of the routers that serve it, for
 * addresses weighted at any of them; one that serves it without a weight
 * counts as 1 (weighted-choice.ts DEFAULT_WEIGHT), as at a listener side.
 */
function totalWeights(all: readonly Served[]): Record<string, number> {
  const weighted = new Set(all.flatMap((served) => Object.keys(served.weights ?? {})));
  const totals: Record<string, number> = {};
  for (const address of weighted) {
    let sum = 0;
    for (const served of all) {
      if (!served.addresses.includes(address)) continue;
      sum += served.weights !== undefined && Object.hasOwn(served.weights, address) ? served.weights[address]! : DEFAULT_WEIGHT;
    }
    totals[address] = sum;
  }
  return totals;
}

function sameRoutes(a: RouteTable, b: RouteTable): boolean {
  if (a.size !== b.size) return false;
  for (const [router, route] of a) {
    const other = b.get(router);
    if (!other || other.nextHop !== route.nextHop || other.cost !== route.cost) return false;
  }
  return true;
}
