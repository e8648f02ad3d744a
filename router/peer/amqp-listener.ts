// A `listener` entity that speaks AMQP (any role). With an sslProfile it is a TLS
// server; with authenticatePeer it demands a client certificate signed by the
// profile's CA (mutual TLS) and offers SASL EXTERNAL, and refuses certificates
// whose serial the profile lists in revokedSerials. Refused handshakes are
// logged once per reason until a handshake succeeds again, so a peer retrying
// with a wrong certificate does not flood the log. A changed sslProfile is
// applied in place (updateTls): new handshakes get the new key material, open
// connections carry on unless its oldestValidOrdinal expires them.
import net from 'node:net';
import tls from 'node:tls';
import type { Socket } from 'node:net';
import type { ListenerEntity } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { bindServer, type BoundServer } from '../net/bound-server.js';
import { ConnectionOrdinals, expiredOrdinalReason, type Ordinals } from '../tls/connection-ordinals.js';
import { RevocationList } from '../tls/revocation-list.js';
import { tlsServerOptions, type TlsMaterial } from '../tls/ssl-profile.js';
import { describeTlsClientError, describeUnauthorizedClient, REVOKED_CLIENT_CERTIFICATE } from './socket-errors.js';

export interface AmqpListenerDeps {
  readonly log: Logger;
  /** Takes over an accepted (and, with TLS, verified) socket; `tlsOrdinal`: the sslProfile ordinal it was made with, for TLS. */
  readonly accept: (socket: Socket, entity: ListenerEntity, tlsOrdinal: number | undefined) => void;
  /** Turns away a TLS client whose certificate failed verification, telling it why. */
  readonly refuse: (socket: Socket, reason: string) => void;
  /**
   * Ends an accepted connection whose client certificate has been revoked
   * since (condition amqp:unauthorized-access, the default) or whose TLS
   * ordinal expired (amqp:connection:forced), telling the peer why.
   */
  readonly drop: (socket: Socket, reason: string, condition?: string) => void;
}

export class AmqpListener {
  readonly entity: ListenerEntity;
  private readonly deps: AmqpListenerDeps;
  private readonly bound: BoundServer;
  private readonly sockets = new Set<Socket>();
  private readonly revocations: RevocationList<Socket>;
  private readonly ordinals: ConnectionOrdinals<Socket>;
  private readonly tlsServer: tls.Server | undefined;
  private readonly loggedRefusals = new Set<string>();

  constructor(entity: ListenerEntity, material: TlsMaterial | undefined, ordinals: Ordinals, deps: AmqpListenerDeps) {
    this.entity = entity;
    this.deps = deps;
    this.revocations = new RevocationList(material?.revokedSerials);
    this.ordinals = new ConnectionOrdinals(ordinals);
    const onSocket = (socket: Socket) => {
      const reason = this.refusalOf(socket);
      if (reason !== undefined) {
        this.logRefusal(socket, reason);
        deps.refuse(socket, reason);
        return;
      }
      this.loggedRefusals.clear();
      this.sockets.add(socket);
      const tlsOrdinal = socket instanceof tls.TLSSocket ? this.ordinals.record(socket) : undefined;
      if (socket instanceof tls.TLSSocket) this.revocations.track(socket, socket);
      socket.once('close', () => {
        this.sockets.delete(socket);
        this.revocations.forget(socket);
        this.ordinals.forget(socket);
      });
      socket.setNoDelay(true);
      deps.accept(socket, entity, tlsOrdinal);
    };
    let server: net.Server;
    if (material) {
      // The client certificate is verified in onSocket, and a refusal sent in an AMQP close.
      const tlsServer = tls.createServer(tlsServerOptions(material, entity.authenticatePeer));
      tlsServer.on('secureConnection', onSocket);
      tlsServer.on('tlsClientError', (error, socket) => this.logRefusal(socket, describeTlsClientError(error)));
      server = tlsServer;
      this.tlsServer = tlsServer;
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

  /**
   * The sslProfile changed (its files or attributes): handshakes from now on
   * use `material`, connections already open carry on, except that a raised
   * oldestValidOrdinal closes those made with a lower ordinal (telling the
   * peer why), as skupper-router's listeners do.
   */
  updateTls(material: TlsMaterial, ordinals: Ordinals): void {
    this.tlsServer?.setSecureContext(tlsServerOptions(material, this.entity.authenticatePeer));
    this.setRevokedSerials(material.revokedSerials ?? []);
    this.applyOrdinals(ordinals);
  }

  /** Expires the connections made before a raised oldestValidOrdinal; the ordinal new connections record stays. */
  expire(oldestValidOrdinal: number): void {
    this.applyOrdinals({ ordinal: this.ordinals.ordinal, oldestValidOrdinal });
  }

  private applyOrdinals(ordinals: Ordinals): void {
    for (const [socket, ordinal] of this.ordinals.update(ordinals)) {
      const reason = expiredOrdinalReason(ordinal, this.ordinals.oldestValidOrdinal);
      this.deps.log.info({ listener: this.entity.name, remote: `${socket.remoteAddress}:${socket.remotePort}`, reason }, `listener "${this.entity.name}" closes a connection: ${reason}`);
      this.deps.drop(socket, reason, 'amqp:connection:forced');
    }
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
