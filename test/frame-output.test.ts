// kskup's frame output (router/amqp/frame-output.ts) and data sections
// (router/amqp/data-section.ts) against rhea's own encoder: the same bytes on
// the wire for any frame, any payload and any cut of a data section; and, on a
// real rhea connection, the frames of one turn written in one pass.
import { createRequire } from 'node:module';
import net from 'node:net';
import fc from 'fast-check';
import rhea, { type Connection, type EventContext } from 'rhea';
import { afterEach, describe, expect, it } from 'vitest';
import { DataSection } from '../router/amqp/data-section.js';
import { attachFrameOutput, encodeFrame, type QueuedFrame } from '../router/amqp/frame-output.js';

const require = createRequire(import.meta.url);
const frames = require('rhea/lib/frames.js') as {
  write_frame(frame: QueuedFrame): Buffer;
  amqp_frame(channel: number, performative: unknown, payload?: Buffer): QueuedFrame;
  transfer(fields: Record<string, unknown>): unknown;
  flow(fields: Record<string, unknown>): unknown;
};

/**
 * A data section over `chunk` as AMQP 1.0 part 3.2.6 and part 1.6 spell it:
 * descriptor 0x00 0x53 0x75 (small ulong 0x75), then vbin32 (0xb0, 4-byte
 * length). rhea's own message encoder would add empty header and properties
 * sections and pick vbin8 for short chunks: also a valid encoding, not ours.
 */
function rheaDataSection(chunk: Buffer): Buffer {
  const header = Buffer.from([0x00, 0x53, 0x75, 0xb0, 0, 0, 0, 0]);
  header.writeUInt32BE(chunk.length, 4);
  return Buffer.concat([header, chunk]);
}

const transfer = (deliveryId: number, more = false) =>
  frames.transfer({ handle: 3, delivery_id: deliveryId, delivery_tag: Buffer.from([0]), message_format: 0, settled: true, more });

describe('DataSection', () => {
  it('is a data section rhea decodes back to the chunk', () => {
    for (const size of [0, 1, 255, 256, 70_000]) {
      const chunk = Buffer.alloc(size, 0x5a);
      const decoded = rhea.message.decode(DataSection.of(chunk).toBuffer()) as { body?: { typecode?: number; content?: Buffer } };
      expect(decoded.body?.typecode).toBe(0x75);
      expect(decoded.body?.content?.equals(chunk)).toBe(true);
    }
  });

  it('is the bytes of a data section, whole and cut anywhere', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 3000 }), fc.nat(), fc.nat(), (bytes, x, y) => {
        const chunk = Buffer.from(bytes);
        const reference = rheaDataSection(chunk);
        const section = DataSection.of(chunk);
        expect(section.length).toBe(reference.length);
        expect(section.toBuffer().equals(reference)).toBe(true);
        const start = x % (reference.length + 1);
        const end = start + (y % (reference.length - start + 1));
        const part = section.slice(start, end);
        expect(part.length).toBe(end - start);
        expect(Buffer.concat(part.parts()).equals(reference.subarray(start, end))).toBe(true);
        // A cut of a cut, as rhea may make of a fragment.
        const inner = part.slice(1, part.length - 1);
        expect(inner.toBuffer().equals(reference.subarray(start, end).subarray(1, Math.max(1, end - start - 1)))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('references the chunk: nothing is copied until the bytes are written', () => {
    const chunk = Buffer.from('abcdefgh');
    const [, view] = DataSection.of(chunk).parts();
    chunk[0] = 0x7a;
    expect(view?.toString()).toBe('zbcdefgh');
  });
});

describe('encodeFrame', () => {
  it('gives rhea\'s bytes for frames without, with small and with large payloads, Buffer or DataSection', () => {
    fc.assert(
      fc.property(fc.nat({ max: 65535 }), fc.nat({ max: 2 ** 31 }), fc.uint8Array({ minLength: 0, maxLength: 70_000 }), fc.boolean(), (channel, id, bytes, asSection) => {
        const chunk = Buffer.from(bytes);
        const payload = asSection ? DataSection.of(chunk) : chunk;
        const reference = frames.write_frame(frames.amqp_frame(channel, transfer(id), asSection ? rheaDataSection(chunk) : chunk));
        const parts = encodeFrame({ ...frames.amqp_frame(channel, transfer(id)), payload });
        expect(Buffer.concat(parts).equals(reference)).toBe(true);
        // Large payloads are written as they are, not copied behind the header.
        if (payload.length >= 512 && chunk.length > 0) expect(parts.at(-1)!.buffer).toBe(chunk.buffer);
      }),
      { numRuns: 200 },
    );
    const flowFrame = frames.amqp_frame(1, frames.flow({ next_incoming_id: 7, incoming_window: 100, next_outgoing_id: 3, outgoing_window: 100, handle: 2, link_credit: 33 }));
    expect(Buffer.concat(encodeFrame(flowFrame)).equals(frames.write_frame(flowFrame))).toBe(true);
    const empty = { type: 0, channel: 0 };
    expect(Buffer.concat(encodeFrame(empty)).equals(frames.write_frame(empty))).toBe(true);
  });
});

describe('attachFrameOutput on a rhea connection', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  it('writes the frames of one turn in one pass, and the far side reads every message', async () => {
    const server = rhea.create_container({ id: 'server' });
    const received: Buffer[] = [];
    const allReceived = new Promise<void>((resolve) => {
      server.on('message', (context: EventContext) => {
        const body = context.message?.body as { content?: Buffer } | undefined;
        if (body?.content) received.push(body.content);
        if (received.length === 40) resolve();
      });
    });
    const listener = server.listen({ port: 0, host: '127.0.0.1' }) as net.Server;
    await new Promise((resolve) => listener.once('listening', resolve));
    cleanups.push(() => listener.close());

    const client = rhea.create_container({ id: 'client' });
    const connection: Connection = client.connect({ port: (listener.address() as net.AddressInfo).port, host: '127.0.0.1', reconnect: false, max_frame_size: 4096 });
    cleanups.push(() => connection.close());
    const sender = connection.open_sender({ target: { address: 'q' }, snd_settle_mode: 1 });
    await new Promise((resolve) => sender.once('sendable', resolve));
    const socket = (connection as unknown as { socket: net.Socket }).socket;
    attachFrameOutput(connection, socket);

    // Count what reaches the socket's writer: one _writev (or _write) per pass.
    let passes = 0;
    const writev = socket._writev?.bind(socket);
    const write = socket._write.bind(socket);
    socket._writev = (chunks, callback) => {
      passes++;
      writev!(chunks, callback);
    };
    socket._write = (chunk, encoding, callback) => {
      passes++;
      write(chunk, encoding, callback);
    };

    // 40 messages in one turn, 20 of them larger than a 4 KiB frame (rhea cuts those up).
    const sent: Buffer[] = [];
    for (let i = 0; i < 40; i++) {
      const chunk = Buffer.alloc(i % 2 ? 10_000 + i : 100 + i, i);
      sent.push(chunk);
      (sender.send(DataSection.of(chunk) as unknown as Buffer, Buffer.from([0]), 0) as { settled: boolean }).settled = true;
    }
    await allReceived;
    expect(received.map((b) => b.toString('hex'))).toEqual(sent.map((b) => b.toString('hex')));
    // rhea sends the queued deliveries when it processes the connection (one
    // tick later), in one pass: one write of all their frames.
    expect(passes).toBe(1);
  });

  it('sends a close with its error: rhea clears the error once it has handed the frame over, so frames are encoded when made', async () => {
    const server = rhea.create_container({ id: 'server' });
    const listener = server.listen({ port: 0, host: '127.0.0.1' }) as net.Server;
    await new Promise((resolve) => listener.once('listening', resolve));
    cleanups.push(() => listener.close());
    server.on('connection_open', (context: EventContext) => {
      const accepted = context.connection;
      attachFrameOutput(accepted, (accepted as unknown as { socket: net.Socket }).socket);
      accepted.close({ condition: 'amqp:unauthorized-access', description: 'certificate serial 0a is revoked' });
    });
    const client = rhea.create_container({ id: 'client' });
    const connection: Connection = client.connect({ port: (listener.address() as net.AddressInfo).port, host: '127.0.0.1', reconnect: false });
    connection.on('connection_error', () => undefined);
    const error = await new Promise<{ condition?: string; description?: string } | undefined>((resolve) => {
      connection.on('connection_close', () => resolve(connection.error as { condition?: string; description?: string } | undefined));
      connection.on('disconnected', () => resolve(connection.error as { condition?: string; description?: string } | undefined));
    });
    expect(error).toMatchObject({ condition: 'amqp:unauthorized-access', description: 'certificate serial 0a is revoked' });
  });
});
