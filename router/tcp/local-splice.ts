// A flow whose tcpListener and tcpConnector are on the same router needs no
// network: the two sockets are joined directly, with the same guarantees as a
// network flow (backpressure, half-close each way, a reset crosses over), and
// under the address's bandwidth limit like one.
import type { Socket } from 'node:net';
import type { AddressCounters } from '../metrics.js';
import type { ByteBucket } from './flow-limiter.js';
import { confirmPeerEnd } from './peer-end.js';

/**
 * The address's byte buckets (flow-limiter.ts), asked on every read so that a
 * limit set, changed or cleared while the flow is open applies to it at once.
 */
export interface SpliceShaping {
  toBackend(): ByteBucket | undefined;
  fromBackend(): ByteBucket | undefined;
}

/** What a spliced flow did: bytes each way, and which socket failed first. */
export interface SpliceEnd {
  /** Client -> backend. */
  bytesIn: number;
  /** Backend -> client. */
  bytesOut: number;
  failed?: 'client' | 'backend';
}

export function spliceSockets(
  client: Socket,
  backend: Socket,
  counters: AddressCounters,
  onClosed: (error: string | undefined, ended: SpliceEnd) => void,
  shaping?: SpliceShaping,
): void {
  counters.flowsOpened++;
  counters.flowsOpen++;
  let ended = false;
  const totals: SpliceEnd = { bytesIn: 0, bytesOut: 0 };
  const timers = new Set<NodeJS.Timeout>();
  const finish = (error?: string, failed?: 'client' | 'backend') => {
    if (ended) return;
    ended = true;
    for (const timer of timers) clearTimeout(timer);
    counters.flowsOpen--;
    if (error) counters.flowsFailed++;
    onClosed(error, failed === undefined ? totals : { ...totals, failed });
  };
  const pump = (from: Socket, to: Socket, count: (bytes: number) => void, bucket: () => ByteBucket | undefined) => {
    // Reading stops while the other socket is full, and while the byte bucket is in debt; it starts again when neither holds it.
    let full = false;
    let shaped: NodeJS.Timeout | undefined;
    const resumeWhenFree = () => {
      if (!full && shaped === undefined && !ended) from.resume();
    };
    const waitForBucket = (ms: number) => {
      from.pause();
      shaped = setTimeout(() => {
        timers.delete(shaped!);
        shaped = undefined;
        // The bucket is shared by the address's flows: others may have taken from it meanwhile.
        const more = bucket()?.delay() ?? 0;
        if (more > 0) waitForBucket(more);
        else resumeWhenFree();
      }, ms);
      timers.add(shaped);
    };
    from.on('data', (chunk: Buffer) => {
      count(chunk.length);
      if (!to.write(chunk)) {
        full = true;
        from.pause();
      }
      const wait = bucket()?.take(chunk.length) ?? 0;
      if (wait > 0 && shaped === undefined) waitForBucket(wait);
    });
    to.on('drain', () => {
      full = false;
      resumeWhenFree();
    });
    // Only a FIN is a half-close: a reset libuv reported as 'end' becomes an 'error'.
    from.on('end', () => confirmPeerEnd(from, () => to.end()));
    from.on('error', (error: NodeJS.ErrnoException) => {
      if (!to.destroyed) {
        try {
          to.resetAndDestroy();
        } catch {
          to.destroy();
        }
      }
      finish(error.code ?? error.message, from === client ? 'client' : 'backend');
    });
  };
  pump(
    client,
    backend,
    (bytes) => {
      counters.bytesIn += bytes;
      totals.bytesIn += bytes;
    },
    () => shaping?.toBackend(),
  );
  pump(
    backend,
    client,
    (bytes) => {
      counters.bytesOut += bytes;
      totals.bytesOut += bytes;
    },
    () => shaping?.fromBackend(),
  );
  let closedCount = 0;
  const onClose = () => {
    closedCount++;
    if (closedCount === 2) finish();
  };
  client.on('close', onClose);
  backend.on('close', onClose);
  client.resume();
}
