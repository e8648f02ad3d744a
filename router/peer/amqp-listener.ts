// A `listener` entity that speaks AMQP (any role). With an sslProfile it is a TLS
// server; with authenticatePeer it demands a client certificate signed by the
// profile's CA (mutual TLS) and offers SASL EXTERNAL, and refuses certificates
// whose serial the profile lists in revokedSerials. Refused handshakes are
// logged once per reason until a handshake succeeds again, so a peer retrying
// with a wrong certificate does not flood the log.
import net from 'node:net';
import tls from 'node:tls';
import type { Socket } from 'node:net';
import type { ListenerEntity } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { bindServer, type BoundServer } from '../net/bound-server.js';
import { RevocationList } from '../tls/revocation-list.js';
import { tlsServerOptions, type TlsMaterial } from '../tls/ssl-profile.js';
import { describeTlsClientError, describeUnauthorizedClient, REVOKED_CLIENT_CERTIFICATE } from './socket-errors.js';

export interface AmqpListenerDeps {
  readonly log: Logger;
  /** Takes over an accepted (and, with TLS, verified) socket. */
  readonly accept: (socket: Socket, entity: ListenerEntity) => void;
  /** Turns away a TLS client whose certificate failed verification, telling it why. */
  readonly refuse: (socket: Socket, reason: string) => void;
  /** Ends an accepted connection whose client certificate has been revoked since, telling the peer why. */
  readonly drop: (socket: Socket, reason: string) => void;
}

export class AmqpListener {
  readonly entity: ListenerEntity;
  private readonly deps: AmqpListenerDeps;
  private readonly bound: BoundServer;
  private readonly sockets = new Set<Socket>();
  private readonly revocations: RevocationList<Socket>;
  private readonly loggedRefusals = new Set<string>();

  constructor(entity: ListenerEntity, material: TlsMaterial | undefined, deps: AmqpListenerDeps) {
    this.entity = entity;
    this.deps = deps;
    this.revocations = new RevocationList(material?.revokedSerials);
    const onSocket = (socket: Socket) => {
      const reason = this.refusalOf(socket);
      if (reason !== undefined) {
        this.logRefusal(socket, reason);
        deps.refuse(socket, reason);
        return;
      }
      this.loggedRefusals.clear();
      this.sockets.add(socket);
      if (socket instanceof tls.TLSSocket) this.revocations.track(socket, socket);
      socket.once('close', () => {
        this.sockets.delete(socket);
        this.revocations.forget(socket);
      });
      socket.setNoDelay(true);
      deps.accept(socket, entity);
    };
    let server: net.Server;
    if (material) {
      // The client certificate is verified in onSocket, and a refusal sent in an AMQP close.
      const tlsServer = tls.createServer(tlsServerOptions(material, entity.authenticatePeer));
      tlsServer.on('secureConnection', onSocket);
      tlsServer.on('tlsClientError', (error, socket) => this.logRefusal(socket, describeTlsClientError(error)));
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

  /**
   * The sslProfile's revokedSerials changed (and nothing else in it): refuse
   * those certificates from now on and drop the open connections that presented
   * one, leaving every other connection as it is.
   */
  setRevokedSerials(serials: readonly string[]): void {
    this.revocations.replaceAndDrop(serials, { name: this.entity.name, noun: 'connection', log: this.deps.log }, this.deps.drop);
  }

  /** Stops accepting and drops the connections it accepted. */
  stop(): void {
    this.bound.close();
    for (const socket of this.sockets) socket.destroy();
  }

  /** Why a client is turned away after its handshake, or undefined to accept it. */
  private refusalOf(socket: Socket): string | undefined {
    if (!(socket instanceof tls.TLSSocket)) return undefined;
    if (this.entity.authenticatePeer && !socket.authorized) return describeUnauthorizedClient(socket);
    if (this.revocations.isRevoked(socket)) return REVOKED_CLIENT_CERTIFICATE;
    return undefined;
  }

  private logRefusal(socket: Socket, reason: string): void {
    if (this.loggedRefusals.has(reason)) return;
    this.loggedRefusals.add(reason);
    this.deps.log.warn(
      { listener: this.entity.name, remote: `${socket.remoteAddress}:${socket.remotePort}`, reason },
      `listener "${this.entity.name}" refused a connection: ${reason}`,
    );
  }
}
