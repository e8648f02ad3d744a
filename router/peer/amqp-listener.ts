// A `listener` entity that speaks AMQP (any role). With an sslProfile it is a TLS
// server; with authenticatePeer it demands a client certificate signed by the
// profile's CA (mutual TLS) and offers SASL EXTERNAL. Refused handshakes are
// logged once per reason until a handshake succeeds again, so a peer retrying
// with a wrong certificate does not flood the log.
import net from 'node:net';
import tls from 'node:tls';
import type { Socket } from 'node:net';
import type { ListenerEntity } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { bindServer, type BoundServer } from '../net/bound-server.js';
import { tlsServerOptions, type TlsMaterial } from '../tls/ssl-profile.js';
import { describeTlsClientError, describeUnauthorizedClient } from './socket-errors.js';

export interface AmqpListenerDeps {
  readonly log: Logger;
  /** Takes over an accepted (and, with TLS, verified) socket. */
  readonly accept: (socket: Socket, entity: ListenerEntity) => void;
  /** Turns away a TLS client whose certificate failed verification, telling it why. */
  readonly refuse: (socket: Socket, reason: string) => void;
}

export class AmqpListener {
  readonly entity: ListenerEntity;
  private readonly bound: BoundServer;
  private readonly sockets = new Set<Socket>();
  private readonly loggedRefusals = new Set<string>();

  constructor(entity: ListenerEntity, material: TlsMaterial | undefined, deps: AmqpListenerDeps) {
    this.entity = entity;
    const logRefusal = (socket: Socket, reason: string) => {
      if (this.loggedRefusals.has(reason)) return;
      this.loggedRefusals.add(reason);
      deps.log.warn(
        { listener: entity.name, remote: `${socket.remoteAddress}:${socket.remotePort}`, reason },
        `listener "${entity.name}" refused a connection: ${reason}`,
      );
    };
    const onSocket = (socket: Socket) => {
      if (entity.authenticatePeer && socket instanceof tls.TLSSocket && !socket.authorized) {
        const reason = describeUnauthorizedClient(socket);
        logRefusal(socket, reason);
        deps.refuse(socket, reason);
        return;
      }
      this.loggedRefusals.clear();
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      socket.setNoDelay(true);
      deps.accept(socket, entity);
    };
    let server: net.Server;
    if (material) {
      // The client certificate is verified in onSocket, and a refusal sent in an AMQP close.
      const tlsServer = tls.createServer(tlsServerOptions(material, entity.authenticatePeer));
      tlsServer.on('secureConnection', onSocket);
      tlsServer.on('tlsClientError', (error, socket) => logRefusal(socket, describeTlsClientError(error)));
      server = tlsServer;
    } else {
      server = net.createServer(onSocket);
    }
    this.bound = bindServer(server, { host: entity.host, port: entity.port }, deps.log, `listener "${entity.name}" (${entity.role})`);
  }

  get ready(): Promise<void> {
    return this.bound.ready;
  }

  port(): number | undefined {
    return this.bound.port();
  }

  /** Stops accepting and drops the connections it accepted. */
  stop(): void {
    this.bound.close();
    for (const socket of this.sockets) socket.destroy();
  }
}
