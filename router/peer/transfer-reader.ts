// Transfer frames read in place, without rhea's generic decoder.
//
// rhea 3.0.5 (frames.js, read_frame) decodes every frame's performative into
// typed values (one object per field, a list, a described wrapper), then
// builds the performative object over them, whose getters unwrap a field on
// each read. Transfers are nearly every frame an inter-router connection
// carries; in a sampling heap profile of 64-byte round trips the decoder was
// about a fifth of what a router allocated. Here a transfer whose fields use
// the encodings AMQP peers write (AMQP 1.0 part 1, 1.6: uint0/smalluint/uint,
// vbin8/vbin32, true/false, ubyte, null) becomes a plain object with
// the same field values rhea's getters return, and the same frame shape
// (size, type, channel, performative, payload). Any other frame, or a transfer
// with an encoding not listed (a delivery state, say, or a malformed one), is
// left to rhea's reader, which applies its checks and errors as before.

/** AMQP 1.0 part 2.8: the transfer performative's descriptor code. */
const TRANSFER_CODE = 0x14;
/** AMQP 1.0 part 2.3.1: frame type of AMQP frames (1 is SASL). */
const TYPE_AMQP = 0x00;

/** The transfer's fields as rhea's performative getters give them: absent fields undefined, encoded nulls null. */
export class TransferPerformative {
  handle: number | null | undefined;
  delivery_id: number | null | undefined;
  delivery_tag: Buffer | null | undefined;
  message_format: number | null | undefined;
  settled: boolean | null | undefined;
  more: boolean | null | undefined;
  rcv_settle_mode: number | null | undefined;
  state: null | undefined;
  resume: boolean | null | undefined;
  aborted: boolean | null | undefined;
  batchable: boolean | null | undefined;

  /** As rhea's performatives: hands the frame to the connection's on_transfer. */
  dispatch(target: { on_transfer(frame: unknown): void }, frame: unknown): void {
    target.on_transfer(frame);
  }
}

/** A frame as rhea's read_frame returns it. */
export interface TransferFrame {
  size: number;
  type: number;
  channel: number;
  performative: TransferPerformative;
  payload?: Buffer;
}

/** Thrown internally when a field's encoding is not one this reader takes; the frame then goes to rhea. */
const NOT_MINE = Symbol('not read here');

class Cursor {
  constructor(
    readonly buffer: Buffer,
    public at: number,
    readonly end: number,
  ) {}

  byte(): number {
    if (this.at >= this.end) throw NOT_MINE;
    return this.buffer[this.at++]!;
  }

  u32(): number {
    if (this.at + 4 > this.end) throw NOT_MINE;
    const value = this.buffer.readUInt32BE(this.at);
    this.at += 4;
    return value;
  }

  bytes(length: number): Buffer {
    if (this.at + length > this.end) throw NOT_MINE;
    const view = this.buffer.subarray(this.at, this.at + length);
    this.at += length;
    return view;
  }

  uint(): number | null {
    switch (this.byte()) {
      case 0x40:
        return null;
      case 0x43:
        return 0;
      case 0x52:
        return this.byte();
      case 0x70:
        return this.u32();
      default:
        throw NOT_MINE;
    }
  }

  binary(): Buffer | null {
    switch (this.byte()) {
      case 0x40:
        return null;
      case 0xa0:
        return this.bytes(this.byte());
      case 0xb0:
        return this.bytes(this.u32());
      default:
        throw NOT_MINE;
    }
  }

  boolean(): boolean | null {
    switch (this.byte()) {
      case 0x40:
        return null;
      case 0x41:
        return true;
      case 0x42:
        return false;
      default:
        // Including 0x56 (boolean as a byte), which rhea reads as the number 0 or 1, not as true or false.
        throw NOT_MINE;
    }
  }

  ubyte(): number | null {
    switch (this.byte()) {
      case 0x40:
        return null;
      case 0x50:
        return this.byte();
      default:
        throw NOT_MINE;
    }
  }

  /** Only an absent delivery state is read here (null); a described one goes to rhea. */
  nullOnly(): null {
    if (this.byte() !== 0x40) throw NOT_MINE;
    return null;
  }
}

/**
 * The transfer frame in `buffer` (one whole frame, as rhea's Transport.read
 * slices it), or undefined when it is not a transfer this reader takes.
 * Never throws: what it does not take, rhea reads (and rejects) as before.
 */
export function readTransferFrame(buffer: Buffer): TransferFrame | undefined {
  if (buffer.length < 12) return undefined;
  const size = buffer.readUInt32BE(0);
  const doff = buffer[4]!;
  const type = buffer[5]!;
  if (type !== TYPE_AMQP || doff < 2 || size !== buffer.length) return undefined;
  const start = doff * 4;
  if (buffer.length < start + 4 || buffer[start] !== 0x00 || buffer[start + 1] !== 0x53 || buffer[start + 2] !== TRANSFER_CODE) return undefined;
  try {
    const list = new Cursor(buffer, start + 3, buffer.length);
    let count: number;
    let listEnd: number;
    switch (list.byte()) {
      case 0xc0: {
        const listSize = list.byte();
        listEnd = list.at + listSize;
        count = list.byte();
        break;
      }
      case 0xd0: {
        const listSize = list.u32();
        listEnd = list.at + listSize;
        count = list.u32();
        break;
      }
      default:
        return undefined;
    }
    if (listEnd > buffer.length || count < 1 || count > 11) return undefined;
    const fields = new Cursor(buffer, list.at, listEnd);
    const performative = new TransferPerformative();
    performative.handle = fields.uint();
    if (performative.handle === null) return undefined;
    if (count > 1) performative.delivery_id = fields.uint();
    if (count > 2) performative.delivery_tag = fields.binary();
    if (count > 3) performative.message_format = fields.uint();
    if (count > 4) performative.settled = fields.boolean();
    if (count > 5) performative.more = fields.boolean();
    if (count > 6) performative.rcv_settle_mode = fields.ubyte();
    if (count > 7) performative.state = fields.nullOnly();
    if (count > 8) performative.resume = fields.boolean();
    if (count > 9) performative.aborted = fields.boolean();
    if (count > 10) performative.batchable = fields.boolean();
    if (fields.at !== listEnd) return undefined;
    const frame: TransferFrame = { size, type, channel: buffer.readUInt16BE(6), performative };
    if (listEnd < buffer.length) frame.payload = buffer.subarray(listEnd);
    return frame;
  } catch (error) {
    if (error === NOT_MINE) return undefined;
    throw error;
  }
}

interface RheaFrames {
  read_frame(buffer: Buffer): unknown;
}

/** Puts readTransferFrame ahead of rhea's frames.read_frame (rhea 3.0.5; tuneRhea checks the version). */
export function installTransferReader(frames: RheaFrames): void {
  const readFrame = frames.read_frame;
  frames.read_frame = function readFrameFast(buffer: Buffer) {
    return readTransferFrame(buffer) ?? readFrame(buffer);
  };
}
