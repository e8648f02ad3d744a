// Bounds on what rhea's AMQP decoder allocates for a list, map or array whose
// header announces more elements than its bytes can hold. rhea sizes the result
// from the announced count (types.js, Reader.read_n: new Array(count)), so one
// 18-byte performative announcing 8.5 million elements cost the router 66 MiB
// (found by test/fuzz-amqp-frames.test.ts); an array of a zero-width type
// (null, true, uint0, ...) announcing 4 billion elements would be read element
// by element until the process ran out of memory. Here a compound's count may
// not exceed the bytes left in the frame (each element takes at least one:
// its constructor), and an array's may not exceed the bytes left or, for
// zero-width element types, MAX_EMPTY_ELEMENTS. Beyond that the frame is a
// decode error (amqp:decode-error, router/peer/unreadable-input.ts).
import { createRequire } from 'node:module';

/** Elements an array of a zero-width type may announce: more than any real peer sends, few enough to be harmless. */
const MAX_EMPTY_ELEMENTS = 65_536;

interface ReaderInternals {
  remaining(): number;
}
interface ReaderPrototype {
  read_n(this: ReaderInternals, n: number): unknown[];
  read_array_items(this: ReaderInternals, n: number, type: { width: number }): unknown[];
}

let installed = false;

export function installDecodeLimits(): void {
  if (installed) return;
  installed = true;
  const require = createRequire(import.meta.url);
  const types = require('rhea/lib/types.js') as { Reader: { prototype: ReaderPrototype } };
  const errors = require('rhea/lib/errors.js') as { TypeError: new (message: string) => Error };
  const { read_n: readN, read_array_items: readArrayItems } = types.Reader.prototype;
  types.Reader.prototype.read_n = function limitedReadN(this: ReaderInternals, n: number) {
    if (n > this.remaining()) throw new errors.TypeError(`a list or map announces ${n} elements with ${this.remaining()} bytes left`);
    return readN.call(this, n);
  };
  types.Reader.prototype.read_array_items = function limitedReadArrayItems(this: ReaderInternals, n: number, type: { width: number }) {
    const limit = type.width === 0 ? MAX_EMPTY_ELEMENTS : this.remaining();
    if (n > limit) throw new errors.TypeError(`an array announces ${n} elements with ${this.remaining()} bytes left`);
    return readArrayItems.call(this, n, type);
  };
}
