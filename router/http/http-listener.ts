// A `listener` with `http: true`: /healthz (200 while the router runs),
// /metrics (Prometheus text), each only when the entity enables it, and, with
// `websockets` (the default), AMQP over WebSocket (subprotocol "amqp") on any
// path, so that a site can be linked through an HTTP(S) ingress or proxy.
// With an sslProfile it is HTTPS; with authenticatePeer a WebSocket upgrade
// needs a client certificate signed by the profile's CA (mutual TLS, SASL
// EXTERNAL) and not listed in its revokedSerials, and is refused with 403 and
// the reason otherwise.
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { ListenerEntity } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import type { RouterMetrics } from '../metrics.js';
import { bindServer, type BoundServer } from '../net/bound-server.js';
import { describeUnauthorizedClient, REVOKED_CLIENT_CERTIFICATE } from '../peer/socket-errors.js';
import { RevocationList } from '../tls/revocation-list.js';
import { tlsServerOptions, type TlsMaterial } from '../tls/ssl-profile.js';

export interface HttpListenerDeps {
  readonly log: Logger;
  readonly metrics: RouterMetrics;
  readonly isReady: () => boolean;
  /** Takes over an AMQP connection that arrived as a WebSocket. */
  readonly acceptWebSocket: (stream: Duplex) => void;
  /** Ends an accepted WebSocket link whose client certificate has been revoked since, telling the peer why. */
  readonly drop: (stream: Duplex, reason: string) => void;
}

export class HttpListener {
  readonly entity: ListenerEntity;
  private readonly deps: HttpListenerDeps;
  private readonly bound: BoundServer;
  private readonly revocations: RevocationList<Duplex>;
  private readonly webSockets = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    handleProtocols: (protocols) => (protocols.has('amqp') ? 'amqp' : false),
  });
  private readonly loggedRefusals = new Set<string>();

  constructor(entity: ListenerEntity, material: TlsMaterial | undefined, deps: HttpListenerDeps) {
    this.entity = entity;
    this.deps = deps;
    this.revocations = new RevocationList(material?.revokedSerials);
    const handle = (request: http.IncomingMessage, response: http.ServerResponse) => {
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
    };
    const server = material
      ? // The client certificate is verified at the upgrade, and a refusal says why.
        https.createServer(tlsServerOptions(material, entity.authenticatePeer), handle)
      : http.createServer(handle);
    server.on('upgrade', (request: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      // node:http takes its own 'error' listener off a socket it hands over for an
      // upgrade: without this, a client that resets while it is refused (or during
      // the handshake) would be an unhandled 'error' event that ends the router.
      socket.on('error', (error: NodeJS.ErrnoException) => deps.log.debug({ listener: entity.name, reason: error.code ?? error.message }, 'WebSocket upgrade socket failed'));
      if (!entity.websockets) return refuse(socket, 404, 'WebSockets are not enabled on this listener');
      const tlsSocket = request.socket as TLSSocket;
      const reason = material ? this.refusalOf(tlsSocket) : undefined;
      if (reason !== undefined) {
        if (!this.loggedRefusals.has(reason)) {
          this.loggedRefusals.add(reason);
          deps.log.warn({ listener: entity.name, remote: request.socket.remoteAddress, reason }, `listener "${entity.name}" refused a WebSocket link: ${reason}`);
        }
        return refuse(socket, 403, reason);
      }
      this.webSockets.handleUpgrade(request, socket, head, (ws) => {
        this.loggedRefusals.clear();
        const stream = createWebSocketStream(ws);
        if (material) {
          this.revocations.track(stream, tlsSocket);
          ws.once('close', () => this.revocations.forget(stream));
        }
        // What rhea looks at to offer SASL EXTERNAL: the verified TLS underneath.
        Object.assign(stream, { encrypted: Boolean(material), authorized: Boolean(material) && tlsSocket.authorized === true });
        deps.acceptWebSocket(stream);
      });
    });
    this.bound = bindServer(server, { host: entity.host, port: entity.port }, deps.log, `http listener "${entity.name}"`);
  }

  get ready(): Promise<void> {
    return this.bound.ready;
  }

  port(): number | undefined {
    return this.bound.port();
  }

  /** As AmqpListener.setRevokedSerials, for the WebSocket links. */
  setRevokedSerials(serials: readonly string[]): void {
    this.revocations.replaceAndDrop(serials, { name: this.entity.name, noun: 'WebSocket link', log: this.deps.log }, this.deps.drop);
  }

  stop(): void {
    this.bound.close();
    for (const ws of this.webSockets.clients) ws.terminate();
  }

  /** Why a WebSocket upgrade over TLS is refused, or undefined to accept it. */
  private refusalOf(tlsSocket: TLSSocket): string | undefined {
    if (this.entity.authenticatePeer && !tlsSocket.authorized) return describeUnauthorizedClient(tlsSocket);
    if (this.revocations.isRevoked(tlsSocket)) return REVOKED_CLIENT_CERTIFICATE;
    return undefined;
  }
}

function refuse(socket: Duplex, status: number, reason: string): void {
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nx-kskup-reason: ${reason}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
}
