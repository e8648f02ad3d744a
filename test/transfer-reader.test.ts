// router/peer/transfer-reader.ts reads transfer frames without rhea's decoder.
// Its result must be what rhea's own read_frame gives for every transfer rhea
// (and so kskup's frame output, which encodes performatives with rhea) writes,
// and it must leave every other frame, and every encoding it does not take,
// to rhea.
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readTransferFrame } from '../router/peer/transfer-reader.js';

const require = createRequire(import.meta.url);
interface Frames {
  read_frame(buffer: Buffer): { size: number; type: number; channel: number; performative: Record<string, unknown>; payload?: Buffer };
  write_frame(frame: unknown): Buffer;
  amqp_frame(channel: number, performative: unknown, payload?: Buffer): unknown;
  sasl_frame(performative: unknown): unknown;
  transfer(fields: Record<string, unknown>): { described(): unknown };
  flow(fields: Record<string, unknown>): { described(): unknown };
  disposition(fields: Record<string, unknown>): { described(): unknown };
  sasl_init(fields: Record<string, unknown>): { described(): unknown };
}
const frames = require('rhea/lib/frames.js') as Frames;

const FIELDS = ['handle', 'delivery_id', 'delivery_tag', 'message_format', 'settled', 'more', 'rcv_settle_mode', 'state', 'resume', 'aborted', 'batchable'] as const;

function transferFrame(channel: number, fields: Record<string, unknown>, payload?: Buffer): Buffer {
  return frames.write_frame(frames.amqp_frame(channel, frames.transfer(fields).described(), payload));
}

function expectSameAsRhea(buffer: Buffer): void {
  const mine = readTransferFrame(buffer);
  const rheas = frames.read_frame(buffer);
  expect(mine).toBeDefined();
  expect({ size: mine!.size, type: mine!.type, channel: mine!.channel }).toEqual({ size: rheas.size, type: rheas.type, channel: rheas.channel });
  for (const field of FIELDS) expect([field, mine!.performative[field]]).toEqual([field, rheas.performative[field]]);
  expect(mine!.payload).toEqual(rheas.payload);
}

const uint = fc.integer({ min: 0, max: 0xffffffff });
const optional = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: undefined });

describe('transfer frames read in place', () => {
  it('give the fields, channel and payload that rhea reads, for any transfer rhea writes without a delivery state', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.record({
          handle: uint,
          delivery_id: optional(uint),
          delivery_tag: optional(fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes))),
          message_format: optional(uint),
          settled: optional(fc.boolean()),
          more: optional(fc.boolean()),
          rcv_settle_mode: optional(fc.integer({ min: 0, max: 1 })),
          resume: optional(fc.boolean()),
          aborted: optional(fc.boolean()),
          batchable: optional(fc.boolean()),
        }),
        optional(fc.uint8Array({ maxLength: 2000 }).map((bytes) => Buffer.from(bytes))),
        (channel, fields, payload) => {
          const defined = Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
          expectSameAsRhea(transferFrame(channel, defined, payload));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('take the other encodings AMQP allows for the same fields: list32, uint, smalluint, uint0, vbin32, an extended header', () => {
    const tag = Buffer.from('tag');
    const payload = Buffer.from('payload');
    // handle uint 7, delivery-id smalluint 3, tag vbin32, format uint0, settled true, more false.
    const fieldBytes = Buffer.concat([Buffer.from([0x70, 0, 0, 0, 7, 0x52, 3, 0xb0, 0, 0, 0, tag.length]), tag, Buffer.from([0x43, 0x41, 0x42])]);
    for (const doff of [2, 3]) {
      const frame = handFrame(doff, list32(6, fieldBytes), payload);
      expectSameAsRhea(frame);
      expect(readTransferFrame(frame)!.performative).toMatchObject({ handle: 7, delivery_id: 3, delivery_tag: tag, message_format: 0, settled: true, more: false });
    }
  });

  it('leave to rhea other frames, a transfer with a delivery state, and what they cannot read', () => {
    expect(readTransferFrame(frames.write_frame(frames.amqp_frame(0, frames.flow({ handle: 1, link_credit: 10, incoming_window: 100, next_outgoing_id: 0, outgoing_window: 100 }).described())))).toBeUndefined();
    expect(readTransferFrame(frames.write_frame(frames.amqp_frame(0, frames.disposition({ role: true, first: 1, settled: true }).described())))).toBeUndefined();
    expect(readTransferFrame(frames.write_frame(frames.sasl_frame(frames.sasl_init({ mechanism: 'ANONYMOUS' }).described())))).toBeUndefined();
    // handle 1, delivery-id 2, tag 't', format 0, settled false, more false, rcv-settle-mode null, then a state: accepted (0x24, list0).
    const head = Buffer.from([0x52, 1, 0x52, 2, 0xa0, 1, 0x74, 0x43, 0x42, 0x42, 0x40]);
    const withState = handFrame(2, list32(8, Buffer.concat([head, Buffer.from([0x00, 0x53, 0x24, 0x45])])));
    expect(readTransferFrame(withState)).toBeUndefined();
    expect(frames.read_frame(withState).performative.handle).toBe(1);
    expect(readTransferFrame(handFrame(2, list32(8, Buffer.concat([head, Buffer.from([0x40])]))))).toBeDefined();
    // settled as boolean 0x56 0x01: rhea reads the number 1, so it reads that frame.
    const byteBoolean = handFrame(2, list32(5, Buffer.from([0x52, 1, 0x52, 2, 0xa0, 1, 0x74, 0x43, 0x56, 0x01])));
    expect(readTransferFrame(byteBoolean)).toBeUndefined();
    expect(frames.read_frame(byteBoolean).performative.settled).toBe(1);

    const good = transferFrame(3, { handle: 1, delivery_id: 2, delivery_tag: Buffer.from('t'), settled: true }, Buffer.from('data'));
    expect(readTransferFrame(good)).toBeDefined();
    // Any cut of a frame, or a size that is not its length: not read here.
    for (let length = 0; length < good.length; length++) expect(readTransferFrame(good.subarray(0, length))).toBeUndefined();
    const wrongSize = Buffer.from(good);
    wrongSize.writeUInt32BE(good.length + 1, 0);
    expect(readTransferFrame(wrongSize)).toBeUndefined();
    // A handle encoded as a signed int (0x71), a list whose size runs past the frame, a null handle.
    const listAt = 8 + 3;
    expect(good[listAt]).toBe(0xd0); // rhea writes list32
    const signedHandle = Buffer.from(good);
    expect(signedHandle[listAt + 9]).toBe(0x52);
    signedHandle[listAt + 9] = 0x71;
    expect(readTransferFrame(signedHandle)).toBeUndefined();
    const longList = Buffer.from(good);
    longList.writeUInt32BE(good.length, listAt + 1);
    expect(readTransferFrame(longList)).toBeUndefined();
    const nullHandle = transferFrame(0, { delivery_id: 2 });
    expect(() => frames.read_frame(nullHandle)).not.toThrow();
    expect(readTransferFrame(nullHandle)).toBeUndefined();
  });

  it('never throw on random bytes after a transfer descriptor', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 0xffff }), (bytes, channel) => {
        const body = Buffer.concat([Buffer.from([0x00, 0x53, 0x14]), Buffer.from(bytes)]);
        const frame = Buffer.concat([u32(8 + body.length), Buffer.from([2, 0x00]), u16(channel), body]);
        const mine = readTransferFrame(frame);
        if (mine) expectSameAsRhea(frame);
      }),
      { numRuns: 5000 },
    );
  });
});

/** A transfer frame with the given data offset (4-byte words), performative list and payload. */
function handFrame(doff: number, list: Buffer, payload = Buffer.alloc(0)): Buffer {
  const body = Buffer.concat([Buffer.alloc(doff * 4 - 8), Buffer.from([0x00, 0x53, 0x14]), list, payload]);
  return Buffer.concat([u32(8 + body.length), Buffer.from([doff, 0x00, 0x00, 0x05]), body]);
}

/** AMQP list32: size (bytes after it, count included), count, the fields. */
function list32(count: number, fields: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0xd0]), u32(4 + fields.length), u32(count), fields]);
}

function u32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value);
  return buffer;
}

function u16(value: number): Buffer {
  const buffer = Buffer.alloc(2);
  buffer.writeUInt16BE(value);
  return buffer;
}
