// A flow whose tcpListener and tcpConnector are on the same router needs no
// network: the two sockets are joined directly, with the same guarantees as a
// network flow (backpressure, half-close each way, a reset crosses over).
import type { Socket } from 'node:net';
import type { AddressCounters } from '../metrics.js';
import { confirmPeerEnd } from './peer-end.js';

/** What a spliced flow did: bytes each way, and which socket failed first. */
export interface SpliceEnd {
  /** Client -> backend. */
  bytesIn: number;
  /** Backend -> client. */
  bytesOut: number;
  failed?: 'client' | 'backend';
}

export function spliceSockets(client: Socket, backend: Socket, counters: AddressCounters, onClosed: (error: string | undefined, ended: SpliceEnd) => void): void {
  counters.flowsOpened++;
  counters.flowsOpen++;
  let ended = false;
  const totals: SpliceEnd = { bytesIn: 0, bytesOut: 0 };
  const finish = (error?: string, failed?: 'client' | 'backend') => {
    if (ended) return;
    ended = true;
    counters.flowsOpen--;
    if (error) counters.flowsFailed++;
    onClosed(error, failed === undefined ? totals : { ...totals, failed });
  };
  const pump = (from: Socket, to: Socket, count: (bytes: number) => void) => {
    from.on('data', (chunk: Buffer) => {
      count(chunk.length);
      if (!to.write(chunk)) from.pause();
    });
    to.on('drain', () => from.resume());
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
  pump(client, backend, (bytes) => {
    counters.bytesIn += bytes;
    totals.bytesIn += bytes;
  });
  pump(backend, client, (bytes) => {
    counters.bytesOut += bytes;
    totals.bytesOut += bytes;
  });
  let closedCount = 0;
  const onClose = () => {
    closedCount++;
    if (closedCount === 2) finish();
  };
  client.on('close', onClose);
  backend.on('close', onClose);
  client.resume();
}
