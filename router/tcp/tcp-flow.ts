// One TCP connection carried over an inter-router connection, at one end: the
// socket (a client at the listener side, a backend at the connector side) and
// the two links of the flow. See flow-protocol.ts for the wire contract.
//
// Direction is relative to this router: "inbound" is socket -> network,
// "outbound" is network -> socket.
import type { Socket } from 'node:net';
import type { EventContext, Message, Receiver, Sender } from 'rhea';
import { linkCredit, spendableCredit, transferred } from '../amqp/sender-credit.js';
import type { Logger } from '../log/logger.js';
import type { AddressCounters } from '../metrics.js';
import { DataSection } from '../amqp/data-section.js';
import { setDataHandler } from '../peer/data-transfers.js';
import {
  END_OF_STREAM_MESSAGE,
  FLOW_CONNECTED_MESSAGE,
  PRESETTLED_TAG,
  classifyFlowMessage,
  flowCreditBatch,
  flowCreditWindow,
  messageChunkBytes,
} from './flow-protocol.js';
import { confirmPeerEnd } from './peer-end.js';
import { RATE_LIMITED, type ByteBucket } from './flow-limiter.js';
import { POLICY_DENIED } from '../policy/flow-policy.js';

/** What a listener-side flow sent of its client's stream before the far side said its backend was up. */
export interface UnsentStream {
  readonly chunks: readonly Buffer[];
  /** The client's end of stream had been seen too. */
  readonly ended: boolean;
}

export type FlowState = 'connecting' | 'open' | 'half-closed-in' | 'half-closed-out' | 'closing' | 'closed';

/** The shared inter-router connection, as far as one flow needs to know it. */
export interface FlowCarrier {
  /** True while the connection's socket has more waiting to be written than it should. */
  congested(): boolean;
  /** Calls `resume` once when the connection is no longer congested. */
  whenRelieved(resume: () => void): void;
}

export interface TcpFlowOptions {
  readonly id: string;
  readonly address: string;
  readonly socket: Socket;
  /** Carries inbound bytes. */
  readonly sender: Sender;
  /** Brings outbound bytes. */
  readonly receiver: Receiver;
  readonly carrier: FlowCarrier;
  readonly counters: AddressCounters;
  readonly log: Logger;
  /** True at the connector side until the backend connection is up. */
  readonly connecting: boolean;
  /**
   * The socket event that means "up" while connecting: 'connect', or
   * 'secureConnect' for a TLS backend, so that nothing is sent to a backend
   * whose certificate has not been verified and a failed handshake counts as a
   * failed connect.
   */
  readonly readyEvent?: 'connect' | 'secureConnect';
  /** Told once when the flow has ended, cleanly or not. */
  readonly onClosed: (flow: TcpFlow, error: string | undefined) => void;
  /**
   * At the listener side: the far side could not reach its backend (or had none,
   * or its backend reset the connection before saying anything). `canRetry`
   * when no byte of this flow can have reached a backend: returning true then
   * means the caller takes the client socket over to try another target, with
   * `unsent` (what this flow had already sent of the client's stream, to be
   * sent again), and the flow lets go of the socket. `refused`: the far side
   * refused the flow (REFUSED_CONDITIONS) rather than failed to reach a backend.
   */
  readonly onUnreachable?: (reason: string, canRetry: boolean, unsent: UnsentStream, refused: boolean) => boolean;
  /** Listener side: bytes of the client's stream that an earlier attempt sent to a target that could not take them; sent first. */
  readonly unsent?: UnsentStream;
  /** Told once, at the first byte that arrives from the network for the socket (listener side: the first byte back to the client). */
  readonly onFirstByteOut?: () => void;
  /**
   * Set when the link pair carried an earlier flow (flow-protocol.ts,
   * REUSE_PROPERTY). Listener side: `start` is the flow-start message, sent
   * first; the client's bytes follow at once, and a copy of them is kept until
   * the far side's connected message, in case its backend is gone. Connector
   * side (no `start`): the connected message is sent once the backend is up
   * (what arrives before waits in the connecting socket).
   */
  readonly reused?: { readonly start?: Buffer };
  /**
   * Asked at a clean end: true when both routers agreed to keep the link pair.
   * The flow then leaves the links attached (`released` is set before
   * onClosed) for the caller to give to the next flow.
   */
  readonly releasable?: () => boolean;
  /**
   * Connector side: messages that arrived on the forward link while the flow
   * waited for a rate limit (a reused pair's flow-start is followed by the
   * client's bytes at once); handled first, in order.
   */
  readonly early?: readonly Message[];
  /**
   * Connector side, with a bandwidth limit: the address's byte buckets
   * (flow-limiter.ts). `toSocket` paces writes to the backend, and so the
   * credit handed back for them; `fromSocket` pauses reads from it.
   */
  readonly shaping?: { readonly toSocket: ByteBucket; readonly fromSocket: ByteBucket };
}

/** How a flow ended, for its flow record (router/flows/flow-outcome.ts). */
export interface FlowEndInfo {
  /** 'local': our socket failed; 'network': the far side or the connection did. */
  readonly origin: 'local' | 'network';
  /** The condition of the far side's detach, if it sent one. */
  readonly remoteCondition?: string;
  /** The backend socket never connected. */
  readonly neverConnected: boolean;
}

/** Detach conditions that mean "the far side had no working backend for this flow". */
export const UNREACHABLE_CONDITIONS: ReadonlySet<string> = new Set(['amqp:not-found', 'kskup:backend-unreachable', 'kskup:backend-reset']);

/** Detach conditions that mean "the far side would not take this flow" (its policy, its rate limits): another target may. */
export const REFUSED_CONDITIONS: ReadonlySet<string> = new Set([POLICY_DENIED, RATE_LIMITED]);

export class TcpFlow {
  readonly id: string;
  readonly address: string;
  private state: FlowState;
  private readonly socket: Socket;
  private readonly sender: Sender;
  private readonly receiver: Receiver;
  private readonly options: TcpFlowOptions;
  /** Messages handed to rhea on the sender (since it was attached, earlier flows included); rhea's delivery_count says how many it has put on the wire. */
  private messagesQueued: number;
  /** True once a data or end-of-stream message of this flow was handed to rhea: the far side has then seen some of the stream. */
  private streamStarted = false;
  /** Flow-start or connected messages waiting for credit; they go before any data. */
  private readonly control: Buffer[] = [];
  /**
   * Listener side of a reused pair, until the connected message: the chunks
   * sent (references, not copies of the bytes), bounded by the credit window,
   * to send again elsewhere if the far side's backend is gone.
   */
  private replay: { chunks: Buffer[] } | undefined;
  /** Set at a clean end when the links were left attached for the next flow. */
  released = false;
  /** Outbound messages written to the socket whose credit has not been handed back yet. */
  private creditOwed = 0;
  /** Credit held back while the socket's write buffer is full. */
  private creditHeld = 0;
  private inboundEnded = false;
  /**
   * The socket is connected (and its TLS verified). The state says less: on a
   * reused pair the listener side's end of stream can arrive while the backend
   * is still connecting.
   */
  private socketReady: boolean;
  /** The socket emitted 'end' (perhaps not yet confirmed as a FIN). */
  private endSeen = false;
  private endOfStreamSent = false;
  private outboundEnded = false;
  private waitingForRelief = false;
  /** Bytes read from the socket that wait for credit to be sent; the socket stays paused meanwhile. */
  private held: Buffer | undefined;
  /** Bytes per message on this flow's connection (see messageChunkBytes). */
  private readonly chunkBytes: number;
  /** Credit granted to the far side (messages) and handed back in batches. */
  private readonly creditWindow: number;
  private readonly creditBatch: number;
  /** True while the socket is corked for this turn's writes. */
  private corked = false;
  private readonly uncork = () => {
    this.corked = false;
    this.socket.uncork();
  };
  bytesIn = 0;
  bytesOut = 0;
  /** Set when the flow ends on an error. */
  endInfo: FlowEndInfo | undefined;
  private remoteCondition: string | undefined;
  /** Bandwidth shaping: outbound bytes waiting for the byte bucket (at most the credit window), and the timers of both directions. */
  private readonly paced: Buffer[] = [];
  private pacedEnd = false;
  private outboundTimer: NodeJS.Timeout | undefined;
  private inboundTimer: NodeJS.Timeout | undefined;
  // Kept so that letGo() can take exactly these off the socket again.
  private readonly socketHandlers: readonly [string, (...args: unknown[]) => void][] = [
    ['data', (chunk) => this.onSocketData(chunk as Buffer)],
    ['end', () => this.onSocketEnd()],
    ['error', (error) => this.onSocketError(error as NodeJS.ErrnoException)],
    ['close', () => this.onSocketClose()],
    ['drain', () => this.onSocketDrain()],
  ];
  private readonly senderHandlers: readonly [string, (context: EventContext) => void][] = [
    ['sendable', () => this.onSendable()],
    ['sender_close', (context) => this.onLinkClosed(context)],
  ];
  private readonly receiverHandlers: readonly [string, (context: EventContext) => void][] = [
    ['message', (context) => this.onMessage(context)],
    ['receiver_close', (context) => this.onLinkClosed(context)],
  ];
  private readonly dataHandler = (bytes: Buffer) => this.onData(bytes);

  constructor(options: TcpFlowOptions) {
    this.options = options;
    this.id = options.id;
    this.address = options.address;
    this.socket = options.socket;
    this.sender = options.sender;
    this.receiver = options.receiver;
    this.state = options.connecting ? 'connecting' : 'open';
    this.socketReady = !options.connecting;
    // A reused pair's sender goes on counting from what earlier flows queued (some may not be on the wire yet).
    this.messagesQueued = queuedOnSender.get(this.sender) ?? 0;
    if (options.reused?.start) {
      this.replay = { chunks: [] };
      this.control.push(options.reused.start);
    }
    this.chunkBytes = messageChunkBytes(frameSizes(this.sender).remote);
    this.creditWindow = flowCreditWindow(frameSizes(this.receiver).local);
    this.creditBatch = flowCreditBatch(this.creditWindow);
    options.counters.flowsOpened++;
    options.counters.flowsOpen++;
    if (options.reused) options.counters.flowsOnReusedLinks++;

    const socket = this.socket;
    socket.setNoDelay(true);
    // Finds a peer that vanished without a FIN or RST (a host that died, a dropped NAT entry).
    socket.setKeepAlive(true, 60_000);
    for (const [event, handler] of this.socketHandlers) socket.on(event, handler);
    if (options.connecting) {
      // The far side may send nothing until the backend is there: a flow that
      // fails to connect has then consumed no byte, and the listener side can
      // try another target for its client.
      socket.once(options.readyEvent ?? 'connect', () => {
        this.socketReady = true;
        if (this.state === 'connecting') this.moveTo('open');
        this.topUpCredit();
        if (options.reused) {
          this.control.push(FLOW_CONNECTED_MESSAGE);
          this.sendControl();
        }
      });
    } else {
      this.topUpCredit();
    }

    for (const [event, handler] of this.senderHandlers) this.sender.on(event, handler);
    for (const [event, handler] of this.receiverHandlers) this.receiver.on(event, handler);
    setDataHandler(this.receiver, this.dataHandler);
    this.sendControl();
    for (const message of options.early ?? []) if (this.currentState !== 'closed') this.handleMessage(message);
    if (options.unsent) this.takeUnsent(options.unsent);
    // Nothing is read before there is credit to send it with (a backend may
    // speak first, before the listener side's credit has arrived).
    socket.pause();
    this.resumeInbound();
  }

  /** What an earlier attempt sent goes first; an end of stream it had seen is checked again (peer-end.ts), as 'end' will not come twice. */
  private takeUnsent(unsent: UnsentStream): void {
    for (const chunk of unsent.chunks) this.bytesIn += chunk.length;
    if (unsent.chunks.length > 0) this.sendChunk(unsent.chunks.length === 1 ? unsent.chunks[0]! : Buffer.concat(unsent.chunks));
    if (unsent.ended) this.onSocketEnd();
  }

  /** What this router may still send of the stream: link credit less what is queued but not yet transferred, and less the control messages that go first. */
  private credit(): number {
    return spendableCredit(this.sender, this.messagesQueued) - this.control.length;
  }

  /** Grants the far side the whole window again (a reused pair keeps what it had left). */
  private topUpCredit(): void {
    const missing = this.creditWindow - linkCredit(this.receiver);
    if (missing > 0) this.receiver.add_credit(missing);
    this.creditOwed = 0;
  }

  /** Sends waiting control messages as far as credit goes. */
  private sendControl(): void {
    while (this.control.length > 0 && spendableCredit(this.sender, this.messagesQueued) > 0) this.sendPresettled(this.control.shift()!, false);
  }

  private onSocketData(chunk: Buffer): void {
    this.bytesIn += chunk.length;
    this.options.counters.bytesIn += chunk.length;
    this.sendChunk(chunk);
    const wait = this.options.shaping?.fromSocket.take(chunk.length) ?? 0;
    if (wait > 0 && this.inboundTimer === undefined) {
      // Over the address's bandwidth: read nothing more until the bucket is back to zero.
      this.socket.pause();
      this.inboundTimer = setTimeout(() => {
        this.inboundTimer = undefined;
        this.resumeInbound();
      }, wait);
      return;
    }
    if (this.held !== undefined || this.credit() <= 0 || this.options.carrier.congested()) this.pauseInbound();
  }

  /**
   * Sends `chunk` as messages of at most chunkBytes each, as far as credit
   * goes. What credit does not cover waits in `held` (never queued in rhea
   * without credit: it would hold up every flow of the session) until 'sendable'.
   */
  private sendChunk(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.credit() <= 0) {
        this.held = chunk.subarray(offset);
        return;
      }
      const end = Math.min(offset + this.chunkBytes, chunk.length);
      const part = offset === 0 && end === chunk.length ? chunk : chunk.subarray(offset, end);
      this.replay?.chunks.push(part);
      this.sendPresettled(DataSection.of(part));
      offset = end;
    }
    this.held = undefined;
  }

  /** Sends an encoded message settled: byte streams need no per-message acknowledgement. */
  private sendPresettled(encoded: Buffer | DataSection, ofStream = true): void {
    this.messagesQueued++;
    if (ofStream) this.streamStarted = true;
    // rhea takes any payload with a length and slice() (see data-section.ts); its typings say Buffer.
    const delivery = this.sender.send(encoded as Buffer, PRESETTLED_TAG, 0) as { settled: boolean };
    delivery.settled = true;
  }

  private pauseInbound(): void {
    this.socket.pause();
    if (this.options.carrier.congested() && !this.waitingForRelief) {
      this.waitingForRelief = true;
      this.options.carrier.whenRelieved(() => {
        this.waitingForRelief = false;
        this.resumeInbound();
      });
    }
  }

  private resumeInbound(): void {
    if (this.state === 'closed' || this.inboundEnded || this.inboundTimer !== undefined) return;
    if (this.held === undefined && this.credit() > 0 && !this.options.carrier.congested()) this.socket.resume();
    else this.pauseInbound();
  }

  private onSendable(): void {
    if (this.control.length > 0) {
      this.sendControl();
      if (this.control.length > 0) return;
    }
    if (this.held !== undefined) {
      this.sendChunk(this.held);
      if (this.held !== undefined) return;
    }
    if (this.inboundEnded) this.sendEndOfStream();
    else if (this.socket.isPaused()) this.resumeInbound();
  }

  private onSocketEnd(): void {
    this.endSeen = true;
    // Only a FIN is a half-close: a reset libuv reported as 'end' becomes an 'error'.
    confirmPeerEnd(this.socket, () => {
      if (this.state === 'closed') return;
      this.inboundEnded = true;
      this.moveTo(this.outboundEnded ? 'closing' : 'half-closed-in');
      this.sendEndOfStream();
    });
  }

  /** The end-of-stream marker needs credit like any message; without it, wait for `sendable`. */
  private sendEndOfStream(): void {
    if (this.endOfStreamSent || this.held !== undefined || this.credit() <= 0) return;
    this.endOfStreamSent = true;
    this.sendPresettled(END_OF_STREAM_MESSAGE);
    this.finishIfDone();
  }

  private onMessage(context: EventContext): void {
    // Pre-settled by the sender: settle locally too, or rhea keeps it in the session's buffer.
    context.delivery?.update(true);
    if (this.state === 'closed' || !context.message) return;
    this.handleMessage(context.message);
  }

  private handleMessage(received: Message): void {
    const message = classifyFlowMessage(received);
    switch (message.kind) {
      case 'data':
        return this.onData(message.bytes);
      case 'end':
        // Behind the bytes that wait for the bandwidth limit, never ahead of them.
        if (this.paced.length > 0) this.pacedEnd = true;
        else this.endOutbound();
        return;
      case 'connected':
        if (!this.replay) return this.abort('connected message out of turn', 'local');
        this.replay = undefined;
        return;
      case 'start':
        return this.abort('flow-start message while a flow is open on the link pair', 'local');
      case 'invalid':
        this.abort(message.reason, 'local');
        return;
    }
  }

  /** A data message's bytes, from handleMessage or straight from the session (peer/data-transfers.ts). */
  private onData(bytes: Buffer): void {
    if (this.state === 'closed') return;
    if (this.paced.length > 0 || this.outboundTimer !== undefined) this.paced.push(bytes);
    else this.writeOut(bytes);
  }

  /** Writes a message's bytes to the socket; its credit goes back once the socket takes them, and with a bandwidth limit once the byte bucket allows more. */
  private writeOut(bytes: Buffer): void {
    if (this.bytesOut === 0) this.options.onFirstByteOut?.();
    this.bytesOut += bytes.length;
    this.options.counters.bytesOut += bytes.length;
    this.corkForThisTurn();
    if (this.socket.write(bytes)) this.returnCredit(1);
    else this.creditHeld++;
    const wait = this.options.shaping?.toSocket.take(bytes.length) ?? 0;
    if (wait > 0) this.outboundTimer = setTimeout(() => this.writePaced(), wait);
  }

  /** The bucket allows more: what waits goes out, as far as it allows. */
  private writePaced(): void {
    this.outboundTimer = undefined;
    if (this.state === 'closed') return;
    while (this.paced.length > 0 && this.outboundTimer === undefined) this.writeOut(this.paced.shift()!);
    if (this.paced.length === 0 && this.pacedEnd) {
      this.pacedEnd = false;
      this.endOutbound();
    }
  }

  private endOutbound(): void {
    this.outboundEnded = true;
    this.moveTo(this.inboundEnded ? 'closing' : 'half-closed-out');
    this.socket.end();
    this.finishIfDone();
  }

  /** The messages of one turn (often several from one read of the inter-router socket) go to the socket in one writev. */
  private corkForThisTurn(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    queueMicrotask(this.uncork);
  }

  private returnCredit(count: number): void {
    this.creditOwed += count;
    if (this.creditOwed >= this.creditBatch) {
      this.receiver.add_credit(this.creditOwed);
      this.creditOwed = 0;
    }
  }

  private onSocketDrain(): void {
    if (this.creditHeld === 0) return;
    const held = this.creditHeld;
    this.creditHeld = 0;
    this.returnCredit(held);
  }

  private finishIfDone(): void {
    if (!this.endOfStreamSent || !this.outboundEnded || this.state === 'closed') return;
    // A pair kept for the next flow is released at once: the far side may start
    // that flow as soon as it has our end-of-stream, and whatever we still have
    // queued goes out ahead of the next flow's messages, in order on the link.
    const release = this.options.releasable?.() === true && this.sender.is_open() && this.receiver.is_open();
    // rhea writes a detach as soon as it is asked to, even ahead of a transfer that
    // the session window still holds back: detach only once all is on the wire.
    if (!release && transferred(this.sender) < this.messagesQueued) {
      setImmediate(() => this.finishIfDone());
      return;
    }
    this.moveTo('closed');
    if (release) this.release();
    else {
      this.sender.close();
      this.receiver.close();
    }
    this.options.counters.flowsOpen--;
    this.options.onClosed(this, undefined);
  }

  /** Leaves the link pair attached for the next flow: this flow's handlers off, the far side's credit topped up for the next flow's first message. */
  private release(): void {
    this.released = true;
    queuedOnSender.set(this.sender, this.messagesQueued);
    for (const [event, handler] of this.senderHandlers) this.sender.off(event, handler);
    for (const [event, handler] of this.receiverHandlers) this.receiver.off(event, handler);
    setDataHandler(this.receiver, undefined);
    this.topUpCredit();
  }

  private onSocketError(error: NodeJS.ErrnoException): void {
    if (!this.socketReady) {
      const reason = `connect to backend failed: ${error.code ?? error.message}`;
      this.abort(reason, 'local', 'kskup:backend-unreachable');
      return;
    }
    // A backend that resets before it has said a word is treated like one that
    // refused: the listener side takes it out of rotation.
    const silentReset = error.code === 'ECONNRESET' && this.bytesIn === 0 && this.side === 'connector-side';
    this.abort(`socket error: ${error.code ?? error.message}`, 'local', silentReset ? 'kskup:backend-reset' : undefined);
  }

  private onSocketClose(): void {
    // A socket that closes before both directions ended was destroyed under us.
    if (this.state !== 'closed' && !(this.inboundEnded && this.outboundEnded)) {
      this.abort('socket closed', 'local');
    }
  }

  private onLinkClosed(context: EventContext): void {
    if (this.state === 'closed') return;
    const link = context.sender ?? context.receiver;
    const error = link?.error as { description?: string; condition?: string } | undefined;
    const reason = error ? (error.description ?? error.condition ?? 'link error') : 'link detached before the flow ended';
    this.remoteCondition = error?.condition;
    const refused = error?.condition !== undefined && REFUSED_CONDITIONS.has(error.condition);
    if (error?.condition && (UNREACHABLE_CONDITIONS.has(error.condition) || refused) && this.bytesOut === 0) {
      // Before the connected message no byte can have reached a backend: what was sent goes again with the client.
      const unsent = { chunks: [...(this.replay?.chunks ?? []), ...(this.held ? [this.held] : [])], ended: this.endSeen };
      const canRetry = !this.streamStarted || this.replay !== undefined;
      if (this.options.onUnreachable?.(reason, canRetry, unsent, refused) && canRetry) return this.letGo(reason);
    }
    this.abort(reason, 'network');
  }

  /** Hands the client socket back, paused, with what it has not yet read: another target will take it. */
  private letGo(reason: string): void {
    this.socket.pause();
    this.moveTo('closed', reason);
    this.options.counters.flowsOpen--;
    for (const [event, handler] of this.socketHandlers) this.socket.off(event, handler);
    if (!this.sender.is_closed()) this.sender.close();
    if (!this.receiver.is_closed()) this.receiver.close();
    this.options.onClosed(this, reason);
  }

  /**
   * Ends the flow on an error. `local` (our socket failed): tell the far side
   * with a detach error. `network` (the far side or the connection failed):
   * reset our socket so that its peer sees the failure, not a clean end.
   */
  abort(reason: string, origin: 'local' | 'network', conditionName = 'amqp:connection:forced'): void {
    if (this.state === 'closed') return;
    this.endInfo = { origin, neverConnected: !this.socketReady, ...(this.remoteCondition !== undefined && { remoteCondition: this.remoteCondition }) };
    this.moveTo('closed', reason);
    this.options.counters.flowsOpen--;
    this.options.counters.flowsFailed++;
    const condition = { condition: conditionName, description: reason };
    this.closeSenderWhenSent(origin === 'local' ? condition : undefined);
    if (!this.receiver.is_closed()) this.receiver.close(origin === 'local' ? condition : undefined);
    if (origin === 'network' && !this.socket.destroyed) this.resetSocket();
    else this.socket.destroy();
    this.options.onClosed(this, reason);
  }

  /**
   * rhea writes a detach as soon as it is asked to, even ahead of transfers the
   * session window still holds back, and a transfer after a detach is a protocol
   * error at the peer. Detach once what was queued with credit is on the wire;
   * what has no credit will never be sent and cannot overtake it.
   */
  private closeSenderWhenSent(error: { condition: string; description: string } | undefined, attempts = 0): void {
    if (this.sender.is_closed()) return;
    const inFlight = this.messagesQueued - transferred(this.sender);
    if (inFlight > 0 && linkCredit(this.sender) > 0 && attempts < 200) {
      setImmediate(() => this.closeSenderWhenSent(error, attempts + 1));
      return;
    }
    this.sender.close(error);
  }

  private resetSocket(): void {
    try {
      this.socket.resetAndDestroy();
    } catch {
      this.socket.destroy();
    }
  }

  private moveTo(next: FlowState, reason?: string): void {
    if (this.state === next) return;
    const previous = this.state;
    this.state = next;
    if (next === 'closed') {
      clearTimeout(this.outboundTimer);
      clearTimeout(this.inboundTimer);
      this.paced.length = 0;
    }
    this.options.log.debug({ flow: this.id, address: this.address, from: previous, to: next, reason }, 'flow state');
  }

  /** Which end of the flow this router is. */
  get side(): 'listener-side' | 'connector-side' {
    return this.options.connecting ? 'connector-side' : 'listener-side';
  }

  get currentState(): FlowState {
    return this.state;
  }
}

/** Messages queued on a reused pair's sender by the flows it carried so far (see messagesQueued). */
const queuedOnSender = new WeakMap<Sender, number>();

/**
 * The max-frame-size of the link's connection, as rhea 3.0.5 holds it: `remote`
 * from the peer's open (what this side may send), `local` from ours (what the
 * peer may send here). Undefined: no limit announced.
 */
function frameSizes(link: Sender | Receiver): { remote?: number; local?: number } {
  const connection = link.connection as unknown as { max_frame_size?: number; local?: { open?: { max_frame_size?: number } } };
  return { remote: connection.max_frame_size, local: connection.local?.open?.max_frame_size };
}
