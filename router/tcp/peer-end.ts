// A peer's end of stream (a TCP FIN), told apart from a reset that libuv
// reports as one.
//
// libuv's unix stream code takes POLLHUP after a partial read as the end of
// the stream without reading again (libuv issue #2319; changed by libuv PR
// #4997, later than the libuv in Node 20). A reset that arrives while the
// socket still holds unread data (a flow paused for credit, a client that
// writes and resets at once) therefore reaches Node as 'data' then 'end', and
// never as 'error'. Passed on as a half-close, a client's abort would look to
// the backend like a request sent in full.
//
// A zero-length write asks the kernel: on a reset connection it fails with
// ECONNRESET or EPIPE (and the socket emits 'error'); on a half-closed one it
// succeeds at once.
import type { Socket } from 'node:net';

const EMPTY = Buffer.alloc(0);

/**
 * Calls `onEnd` once the socket's 'end' is known to be a FIN. On a reset it
 * never does: the socket emits 'error' instead, for its error handler. When
 * our write side is already shut, or writes are pending (which find a reset on
 * their own, and behind which the probe would wait for a peer that may not be
 * reading), `onEnd` is called at once.
 */
export function confirmPeerEnd(socket: Socket, onEnd: () => void): void {
  if (socket.writableEnded || socket.destroyed || socket.writableLength > 0) {
    onEnd();
    return;
  }
  socket.write(EMPTY, (error) => {
    if (!error) onEnd();
  });
}
