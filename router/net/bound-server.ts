// Keeps a server bound to its port. A port that is taken (or any other bind
// error) is logged once and retried in the background, so that one bad listener
// never stops the router and a port freed later is picked up.
import type { Server } from 'node:net';
import type { Logger } from '../log/logger.js';

const BIND_RETRY_MS = 2_000;

export interface BoundServer {
  /** Resolves on the first successful bind; never rejects (failures are retried). */
  readonly ready: Promise<void>;
  /** The bound port (useful with port 0), once bound. */
  port(): number | undefined;
  close(): void;
}

export function bindServer(server: Server, where: { host: string; port: number; backlog?: number }, log: Logger, what: string): BoundServer {
  let closed = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let lastError: string | undefined;
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  const attempt = () => {
    retryTimer = undefined;
    if (closed) return;
    server.listen({ host: where.host, port: where.port, backlog: where.backlog });
  };
  server.on('listening', () => {
    lastError = undefined;
    log.info({ host: where.host, port: boundPort() }, `${what} listening`);
    markReady();
  });
  server.on('error', (error: NodeJS.ErrnoException) => {
    const reason = error.code ?? error.message;
    if (reason !== lastError) {
      log.error({ host: where.host, port: where.port, reason }, `${what} cannot listen on ${where.host}:${where.port}: ${reason}; retrying every ${BIND_RETRY_MS / 1000}s`);
      lastError = reason;
    }
    if (!closed) retryTimer = setTimeout(attempt, BIND_RETRY_MS);
  });
  const boundPort = () => {
    const address = server.address();
    return address && typeof address === 'object' ? address.port : undefined;
  };
  attempt();
  return {
    ready,
    port: boundPort,
    close() {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      if (server.listening) server.close();
    },
  };
}
