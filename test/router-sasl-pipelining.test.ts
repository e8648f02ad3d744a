// A client that pipelines SASL and AMQP (AMQP 1.0 part 5.3.1: a client may
// send the AMQP protocol header and its open right behind its sasl-init,
// before the sasl-outcome comes), against one real router process:
//
//   raw client --(plain)--------------------------> R: listener "plain"  (SASL ANONYMOUS or none)
//   raw client --(TLS, no client certificate)-----> R: listener "tls"    (SASL ANONYMOUS or none)
//   raw client --(mutual TLS)---------------------> R: listener "mtls"   (SASL EXTERNAL only)
//
// Each client writes, in one write (or cut into pieces at chosen byte
// boundaries), the SASL header, a sasl-init, the AMQP header and an open, then
// waits. It must get sasl-mechanisms, an ok sasl-outcome, the AMQP header and
// an open, and can then begin a session, attach a receiver and a sender to one
// address, and have a message it sends come back byte for byte. A mechanism
// the listener does not offer gets an auth-failure outcome, the router hangs
// up, and the pipelined AMQP bytes are not read (no header, no open).
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import rhea from 'rhea';
import { beforeAll, describe, expect, it } from 'vitest';
import { AMQP_HEADER, performativeOf, SASL_HEADER } from './helpers/amqp-wire.js';
import { freePort, RouterProcess, routerLogsOnFailure, useRouters, waitFor } from './helpers/router-process.js';
import { useTestFolder } from './helpers/temp-dir.js';

const require = createRequire(import.meta.url);
interface Performative {
  [field: string]: unknown;
}
interface DecodedFrame {
  readonly type: number;
  readonly channel: number;
  readonly performative?: Performative;
  readonly payload?: Buffer;
}
/** rhea's frame codec (lib/frames.js): performative constructors by name, frame encoding and decoding. */
const frames = require('rhea/lib/frames.js') as Record<string, (fields?: Record<string, unknown>) => unknown> & {
  amqp_frame(channel: number, performative: unknown, payload?: Buffer): unknown;
  sasl_frame(performative: unknown): unknown;
  write_frame(frame: unknown): Buffer;
  read_frame(buffer: Buffer): DecodedFrame | null;
};
const terminus = require('rhea/lib/terminus.js') as Record<'source' | 'target', (fields: Record<string, unknown>) => { described(): unknown }>;

const folder = useTestFolder('sasl-pipelining', { withPki: true });
const routers = useRouters();
routerLogsOnFailure(() => routers);

interface Target {
  readonly port: number;
  readonly tls?: tls.ConnectionOptions;
}
const targets = {} as Record<'plain' | 'tls' | 'mtls', Target>;

beforeAll(async () => {
  const ports = { plain: await freePort(), tls: await freePort(), mtls: await freePort() };
  const pki = folder.pki;
  const router = await RouterProcess.start(folder.path, 'R', [
    ['router', { id: 'pipelining-R', mode: 'interior' }],
    ['sslProfile', { name: 'tls', caCertFile: pki.caCert, certFile: pki.serverCert, privateKeyFile: pki.serverKey }],
    ['listener', { name: 'plain', host: '127.0.0.1', port: ports.plain }],
    ['listener', { name: 'tls', host: '127.0.0.1', port: ports.tls, sslProfile: 'tls' }],
    ['listener', { name: 'mtls', host: '127.0.0.1', port: ports.mtls, sslProfile: 'tls', authenticatePeer: true, saslMechanisms: 'EXTERNAL' }],
  ]);
  routers.push(router);
  await waitFor('three listeners', () => router.lines.filter((line) => line.msg.includes('listening')).length === 3 || undefined);
  const ca = readFileSync(pki.caCert);
  targets.plain = { port: ports.plain };
  targets.tls = { port: ports.tls, tls: { ca } };
  targets.mtls = { port: ports.mtls, tls: { ca, cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) } };
});

// ---------------------------------------------------------------------------
// The client's bytes, encoded with rhea's frame codec

const amqp = (channel: number, name: string, fields: Record<string, unknown>, payload?: Buffer) => frames.write_frame(frames.amqp_frame(channel, frames[name]!(fields), payload));
const saslInit = (mechanism: string, initialResponse?: Buffer) => frames.write_frame(frames.sasl_frame(frames.sasl_init!({ mechanism, initial_response: initialResponse })));

/** SASL header, sasl-init, AMQP header, open: what a pipelining client sends before it hears anything. */
function pipelined(mechanism: string, initialResponse?: Buffer): Buffer {
  return Buffer.concat([SASL_HEADER, saslInit(mechanism, initialResponse), AMQP_HEADER, amqp(0, 'open', { container_id: `pipelining-${mechanism}` })]);
}
/** ANONYMOUS's initial response is an optional trace string (RFC 4505); EXTERNAL's is empty (RFC 4422 appendix A: the identity is the TLS one). */
const ANONYMOUS = () => pipelined('ANONYMOUS', Buffer.from('pipelining-test'));
const EXTERNAL = () => pipelined('EXTERNAL', Buffer.alloc(0));

// ---------------------------------------------------------------------------
// A raw client: writes bytes, reads the router's headers and frames

class RawClient {
  /** 'header:<id>' for a protocol header, else the performative's name (empty frames left out). */
  readonly sequence: string[] = [];
  /** The frames with a performative, by the performative's name. */
  readonly frames: { readonly name: string; readonly frame: DecodedFrame }[] = [];
  hungUp = false;
  private buffered = Buffer.alloc(0);
  private waiters = new Set<() => void>();

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.hungUp = true;
      this.wake();
    });
  }

  static connect(target: Target): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const onConnect = () => {
        socket.setNoDelay(true);
        resolve(new RawClient(socket));
      };
      const socket = target.tls
        ? tls.connect({ host: '127.0.0.1', port: target.port, servername: '', checkServerIdentity: () => undefined, ...target.tls }, onConnect)
        : net.connect(target.port, '127.0.0.1', onConnect);
      socket.once('error', reject);
    });
  }

  /** Writes `pieces` one after the other, each its own write with a pause between, so that the router reads them apart. */
  async write(...pieces: Buffer[]): Promise<void> {
    for (const [i, piece] of pieces.entries()) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 3));
      this.socket.write(piece);
    }
  }

  /** Resolves once `probe` holds, or fails after `timeoutMs` saying what came. */
  async until(what: string, probe: () => boolean, timeoutMs = 3_000): Promise<void> {
    if (probe()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`${what}: not within ${timeoutMs} ms; the router sent ${JSON.stringify(this.sequence)}${this.hungUp ? ' and hung up' : ''}`));
      }, timeoutMs);
      const check = () => {
        if (!probe()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
    });
  }

  /** Until the router has hung up; fails if it is still there after `timeoutMs`. */
  hangUp(timeoutMs = 3_000): Promise<void> {
    return this.until('the router hangs up', () => this.hungUp, timeoutMs);
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    for (;;) {
      if (this.buffered.length >= 8 && this.buffered.subarray(0, 4).toString('latin1') === 'AMQP') {
        this.sequence.push(`header:${this.buffered[4]}`);
        this.buffered = this.buffered.subarray(8);
        continue;
      }
      if (this.buffered.length < 4) break;
      const size = this.buffered.readUInt32BE(0);
      if (this.buffered.length < size) break;
      const bytes = this.buffered.subarray(0, size);
      this.buffered = this.buffered.subarray(size);
      const frame = frames.read_frame(bytes);
      if (frame?.performative) {
        const name = performativeOf(bytes) ?? 'unknown';
        this.sequence.push(name);
        this.frames.push({ name, frame });
      }
    }
    this.wake();
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** The first frame with performative `name` that `match` accepts. */
  find(name: string, match: (performative: Performative, frame: DecodedFrame) => boolean = () => true): DecodedFrame | undefined {
    return this.frames.find((entry) => entry.name === name && match(entry.frame.performative!, entry.frame))?.frame;
  }
}

/** What the router must have sent a pipelining client that authenticated: its SASL exchange, then AMQP's header and open. */
const SERVED = ['header:3', 'sasl-mechanisms', 'sasl-outcome', 'header:0', 'open'];

async function expectServed(client: RawClient): Promise<void> {
  await client.until('sasl-mechanisms, an ok outcome, the AMQP header and an open', () => client.sequence.length >= SERVED.length || client.hungUp);
  expect(client.sequence.slice(0, SERVED.length)).toEqual(SERVED);
  expect(client.find('sasl-outcome')!.performative!.code, 'sasl-outcome code ok (0)').toBe(0);
}

/**
 * Goes on from the open: a session, a receiver (handle 0) and a sender
 * (handle 1) on one address, credit for the receiver, then one message sent
 * once the router grants the sender credit; it must arrive at the receiver
 * with the same bytes. Then a clean close.
 */
async function attachAndTransfer(client: RawClient, address: string): Promise<void> {
  const body = Buffer.from(`pipelined through ${address}: ${'0123456789'.repeat(20)}`);
  const message = rhea.message.encode({ body: rhea.message.data_section(body) } as never) as Buffer;
  await client.write(
    Buffer.concat([
      amqp(0, 'begin', { next_outgoing_id: 0, incoming_window: 100, outgoing_window: 100 }),
      amqp(0, 'attach', { name: 'pipelined-receiver', handle: 0, role: true, source: terminus.source({ address }).described(), target: terminus.target({}).described() }),
      amqp(0, 'attach', { name: 'pipelined-sender', handle: 1, role: false, source: terminus.source({}).described(), target: terminus.target({ address }).described(), initial_delivery_count: 0 }),
    ]),
  );
  await client.until('the router begins and attaches both links', () => client.find('begin') !== undefined && client.sequence.filter((name) => name === 'attach').length === 2);
  const begin = client.find('begin')!.performative!;
  await client.write(amqp(0, 'flow', { next_incoming_id: begin.next_outgoing_id, incoming_window: 100, next_outgoing_id: 0, outgoing_window: 100, handle: 0, delivery_count: 0, link_credit: 10 }));
  await client.until('credit for the sender', () => client.find('flow', (flow) => flow.handle === 1 && Number(flow.link_credit) > 0) !== undefined);
  await client.write(amqp(0, 'transfer', { handle: 1, delivery_id: 0, delivery_tag: Buffer.from([1]), message_format: 0, settled: true }, message));
  await client.until('the message at the receiver', () => client.find('transfer', (transfer) => transfer.handle === 0) !== undefined);
  const received = client.find('transfer', (transfer) => transfer.handle === 0)!;
  // The router sets properties.to (the address the sender's link targets); the data section must come through as sent.
  const dataSection = message.subarray(message.indexOf(DATA_SECTION_DESCRIPTOR));
  expect(dataSection.length).toBeGreaterThan(body.length);
  expect(received.payload!.subarray(received.payload!.length - dataSection.length).equals(dataSection), 'the data section arrived byte for byte').toBe(true);
  expect((rhea.message.decode(received.payload!) as { to?: string }).to).toBe(address);
  await client.write(amqp(0, 'close', {}));
  await client.until('the router closes', () => client.sequence.includes('close'));
  expect(client.sequence.filter((name) => name === 'close')).toHaveLength(1);
}

/** A data section's descriptor: 0x00, smallulong 0x53, 0x75 (amqp:data:binary, AMQP 1.0 part 3.2.6). */
const DATA_SECTION_DESCRIPTOR = Buffer.from([0x00, 0x53, 0x75]);

/** `bytes` cut at each offset in `cuts`, in order. */
function cutAt(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const pieces: Buffer[] = [];
  let from = 0;
  for (const at of cuts) {
    pieces.push(bytes.subarray(from, at));
    from = at;
  }
  pieces.push(bytes.subarray(from));
  return pieces;
}

describe('a client that pipelines SASL and AMQP', () => {
  it('is served on a plain listener (ANONYMOUS): outcome ok, header and open, then attach and transfer', async () => {
    const client = await RawClient.connect(targets.plain);
    try {
      await client.write(ANONYMOUS());
      await expectServed(client);
      await attachAndTransfer(client, 'pipelined-plain');
    } finally {
      client.close();
    }
  });

  it('is served on a TLS listener, pipelining after the handshake (ANONYMOUS)', async () => {
    const client = await RawClient.connect(targets.tls);
    try {
      await client.write(ANONYMOUS());
      await expectServed(client);
      await attachAndTransfer(client, 'pipelined-tls');
    } finally {
      client.close();
    }
  });

  it('is served on a mutual-TLS listener (EXTERNAL)', async () => {
    const client = await RawClient.connect(targets.mtls);
    try {
      await client.write(EXTERNAL());
      await expectServed(client);
      await attachAndTransfer(client, 'pipelined-mtls');
    } finally {
      client.close();
    }
  });

  it('is served however its bytes are cut: in two at every byte boundary, and in chosen three- and many-piece cuts', async () => {
    const bytes = ANONYMOUS();
    // The boundaries of the four parts: SASL header | sasl-init | AMQP header | open.
    const initEnd = 8 + bytes.readUInt32BE(8);
    const openStart = initEnd + 8;
    const cuts: number[][] = [];
    for (let at = 1; at < bytes.length; at++) cuts.push([at]);
    cuts.push([8, initEnd, openStart], [initEnd - 1, initEnd + 1], [initEnd + 4, openStart + 4], [4, initEnd + 2, openStart + 1, bytes.length - 1]);
    cuts.push(Array.from({ length: bytes.length - 1 }, (_, i) => i + 1)); // a byte a write
    for (const target of ['plain', 'tls'] as const) {
      // A few clients at a time: each waits a few ms between its pieces.
      for (let i = 0; i < cuts.length; i += 8) {
        await Promise.all(
          cuts.slice(i, i + 8).map(async (cut) => {
            const client = await RawClient.connect(targets[target]);
            try {
              await client.write(...cutAt(bytes, cut));
              await expectServed(client).catch((error: Error) => {
                throw new Error(`${target}, cut at ${cut.join(', ')} of ${bytes.length} bytes: ${error.message}`);
              });
            } finally {
              client.close();
            }
          }),
        );
      }
    }
  });

  it('gets an auth-failure outcome for a mechanism the listener does not offer, and the AMQP bytes behind it are not read', async () => {
    for (const [target, bytes] of [
      ['plain', pipelined('PLAIN', Buffer.from('\0user\0wrong-password'))],
      ['tls', pipelined('PLAIN', Buffer.from('\0user\0wrong-password'))],
      ['mtls', ANONYMOUS()],
    ] as const) {
      const client = await RawClient.connect(targets[target]);
      try {
        await client.write(bytes);
        await client.hangUp();
        expect(client.sequence, `${target}: the router's answer`).toEqual(['header:3', 'sasl-mechanisms', 'sasl-outcome']);
        expect(client.find('sasl-outcome')!.performative!.code, `${target}: sasl-outcome code auth (1)`).toBe(1);
      } finally {
        client.close();
      }
    }
  });

  it('gets one sasl-outcome, sys-perm, for a second sasl-init sent behind the first, and nothing of AMQP', async () => {
    // Found by the AMQP fuzzer: rhea started a mechanism for each init and sent an outcome for each, the second after the AMQP header.
    for (const [target, mechanism] of [['plain', 'ANONYMOUS'], ['mtls', 'EXTERNAL']] as const) {
      const init = saslInit(mechanism, Buffer.alloc(0));
      const client = await RawClient.connect(targets[target]);
      try {
        await client.write(Buffer.concat([SASL_HEADER, init, init, AMQP_HEADER, amqp(0, 'open', { container_id: 'twice' })]));
        await client.hangUp();
        expect(client.sequence, `${target}: the router's answer`).toEqual(['header:3', 'sasl-mechanisms', 'sasl-outcome']);
        expect(client.find('sasl-outcome')!.performative!.code, `${target}: sasl-outcome code sys-perm (3)`).toBe(3);
      } finally {
        client.close();
      }
    }
  });
});
