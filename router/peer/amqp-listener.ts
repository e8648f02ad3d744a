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
import { X509Certificate } from 'node:crypto';

const UNTRUSTED_AFTER_RENEWAL = 'TLS: client certificate is not signed by a CA the listener trusts any more (its sslProfile caCertFile changed)';

/** Every certificate of a PEM bundle (caCertFile may hold several CAs). */
function caCertificates(pem: Buffer): X509Certificate[] {
  const blocks = pem.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.flatMap((block) => {
    try {
      return [new X509Certificate(block)];
    } catch {
      return [];
    }
  });
}

/** Whether the client certificate of an accepted connection was signed by one of `cas`. */
function issuedByOneOf(socket: tls.TLSSocket, cas: readonly X509Certificate[]): boolean {
  const peer = socket.getPeerX509Certificate();
  if (!peer) return false;
  return cas.some((ca) => peer.checkIssued(ca) && peer.verify(ca.publicKey));
}

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
  private readonly tlsServer: tls.Server | undefined;
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
   * The sslProfile's files were renewed on disk (same entity): new handshakes
   * get the new certificate and verify clients against the new CAs; the
   * connections already accepted stay, as a renewal must not drop every link
   * (skupper-router keeps them too, unless oldestValidOrdinal says otherwise).
   */
  renewMaterial(material: TlsMaterial): void {
    if (!this.tlsServer) return;
    this.tlsServer.setSecureContext(tlsServerOptions(material, this.entity.authenticatePeer));
    if (!this.entity.authenticatePeer || !material.ca) return;
    // A CA no longer trusted (a site CA rotation's cut-over) takes the
    // connections it vouched for with it: trust that was withdrawn is not kept.
    const trusted = caCertificates(material.ca);
    const untrusted = [...this.sockets].filter((socket) => socket instanceof tls.TLSSocket && !issuedByOneOf(socket, trusted));
    if (untrusted.length === 0) return;
    this.deps.log.warn(
      { listener: this.entity.name, connections: untrusted.length, reason: UNTRUSTED_AFTER_RENEWAL },
      `listener "${this.entity.name}" dropped ${untrusted.length} connection${untrusted.length === 1 ? '' : 's'}: ${UNTRUSTED_AFTER_RENEWAL}`,
    );
    for (const socket of untrusted) this.deps.drop(socket, UNTRUSTED_AFTER_RENEWAL);
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
