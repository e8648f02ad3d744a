// rhea's decoder with the router's limits (router/peer/decode-limits.ts): a
// compound or array announcing more elements than its bytes can hold is a
// decode error at once, not an allocation sized by the announcement. The first
// case is the begin performative test/fuzz-amqp-frames.test.ts found (seed
// -1398202429): list32 of 18 bytes announcing 0x00830004 elements cost 66 MiB.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { installDecodeLimits } from '../router/peer/decode-limits.js';

const require = createRequire(import.meta.url);
const types = require('rhea/lib/types.js') as { Reader: new (buffer: Buffer) => { read(): unknown }; unwrap(value: unknown): unknown };
installDecodeLimits();
const read = (bytes: number[]) => types.unwrap(new types.Reader(Buffer.from(bytes)).read());

describe('decode limits', () => {
  it('a list announcing more elements than bytes left is a decode error (the fuzzer\'s begin frame)', () => {
    // list32: size 18, count 0x00830004, then the 14 bytes the real begin had.
    const begin = [0xd0, 0, 0, 0, 18, 0, 0x83, 0, 4, 0x60, 0, 0, 0x43, 0x70, 0, 0, 8, 0, 0x70, 0xff, 0xff, 0xff, 0xff];
    expect(() => read(begin)).toThrow(/announces 8585220 elements with 14 bytes left/);
  });

  it('an array of nulls announcing 4 billion elements is a decode error, not a loop until memory runs out', () => {
    // array32: size 5, count 0xffffffff, element constructor null (0x40).
    expect(() => read([0xf0, 0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0x40])).toThrow(/array announces 4294967295 elements/);
  });

  it('well-formed lists, maps and arrays still decode', () => {
    expect(read([0xc0, 3, 2, 0x41, 0x42])).toEqual([true, false]); // list8 [true, false]
    expect(read([0xc1, 5, 2, 0xa1, 1, 0x6b, 0x40])).toEqual({ k: null }); // map8 {k: null}
    expect(read([0xe0, 4, 3, 0x40])).toEqual([null, null, null]); // array8 of three nulls
  });
});
