// One established inter-router (or edge) AMQP connection, whichever side opened
// it. It knows the peer router's id and what addresses the peer serves (learned
// on the control link), and carries the flows that use it.
//
// Control link: each side opens a sender to CONTROL_ADDRESS once the connection
// is open and sends its full state (router id, mode, served addresses) then and
// on every change. Full state instead of deltas: a lost or reordered update can
// never leave a stale entry.
import type { Socket } from 'node:net';
import type { Connection, EventContext, Receiver, Sender } from 'rhea';
import type { Logger } from '../log/logger.js';
import { CONNECTION_WRITE_HIGH_WATER } from '../tcp/flow-protocol.js';
import type { FlowCarrier } from '../tcp/tcp-flow.js';
import { markOwnLink } from './own-links.js';

export const CONTROL_ADDRESS = '_kskup/router-state';
const CONTROL_CREDIT = 100;

export interface RouterState {
  readonly id: string;
  readonly mode: string;
  readonly addresses: readonly string[];
}

export type PeerOrigin = { readonly kind: 'listener' | 'connector'; readonly name: string; readonly cost: number };

export class PeerConnection implements FlowCarrier {
  readonly connection: Connection;
  readonly origin: PeerOrigin;
  /** Set when the peer's open frame arrives. */
  remoteId: string | undefined;
  remoteMode: string | undefined;
  served: ReadonlySet<string> = new Set();
  /** Flows using this connection: closed with it. */
  readonly flows = new Set<{ abort(reason: string, origin: 'local' | 'network'): void }>();
  private controlSender: Sender | undefined;
  private readonly reliefWaiters: (() => void)[] = [];
  private readonly socket: Socket;
  private readonly log: Logger;

  constructor(connection: Connection, origin: PeerOrigin, socket: Socket, log: Logger) {
    this.connection = connection;
    this.origin = origin;
    this.socket = socket;
    this.log = log;
    socket.on('drain', () => this.relieve());
    batchWrites(connection, socket);
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
  startControl(state: RouterState): void {
    this.controlSender = markOwnLink(this.connection.open_sender({ target: { address: CONTROL_ADDRESS }, snd_settle_mode: 1 }));
    this.sendState(state);
  }

  sendState(state: RouterState): void {
    // Control messages are few and small: queue even without credit (rhea keeps them in order).
    this.controlSender?.send({ subject: 'router-state', body: { id: state.id, mode: state.mode, addresses: [...state.addresses] } });
  }

  /** Accepts the peer's control link; `onState` gets each valid state message. */
  acceptControl(receiver: Receiver, onState: (state: RouterState) => void): void {
    receiver.add_credit(CONTROL_CREDIT);
    receiver.on('message', (context: EventContext) => {
      context.delivery?.update(true);
      receiver.add_credit(1);
      const state = parseRouterState(context.message?.body);
      if (state) onState(state);
      else this.log.warn({ peer: this.remoteId }, 'ignored a malformed router-state message');
    });
  }

  describe(): string {
    return `${this.origin.kind} "${this.origin.name}"${this.remoteId ? ` to router ${this.remoteId}` : ''}`;
  }

  closeFlows(reason: string): void {
    for (const flow of [...this.flows]) flow.abort(reason, 'network');
    this.flows.clear();
  }
}

function parseRouterState(body: unknown): RouterState | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const { id, mode, addresses } = body as Record<string, unknown>;
  if (typeof id !== 'string' || typeof mode !== 'string' || !Array.isArray(addresses)) return undefined;
  if (!addresses.every((address): address is string => typeof address === 'string')) return undefined;
  return { id, mode, addresses };
}

/**
 * rhea writes every frame with its own socket.write(). Corking around its output
 * pass hands the socket all frames of one pass at once: one writev and, under
 * TLS, full records instead of one small record per flow or attach frame.
 */
function batchWrites(connection: Connection, socket: Socket): void {
  const internals = connection as unknown as { output(): void };
  const output = internals.output;
  internals.output = function batchedOutput(this: unknown) {
    socket.cork();
    try {
      output.call(this);
    } finally {
      socket.uncork();
    }
  };
}
