// What the router's SASL server layer does once it has decided a sasl-outcome,
// for a client that pipelines: AMQP 1.0 part 5.3.1 lets a client send the next
// layer's protocol header (and, as Qpid Proton's clients do, its open) right
// behind its sasl-init, without waiting for the outcome.
//
// rhea decides the outcome on a later turn (a mechanism's start() is wrapped in
// a promise), so the bytes behind the sasl-init have already been read and set
// aside (Connection.previous_input, or chunks while a frame is incomplete) by
// then. rhea reads set-aside bytes only when more input comes, and a
// pipelining client sends none until it hears the open: it waited for ever.
// And on a failed outcome rhea sent the outcome and kept the connection open.
// Here, as Qpid Proton's and skupper-router's transports do:
// - on outcome ok, the bytes set aside are handed to the AMQP layer at once;
// - on any other outcome, they are dropped unread, later input is dropped, and
//   the connection is closed once the outcome is written (5.3.3.6: only ok
//   leads to the exchange of the next protocol header).
import { createRequire } from 'node:module';

interface ConnectionInternals {
  socket?: { end(): void; writable?: boolean };
  /** Bytes rhea set aside: a partial frame header or a protocol header it could not yet read. */
  previous_input?: Buffer | null;
  /** The pieces of an incomplete frame of `frame_size` bytes. */
  chunks?: Buffer[] | null;
  frame_size?: number;
  received_bytes?: number;
  /** Set by unreadable-input.ts while rhea reads input. */
  kskupReading?: boolean;
  /** Set once the connection was refused: unreadable-input.ts drops later input. */
  kskupRejected?: boolean;
  input(buffer: Buffer): void;
  output(): void;
}
interface SaslServerInternals {
  connection: ConnectionInternals;
  transport: { read_complete: boolean };
  /** The mechanism a sasl-init chose. */
  mechanism?: unknown;
  outcome?: number;
  /** Set once the outcome has been acted on here. */
  kskupSettled?: boolean;
}
type Method = (this: SaslServerInternals, ...args: unknown[]) => unknown;

/** sasl-outcome code ok (AMQP 1.0 part 5.3.3.6). */
const SASL_OK = 0;

let installed = false;

/** Makes rhea's SASL server hand pipelined AMQP bytes on after an ok outcome, and close after any other. */
export function installSaslPipelining(): void {
  if (installed) return;
  installed = true;
  const require = createRequire(import.meta.url);
  const { Server } = require('rhea/lib/sasl.js') as { Server: { prototype: Record<string, Method> } };
  const errors = require('rhea/lib/errors.js') as { ProtocolError: new (message: string) => Error };
  const prototype = Server.prototype;
  // The outcome is decided in on_sasl_init (a mechanism not offered) or in
  // do_step (the mechanism's verdict); do_fail sends sys and has rhea end the socket.
  const onInit = prototype.on_sasl_init!;
  prototype.on_sasl_init = function initOnce(this: SaslServerInternals, ...args: unknown[]) {
    // rhea would start a second mechanism and send a second outcome, after the
    // first one's AMQP header if that was ok. Thrown here, it is unreadable
    // input: a sasl-outcome sys-perm, then the socket ends (unreadable-input.ts).
    if (this.mechanism !== undefined || this.outcome !== undefined) throw new errors.ProtocolError('a second sasl-init: a SASL exchange has one (AMQP 1.0 part 5.3.2)');
    const result = onInit.apply(this, args);
    settle(this);
    return result;
  };
  const doStep = prototype.do_step!;
  prototype.do_step = function stepUnlessDecided(this: SaslServerInternals, ...args: unknown[]) {
    // A mechanism answers on a later turn: by then the connection may have been refused for unreadable input.
    if (this.outcome !== undefined || this.connection.kskupRejected) return undefined;
    const result = doStep.apply(this, args);
    settle(this);
    return result;
  };
  const doFail = prototype.do_fail!;
  prototype.do_fail = function failAndDrop(this: SaslServerInternals, ...args: unknown[]) {
    if (this.outcome !== undefined || this.connection.kskupRejected) return undefined;
    this.kskupSettled = true;
    refuseInput(this);
    return doFail.apply(this, args);
  };
}

function settle(server: SaslServerInternals): void {
  if (server.outcome === undefined || server.kskupSettled) return;
  server.kskupSettled = true;
  const connection = server.connection;
  if (server.outcome === SASL_OK) {
    // Inside rhea's read (not so in rhea 3.0.5, where the outcome always comes
    // on a later turn), what follows is set aside when the read returns.
    if (connection.kskupReading) setImmediate(() => handOver(connection));
    else handOver(connection);
    return;
  }
  refuseInput(server);
  connection.output();
  // After the current read, which may still write (the outcome above is flushed already).
  setImmediate(() => {
    if (connection.socket && connection.socket.writable !== false) connection.socket.end();
  });
}

/** Feeds the bytes rhea set aside during the SASL exchange back in, now that the AMQP layer reads. */
function handOver(connection: ConnectionInternals): void {
  if (connection.kskupRejected) return;
  const pending = takeSetAside(connection);
  if (pending.length > 0) connection.input(pending);
}

/** Stops the SASL layer reading on and drops what it set aside: nothing behind a failed outcome is read. */
function refuseInput(server: SaslServerInternals): void {
  server.connection.kskupRejected = true;
  server.transport.read_complete = true;
  takeSetAside(server.connection);
}

function takeSetAside(connection: ConnectionInternals): Buffer {
  let pending: Buffer;
  if (connection.frame_size !== undefined && connection.chunks) pending = Buffer.concat(connection.chunks);
  else pending = connection.previous_input ?? Buffer.alloc(0);
  connection.frame_size = undefined;
  connection.chunks = null;
  connection.received_bytes = 0;
  connection.previous_input = null;
  return pending;
}
