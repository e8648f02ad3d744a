// Byte accounting for flows through a router network under faults: each
// client sends its own pseudo-random stream (tcp-tools.ts, seeded) at a paced
// rate to an echo backend and checks every byte that comes back against the
// stream at its offset, so that what arrived is known to be an exact prefix of
// what was sent (nothing corrupted, lost in the middle or out of order) however
// the flow ends. The echo backend records, per connection, which router
// address it came from (so a test knows each flow's path) and what it got.
import { createHash } from 'node:crypto';
import net from 'node:net';
import { pseudoRandomChunks } from './tcp-tools.js';

/** The first bytes of a stream: how the backend's record of a connection is matched to a client's seed. */
const KEY_BYTES = 16;

export interface FlowReport {
  readonly seed: number;
  /** Bytes the flow was to carry each way. */
  readonly total: number;
  /** Bytes written to the socket (accepted by the kernel). */
  sent: number;
  /** Bytes echoed back, all checked. */
  received: number;
  /** Offset of the first echoed byte that differs from the stream, if any. */
  firstMismatch: number | undefined;
  /** sha256 of what was received (hex). */
  sha256: string;
  /** How the stream ended: 'end' (FIN), 'error CODE' (a reset or other error), 'closed', or 'hung' (nothing by the deadline). */
  end: string;
  /** Date.now() when it ended. */
  endedAt: number;
  /** All `total` bytes came back exact and the stream then ended cleanly. */
  complete: boolean;
}

export interface FlowOptions {
  /** Sending rate, bytes/s; undefined: as fast as the socket takes them. */
  readonly bytesPerSecond?: number;
  /** A flow not ended this long after it started counts as hung (and is destroyed). */
  readonly hangAfterMs: number;
}

export interface Flow {
  readonly report: FlowReport;
  readonly done: Promise<FlowReport>;
}

/** The key the echo backend records for a stream (its first bytes, hex). */
export function streamKey(seed: number): string {
  return pseudoRandomChunks(seed, KEY_BYTES).next().value!.toString('hex');
}

/**
 * Opens a flow to host:port, sends `total` bytes of stream `seed` (then a
 * half-close) and checks the echo byte by byte. Never rejects: how it ended
 * is in the report.
 */
export function startFlow(host: string, port: number, seed: number, total: number, options: FlowOptions): Flow {
  const started = Date.now();
  const report: FlowReport = { seed, total, sent: 0, received: 0, firstMismatch: undefined, sha256: '', end: '', endedAt: 0, complete: false };
  const socket = net.connect({ host, port, allowHalfOpen: true });
  const hash = createHash('sha256');
  const expected = pseudoRandomChunks(seed, total);
  let pending: Buffer = Buffer.alloc(0);

  socket.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    let offset = 0;
    while (offset < chunk.length) {
      if (pending.length === 0) {
        const next = expected.next();
        if (next.done) {
          // More than was sent: every extra byte is a mismatch.
          report.firstMismatch ??= report.received + offset;
          break;
        }
        pending = next.value;
      }
      const n = Math.min(pending.length, chunk.length - offset);
      if (report.firstMismatch === undefined && !chunk.subarray(offset, offset + n).equals(pending.subarray(0, n))) {
        const at = [...chunk.subarray(offset, offset + n)].findIndex((byte, i) => byte !== pending[i]);
        report.firstMismatch = report.received + offset + at;
      }
      pending = pending.subarray(n);
      offset += n;
    }
    report.received += chunk.length;
  });

  const sending = pseudoRandomChunks(seed, total, 16 * 1024);
  let timer: NodeJS.Timeout | undefined;
  const pump = (): void => {
    timer = undefined;
    if (socket.destroyed || socket.writableEnded) return;
    const allowed = options.bytesPerSecond === undefined ? Infinity : ((Date.now() - started) / 1000) * options.bytesPerSecond;
    while (report.sent < allowed) {
      const next = sending.next();
      if (next.done) {
        socket.end();
        return;
      }
      report.sent += next.value.length;
      if (!socket.write(next.value)) {
        socket.once('drain', pump);
        return;
      }
    }
    timer = setTimeout(pump, 20);
  };
  socket.once('connect', pump);

  const done = new Promise<FlowReport>((resolve) => {
    const finish = (end: string): void => {
      if (report.end !== '') return;
      clearTimeout(timer);
      clearTimeout(hang);
      report.end = end;
      report.endedAt = Date.now();
      report.sha256 = hash.digest('hex');
      report.complete = end === 'end' && report.received === total && report.firstMismatch === undefined;
      socket.destroy();
      resolve(report);
    };
    const hang = setTimeout(() => finish('hung'), options.hangAfterMs);
    socket.on('error', (error: NodeJS.ErrnoException) => finish(`error ${error.code ?? error.message}`));
    socket.once('end', () => {
      // A peer's FIN after our own half-close is the clean end. Before it, the
      // peer stopped echoing while we still send: our next write tells a reset.
      if (socket.writableEnded) finish('end');
      else socket.write(Buffer.alloc(0), (error) => (error ? undefined : finish('end')));
    });
    socket.once('close', () => finish('closed'));
  });
  return { report, done };
}

/** What the echo backend saw of one connection. */
export interface EchoRecord {
  /** The router's address the connection came from: which site carried it. */
  readonly from: string;
  /** First KEY_BYTES bytes (hex), matched with streamKey(seed). */
  key: string;
  received: number;
  end: string;
}

export interface AccountingEcho {
  readonly port: number;
  readonly connections: EchoRecord[];
  /** The record of the connection that carried stream `seed`. */
  of(seed: number): EchoRecord | undefined;
  close(): Promise<void>;
}

/** An echo server on host:0 that records each connection (see EchoRecord); ends its side when the client ends. */
export async function startAccountingEcho(host: string): Promise<AccountingEcho> {
  const connections: EchoRecord[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    const record: EchoRecord = { from: socket.remoteAddress ?? '?', key: '', received: 0, end: '' };
    connections.push(record);
    let head = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      if (head.length < KEY_BYTES) {
        head = Buffer.concat([head, chunk]).subarray(0, KEY_BYTES);
        record.key = head.toString('hex');
      }
      record.received += chunk.length;
    });
    socket.pipe(socket);
    socket.on('error', (error: NodeJS.ErrnoException) => (record.end ||= `error ${error.code ?? error.message}`));
    socket.once('end', () => (record.end ||= 'end'));
    socket.once('close', () => {
      record.end ||= 'closed';
      sockets.delete(socket);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const seeds = new Map<number, string>();
  return {
    port: (server.address() as net.AddressInfo).port,
    connections,
    of(seed) {
      if (!seeds.has(seed)) seeds.set(seed, streamKey(seed));
      return connections.find((c) => c.key === seeds.get(seed));
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A one-line account of a flow for the test's output. */
export function describeFlow(flow: FlowReport, via?: string): string {
  const check = flow.firstMismatch === undefined ? 'exact' : `MISMATCH at byte ${flow.firstMismatch}`;
  return `seed ${flow.seed}${via ? ` via ${via}` : ''}: sent ${flow.sent}/${flow.total}, echoed ${flow.received} (${check}), ${flow.end}`;
}
