// Client receivers on this router, by address, each with its own FIFO of
// messages routed to it but not yet sent: skupper-router's "undelivered" list
// of an outgoing link. A consumer that has spent its credit (Qpid Proton's
// default prefetch is 10) still takes messages: they wait here, in order, until
// it grants more, instead of being released while it is reachable. Queuing here
// rather than in rhea keeps the client's session free for its other links
// (router/amqp/sender-credit.ts says why).
//
// What bounds the queues: an unsettled message holds one unit of its sender's
// credit until its outcome comes back (producer-credit.ts), so the queues hold
// at most the senders' windows. A pre-settled message holds nothing, so a queue
// takes pre-settled messages only up to MAX_PRESETTLED_QUEUED (then they are
// dropped, as at-most-once allows).
import type { Delivery, Message, Sender } from 'rhea';

export interface Undelivered {
  readonly message: Message;
  /** Where the message came from: its outcome goes back there. */
  readonly incoming: Delivery;
}

export interface ConsumerIo {
  /** Messages the link can take now without rhea holding one back. */
  credit(sender: Sender): number;
  send(sender: Sender, item: Undelivered): void;
}

const MAX_PRESETTLED_QUEUED = 1000;

interface Consumer {
  readonly address: string;
  readonly undelivered: Undelivered[];
}

export class LocalConsumers {
  private readonly consumers = new Map<Sender, Consumer>();
  private readonly byAddress = new Map<string, Sender[]>();
  private roundRobin = 0;

  constructor(private readonly io: ConsumerIo) {}

  /** Addresses with at least one receiver here. */
  addresses(): string[] {
    return [...this.byAddress.keys()];
  }

  has(address: string): boolean {
    return this.byAddress.has(address);
  }

  /** Every receiver of the address (multicast copies go to each). */
  of(address: string): readonly Sender[] {
    return this.byAddress.get(address) ?? [];
  }

  /** Adds a receiver; true if it is the address's first. Its queue is sent on as it grants credit. */
  add(address: string, sender: Sender): boolean {
    this.consumers.set(sender, { address, undelivered: [] });
    const list = this.byAddress.get(address) ?? [];
    list.push(sender);
    this.byAddress.set(address, list);
    sender.on('sendable', () => this.flush(sender));
    return list.length === 1;
  }

  /**
   * Removes the receivers `gone` picks. Returns whether an address lost its
   * last receiver, and the messages their queues held (never sent, so they
   * can be routed again).
   */
  remove(gone: (sender: Sender) => boolean): { lastGone: boolean; orphans: { address: string; item: Undelivered }[] } {
    let lastGone = false;
    const orphans: { address: string; item: Undelivered }[] = [];
    for (const [sender, consumer] of [...this.consumers]) {
      if (!gone(sender)) continue;
      this.consumers.delete(sender);
      for (const item of consumer.undelivered) orphans.push({ address: consumer.address, item });
      const remaining = (this.byAddress.get(consumer.address) ?? []).filter((other) => other !== sender);
      if (remaining.length > 0) this.byAddress.set(consumer.address, remaining);
      else {
        this.byAddress.delete(consumer.address);
        lastGone = true;
      }
    }
    return { lastGone, orphans };
  }

  /** A receiver of the address that can take a message now (round robin), if any. */
  ready(address: string): Sender | undefined {
    const ready = this.of(address).filter((sender) => this.canSendNow(sender));
    return ready.length === 0 ? undefined : ready[this.roundRobin++ % ready.length];
  }

  /** The receiver to queue for: a ready one, else the one with the shortest queue. */
  pick(address: string): Sender | undefined {
    const ready = this.ready(address);
    if (ready) return ready;
    let best: Sender | undefined;
    for (const sender of this.of(address)) {
      if (!best || this.queued(sender) < this.queued(best)) best = sender;
    }
    return best;
  }

  /** Sends the message now if the receiver can take it, else queues it. False: a pre-settled message over the cap, dropped. */
  deliver(sender: Sender, item: Undelivered): boolean {
    const consumer = this.consumers.get(sender);
    if (!consumer) return false;
    if (this.canSendNow(sender)) {
      this.io.send(sender, item);
      return true;
    }
    if (item.incoming.remote_settled && consumer.undelivered.length >= MAX_PRESETTLED_QUEUED) return false;
    consumer.undelivered.push(item);
    return true;
  }

  private canSendNow(sender: Sender): boolean {
    return this.queued(sender) === 0 && this.io.credit(sender) > 0;
  }

  private queued(sender: Sender): number {
    return this.consumers.get(sender)?.undelivered.length ?? 0;
  }

  private flush(sender: Sender): void {
    const consumer = this.consumers.get(sender);
    if (!consumer) return;
    while (consumer.undelivered.length > 0 && this.io.credit(sender) > 0) this.io.send(sender, consumer.undelivered.shift()!);
  }
}
