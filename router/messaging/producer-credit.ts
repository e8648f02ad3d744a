// Credit for client senders (the router's receiving links on normal
// listeners), as skupper-router gives it:
//   - a sender to an anycast address gets credit only while a consumer of the
//     address is reachable (skupper-router's qdr_addr_start_inlinks_CT issues a
//     stalled link its capacity when the address gains its first destination);
//   - a message that finds no consumer after all (the consumer went between
//     credit and transfer) is released, and the link is drained (AMQP 1.0
//     section 2.6.7) and given nothing more until a consumer is reachable again
//     (skupper-router's qdr_link_forward_CT with no path: release, drain);
//   - an unsettled message holds one unit of the window until its outcome goes
//     back to the sender (skupper-router issues replacement credit when it
//     settles the incoming delivery), so what waits in the router for a slow
//     consumer is bounded by the senders' windows; pre-settled ones are
//     replaced at once;
//   - anonymous senders (no target address; each message names its own) and
//     senders to multicast addresses always get credit: there is no one address
//     to wait for, or nothing to wait for.
import type { Delivery, Receiver } from 'rhea';
import { linkCredit } from '../amqp/sender-credit.js';

interface Producer {
  /** Incoming deliveries not yet settled by the router. */
  readonly unsettled: Set<Delivery>;
  /** Whether a message sent on this link now would find a consumer (always true for anonymous and multicast links). */
  readonly reachable: () => boolean;
  draining: boolean;
}

export class ProducerCredit {
  private readonly producers = new Map<Receiver, Producer>();

  /** window: the most messages a sender may have in flight, as skupper-router's linkCapacity (default 250). */
  constructor(private readonly window: number) {}

  /** A client sender attached: credit now if a consumer is reachable, else when one is. */
  add(receiver: Receiver, reachable: () => boolean): void {
    const producer: Producer = { unsettled: new Set(), reachable, draining: false };
    this.producers.set(receiver, producer);
    // The sender gave back its credit: top up again if a consumer came back meanwhile.
    receiver.on('receiver_drained', () => this.topUp(receiver, producer));
    this.topUp(receiver, producer);
  }

  /** Forgets closed links (one, or all of a connection). */
  removeWhere(gone: (receiver: Receiver) => boolean): void {
    for (const receiver of [...this.producers.keys()]) if (gone(receiver)) this.producers.delete(receiver);
  }

  /** A message came in on a producer link: it holds credit until settled (pre-settled ones do not). */
  received(delivery: Delivery): void {
    const receiver = delivery.link as Receiver;
    const producer = this.producers.get(receiver);
    if (!producer) return;
    if (delivery.remote_settled) this.topUp(receiver, producer);
    else producer.unsettled.add(delivery);
  }

  /** The router settled a message it had received (any outcome): its credit comes back, if a consumer is reachable. */
  settled(delivery: Delivery): void {
    const receiver = delivery.link as Receiver;
    const producer = this.producers.get(receiver);
    if (producer?.unsettled.delete(delivery)) this.topUp(receiver, producer);
  }

  /** A message on this link found no consumer: ask the sender to give back its credit (drain) until one is reachable. */
  noConsumer(delivery: Delivery): void {
    const receiver = delivery.link as Receiver;
    const producer = this.producers.get(receiver);
    if (!producer || producer.draining || producer.reachable()) return;
    producer.draining = true;
    receiver.drain_credit();
  }

  /** Consumers or routes changed: links whose address became reachable get their credit. */
  refresh(): void {
    for (const [receiver, producer] of this.producers) this.topUp(receiver, producer);
  }

  private topUp(receiver: Receiver, producer: Producer): void {
    if (!producer.reachable()) return;
    if (producer.draining) {
      // rhea sets drain on every flow while this is true.
      producer.draining = false;
      receiver.drain = false;
    }
    const more = this.window - linkCredit(receiver) - producer.unsettled.size;
    if (more > 0) receiver.add_credit(more);
  }
}
