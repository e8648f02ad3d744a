// One established inter-router (or edge) AMQP connection, whichever side opened
// it. It carries the control link (hellos and link state, see
// network/control-messages.ts) and the flows that use the connection.
//
// Control link: each side opens a sender to CONTROL_ADDRESS once the connection
// is open. Control messages are few and small and are queued even without
// credit: rhea keeps them in order.
import type { Duplex } from 'node:stream';
import type { Connection, EventContext, Receiver, Sender } from 'rhea';
import { attachFrameOutput } from '../amqp/frame-output.js';
import type { Logger } from '../log/logger.js';
import { parseControlMessage, type ControlMessage } from '../network/control-messages.js';
import { CONNECTION_WRITE_HIGH_WATER } from '../tcp/flow-protocol.js';
import { sessionFull } from '../amqp/sender-credit.js';
import type { FlowCarrier } from '../tcp/tcp-flow.js';
import { markOwnLink } from './own-links.js';

export const CONTROL_ADDRESS = '_kskup/control';
const CONTROL_CREDIT = 200;

/**
 * Which entity made the connection. `tlsOrdinal`: the sslProfile ordinal a TLS
 * connection was made with (undefined without TLS); `groupOrdinal`: at the
 * dialling side, its connector's ordinal (inter-router-connector.ts).
 */
export type PeerOrigin = {
  readonly kind: 'listener' | 'connector';
  readonly name: string;
  readonly cost: number;
  readonly tlsOrdinal?: number | undefined;
  readonly groupOrdinal?: number;
};

export class PeerConnection implements FlowCarrier {
  readonly connection: Connection;
  readonly origin: PeerOrigin;
  /** Set when the peer's open frame arrives. */
  remoteId: string | undefined;
  remoteMode: 'interior' | 'edge' | undefined;
  /** Link cost for routing: the connector's cost, learnt from the dialling side's hello at the listening side. */
  cost: number;
  /**
   * skupper-router's connection group ordinal: the dialling connector's
   * sslProfile ordinal (learnt from its open properties at the listening
   * side). Of two connections to one neighbour at the same cost, the one with
   * the higher group ordinal takes new flows: after a certificate rotation,
   * the connection made with the new files.
   */
  groupOrdinal: number;
  /**
   * When anything last arrived from the peer (ms since epoch): a hello or any
   * other frame, a flow's bytes included. A neighbour silent for helloMaxAge is
   * lost. Hellos share the connection with flow data and queue behind it: with
   * megabytes in flight on a slow or busy link a hello can arrive seconds late
   * while the peer is plainly alive, so arriving bytes count as much as hellos.
   */
  lastHeard = Date.now();
  /**
   * AMQP bytes this connection wrote to the peer and read from it (frames,
   * before TLS): what the link carried, flows and control alike. Summed per
   * peer router by LinkOctets for the flow query's link counters.
   */
  octetsOut = 0;
  octetsIn = 0;
  /** Flows using this connection: closed with it. */
  readonly flows = new Set<{ abort(reason: string, origin: 'local' | 'network'): void }>();
  /** The socket's close, for whoever must drop the connection at once. */
  readonly socket: Duplex;
  private controlSender: Sender | undefined;
  private readonly reliefWaiters: (() => void)[] = [];
  private readonly log: Logger;
  private readonly flushFrames: () => void;

  constructor(connection: Connection, origin: PeerOrigin, socket: Duplex, log: Logger) {
    this.connection = connection;
    this.origin = origin;
    this.socket = socket;
    this.log = log;
    this.cost = origin.cost;
    this.groupOrdinal = origin.groupOrdinal ?? 0;
    socket.on('drain', () => this.relieve());
    socket.on('data', (chunk: Buffer | string) => {
      this.lastHeard = Date.now();
      this.octetsIn += chunk.length;
    });
    this.flushFrames = attachFrameOutput(connection, socket, this);
  }

  /** Closes the connection with `error` and destroys the socket at once, the close frame written first. */
  drop(error: { condition: string; description: string }): void {
    this.connection.close(error);
    this.flushFrames();
    this.socket.destroy();
  }

  congested(): boolean {
    return this.socket.writableLength > CONNECTION_WRITE_HIGH_WATER;
  }

  whenRelieved(resume: () => void): void {
    this.reliefWaiters.push(resume);
  }

  private relieve(): void {
    const waiters = this.reliefWaiters.splice(0);
    for (const resume of waiters) resume();
  }

  /** Opens this side's control sender; call once the connection is open. */
  startControl(): void {
    this.controlSender = markOwnLink(this.connection.open_sender({ target: { address: CONTROL_ADDRESS }, snd_settle_mode: 1 }));
  }

  send(message: ControlMessage): void {
    if (!this.controlSender) return;
    // A session that cannot hold another delivery would throw: skip this one.
    // Hellos repeat every interval and link state is re-sent every 10 s.
    if (sessionFull(this.controlSender)) {
      this.log.debug({ peer: this.remoteId, type: message.type }, 'control message skipped: session full');
      return;
    }
    this.controlSender.send({ subject: message.type, body: message });
  }

  /** Accepts the peer's control link; `onMessage` gets each valid message. */
  acceptControl(receiver: Receiver, onMessage: (message: ControlMessage) => void): void {
    receiver.add_credit(CONTROL_CREDIT);
    receiver.on('message', (context: EventContext) => {
      context.delivery?.update(true);
      receiver.add_credit(1);
      const message = parseControlMessage(context.message?.body);
      if (message) onMessage(message);
      else this.log.warn({ peer: this.remoteId }, 'ignored a malformed control message');
    });
  }

  closeFlows(reason: string): void {
    for (const flow of [...this.flows]) flow.abort(reason, 'network');
    this.flows.clear();
  }
}
