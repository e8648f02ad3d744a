// Changes to how rhea encodes frames, made once at start-up, for the byte-stream
// traffic of TCP flows. Measured with `node --cpu-prof` on a bulk transfer
// (see docs/benchmarks.md); each change keeps the bytes on the wire identical.
import { createRequire } from 'node:module';

interface Frame {
  payload?: Buffer;
}
interface FramesModule {
  write_frame(frame: Frame): Buffer;
}

let applied = false;

export function tuneRhea(): void {
  if (applied) return;
  applied = true;
  // The same CommonJS instance that rhea's transport calls through `frames.write_frame`.
  const frames = createRequire(import.meta.url)('rhea/lib/frames.js') as FramesModule;
  const encodeFrame = frames.write_frame;
  // rhea encodes a frame into a 1 KiB buffer that doubles as it fills: a 16 KiB
  // transfer payload is copied five times on the way. Encode the frame header
  // and performative alone, then append the payload with one exact-size copy.
  frames.write_frame = function writeFrameWithPayload(frame: Frame): Buffer {
    const payload = frame.payload;
    if (!payload || payload.length < 512) return encodeFrame(frame);
    frame.payload = undefined;
    const head = encodeFrame(frame);
    frame.payload = payload;
    const whole = Buffer.allocUnsafe(head.length + payload.length);
    head.copy(whole, 0);
    payload.copy(whole, head.length);
    whole.writeUInt32BE(whole.length, 0);
    return whole;
  };
}
