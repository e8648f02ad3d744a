// AMQP messaging for clients on normal listeners, across the router network.
//
// A client receiver on address X makes this router a consumer of X: it is
// advertised in link state as `amqp:X` (a prefix keeps message addresses apart
// from TCP service addresses). Messages a client sends to X are routed:
//   - anycast (the default, "balanced"/"closest"): to one consumer, a local
//     receiver with credit first, else the nearest router with consumers;
//     unsettled all the way, so the final receiver's outcome (accepted,
//     rejected, released, modified) comes back hop by hop to the sender; when
//     the link it went out on is lost first, the sender gets released (not yet
//     on the wire) or modified with delivery-failed (it may have arrived), as
//     from skupper-router, and never waits for an outcome that cannot come;
//   - multicast (an `address` entity with distribution multicast): one copy to
//     every receiver in the network. The first router settles the sender's
//     delivery (accepted) and forwards pre-settled copies that name the routers
//     they are for, split by next hop, so that each router, in any topology
//     (rings included), gets each message exactly once.
// Between routers, messages travel on one link per connection and direction
// to `_kskup/messages`, with routing in message annotations. A message is
// never queued without credit (that would stall the TCP flows sharing the
// session): without credit it is released (anycast) or dropped and counted
// (multicast).
import type { Connection, Delivery, EventContext, Message, Receiver, Sender } from 'rhea';
import type { AddressEntity } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import type { PeerConnection } from '../peer/peer-connection.js';
import { markOwnLink } from '../peer/own-links.js';
import type { Target } from '../routing/index.js';
import { deliveryWritten, spendableCredit } from '../amqp/sender-credit.js';

export const MESSAGES_ADDRESS = '_kskup/messages';
export const CONSUMER_PREFIX = 'amqp:';
const CLIENT_CREDIT = 250;
const PEER_CREDIT = 1000;
const TO_ROUTER = 'x-kskup-to';
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

export class MessagingAgent {
  private readonly consumers = new Map<string, Sender[]>();
  private readonly peerSenders = new Map<PeerConnection, Sender>();
  /** Messages handed to rhea per sender; with rhea's delivery_count, what is still queued. */
  private readonly queued = new WeakMap<Sender, number>();
  private roundRobin = 0;
  dropped = 0;

  constructor(private readonly deps: MessagingDeps) {}

  /** Addresses with receivers here, as advertised in link state. */
  advertised(): string[] {
    return [...this.consumers.keys()].map((address) => CONSUMER_PREFIX + address);
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
    const list = this.consumers.get(address) ?? [];
    list.push(sender);
    this.consumers.set(address, list);
    if (list.length === 1) this.deps.onConsumersChanged();
    sender.on('sender_close', () => {
      this.dropConsumers((s) => s === sender);
      this.failInFlight(sender);
    });
  }

  /**
   * A client connection is gone: its receivers with it. (One call per connection,
   * from the router, rather than a 'disconnected' listener per receiver link on
   * the connection, which piles up listeners on a client with many receivers.)
   */
  connectionClosed(connection: Connection): void {
    this.dropConsumers((sender) => sender.connection === connection);
    for (const sender of [...this.inFlight.keys()]) if (sender.connection === connection) this.failInFlight(sender);
  }

  private dropConsumers(gone: (sender: Sender) => boolean): void {
    let changed = false;
    for (const [address, senders] of this.consumers) {
      const remaining = senders.filter((sender) => !gone(sender));
      if (remaining.length === senders.length) continue;
      if (remaining.length > 0) this.consumers.set(address, remaining);
      else {
        this.consumers.delete(address);
        changed = true;
      }
    }
    if (changed) this.deps.onConsumersChanged();
  }

  /** A client attached a sender: messages to its target address (or each message's `to`). */
  acceptProducer(receiver: Receiver): void {
    const target = (receiver.target as { address?: string } | undefined)?.address;
    // Anonymous producers (no target address; each message says `to`) get a null-address target back.
    receiver.set_target({ address: target ?? (null as unknown as string) });
    receiver.add_credit(CLIENT_CREDIT);
    receiver.on('message', (context: EventContext) => {
      receiver.add_credit(1);
      const message = context.message;
      const delivery = context.delivery;
      if (!message || !delivery) return;
      const address = message.to ?? (receiver.target as { address?: string } | undefined)?.address;
      if (!address) {
        delivery.reject({ condition: 'amqp:invalid-field', description: 'no address: set the link target or the message "to"' });
        return;
      }
      this.route(String(address), message, delivery);
    });
  }

  // ---- between routers ----

  neighbourUp(peer: PeerConnection): void {
    const sender = markOwnLink(peer.connection.open_sender({ target: { address: MESSAGES_ADDRESS } }));
    this.peerSenders.set(peer, sender);
    this.watchOutcomes(sender);
  }

  neighbourLost(peer: PeerConnection): void {
    const sender = this.peerSenders.get(peer);
    this.peerSenders.delete(peer);
    if (sender) this.failInFlight(sender);
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

  private anycast(address: string, message: Message, delivery: Delivery): void {
    const annotations = (message.message_annotations ?? {}) as Record<string, unknown>;
    const named = typeof annotations[TO_ROUTER] === 'string' ? (annotations[TO_ROUTER] as string) : undefined;
    if (delivery.remote_settled) {
      // Sent pre-settled (at most once): nothing to report back, so forward it settled too.
      delivery.update(true);
    }
    if (named === undefined || named === this.deps.selfId) {
      const local = this.localConsumerWithCredit(address);
      if (local) return this.forward(local, { ...message, to: address }, delivery);
      if (named === this.deps.selfId) return delivery.remote_settled ? void this.dropped++ : delivery.release();
    }
    const target =
      named !== undefined && named !== this.deps.selfId
        ? named
        : this.deps.consumersOf(address).find((t) => t.router !== this.deps.selfId)?.router;
    const peer = target === undefined ? undefined : this.deps.peerTowards(target);
    const link = peer ? this.peerSenders.get(peer) : undefined;
    if (!link || !target || this.credit(link) <= 0) {
      if (delivery.remote_settled) this.dropped++;
      else delivery.release();
      return;
    }
    this.forward(link, { ...message, to: address, message_annotations: { ...annotations, [TO_ROUTER]: target } }, delivery);
  }

  private multicast(address: string, message: Message, delivery: Delivery): void {
    const annotations = (message.message_annotations ?? {}) as Record<string, unknown>;
    const listed = annotations[MULTICAST_TARGETS];
    if (!delivery.remote_settled) delivery.accept();
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
    for (const consumer of this.consumers.get(address) ?? []) {
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
    forwarded.set(sender.send(message), incoming);
  }

  private sendSettled(sender: Sender, message: Message): void {
    this.queued.set(sender, (this.queued.get(sender) ?? 0) + 1);
    (sender.send(message) as { settled: boolean }).settled = true;
  }

  /** Per outgoing link: its unsettled forwarded deliveries, each with the delivery it came from. */
  private readonly inFlight = new Map<Sender, Map<Delivery, Delivery>>();

  /** Passes each final outcome of a forwarded delivery back to the delivery it came from. */
  private watchOutcomes(sender: Sender): void {
    const relay = (outcome: 'accept' | 'reject' | 'release' | 'modified') => (context: EventContext) => {
      const { delivery } = context;
      const forwarded = this.inFlight.get(sender);
      const incoming = delivery ? forwarded?.get(delivery) : undefined;
      if (!delivery || !forwarded || !incoming) return;
      forwarded.delete(delivery);
      if (forwarded.size === 0) this.inFlight.delete(sender);
      if (incoming.remote_settled) return;
      const state = (delivery as { remote_state?: { error?: unknown; delivery_failed?: boolean; undeliverable_here?: boolean } }).remote_state;
      if (outcome === 'reject') incoming.reject(state?.error as never);
      else if (outcome === 'modified') incoming.modified({ delivery_failed: state?.delivery_failed === true, undeliverable_here: state?.undeliverable_here === true });
      else incoming[outcome]();
    };
    sender.on('accepted', relay('accept'));
    sender.on('rejected', relay('reject'));
    sender.on('released', relay('release'));
    sender.on('modified', relay('modified'));
  }

  /**
   * The link went before the outcomes of what it carried came back. A delivery
   * rhea never put on the wire is released (safe to send again); one that went
   * out may have arrived, so it is modified with delivery-failed.
   */
  private failInFlight(sender: Sender): void {
    const forwarded = this.inFlight.get(sender);
    if (!forwarded) return;
    this.inFlight.delete(sender);
    for (const [outgoing, incoming] of forwarded) {
      if (incoming.remote_settled) continue;
      if (deliveryWritten(sender, outgoing)) incoming.modified({ delivery_failed: true });
      else incoming.release();
    }
  }

  private localConsumerWithCredit(address: string): Sender | undefined {
    const ready = (this.consumers.get(address) ?? []).filter((sender) => this.credit(sender) > 0);
    if (ready.length === 0) return undefined;
    const chosen = ready[this.roundRobin++ % ready.length]!;
    if (!this.outcomeWatched.has(chosen)) {
      this.outcomeWatched.add(chosen);
      this.watchOutcomes(chosen);
    }
    return chosen;
  }

  private readonly outcomeWatched = new WeakSet<Sender>();

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
