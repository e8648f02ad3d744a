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
import type { TlsMaterial } from '../tls/ssl-profile.js';
import { describeTlsClientError } from './socket-errors.js';

export interface AmqpListenerDeps {
  readonly log: Logger;
  /** Takes over an accepted (and, with TLS, verified) socket. */
  readonly accept: (socket: Socket, entity: ListenerEntity) => void;
}

export class AmqpListener {
  readonly entity: ListenerEntity;
  private readonly bound: BoundServer;
  private readonly sockets = new Set<Socket>();
  private readonly loggedRefusals = new Set<string>();

  constructor(entity: ListenerEntity, material: TlsMaterial | undefined, deps: AmqpListenerDeps) {
    this.entity = entity;
    const onSocket = (socket: Socket) => {
      this.loggedRefusals.clear();
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      socket.setNoDelay(true);
      deps.accept(socket, entity);
    };
    let server: net.Server;
    if (material) {
      const tlsServer = tls.createServer({
        ca: material.ca,
        cert: material.cert,
        key: material.key,
        passphrase: material.passphrase,
        requestCert: entity.authenticatePeer,
        rejectUnauthorized: entity.authenticatePeer,
      });
      tlsServer.on('secureConnection', onSocket);
      tlsServer.on('tlsClientError', (error, socket) => {
        const reason = describeTlsClientError(error);
        if (this.loggedRefusals.has(reason)) return;
        this.loggedRefusals.add(reason);
        deps.log.warn(
          { listener: entity.name, remote: `${socket.remoteAddress}:${socket.remotePort}`, reason },
          `listener "${entity.name}" refused a connection: ${reason}`,
        );
      });
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
