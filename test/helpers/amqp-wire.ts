// AMQP 1.0 at the byte level, for tests that send a router what no client
// library would: real client bytes recorded on their way to a router, cut
// into protocol headers and frames (AMQP 1.0 part 2.2 and 2.3: an 8-byte
// header "AMQP" id major minor revision, then frames of a 4-byte size, doff,
// type (0 AMQP, 1 SASL), channel), and what the router sent back, read frame by
// frame with rhea's own decoder.
import { createRequire } from 'node:module';
import net from 'node:net';
import tls from 'node:tls';

const require = createRequire(import.meta.url);
interface DecodedFrame {
  readonly type: number;
  readonly performative?: { error?: { condition?: unknown; description?: unknown }; code?: unknown };
}
const rheaFrames = require('rhea/lib/frames.js') as { read_frame(buffer: Buffer): DecodedFrame | null };

export const AMQP_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0]);
export const SASL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 3, 1, 0, 0]);

/** The performatives by their descriptor code (AMQP 1.0 part 2.7 and 5.3). */
export const PERFORMATIVES: Readonly<Record<number, string>> = {
  0x10: 'open', 0x11: 'begin', 0x12: 'attach', 0x13: 'flow', 0x14: 'transfer', 0x15: 'disposition', 0x16: 'detach', 0x17: 'end', 0x18: 'close',
  0x40: 'sasl-mechanisms', 0x41: 'sasl-init', 0x42: 'sasl-challenge', 0x43: 'sasl-response', 0x44: 'sasl-outcome',
};

export interface Segment {
  readonly kind: 'header' | 'frame' | 'rest';
  readonly bytes: Buffer;
}

/** Cuts a client's byte stream into protocol headers and frames by their size fields; what does not parse is one 'rest'. */
export function splitSegments(stream: Buffer): Segment[] {
  const segments: Segment[] = [];
  let at = 0;
  while (at < stream.length) {
    if (stream.length - at >= 8 && stream.subarray(at, at + 4).toString('latin1') === 'AMQP') {
      segments.push({ kind: 'header', bytes: stream.subarray(at, at + 8) });
      at += 8;
      continue;
    }
    const size = stream.length - at >= 4 ? stream.readUInt32BE(at) : 0;
    if (size < 8 || at + size > stream.length) {
      segments.push({ kind: 'rest', bytes: stream.subarray(at) });
      break;
    }
    segments.push({ kind: 'frame', bytes: stream.subarray(at, at + size) });
    at += size;
  }
  return segments;
}

/** The performative of one whole frame, by its descriptor (the byte after 0x00 0x53 at the data offset), or undefined. */
export function performativeOf(frame: Buffer): string | undefined {
  const doff = frame[4] ?? 0;
  const at = doff * 4;
  if (frame[at] !== 0x00 || frame[at + 1] !== 0x53) return undefined;
  return PERFORMATIVES[frame[at + 2] ?? -1];
}

export interface RouterReply {
  /** Protocol headers the router sent, as "AMQP id.major.minor.revision". */
  readonly headers: string[];
  readonly performatives: string[];
  /** The error condition of each close or detach that carried one. */
  readonly errors: string[];
  /** The code of each sasl-outcome. */
  readonly saslOutcomes: number[];
  /** Bytes that did not parse as headers and frames (must be none). */
  readonly unparsed: number;
  /** Everything in order but empty frames (heartbeats): 'header' or a performative's name. */
  readonly sequence: string[];
}

/** Reads what a router sent: headers, then frames, decoded with rhea's frame reader. */
export function readReply(stream: Buffer): RouterReply {
  const reply = { headers: [] as string[], performatives: [] as string[], errors: [] as string[], saslOutcomes: [] as number[], unparsed: 0, sequence: [] as string[] };
  for (const segment of splitSegments(stream)) {
    if (segment.kind === 'rest') {
      reply.unparsed += segment.bytes.length;
      continue;
    }
    if (segment.kind === 'header') {
      reply.headers.push(`AMQP ${[...segment.bytes.subarray(4)].join('.')}`);
      reply.sequence.push('header');
      continue;
    }
    const name = performativeOf(segment.bytes) ?? (segment.bytes.length === 8 ? 'empty' : 'unknown');
    reply.performatives.push(name);
    if (name !== 'empty') reply.sequence.push(name);
    const decoded = rheaFrames.read_frame(segment.bytes);
    const condition = decoded?.performative?.error?.condition;
    if ((name === 'close' || name === 'detach' || name === 'end') && condition !== undefined) reply.errors.push(String(condition));
    if (name === 'sasl-outcome') reply.saslOutcomes.push(Number(decoded?.performative?.code));
  }
  return reply;
}

/** How a test client reaches a listener: plain TCP, or TLS with a client certificate. */
export interface WireTarget {
  readonly port: number;
  readonly tls?: { readonly ca: Buffer; readonly cert: Buffer; readonly key: Buffer };
}

function dial(target: WireTarget, onConnect: () => void): net.Socket {
  if (!target.tls) return net.connect(target.port, '127.0.0.1', onConnect);
  // No SNI for an IP address; the router's certificate is checked against the CA only.
  return tls.connect({ host: '127.0.0.1', port: target.port, ...target.tls, servername: '', checkServerIdentity: () => undefined }, onConnect);
}

/**
 * Records the bytes a client sends to `target` until `drive` resolves: the
 * client dials a relay on 127.0.0.1 (plain, or TLS with `serverTls` when the
 * target is TLS: the relay sees the plaintext), which passes everything on.
 * Returns the client's bytes in order.
 */
export async function recordClientBytes(
  target: WireTarget,
  serverTls: { readonly cert: Buffer; readonly key: Buffer } | undefined,
  drive: (relayPort: number) => Promise<void>,
): Promise<Buffer> {
  const recorded: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const relay = (client: net.Socket) => {
    sockets.add(client);
    const upstream = dial(target, () => undefined);
    sockets.add(upstream);
    client.on('data', (chunk: Buffer) => {
      recorded.push(chunk);
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
      a.on('error', () => b.destroy());
      a.on('close', () => b.destroy());
    }
  };
  const server = serverTls ? tls.createServer(serverTls, relay) : net.createServer(relay);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await drive((server.address() as net.AddressInfo).port);
    return Buffer.concat(recorded);
  } finally {
    for (const socket of sockets) socket.destroy();
    server.close();
  }
}

export interface WireExchange {
  readonly reply: RouterReply;
  /** The router ended or reset the connection (before the test let go of it). */
  readonly routerHungUp: boolean;
}

/**
 * Sends `phases` to a listener, one after the other: after each phase but the
 * last it waits for a sasl-outcome or `quietMs` of silence (a SASL server
 * answers before it reads on), after the last until the router hangs up or
 * says nothing for `quietMs`. Then lets go of the connection.
 */
export function exchange(target: WireTarget, phases: readonly Buffer[], quietMs = 150): Promise<WireExchange> {
  return new Promise((resolve) => {
    const received: Buffer[] = [];
    let routerHungUp = false;
    let done = false;
    let quiet: NodeJS.Timeout | undefined;
    let phase = 0;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(quiet);
      socket.destroy();
      resolve({ reply: readReply(Buffer.concat(received)), routerHungUp });
    };
    const next = () => {
      clearTimeout(quiet);
      if (phase >= phases.length) {
        quiet = setTimeout(finish, quietMs);
        return;
      }
      const bytes = phases[phase++]!;
      if (bytes.length > 0 && !socket.destroyed) socket.write(bytes);
      quiet = setTimeout(next, quietMs);
    };
    const socket = dial(target, next);
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      // A SASL outcome ends the SASL phase: go on at once.
      if (phase < phases.length && readReply(Buffer.concat(received)).saslOutcomes.length > 0) next();
      else if (phase >= phases.length) next();
    });
    socket.on('end', () => {
      routerHungUp = true;
      finish();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') routerHungUp = true;
      finish();
    });
    socket.on('close', finish);
  });
}

/**
 * The first frame header in `stream` that announces a size a receiver must
 * refuse: below 8 bytes (a frame header's own size), or above `limit` (the
 * listener's max-frame-size; 512 for SASL frames, AMQP 1.0 part 5.3.1). Read
 * the way the router reads: a header (8 bytes "AMQP...") where one may start,
 * then frames by their size fields, stopping at the first that is not whole;
 * after a sasl-init, the AMQP header. Undefined where it cannot tell.
 */
export function firstBadFrameSize(stream: Buffer, amqpLimit: number): number | undefined {
  let at = 0;
  let layer: 'none' | 'sasl' | 'amqp' = 'none';
  while (at + 8 <= stream.length || (layer !== 'none' && at + 4 <= stream.length)) {
    if (layer === 'none' || (stream.length - at >= 8 && stream.subarray(at, at + 4).toString('latin1') === 'AMQP' && layer === 'sasl')) {
      if (stream.subarray(at, at + 4).toString('latin1') !== 'AMQP') return undefined;
      layer = stream[at + 4] === 3 ? 'sasl' : 'amqp';
      at += 8;
      continue;
    }
    const size = stream.readUInt32BE(at);
    const limit = layer === 'sasl' ? 512 : amqpLimit;
    if (size < 8 || size > limit) return size;
    if (at + size > stream.length) return undefined;
    // After a sasl-init (ANONYMOUS and EXTERNAL take one step) the next layer's header is due.
    if (layer === 'sasl' && performativeOf(stream.subarray(at, at + size)) === 'sasl-init') layer = 'none';
    at += size;
  }
  return undefined;
}
