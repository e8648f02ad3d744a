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
import { ConnectionOrdinals, expiredOrdinalReason, type Ordinals } from '../tls/connection-ordinals.js';
import { RevocationList } from '../tls/revocation-list.js';
import { tlsServerOptions, type TlsMaterial } from '../tls/ssl-profile.js';

export interface HttpListenerDeps {
  readonly log: Logger;
  readonly metrics: RouterMetrics;
  readonly isReady: () => boolean;
  /** Takes over an AMQP connection that arrived as a WebSocket; `tlsOrdinal` as AmqpListenerDeps.accept's. */
  readonly acceptWebSocket: (stream: Duplex, tlsOrdinal: number | undefined) => void;
  /** Ends an accepted WebSocket link, telling the peer why (as AmqpListenerDeps.drop). */
  readonly drop: (stream: Duplex, reason: string, condition?: string) => void;
}

export class HttpListener {
  readonly entity: ListenerEntity;
  private readonly deps: HttpListenerDeps;
  private readonly bound: BoundServer;
  private readonly revocations: RevocationList<Duplex>;
  private readonly ordinals: ConnectionOrdinals<Duplex>;
  private readonly httpsServer: https.Server | undefined;
  private readonly webSockets = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    handleProtocols: (protocols) => (protocols.has('amqp') ? 'amqp' : false),
  });
  private readonly loggedRefusals = new Set<string>();

  constructor(entity: ListenerEntity, material: TlsMaterial | undefined, ordinals: Ordinals, deps: HttpListenerDeps) {
    this.entity = entity;
    this.deps = deps;
    this.revocations = new RevocationList(material?.revokedSerials);
    this.ordinals = new ConnectionOrdinals(ordinals);
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
    // The client certificate is verified at the upgrade, and a refusal says why.
    this.httpsServer = material ? https.createServer(tlsServerOptions(material, entity.authenticatePeer), handle) : undefined;
    const server = this.httpsServer ?? http.createServer(handle);
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
        const tlsOrdinal = material ? this.ordinals.record(stream) : undefined;
        if (material) {
          this.revocations.track(stream, tlsSocket);
          ws.once('close', () => {
            this.revocations.forget(stream);
            this.ordinals.forget(stream);
          });
        }
        // What rhea looks at to offer SASL EXTERNAL: the verified TLS underneath.
        Object.assign(stream, { encrypted: Boolean(material), authorized: Boolean(material) && tlsSocket.authorized === true });
        deps.acceptWebSocket(stream, tlsOrdinal);
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

  /** As AmqpListener.updateTls: new handshakes get `material`; a raised oldestValidOrdinal ends older WebSocket links. */
  updateTls(material: TlsMaterial, ordinals: Ordinals): void {
    this.httpsServer?.setSecureContext(tlsServerOptions(material, this.entity.authenticatePeer));
    this.setRevokedSerials(material.revokedSerials ?? []);
    this.applyOrdinals(ordinals);
  }

  /** As AmqpListener.expire. */
  expire(oldestValidOrdinal: number): void {
    this.applyOrdinals({ ordinal: this.ordinals.ordinal, oldestValidOrdinal });
  }

  private applyOrdinals(ordinals: Ordinals): void {
    for (const [stream, ordinal] of this.ordinals.update(ordinals)) {
      const reason = expiredOrdinalReason(ordinal, this.ordinals.oldestValidOrdinal);
      this.deps.log.info({ listener: this.entity.name, reason }, `listener "${this.entity.name}" closes a WebSocket link: ${reason}`);
      this.deps.drop(stream, reason, 'amqp:connection:forced');
    }
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
