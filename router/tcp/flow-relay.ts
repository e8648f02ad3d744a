// A flow passing through a router that has neither of its ends: the link pair
// from the previous hop is joined to a link pair towards the next hop.
//
//   upstream (towards the client)          downstream (towards the backend)
//   forwardIn  (receiver)  ── messages ──>  forwardOut (sender)
//   reverseOut (sender)    <── messages ──  reverseIn  (receiver)
//
// Credit is mirrored, not buffered: a receiving link is given exactly the credit
// its partner sender has to spend, so the relay never holds a message it cannot
// pass on, and a slow reader at the far end throttles the near end through every
// hop. Detaches cross over: an error on any link closes the other three with it.
import type { EventContext, Receiver, Sender } from 'rhea';
import type { Logger } from '../log/logger.js';
import { linkCredit, spendableCredit, transferred } from '../amqp/sender-credit.js';
import { DataSection } from '../amqp/data-section.js';
import { END_OF_STREAM_MESSAGE, PRESETTLED_TAG, classifyFlowMessage } from './flow-protocol.js';

/** One direction: messages from `from` are sent on `to`, and `from` gets `to`'s credit. */
class RelayDirection {
  private queued = 0;

  constructor(
    private readonly from: Receiver,
    private readonly to: Sender,
    private readonly fail: (reason: string) => void,
    private readonly isClosed: () => boolean,
  ) {
    to.on('sender_flow', () => this.mirrorCredit());
    to.on('sendable', () => this.mirrorCredit());
    from.on('message', (context: EventContext) => this.pass(context));
    this.mirrorCredit();
  }

  /** Credit `to` can still spend, less what `from` has already been given. */
  private mirrorCredit(): void {
    const spendable = spendableCredit(this.to, this.queued);
    const granted = linkCredit(this.from);
    if (spendable > granted) this.from.add_credit(spendable - granted);
  }

  private pass(context: EventContext): void {
    context.delivery?.update(true);
    // Messages still in flight from upstream when the relay closed (an abort
    // downstream) are dropped: sent on a detached link they would be a
    // protocol error that takes down the whole connection.
    if (!context.message || this.isClosed()) return;
    const message = classifyFlowMessage(context.message);
    if (message.kind === 'invalid') {
      this.fail(message.reason);
      return;
    }
    // A relay never agrees to reuse its link pairs (flow-protocol.ts, REUSE_PROPERTY): the messages that start a reused pair's next flow cannot come here.
    if (message.kind === 'start' || message.kind === 'connected') {
      this.fail(`flow ${message.kind} message on a relayed flow, whose links are never reused`);
      return;
    }
    this.queued++;
    // Passed on uncopied (rhea takes a DataSection as a payload: see data-section.ts); rhea cuts it into frames if the next hop's are smaller.
    const encoded = message.kind === 'data' ? DataSection.of(message.bytes) : END_OF_STREAM_MESSAGE;
    (this.to.send(encoded as Buffer, PRESETTLED_TAG, 0) as { settled: boolean }).settled = true;
  }

  /** True when every message received has been put on the wire downstream. */
  drained(): boolean {
    return transferred(this.to) >= this.queued;
  }
}

export class FlowRelay {
  private closed = false;
  private readonly directions: RelayDirection[];
  private readonly links: readonly (Sender | Receiver)[];

  constructor(
    readonly id: string,
    readonly address: string,
    upstream: { forwardIn: Receiver; reverseOut: Sender },
    downstream: { forwardOut: Sender; reverseIn: Receiver },
    private readonly log: Logger,
    private readonly onClosed: (relay: FlowRelay) => void,
  ) {
    const fail = (reason: string) => this.abort(reason);
    const isClosed = () => this.closed;
    this.directions = [
      new RelayDirection(upstream.forwardIn, downstream.forwardOut, fail, isClosed),
      new RelayDirection(downstream.reverseIn, upstream.reverseOut, fail, isClosed),
    ];
    this.links = [upstream.forwardIn, upstream.reverseOut, downstream.forwardOut, downstream.reverseIn];
    for (const link of this.links) {
      link.on(link.is_receiver() ? 'receiver_close' : 'sender_close', (context: EventContext) => this.onLinkClosed(context));
    }
  }

  private onLinkClosed(context: EventContext): void {
    if (this.closed) return;
    const link = context.sender ?? context.receiver;
    const error = link?.error as { condition?: string; description?: string } | undefined;
    if (error) this.abort(error.description ?? error.condition ?? 'link error', error.condition);
    else this.finish();
  }

  /** A clean detach from either end: pass it on once every relayed message is on the wire. */
  private finish(): void {
    if (this.closed) return;
    if (!this.directions.every((direction) => direction.drained())) {
      setImmediate(() => this.finish());
      return;
    }
    this.closed = true;
    for (const link of this.links) if (!link.is_closed()) link.close();
    this.log.debug({ flow: this.id, address: this.address }, 'relayed flow closed');
    this.onClosed(this);
  }

  abort(reason: string, condition = 'amqp:connection:forced'): void {
    if (this.closed) return;
    this.closed = true;
    for (const link of this.links) if (!link.is_closed()) link.close({ condition, description: reason });
    this.log.debug({ flow: this.id, address: this.address, reason }, 'relayed flow failed');
    this.onClosed(this);
  }
}
