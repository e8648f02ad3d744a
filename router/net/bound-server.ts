// Keeps a server bound to its port. A port that is taken (or any other bind
// error) is logged once and retried in the background, so that one bad listener
// never stops the router and a port freed later is picked up. The state of the
// bind (bound, or down and why) is kept and reported on every change, so that
// management and an embedding site controller see a listener that is not
// listening instead of finding out from a log line.
import type { Server } from 'node:net';
import type { Logger } from '../log/logger.js';

const BIND_RETRY_MS = 2_000;

/**
 * `binding`: before the first attempt's outcome; `up`: listening; `down`: the
 * last attempt failed, `reason` says why (retried every BIND_RETRY_MS).
 * The names follow skupper-router's `operStatus` of a tcpListener (up, down).
 */
export type BindStatus =
  | { readonly state: 'binding' }
  | { readonly state: 'up'; readonly port: number }
  | { readonly state: 'down'; readonly reason: string };

export interface BoundServer {
  /** Resolves on the first successful bind; never rejects (failures are retried). */
  readonly ready: Promise<void>;
  /** Resolves once the first attempt has an outcome, bound or not; never rejects. */
  readonly settled: Promise<void>;
  /** The bound port (useful with port 0), once bound. */
  port(): number | undefined;
  status(): BindStatus;
  close(): void;
}

/** Words for the bind errors a listener meets (errno names from bind(2) and getaddrinfo(3)). */
const BIND_ERRORS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available on this host',
  EACCES: 'permission denied',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
};

/** One line for a failed bind: `address already in use (EADDRINUSE)`. */
export function describeBindError(error: NodeJS.ErrnoException): string {
  const code = error.code;
  if (code && BIND_ERRORS[code]) return `${BIND_ERRORS[code]} (${code})`;
  return code ?? error.message;
}

export function bindServer(
  server: Server,
  where: { host: string; port: number; backlog?: number },
  log: Logger,
  what: string,
  onStatus: (status: BindStatus) => void = () => undefined,
): BoundServer {
  let closed = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let current: BindStatus = { state: 'binding' };
  let markReady: () => void = () => undefined;
  let markSettled: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const settled = new Promise<void>((resolve) => (markSettled = resolve));
  const boundPort = () => {
    const address = server.address();
    return address && typeof address === 'object' ? address.port : undefined;
  };
  const setStatus = (next: BindStatus) => {
    current = next;
    markSettled();
    if (!closed) onStatus(next);
  };

  const attempt = () => {
    retryTimer = undefined;
    if (closed) return;
    server.listen({ host: where.host, port: where.port, backlog: where.backlog });
  };
  server.on('listening', () => {
    const port = boundPort() ?? where.port;
    log.info({ host: where.host, port }, `${what} listening`);
    setStatus({ state: 'up', port });
    markReady();
  });
  server.on('error', (error: NodeJS.ErrnoException) => {
    const reason = describeBindError(error);
    if (current.state !== 'down' || current.reason !== reason) {
      log.error({ host: where.host, port: where.port, reason }, `${what} cannot listen on ${where.host}:${where.port}: ${reason}; retrying every ${BIND_RETRY_MS / 1000}s`);
      setStatus({ state: 'down', reason });
    }
    if (!closed) retryTimer = setTimeout(attempt, BIND_RETRY_MS);
  });
  attempt();
  return {
    ready,
    settled,
    port: boundPort,
    status: () => current,
    close() {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      if (server.listening) server.close();
    },
  };
}
