// A message whose only section is one AMQP data section over a chunk of bytes,
// without copying the chunk into a new buffer first.
//
// AMQP 1.0 part 3.2.6: a data section is the described type 0x00000000:0x00000075
// with a binary value. Encoded as a small-ulong descriptor (0x00 0x53 0x75) and a
// vbin32 (0xb0, 4-byte big-endian length), it is 8 bytes of header and the chunk.
//
// rhea treats a payload as a byte string with a `length` and a `slice(start, end)`
// (Outgoing.send cuts a message longer than a frame into transfer fragments with
// slice). DataSection offers exactly that, over the virtual bytes
// header || chunk, so that a message rhea fragments is still right on the wire;
// frame-output.ts writes each fragment's parts straight to the socket.

/** Bytes of the data-section header that precedes the chunk. */
export const DATA_SECTION_HEADER_LENGTH = 8;

function dataSectionHeader(chunkLength: number): Buffer {
  const header = Buffer.allocUnsafe(DATA_SECTION_HEADER_LENGTH);
  header[0] = 0x00;
  header[1] = 0x53;
  header[2] = 0x75;
  header[3] = 0xb0;
  header.writeUInt32BE(chunkLength, 4);
  return header;
}

/**
 * The encoded message (data section header + chunk), or the part
 * `[start, end)` of it. Immutable; the chunk is referenced, never copied, so
 * the caller must not reuse the chunk's memory until the frame is written.
 */
export class DataSection {
  /** Bytes of this (part of the) encoded message. */
  readonly length: number;

  private constructor(
    private readonly header: Buffer,
    private readonly chunk: Buffer,
    /** Offset of this part in header || chunk. */
    private readonly start: number,
    length: number,
  ) {
    this.length = length;
  }

  /** The whole message: a data section over `chunk`. */
  static of(chunk: Buffer): DataSection {
    return new DataSection(dataSectionHeader(chunk.length), chunk, 0, DATA_SECTION_HEADER_LENGTH + chunk.length);
  }

  /** As Buffer.slice: offsets relative to this part, clamped to it. */
  slice(start = 0, end = this.length): DataSection {
    const from = Math.min(Math.max(start, 0), this.length);
    const to = Math.min(Math.max(end, from), this.length);
    return new DataSection(this.header, this.chunk, this.start + from, to - from);
  }

  /** This part's bytes, as at most two views (header part, chunk part): nothing is copied. */
  parts(): Buffer[] {
    const end = this.start + this.length;
    const parts: Buffer[] = [];
    if (this.start < DATA_SECTION_HEADER_LENGTH) parts.push(this.header.subarray(this.start, Math.min(end, DATA_SECTION_HEADER_LENGTH)));
    if (end > DATA_SECTION_HEADER_LENGTH) {
      parts.push(this.chunk.subarray(Math.max(this.start - DATA_SECTION_HEADER_LENGTH, 0), end - DATA_SECTION_HEADER_LENGTH));
    }
    return parts;
  }

  /** This part's bytes in one new buffer (for a writer that needs one buffer; costs a copy). */
  toBuffer(): Buffer {
    return Buffer.concat(this.parts(), this.length);
  }
}
