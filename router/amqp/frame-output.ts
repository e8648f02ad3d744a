// How frames leave an inter-router or edge connection: kskup's output path for a
// rhea Connection, in place of rhea's own (rhea 3.0.5, pinned in package.json;
// test/frame-output.test.ts checks the bytes against rhea's encoder).
//
// rhea writes every frame the moment it is made: one socket.write, so one TLS
// record and one syscall per frame, and a new heartbeat timer each time; and it
// copies each transfer payload into the frame's buffer. Here:
//   - frames made during one turn of the event loop are written together, once
//     the turn's JavaScript is done (a microtask), in one corked pass: one writev
//     and, under TLS, one SSL_write, whatever the number of flows that spoke;
//   - a transfer's payload is written as it is, behind a separately encoded
//     frame header and performative: a DataSection (a TCP flow's chunk) goes
//     to the socket without ever being copied into a frame buffer.
// The bytes on the wire are the same as rhea's.
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import type { Connection } from 'rhea';
import { DataSection } from './data-section.js';

/** A frame as rhea queues it (rhea/lib/frames.js amqp_frame). */
export interface QueuedFrame {
  readonly type: number;
  readonly channel: number;
  readonly performative?: unknown;
  readonly payload?: Buffer | DataSection;
}

interface Frames {
  write_frame(frame: QueuedFrame): Buffer;
  write_header(buffer: Buffer, header: { protocol_id: number; major: number; minor: number; revision: number }): void;
  amqp_frame(channel: number, performative: unknown, payload: unknown): QueuedFrame;
}

/** A frame already encoded when rhea made it, waiting for the turn's write. */
interface EncodedFrame {
  readonly encoded: Buffer[];
}

interface TransportInternals {
  protocol_id: number;
  header_sent?: unknown;
  /** rhea's queue of frames to write; frames made through queueFrame are already encoded. */
  pending: (QueuedFrame | EncodedFrame)[];
  write(socket: Duplex): void;
}

interface ConnectionInternals {
  amqp_transport: TransportInternals;
  _write_frame(channel?: number, performative?: unknown, payload?: unknown): void;
  output(): void;
}

const require = createRequire(import.meta.url);
const frames = require('rhea/lib/frames.js') as Frames;

/** Below this many payload bytes a frame is encoded into one buffer: a small copy costs less than another buffer to write. */
const SEPARATE_PAYLOAD_BYTES = 512;

/** AMQP 1.0 part 2.3.1: the frame size is the first 4 bytes of the frame header. */
const FRAME_SIZE_OFFSET = 0;

/**
 * The bytes of one frame, as buffers to write in this order: rhea's encoding
 * of the frame header and performative, then the payload's own bytes (a Buffer,
 * or a DataSection's header and chunk), uncopied. A frame with a small or no
 * payload is one buffer.
 */
export function encodeFrame(frame: QueuedFrame): Buffer[] {
  const payload = frame.payload;
  if (payload === undefined || payload.length < SEPARATE_PAYLOAD_BYTES) {
    return [frames.write_frame(payload instanceof DataSection ? { ...frame, payload: payload.toBuffer() } : frame)];
  }
  const head = frames.write_frame({ type: frame.type, channel: frame.channel, performative: frame.performative });
  head.writeUInt32BE(head.length + payload.length, FRAME_SIZE_OFFSET);
  return payload instanceof DataSection ? [head, ...payload.parts()] : [head, payload];
}

/** Where the frame output adds up the bytes it hands the socket (AMQP bytes, before TLS). */
export interface OctetCounter {
  octetsOut: number;
}

/**
 * Makes `connection` write its AMQP frames through kskup's output path:
 * batched per turn of the event loop and corked on `socket` (the connection's
 * socket, TLS or plain), with transfer payloads written uncopied. Call once,
 * after the connection is open; frames rhea already queued go out with the
 * next batch. Returns a function that writes what is queued at once (for a
 * close that must reach the socket before it is destroyed).
 */
export function attachFrameOutput(connection: Connection, socket: Duplex, counter?: OctetCounter): () => void {
  const internals = connection as unknown as ConnectionInternals;
  internals.amqp_transport.write = function countedWrite(this: TransportInternals, out: Duplex) {
    const written = writeFrames.call(this, out);
    if (counter) counter.octetsOut += written;
  };

  let flushScheduled = false;
  const flush = () => {
    flushScheduled = false;
    internals.output();
  };
  // rhea calls this for every frame, and for an empty frame (a heartbeat) with no arguments.
  // The frame is encoded now, though written at the end of the turn: rhea may change
  // the performative once this returns (its close() clears the close's error).
  internals._write_frame = function queueFrame(this: ConnectionInternals, channel?: number, performative?: unknown, payload?: unknown) {
    const encoded: EncodedFrame = { encoded: encodeFrame(frames.amqp_frame(channel ?? 0, performative, payload)) };
    this.amqp_transport.pending.push(encoded);
    if (!flushScheduled) {
      flushScheduled = true;
      queueMicrotask(flush);
    }
  };

  const output = internals.output;
  internals.output = function corkedOutput(this: ConnectionInternals) {
    socket.cork();
    try {
      output.call(this);
    } finally {
      socket.uncork();
    }
  };
  return () => internals.output();
}

/**
 * Transport.write of rhea, with encodeFrame: the protocol header first if not
 * yet sent, then every queued frame. Returns the bytes written.
 */
function writeFrames(this: TransportInternals, socket: Duplex): number {
  let written = 0;
  if (!this.header_sent) {
    const header = { protocol_id: this.protocol_id, major: 1, minor: 0, revision: 0 };
    const buffer = Buffer.allocUnsafe(8);
    frames.write_header(buffer, header);
    socket.write(buffer);
    written += buffer.length;
    this.header_sent = header;
  }
  const pending = this.pending;
  if (pending.length === 0) return written;
  this.pending = [];
  for (const frame of pending) {
    for (const part of 'encoded' in frame ? frame.encoded : encodeFrame(frame)) {
      socket.write(part);
      written += part.length;
    }
  }
  return written;
}
