// What the router does with AMQP bytes it cannot read. rhea, on input it cannot
// parse, dispatches the error and ends the socket without a word, so the peer
// cannot tell a bad frame from a crash; and it waits for as many bytes as a
// frame header announces, so a peer announcing a 4 GiB frame is buffered until
// it has sent 4 GiB. Here, following AMQP 1.0 (part 2: protocol header
// negotiation 2.2, framing 2.3, max-frame-size 2.7.1; part 5.3: SASL):
// - a protocol header the listener does not speak is answered with the header
//   it does speak, then the socket is closed (2.2);
// - a frame header announcing fewer than 8 bytes, or more than this side's
//   max-frame-size (512 for SASL frames, MIN-MAX-FRAME-SIZE), is refused as soon
//   as its size is read;
// - unreadable SASL frames get a sasl-outcome with code sys-perm (3);
// - unreadable AMQP frames get a close with amqp:connection:framing-error (a
//   framing problem) or amqp:decode-error (a performative that does not decode),
//   after this side's open if it had not sent one (a close must follow an open).
// The peer's further bytes are dropped unread.
import { createRequire } from 'node:module';
import type { Connection } from 'rhea';

interface Header {
  protocol_id: number;
}
interface TransportInternals {
  frame_type: number;
  protocol_id: number;
  handler: unknown;
  header_sent?: Header;
  header_received?: Header;
  read_complete: boolean;
  encode(frame: unknown): void;
  write(socket: unknown): void;
  peek_size(buffer: Buffer): number | undefined;
  read(buffer: Buffer): number;
}
interface SaslServerInternals {
  transport: TransportInternals;
  outcome?: number;
}
interface SelectiveInternals {
  transports: Record<number, unknown>;
  selected?: unknown;
}
interface ConnectionInternals {
  socket?: { write(bytes: Buffer): void; writable?: boolean };
  transport: unknown;
  sasl_transport?: SaslServerInternals | SelectiveInternals;
  amqp_transport: TransportInternals;
  local: { open: { max_frame_size?: number } };
  state: { local_open: boolean; open_requests: number };
  /** Set while rhea reads input, so that an error can be told from one of writing. */
  kskupReading?: boolean;
  /** Set once the connection was refused here: later input is dropped. */
  kskupRejected?: boolean;
  input(buffer: Buffer): void;
}
interface FramesModule {
  TYPE_AMQP: number;
  TYPE_SASL: number;
  amqp_frame(channel: number, performative: unknown): unknown;
  sasl_frame(performative: unknown): unknown;
  close(fields: Record<string, unknown>): unknown;
  sasl_outcome(fields: Record<string, unknown>): unknown;
  write_header(buffer: Buffer, header: Record<string, number>): void;
  read_header(buffer: Buffer): Header;
}

const require = createRequire(import.meta.url);
const frames = require('rhea/lib/frames.js') as FramesModule;
const errors = require('rhea/lib/errors.js') as { ProtocolError: new (message: string) => Error };

/** MIN-MAX-FRAME-SIZE (AMQP 1.0 2.7.1): the most a SASL frame may be (5.3.1). */
export const SASL_MAX_FRAME_SIZE = 512;
/** A frame header's own size: the least a frame can be (2.3.1). */
const FRAME_HEADER_SIZE = 8;
/** sasl-outcome code sys-perm: "connection authentication failed due to an unrecoverable system error" (5.3.3.6). */
const SASL_SYS_PERM = 3;

let installed = false;

/** Makes rhea refuse frames of impossible sizes as soon as their size is read, and drop input after a refusal. */
/**
 * Whether the bytes at `at` are (or, when too few have come, may yet be) the
 * AMQP protocol header a client sends ahead of the SASL outcome (protocol id 0,
 * AMQP 1.0 part 5.3.1). Any other "AMQP..." there, such as the SASL header sent
 * again, is read as a frame header, whose size (0x414d5150) is then refused.
 */
function nextLayerHeader(buffer: Buffer, at: number): boolean {
  if (buffer.subarray(at, at + 4).toString('latin1') !== 'AMQP') return false;
  return buffer.length - at < 5 || buffer[at + 4] === 0;
}

export function installInputLimits(): void {
  if (installed) return;
  installed = true;
  const Transport = require('rhea/lib/transport.js') as { prototype: TransportInternals };
  const peekSize = Transport.prototype.peek_size;
  const read = Transport.prototype.read;
  Transport.prototype.peek_size = function limitedPeekSize(this: TransportInternals, buffer: Buffer) {
    // In the SASL layer, "AMQP" here is the next layer's header sent ahead of the outcome, not a frame.
    if (this.frame_type === frames.TYPE_SASL && nextLayerHeader(buffer, 0)) return undefined;
    const size = peekSize.call(this, buffer);
    if (size !== undefined) checkFrameSize(this, size);
    return size;
  };
  Transport.prototype.read = function limitedRead(this: TransportInternals, buffer: Buffer) {
    // Every frame header in the buffer, before rhea acts on any of them. A
    // protocol header in front is rhea's to judge; one it would accept counts
    // as received, so that a refusal is one of frames, not of the header.
    let at = 0;
    if (!this.header_received) {
      if (buffer.length < 8 || buffer.subarray(0, 4).toString('latin1') !== 'AMQP' || buffer[4] !== this.protocol_id) return read.call(this, buffer);
      at = 8;
    }
    while (!this.read_complete && buffer.length - at >= 4) {
      if (this.frame_type === frames.TYPE_SASL && nextLayerHeader(buffer, at)) break;
      const size = buffer.readUInt32BE(at);
      try {
        checkFrameSize(this, size);
      } catch (error) {
        this.header_received ??= frames.read_header(buffer);
        throw error;
      }
      at += size;
    }
    return read.call(this, buffer);
  };
  const Connection = require('rhea/lib/connection.js') as { prototype: ConnectionInternals };
  const input = Connection.prototype.input;
  Connection.prototype.input = function guardedInput(this: ConnectionInternals, buffer: Buffer) {
    if (this.kskupRejected) return;
    this.kskupReading = true;
    try {
      input.call(this, buffer);
    } finally {
      this.kskupReading = false;
    }
  };
}

function checkFrameSize(transport: TransportInternals, size: number): void {
  const limit = transport.frame_type === frames.TYPE_SASL ? SASL_MAX_FRAME_SIZE : maxFrameSizeOf(transport.handler);
  if (size < FRAME_HEADER_SIZE) throw new errors.ProtocolError(`a frame header announces ${size} bytes, fewer than the 8 of a frame header`);
  if (size > limit) throw new errors.ProtocolError(`a frame of ${size} bytes exceeds the max-frame-size of ${limit}`);
}

function maxFrameSizeOf(handler: unknown): number {
  const announced = (handler as Partial<ConnectionInternals>).local?.open?.max_frame_size;
  return typeof announced === 'number' && announced > 0 ? announced : Number.MAX_SAFE_INTEGER;
}

/**
 * Call from the connection's 'protocol_error' and 'error' handlers: rhea ends
 * the socket right after them, so what is written here is the last the peer
 * hears. Does nothing for an error that did not come from reading the peer's
 * bytes, or a second time. Returns whether it refused the connection.
 */
export function rejectUnreadableInput(connection: Connection, error: unknown): boolean {
  const c = connection as unknown as ConnectionInternals;
  if (!c.kskupReading || c.kskupRejected || !c.socket || c.socket.writable === false) return false;
  c.kskupRejected = true;
  const socket = c.socket;
  const framing = (error as Error | undefined)?.name === 'ProtocolError';
  const description = `${framing ? 'unreadable input' : 'a frame that does not decode'}: ${error instanceof Error ? error.message : String(error)}`.slice(0, 200);
  const layer = activeLayer(c);
  if (!layer.header_received || layer.header_received.protocol_id !== layer.protocol_id) {
    // 2.2: answer a header we do not speak with the one we do, then close.
    if (!layer.header_sent) {
      const header = Buffer.alloc(8);
      frames.write_header(header, { protocol_id: layer.protocol_id, major: 1, minor: 0, revision: 0 });
      socket.write(header);
      layer.header_sent = { protocol_id: layer.protocol_id };
    }
    return true;
  }
  if (layer !== c.amqp_transport) {
    const sasl = saslServerOf(c);
    if (sasl && sasl.outcome === undefined) {
      sasl.outcome = SASL_SYS_PERM;
      layer.encode(frames.sasl_frame(frames.sasl_outcome({ code: SASL_SYS_PERM })));
    }
    layer.write(socket);
    return true;
  }
  if (!c.state.local_open || c.state.open_requests > 0) {
    layer.encode(frames.amqp_frame(0, c.local.open));
    c.state.local_open = true;
    c.state.open_requests = 0;
  }
  const condition = framing ? 'amqp:connection:framing-error' : 'amqp:decode-error';
  layer.encode(frames.amqp_frame(0, frames.close({ error: { condition, description } })));
  layer.write(socket);
  return true;
}

/** The transport that was reading: the SASL layer's until its outcome, then AMQP's. */
function activeLayer(c: ConnectionInternals): TransportInternals {
  const selective = c.sasl_transport as SelectiveInternals | undefined;
  if (selective && 'transports' in selective && selective.selected === undefined) {
    // No header chosen yet: the listener's first choice is plain AMQP.
    return c.amqp_transport;
  }
  const sasl = saslServerOf(c);
  if (sasl && !sasl.transport.read_complete) return sasl.transport;
  return c.amqp_transport;
}

function saslServerOf(c: ConnectionInternals): SaslServerInternals | undefined {
  const transport = c.sasl_transport;
  if (!transport) return undefined;
  if ('transports' in transport) {
    const selected = transport.selected as SaslServerInternals | TransportInternals | undefined;
    return selected !== undefined && 'transport' in selected ? selected : undefined;
  }
  return 'transport' in transport ? transport : undefined;
}
