// AMQP messaging for clients on normal listeners, across the router network.
//
// A client receiver on address X makes this router a consumer of X: it is
// advertised in link state as `amqp:X` (a prefix keeps message addresses apart
// from TCP service addresses). Messages a client sends to X are routed:
//   - anycast (the default, "balanced"/"closest"): to one consumer, a local
//     receiver with credit first, else the nearest router with consumers, else
//     a local receiver that has spent its credit (the message waits in its
//     queue, local-consumers.ts); unsettled all the way, so the final
//     receiver's outcome (accepted, rejected, released, modified) comes back
//     hop by hop to the sender; when the link it went out on is lost first, the
//     sender gets released (not yet on the wire) or modified with
//     delivery-failed (it may have arrived), as from skupper-router, and never
//     waits for an outcome that cannot come. A router that cannot pass a
//     message on towards the router it was sent to (its consumer left, or the
//     routes moved) routes it afresh to another consumer: a message is released
//     only when no consumer is reachable, and a sender to an address without
//     one gets no credit (producer-credit.ts);
//   - multicast (an `address` entity with distribution multicast): one copy to
//     every receiver in the network. The first router settles the sender's
//     delivery (accepted) and forwards pre-settled copies that name the routers
//     they are for, split by next hop, so that each router, in any topology
//     (rings included), gets each message exactly once.
// Between routers, messages travel on one link per connection and direction
// to `_kskup/messages`, with routing in message annotations. A message is
// never queued on an inter-router link without credit (that would stall the
// TCP flows sharing the session): without credit it goes another way or is
// released (anycast), or is dropped and counted (multicast).
import type { Connection, Delivery, EventContext, Message, Receiver, Sender } from 'rhea';
import type { AddressEntity } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import type { PeerConnection } from '../peer/peer-connection.js';
import { markOwnLink } from '../peer/own-links.js';
import type { Target } from '../routing/index.js';
import { deliveryWritten, spendableCredit } from '../amqp/sender-credit.js';
import { LocalConsumers, type Undelivered } from './local-consumers.js';
import { ProducerCredit } from './producer-credit.js';

export const MESSAGES_ADDRESS = '_kskup/messages';
export const CONSUMER_PREFIX = 'amqp:';
/** A client sender's window, as skupper-router's default linkCapacity. */
const CLIENT_CREDIT = 250;
const PEER_CREDIT = 1000;
const TO_ROUTER = 'x-kskup-to';
/** Inter-router links an anycast message has crossed. */
const HOPS = 'x-kskup-hops';
/**
 * An anycast message is not sent across more inter-router links than this:
 * while routers' views of the network disagree (for the moments a change takes
 * to flood) one router's route could lead back through another, and a message
 * must not circle. Far more than any path in a network of sites.
 */
const MAX_HOPS = 32;
const MULTICAST_TARGETS = 'x-kskup-targets';
/** The edge router a multicast message came up from: it is not sent back down to it. */
const FROM_EDGE = 'x-kskup-from-edge';

export interface MessagingDeps {
  readonly selfId: string;
  readonly log: Logger;
  readonly addresses: () => readonly AddressEntity[];
  /** Routers that advertise `amqp:<address>`, with path cost (this router included at 0). */
  readonly consumersOf: (address: string) => readonly Target[];
  readonly peerTowards: (routerId: string) => PeerConnection | undefined;
  /** Edge routers take no part in link state: multicast goes up to the uplink, and interior routers pass it down to their edges. */
  readonly isEdge: boolean;
  readonly uplink: () => PeerConnection | undefined;
  readonly edgesConsuming: (address: string) => readonly PeerConnection[];
  readonly onConsumersChanged: () => void;
}

/**
 * The origin of a message a part of this router sends itself (a flow-query
 * reply): sent pre-settled, so nothing waits for its outcome.
 */
const SETTLED_HERE = { remote_settled: true, link: undefined, update: () => undefined } as unknown as Delivery;

/** An anycast message being routed, with what its annotations say. */
interface AnycastSend {
  readonly address: string;
  readonly message: Message;
  readonly delivery: Delivery;
  readonly annotations: Record<string, unknown>;
  readonly hops: number;
}

export class MessagingAgent {
  private readonly consumers: LocalConsumers;
  private readonly producers = new ProducerCredit(CLIENT_CREDIT);
  private readonly peerSenders = new Map<PeerConnection, Sender>();
  /** Messages handed to rhea per sender; with rhea's delivery_count, what is still queued. */
  private readonly queued = new WeakMap<Sender, number>();
  /** Addresses a part of this router consumes itself (router/flows/flow-query-agent.ts), advertised like a receiver's. */
  private readonly internal = new Map<string, (message: Message) => void>();
  dropped = 0;

  constructor(private readonly deps: MessagingDeps) {
    this.consumers = new LocalConsumers({
      credit: (sender) => this.credit(sender),
      send: (sender, item) => this.forward(sender, item.message, item.incoming),
    });
  }

  /** Addresses with receivers here, as advertised in link state. */
  advertised(): string[] {
    return [...this.consumers.addresses(), ...this.internal.keys()].map((address) => CONSUMER_PREFIX + address);
  }

  /** This router consumes `address` itself: anycast messages to it, from anywhere in the network, go to `handler`. */
  addInternalConsumer(address: string, handler: (message: Message) => void): void {
    this.internal.set(address, handler);
    this.deps.onConsumersChanged();
  }

  /**
   * Sends a message of this router's own, pre-settled, to a receiver of
   * `address` attached at `router` (this one or another): it is forwarded
   * towards that router by name, so the address need not be in link state
   * yet (a reply address a client has just attached). Dropped (and counted)
   * when there is no way there.
   */
  sendToRouter(address: string, router: string, message: Message): void {
    const annotations = { ...((message.message_annotations ?? {}) as Record<string, unknown>), [TO_ROUTER]: router };
    this.anycast(address, { ...message, to: address, message_annotations: annotations }, SETTLED_HERE);
  }

  /** Routes or the consumers they lead to changed: senders whose address became reachable get credit. */
  routingChanged(): void {
    this.producers.refresh();
  }

  // ---- clients ----

  /** A client attached a receiver: it consumes the link's source address. */
  acceptConsumer(sender: Sender): void {
    const address = (sender.source as { address?: string } | undefined)?.address;
    if (!address) {
      sender.close({ condition: 'amqp:invalid-field', description: 'a receiver needs a source address' });
      return;
    }
    // Answer with the same source: strict clients (Qpid Proton) check that it matches.
    sender.set_source({ address });
    this.watchOutcomes(sender);
    if (this.consumers.add(address, sender)) this.deps.onConsumersChanged();
    this.producers.refresh();
    sender.on('sender_close', () => {
      this.dropConsumers((s) => s === sender);
      this.failInFlight(sender, 'link detached');
    });
  }

  /**
   * A client connection is gone: its receivers with it. (One call per connection,
   * from the router, rather than a 'disconnected' listener per receiver link on
   * the connection, which piles up listeners on a client with many receivers.)
   */
  connectionClosed(connection: Connection): void {
    this.producers.removeWhere((receiver) => receiver.connection === connection);
    this.dropConsumers((sender) => sender.connection === connection);
    for (const sender of [...this.inFlight.keys()]) if (sender.connection === connection) this.failInFlight(sender, 'connection gone');
  }

  /** Receivers gone: what waited in their queues was never sent, so it is routed again (to another consumer if there is one). */
  private dropConsumers(gone: (sender: Sender) => boolean): void {
    const { lastGone, orphans } = this.consumers.remove(gone);
    if (lastGone) this.deps.onConsumersChanged();
    for (const { address, item } of orphans) this.anycast(address, item.message, item.incoming);
  }

  /** A client attached a sender: messages to its target address (or each message's `to`). */
  acceptProducer(receiver: Receiver): void {
    const target = (receiver.target as { address?: string } | undefined)?.address;
    // Anonymous producers (no target address; each message says `to`) get a null-address target back.
    receiver.set_target({ address: target ?? (null as unknown as string) });
    // A sender to one anycast address waits for credit until a consumer of it is reachable.
    this.producers.add(receiver, target !== undefined && !this.isMulticast(target) ? () => this.canReach(target) : () => true);
    receiver.on('receiver_close', () => this.producers.removeWhere((other) => other === receiver));
    receiver.on('message', (context: EventContext) => {
      const message = context.message;
      const delivery = context.delivery;
      if (!message || !delivery) return;
      this.producers.received(delivery);
      const address = message.to ?? (receiver.target as { address?: string } | undefined)?.address;
      if (!address) {
        this.settle(delivery, (d) => d.reject({ condition: 'amqp:invalid-field', description: 'no address: set the link target or the message "to"' }));
        return;
      }
      this.route(String(address), message, delivery);
    });
  }

  /**
   * Whether an anycast message to the address would find a consumer now: one
   * here, or a router with one that a connection leads towards.
   */
  private canReach(address: string): boolean {
    if (this.consumers.has(address)) return true;
    return this.deps.consumersOf(address).some((target) => {
      if (target.router === this.deps.selfId) return false;
      const peer = this.deps.peerTowards(target.router);
      return peer !== undefined && this.peerSenders.has(peer);
    });
  }

  /** Gives an incoming delivery its outcome; a client sender's credit for it comes back. */
  private settle(incoming: Delivery, outcome: (delivery: Delivery) => void): void {
    outcome(incoming);
    this.producers.settled(incoming);
  }

  // ---- between routers ----

  neighbourUp(peer: PeerConnection): void {
    const sender = markOwnLink(peer.connection.open_sender({ target: { address: MESSAGES_ADDRESS } }));
    this.peerSenders.set(peer, sender);
    this.watchOutcomes(sender);
    this.producers.refresh();
  }

  neighbourLost(peer: PeerConnection): void {
    const sender = this.peerSenders.get(peer);
    this.peerSenders.delete(peer);
    if (sender) this.failInFlight(sender, 'connection gone');
  }

  acceptPeerLink(receiver: Receiver): void {
    receiver.add_credit(PEER_CREDIT);
    receiver.on('message', (context: EventContext) => {
      receiver.add_credit(1);
      const { message, delivery } = context;
      if (!message || !delivery) return;
      this.route(String(message.to ?? ''), message, delivery);
    });
  }

  // ---- routing ----

  private isMulticast(address: string): boolean {
    return this.deps.addresses().some(
      (entity) =>
        entity.distribution === 'multicast' &&
        ((entity.prefix !== undefined && address.startsWith(entity.prefix)) || (entity.pattern !== undefined && matchPattern(entity.pattern, address))),
    );
  }

  private route(address: string, message: Message, delivery: Delivery): void {
    if (this.isMulticast(address)) this.multicast(address, message, delivery);
    else this.anycast(address, message, delivery);
  }

  /**
   * Anycast, at every router a message passes: to the router it was sent to
   * while that still leads to a consumer; else chosen afresh here (a local
   * receiver with credit, the nearest router with a consumer, a local receiver
   * without credit); released only if there is none.
   */
  private anycast(address: string, message: Message, delivery: Delivery): void {
    const annotations = (message.message_annotations ?? {}) as Record<string, unknown>;
    const named = typeof annotations[TO_ROUTER] === 'string' ? (annotations[TO_ROUTER] as string) : undefined;
    const hops = typeof annotations[HOPS] === 'number' ? (annotations[HOPS] as number) : 0;
    if (delivery.remote_settled) {
      // Sent pre-settled (at most once): nothing to report back, so forward it settled too.
      delivery.update(true);
    }
    const internal = this.internal.get(address);
    if (internal) {
      if (!delivery.remote_settled) this.settle(delivery, (d) => d.accept());
      internal(message);
      return;
    }
    const send = { address, message, delivery, annotations, hops };
    if (named === this.deps.selfId) {
      // Sent here for a receiver here: the one that waits (in order) if all have spent their credit.
      const here = this.consumers.pick(address);
      if (here) return this.deliverHere(here, send);
    } else if (named !== undefined && this.sendTowards(named, send)) return;
    const ready = this.consumers.ready(address);
    if (ready) return this.deliverHere(ready, send);
    for (const target of this.deps.consumersOf(address)) {
      if (target.router === this.deps.selfId || target.router === named) continue;
      if (this.sendTowards(target.router, send)) return;
    }
    const waiting = this.consumers.pick(address);
    if (waiting) return this.deliverHere(waiting, send);
    if (delivery.remote_settled) this.dropped++;
    else this.settle(delivery, (d) => d.release());
    this.producers.noConsumer(delivery);
  }

  private deliverHere(consumer: Sender, { address, message, delivery }: AnycastSend): void {
    const item: Undelivered = { message: { ...message, to: address }, incoming: delivery };
    if (!this.consumers.deliver(consumer, item)) this.dropped++;
  }

  /** Forwards towards `router` if a connection leads there with credit (and the message has hops left). */
  private sendTowards(router: string, { address, message, delivery, annotations, hops }: AnycastSend): boolean {
    if (hops >= MAX_HOPS) return false;
    // An edge router reaches every other router through its uplink, which knows the way on: the name is kept
    // (a flow-query reply to an asker elsewhere in the network must not be re-addressed to the uplink, where
    // the reply address may not be in link state yet).
    const peer = this.deps.isEdge && router !== this.deps.selfId ? this.deps.uplink() : this.deps.peerTowards(router);
    const link = peer ? this.peerSenders.get(peer) : undefined;
    if (!link || this.credit(link) <= 0) return false;
    this.forward(link, { ...message, to: address, message_annotations: { ...annotations, [TO_ROUTER]: router, [HOPS]: hops + 1 } }, delivery);
    return true;
  }

  private multicast(address: string, message: Message, delivery: Delivery): void {
    const annotations = (message.message_annotations ?? {}) as Record<string, unknown>;
    const listed = annotations[MULTICAST_TARGETS];
    // Settled here either way: rhea frees a session's incoming deliveries in
    // order, and only settled ones, so one left unsettled (a pre-settled copy
    // has no outcome to send back, but needs settling all the same) held every
    // later delivery on the connection, the flows' bytes included, until the
    // session's buffer overflowed.
    if (delivery.remote_settled) delivery.update(true);
    else this.settle(delivery, (d) => d.accept());
    if (this.deps.isEdge) return this.multicastAtEdge(address, message, Array.isArray(listed));
    // At the first router: every router with receivers. Further on: the ones this copy is for.
    const targets = Array.isArray(listed)
      ? listed.map(String)
      : this.deps.consumersOf(address).map((t) => t.router);
    if (targets.includes(this.deps.selfId)) {
      this.deliverLocally(address, message);
      // Receivers on attached edge routers are advertised as this router's: their copies go down from here.
      for (const edge of this.deps.edgesConsuming(address)) {
        if (edge.remoteId === undefined || edge.remoteId === annotations[FROM_EDGE]) continue;
        this.sendToPeer(edge, { ...message, to: address, message_annotations: { ...annotations, [MULTICAST_TARGETS]: [edge.remoteId] } });
      }
    }
    const byNextHop = new Map<PeerConnection, string[]>();
    for (const router of targets) {
      if (router === this.deps.selfId) continue;
      const peer = this.deps.peerTowards(router);
      if (!peer) continue;
      byNextHop.set(peer, [...(byNextHop.get(peer) ?? []), router]);
    }
    for (const [peer, routers] of byNextHop) {
      this.sendToPeer(peer, { ...message, to: address, message_annotations: { ...annotations, [MULTICAST_TARGETS]: routers } });
    }
  }

  /**
   * An edge router delivers to its own receivers; a message sent here goes up to
   * the uplink unlisted, as if sent there, and the uplink sends it everywhere
   * else. A copy that came down (listed) stops here.
   */
  private multicastAtEdge(address: string, message: Message, cameDown: boolean): void {
    this.deliverLocally(address, message);
    if (cameDown) return;
    const uplink = this.deps.uplink();
    if (!uplink) return;
    const annotations = (message.message_annotations ?? {}) as Record<string, unknown>;
    this.sendToPeer(uplink, { ...message, to: address, message_annotations: { ...annotations, [FROM_EDGE]: this.deps.selfId } });
  }

  private deliverLocally(address: string, message: Message): void {
    for (const consumer of this.consumers.of(address)) {
      if (this.credit(consumer) > 0) this.sendSettled(consumer, { ...message, to: address });
      else this.dropped++;
    }
  }

  private sendToPeer(peer: PeerConnection, message: Message): void {
    const link = this.peerSenders.get(peer);
    if (!link || this.credit(link) <= 0) {
      this.dropped++;
      return;
    }
    this.sendSettled(link, message);
  }

  private forward(sender: Sender, message: Message, incoming: Delivery): void {
    if (incoming.remote_settled) return this.sendSettled(sender, message);
    this.queued.set(sender, (this.queued.get(sender) ?? 0) + 1);
    let forwarded = this.inFlight.get(sender);
    if (!forwarded) this.inFlight.set(sender, (forwarded = new Map()));
    forwarded.set(sender.send(message), { incoming, message });
  }

  private sendSettled(sender: Sender, message: Message): void {
    this.queued.set(sender, (this.queued.get(sender) ?? 0) + 1);
    (sender.send(message) as { settled: boolean }).settled = true;
  }

  /** Per outgoing link: its unsettled forwarded deliveries, each with the delivery it came from and the message as sent. */
  private readonly inFlight = new Map<Sender, Map<Delivery, { readonly incoming: Delivery; readonly message: Message }>>();

  /** Passes each final outcome of a forwarded delivery back to the delivery it came from. */
  private watchOutcomes(sender: Sender): void {
    const relay = (outcome: 'accept' | 'reject' | 'release' | 'modified') => (context: EventContext) => {
      const { delivery } = context;
      const forwarded = this.inFlight.get(sender);
      const incoming = delivery ? forwarded?.get(delivery)?.incoming : undefined;
      if (!delivery || !forwarded || !incoming) return;
      forwarded.delete(delivery);
      if (forwarded.size === 0) this.inFlight.delete(sender);
      if (incoming.remote_settled) return;
      const state = (delivery as { remote_state?: { error?: unknown; delivery_failed?: boolean; undeliverable_here?: boolean } }).remote_state;
      this.settle(incoming, (d) => {
        if (outcome === 'reject') d.reject(state?.error as never);
        else if (outcome === 'modified') d.modified({ delivery_failed: state?.delivery_failed === true, undeliverable_here: state?.undeliverable_here === true });
        else d[outcome]();
      });
    };
    sender.on('accepted', relay('accept'));
    sender.on('rejected', relay('reject'));
    sender.on('released', relay('release'));
    sender.on('modified', relay('modified'));
  }

  /**
   * The link went before the outcomes of what it carried came back. One that
   * went out may have arrived, so it is modified with delivery-failed. One
   * that rhea never put on the wire of a connection that is gone never will: it
   * is routed again (to another consumer, or released if there is none).
   * When only the link was detached (a receiver closed, its connection stays),
   * rhea still writes what it holds for the link (within the credit the link
   * had), so all of it counts as gone out: routing it again could deliver it
   * twice (found by the moving-consumer test: a rhea receiver gets them).
   */
  private failInFlight(sender: Sender, why: 'link detached' | 'connection gone'): void {
    const forwarded = this.inFlight.get(sender);
    if (!forwarded) return;
    this.inFlight.delete(sender);
    for (const [outgoing, { incoming, message }] of forwarded) {
      if (incoming.remote_settled) continue;
      if (why === 'link detached' || deliveryWritten(sender, outgoing)) this.settle(incoming, (d) => d.modified({ delivery_failed: true }));
      else this.anycast(String(message.to ?? ''), message, incoming);
    }
  }

  /** Link credit less what is queued and not yet transferred. */
  private credit(sender: Sender): number {
    return spendableCredit(sender, this.queued.get(sender) ?? 0);
  }
}

/** skupper-router address patterns: tokens separated by '/' or '.', '*' one token, '#' any number. */
function matchPattern(pattern: string, address: string): boolean {
  const escaped = pattern
    .split(/([/.])/)
    .map((token) => (token === '*' ? '[^/.]+' : token === '#' ? '.*' : token.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${escaped}$`).test(address);
}
