// TLS at the router's TCP edges. A tcpListener with an sslProfile terminates
// TLS from its clients (and, with authenticatePeer, demands a client
// certificate signed by the profile's CA and not in its revokedSerials); a
// tcpConnector with one originates TLS to its backend and verifies the
// backend's certificate. Either way the flow carries the plain bytes inside
// the TLS session, and a client is handed on only once its handshake is done
// and its certificate accepted, so nothing a refused client sends reaches the
// network, and nothing crosses to a backend whose certificate failed.
import net from 'node:net';
import tls from 'node:tls';
import type { Socket } from 'node:net';
import type { TcpConnectorEntity, TcpListenerEntity } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { describeSocketError, describeTlsClientError, describeUnauthorizedClient, REVOKED_CLIENT_CERTIFICATE } from '../peer/socket-errors.js';
import { RevocationList } from '../tls/revocation-list.js';
import { tlsClientOptions, tlsServerOptions, type TlsMaterial } from '../tls/ssl-profile.js';

/**
 * How long a client may take over its TLS handshake (node:tls's default is
 * 120 s): a client that connects and says nothing holds a socket no longer.
 */
const CLIENT_HANDSHAKE_TIMEOUT_MS = 10_000;

export interface TcpListenerServer {
  readonly server: net.Server;
  /** The profile's revokedSerials changed: refuse them from now on and reset the clients that presented one. */
  setRevokedSerials(serials: readonly string[]): void;
}

/**
 * The server of a tcpListener: plain TCP (paused on connect, so no byte is read
 * before the flow has credit), or TLS with `material`. `onClient` gets each
 * accepted client socket, plain or decrypted.
 */
export function createTcpListenerServer(
  entity: TcpListenerEntity,
  material: TlsMaterial | undefined,
  log: Logger,
  onClient: (socket: Socket) => void,
): TcpListenerServer {
  if (!material) {
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, onClient);
    return { server, setRevokedSerials: () => undefined };
  }
  const revocations = new RevocationList<Socket>(material.revokedSerials);
  const loggedRefusals = new Set<string>();
  const logRefusal = (socket: Socket, reason: string) => {
    if (loggedRefusals.has(reason)) return;
    loggedRefusals.add(reason);
    log.warn(
      { tcpListener: entity.name, address: entity.address, remote: `${socket.remoteAddress}:${socket.remotePort}`, reason },
      `tcpListener "${entity.name}" refused a client: ${reason}`,
    );
  };
  const server = tls.createServer({
    ...tlsServerOptions(material, entity.authenticatePeer),
    allowHalfOpen: true,
    noDelay: true,
    handshakeTimeout: CLIENT_HANDSHAKE_TIMEOUT_MS,
  });
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    const refusal =
      entity.authenticatePeer && !socket.authorized
        ? describeUnauthorizedClient(socket)
        : revocations.isRevoked(socket)
          ? REVOKED_CLIENT_CERTIFICATE
          : undefined;
    if (refusal !== undefined) {
      logRefusal(socket, refusal);
      socket.on('error', () => undefined);
      socket.destroy();
      return;
    }
    loggedRefusals.clear();
    revocations.track(socket, socket);
    socket.once('close', () => revocations.forget(socket));
    onClient(socket);
  });
  server.on('tlsClientError', (error, socket) => {
    logRefusal(socket, describeTlsClientError(error));
    // With allowHalfOpen node:tls only ends its side; a client that does the same would hang on.
    socket.destroy();
  });
  return {
    server,
    setRevokedSerials: (serials) =>
      revocations.replaceAndDrop(serials, { name: entity.name, noun: 'client connection', log, entity: 'tcpListener' }, (socket) => resetSocket(socket)),
  };
}

export interface BackendDial {
  readonly socket: Socket;
  /** The event after which bytes may flow: 'connect', or 'secureConnect' once the backend's certificate is verified. */
  readonly readyEvent: 'connect' | 'secureConnect';
}

/**
 * A tcpConnector's backend dialler. With TLS, a handshake that fails (the
 * backend's certificate is not signed by the profile's CA, does not name the
 * host, or the backend refuses ours) is logged once per reason, naming the
 * tcpConnector, until a handshake succeeds again; the flow itself fails as a
 * refused connection does.
 */
export class BackendDialler {
  private readonly options: tls.ConnectionOptions | undefined;
  private readonly loggedFailures = new Set<string>();

  constructor(
    private readonly entity: TcpConnectorEntity,
    material: TlsMaterial | undefined,
    private readonly log: Logger,
  ) {
    this.options = material ? tlsClientOptions(material, entity.host, entity.verifyHostname) : undefined;
  }

  get encrypted(): boolean {
    return this.options !== undefined;
  }

  dial(): BackendDial {
    const { host, port } = this.entity;
    if (!this.options) return { socket: net.connect({ host, port, allowHalfOpen: true, noDelay: true }), readyEvent: 'connect' };
    // node:tls passes allowHalfOpen on to the TLSSocket, though its types leave it out.
    const options: tls.ConnectionOptions & { allowHalfOpen: boolean } = { ...this.options, host, port, allowHalfOpen: true };
    const socket = tls.connect(options);
    let tcpConnected = false;
    let secure = false;
    socket.once('connect', () => (tcpConnected = true));
    socket.once('secureConnect', () => {
      secure = true;
      this.loggedFailures.clear();
    });
    socket.on('error', (error) => {
      if (!tcpConnected || secure) return;
      const reason = describeSocketError(error);
      if (this.loggedFailures.has(reason)) return;
      this.loggedFailures.add(reason);
      this.log.warn(
        { tcpConnector: this.entity.name, address: this.entity.address, backend: `${host}:${port}`, reason },
        `tcpConnector "${this.entity.name}": TLS with backend ${host}:${port} failed: ${reason}; flow closed`,
      );
    });
    return { socket, readyEvent: 'secureConnect' };
  }
}

/**
 * Resets a socket so that its peer sees the failure. A TLS socket has no TCP
 * handle of its own to reset (node:net throws): it is destroyed instead.
 */
export function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}
