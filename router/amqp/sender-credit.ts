// How much a rhea sender can still send without rhea holding a delivery back.
// rhea counts credit down only when a delivery goes on the wire (on the next
// tick), and sends queued deliveries of a session in order across all its links:
// a delivery queued beyond credit would hold up every other link of the session,
// and a session asked to hold more unsent deliveries than its buffer throws.
// Every sender of the router (flows, relays, messaging, control) asks here first.
import type { Delivery, Receiver, Sender } from 'rhea';

/** rhea keeps these on every sender; its typings leave them out. */
interface SenderInternals {
  readonly credit: number;
  /** Deliveries put on the wire so far. */
  readonly delivery_count: number;
  readonly session?: { outgoing?: { available(): number; next_pending_delivery?: number } };
}

/** True when the sender's session cannot take another delivery now (rhea emits 'sendable' when it can). */
export function sessionFull(sender: Sender): boolean {
  return ((sender as unknown as SenderInternals).session?.outgoing?.available() ?? 1) <= 0;
}

/** Deliveries this sender has put on the wire. */
export function transferred(sender: Sender): number {
  return (sender as unknown as SenderInternals).delivery_count;
}

/**
 * Messages that may still be sent: link credit less what was handed to rhea
 * (`queued`, counted by the caller since the link opened) but not yet put on
 * the wire; 0 while the session is full.
 */
export function spendableCredit(sender: Sender, queued: number): number {
  if (sessionFull(sender)) return 0;
  return (sender as unknown as SenderInternals).credit - (queued - transferred(sender));
}

/** Link credit not yet spent, as rhea counts it: a sender's to spend, a receiver's granted and not yet used. */
export function linkCredit(link: Sender | Receiver): number {
  return (link as unknown as SenderInternals).credit;
}

/**
 * Whether rhea has put the delivery on the wire: its session sends deliveries
 * in id order, and next_pending_delivery is the first id not yet written.
 * Unknown (rhea changed) counts as written, the cautious answer.
 */
export function deliveryWritten(sender: Sender, delivery: Delivery): boolean {
  const next = (sender as unknown as SenderInternals).session?.outgoing?.next_pending_delivery;
  const id = (delivery as unknown as { id?: number }).id;
  return next === undefined || id === undefined || id < next;
}
