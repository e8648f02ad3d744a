// A `listener` with `http: true`: /healthz (200 while the router runs) and
// /metrics (Prometheus text), each only when the entity enables it.
import http from 'node:http';
import type { ListenerEntity } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import type { RouterMetrics } from '../metrics.js';
import { bindServer, type BoundServer } from '../net/bound-server.js';

export interface HttpListenerDeps {
  readonly log: Logger;
  readonly metrics: RouterMetrics;
  readonly isReady: () => boolean;
}

export class HttpListener {
  private readonly bound: BoundServer;

  constructor(entity: ListenerEntity, deps: HttpListenerDeps) {
    const server = http.createServer((request, response) => {
      const path = (request.url ?? '/').split('?')[0];
      if (path === '/healthz' && entity.healthz) {
        const ok = deps.isReady();
        response.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'stopping\n');
      } else if (path === '/metrics' && entity.metrics) {
        deps.metrics.render().then(
          (text) => response.writeHead(200, { 'content-type': deps.metrics.registry.contentType }).end(text),
          (error: unknown) => {
            deps.log.error({ reason: String(error) }, 'cannot render metrics');
            response.writeHead(500).end();
          },
        );
      } else {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      }
    });
    this.bound = bindServer(server, { host: entity.host, port: entity.port }, deps.log, `http listener "${entity.name}"`);
  }

  get ready(): Promise<void> {
    return this.bound.ready;
  }

  port(): number | undefined {
    return this.bound.port();
  }

  stop(): void {
    this.bound.close();
  }
}
