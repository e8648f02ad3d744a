// A `connector` entity: keeps one outgoing inter-router connection up. It dials
// (TLS when it has an sslProfile, verifying the server against the profile's CA
// and, unless verifyHostname is false, the host name), hands the socket to rhea,
// and on failure retries with bounded exponential backoff. Each change of state
// (or of the reason it is down) is logged once, not once per attempt.
//
// Certificate rotation (skupper-router 3, qd_connector.c): each connector is
// made for one sslProfile `ordinal`, which its TLS connection records and
// announces to the listening router in its open properties (GROUP_ORDINAL_KEY),
// so that both ends prefer the newest connection for new flows. A connector
// retired for a higher ordinal no longer reconnects: its connection carries on
// until it ends (or is expired by oldestValidOrdinal), then the connector stops.
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import WebSocket, { createWebSocketStream } from 'ws';
import rhea, { type Connection, type Container } from 'rhea';
import type { ConnectorEntity } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { tlsClientOptions, type TlsMaterial } from '../tls/ssl-profile.js';
import { describeSocketError } from './socket-errors.js';

// How soon a link comes back once its path is restored is bounded by the
// longest gap between two connection attempts (TCP SYNs): the retry delay, and
// within one attempt the kernel's SYN retransmissions, 1, 2, 4, 8 s apart
// (TCP_TIMEOUT_INIT, then doubling). An attempt whose SYN goes unanswered is
// therefore given up after CONNECT_TIMEOUT_MS, and the delay is capped at
// MAX_RETRY_MS: a restored path is dialled within CONNECT_TIMEOUT_MS -
// 1 s + MAX_RETRY_MS (3 s). Before, an attempt ran to the 10 s establish
// timeout (SYNs at 0, 1, 3 and 7 s) and the delay grew to 5 s: up to 8 s
// with no SYN, and links came back as late as 7 s after the restore
// (test/fault-link-cut.test.ts).
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 2_000;
/**
 * From dialling to the TCP handshake done. A SYN and one retransmission fit
 * (the second leaves at 1 s); over a 600 ms round trip a peer whose SYN-ACK
 * or the first SYN was lost still answers by 1.6 s.
 */
const CONNECT_TIMEOUT_MS = 2_000;
/** From dialling to the peer's first hello (a peer that accepts but never answers: a frozen process). */
const ESTABLISH_TIMEOUT_MS = 10_000;
/**
 * skupper-router's open-properties key for the connection group ordinal (its
 * QD_CONNECTION_PROPERTY_GROUP_ORDINAL_KEY, a ulong): the connector's sslProfile
 * ordinal; the connection with the highest one in a group takes new flows.
 */
export const GROUP_ORDINAL_KEY = 'qd.group-ordinal';

function establishTimeout(): Error {
  return Object.assign(new Error(`no answer from the peer router within ${ESTABLISH_TIMEOUT_MS / 1000} s`), { code: 'KSKUP_ESTABLISH_TIMEOUT' });
}

function connectTimeout(): Error {
  return Object.assign(new Error(`no TCP connection within ${CONNECT_TIMEOUT_MS / 1000} s (no answer to SYN)`), { code: 'KSKUP_CONNECT_TIMEOUT' });
}

export type ConnectorState = 'connecting' | 'up' | 'down' | 'stopped';

export interface ConnectorStatus {
  readonly state: ConnectorState;
  readonly reason?: string;
}

export interface InterRouterConnectorDeps {
  readonly container: Container;
  readonly log: Logger;
  /** rhea options every inter-router connection gets (container id, frame size, ...). */
  readonly connectionOptions: (entity: ConnectorEntity) => Record<string, unknown>;
  /**
   * Takes over a fresh rhea connection; calls `established` once the peer
   * router has introduced itself. `tlsOrdinal`: the sslProfile ordinal of a TLS
   * connection, undefined without TLS.
   */
  readonly adopt: (connection: Connection, socket: Duplex, entity: ConnectorEntity, established: () => void, tlsOrdinal: number | undefined) => void;
}

/** Stopping with an AMQP close that tells the peer why (an expired ordinal). */
export interface CloseReason {
  readonly condition: string;
  readonly description: string;
}

export class InterRouterConnector {
  readonly entity: ConnectorEntity;
  /** The sslProfile ordinal this connector was made for (0 without one). */
  readonly ordinal: number;
  private material: TlsMaterial | undefined;
  private readonly deps: InterRouterConnectorDeps;
  /** Set by retire(): called once the connection has ended, instead of redialling. */
  private retired: (() => void) | undefined;
  private status: ConnectorStatus = { state: 'connecting' };
  private loggedStatus = '';
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private socket: Duplex | undefined;
  private connection: Connection | undefined;
  private establishTimer: NodeJS.Timeout | undefined;

  constructor(entity: ConnectorEntity, material: TlsMaterial | undefined, deps: InterRouterConnectorDeps, ordinal = 0) {
    this.entity = entity;
    this.material = material;
    this.deps = deps;
    this.ordinal = ordinal;
  }

  start(): void {
    this.dial();
  }

  current(): ConnectorStatus {
    return this.status;
  }

  /** `reason`: sent in the AMQP close and logged; a plain stop (entity removed) closes without one. */
  stop(reason?: CloseReason): void {
    this.setStatus({ state: 'stopped', ...(reason && { reason: reason.description }) });
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (reason) this.connection?.close({ condition: reason.condition, description: reason.description });
    else this.connection?.close();
    // The peer has a moment to read the close before the socket goes.
    const socket = this.socket;
    if (reason && socket) setTimeout(() => socket.destroy(), 1_000).unref();
    // Frames go out at the end of the turn (amqp/frame-output.ts): the close first, then the socket goes.
    else if (socket) queueMicrotask(() => socket.destroy());
  }

  /** Key material for the next dial; the open connection keeps what it was made with. */
  setMaterial(material: TlsMaterial | undefined): void {
    this.material = material;
  }

  /**
   * No more redials: the open connection carries on until it ends, then
   * `ended` is called. Without one up, the connector stops at once.
   */
  retire(ended: () => void): void {
    this.retired = ended;
    if (this.status.state !== 'up') {
      this.stop();
      ended();
    }
  }

  private dial(): void {
    this.retryTimer = undefined;
    if (this.status.state === 'stopped') return;
    const { host, port } = this.entity;
    let settled = false;
    this.socket = undefined;
    const fail = (reason: string) => {
      if (settled) return;
      settled = true;
      this.socket?.destroy();
      this.onDown(reason);
    };
    if (this.entity.protocol === 'ws' || this.entity.protocol === 'wss') {
      this.dialWebSocket(fail);
      return;
    }
    const socket = this.material ? tls.connect({ host, port, ...this.tlsOptions() }) : net.connect({ host, port });
    socket.setNoDelay(true);
    this.watchEstablishing(socket);
    let connected = false;
    // Judged after this turn's I/O (setImmediate runs after the poll phase): a
    // router whose event loop was held up (a pause, a loaded machine) finds the
    // timer overdue before it has seen the connect that completed meanwhile.
    const connectTimer = setTimeout(
      () =>
        setImmediate(() => {
          if (!connected) socket.destroy(connectTimeout());
        }),
      CONNECT_TIMEOUT_MS,
    );
    // 'connect' is the TCP handshake, for a TLS socket too (its 'secureConnect' comes later).
    socket.once('connect', () => {
      connected = true;
      clearTimeout(connectTimer);
    });
    socket.once('close', () => clearTimeout(connectTimer));
    // `on`: fail() acts once, and a socket may report more than one error while it dies.
    socket.on('error', (error) => fail(describeSocketError(error)));
    socket.once(this.material ? 'secureConnect' : 'connect', () => {
      if (settled) return;
      socket.removeAllListeners('error');
      settled = true;
      this.handOver(socket);
    });
  }

  /**
   * A peer that accepts the connection but never answers (a frozen process)
   * would otherwise hold this connector forever, in the TLS handshake, the
   * WebSocket upgrade or the AMQP open: give up after ESTABLISH_TIMEOUT_MS.
   */
  private watchEstablishing(socket: Duplex): void {
    this.socket = socket;
    this.establishTimer = setTimeout(() => socket.destroy(establishTimeout()), ESTABLISH_TIMEOUT_MS);
    socket.once('close', () => clearTimeout(this.establishTimer));
  }

  /** The transport is up: rhea takes it, and this connector follows it until it goes down. */
  private handOver(socket: Duplex): void {
    // Under TLS 1.3 the server checks our certificate after our handshake is
    // done: its verdict arrives as an alert (a socket error) just before or
    // after the connection ends. Keep it, and let it win over "closed".
    let socketError: Error | undefined;
    socket.on('error', (error) => (socketError ??= error));
    let down = false;
    this.hand(socket, (reason) => {
      if (down) return;
      down = true;
      setImmediate(() => this.onDown(socketError ? describeSocketError(socketError) : reason));
    });
  }

  private tlsOptions(): tls.ConnectionOptions {
    return this.material ? tlsClientOptions(this.material, this.entity.host, this.entity.verifyHostname) : {};
  }

  /**
   * AMQP over a WebSocket (subprotocol "amqp"), TLS when there is an sslProfile:
   * for a listener that can only be reached through an HTTP(S) ingress or proxy.
   */
  private dialWebSocket(fail: (reason: string) => void): void {
    const { host, port, websocketPath } = this.entity;
    const scheme = this.material ? 'wss' : 'ws';
    const url = `${scheme}://${net.isIP(host) === 6 ? `[${host}]` : host}:${port}${websocketPath.startsWith('/') ? '' : '/'}${websocketPath}`;
    const ws = new WebSocket(url, ['amqp'], { ...this.tlsOptions(), perMessageDeflate: false, handshakeTimeout: ESTABLISH_TIMEOUT_MS });
    let opened = false;
    ws.once('unexpected-response', (_request, response) => {
      fail(`WebSocket upgrade refused: HTTP ${response.statusCode}${response.headers['x-kskup-reason'] ? ` (${String(response.headers['x-kskup-reason'])})` : ''}`);
      ws.terminate();
    });
    // `on`: a WebSocket can report more than one error (a refused upgrade, then the terminate); after 'open' the stream below has its own.
    ws.on('error', (error) => {
      if (!opened) fail(describeSocketError(error));
    });
    ws.once('open', () => {
      opened = true;
      const stream = createWebSocketStream(ws);
      // What rhea looks at to offer SASL EXTERNAL: the TLS underneath.
      Object.assign(stream, { encrypted: Boolean(this.material) });
      this.watchEstablishing(stream);
      this.handOver(stream);
    });
  }

  /** Gives the connected socket to rhea and follows the AMQP connection's life. */
  private hand(socket: Duplex, down: (reason: string) => void): void {
    const options = this.deps.connectionOptions(this.entity);
    const properties = { ...(options.properties as Record<string, unknown> | undefined), ...(this.material && { [GROUP_ORDINAL_KEY]: rhea.types.wrap_ulong(this.ordinal) }) };
    const connection = this.deps.container.connect({
      ...options,
      properties,
      reconnect: false,
      connection_details: () => ({
        port: this.entity.port,
        host: this.entity.host,
        connect: (_port: number, _host: string, _options: unknown, callback: () => void) => {
          process.nextTick(callback);
          return socket;
        },
      }),
    } as never);
    this.connection = connection;
    // A peer that closes the AMQP connection (with or without an error) ends it
    // for good: rhea raises no 'disconnected' for a connection that is closed.
    connection.on('connection_close', () => {
      const remoteError = connection.error as { description?: string; condition?: string } | undefined;
      down(remoteError ? `closed by peer: ${remoteError.description ?? remoteError.condition}` : 'closed by peer');
      setImmediate(() => socket.destroy());
    });
    // A socket destroyed here (a neighbour dropped for silence) raises neither of rhea's events.
    socket.once('close', () => setImmediate(() => down('connection closed')));
    connection.on('disconnected', (context) => {
      const error = context.error as Error | undefined;
      const remoteError = connection.error as { description?: string; condition?: string } | undefined;
      const reason = error
        ? describeSocketError(error)
        : remoteError
          ? `closed by peer: ${remoteError.description ?? remoteError.condition}`
          : 'connection closed';
      down(reason);
    });
    this.deps.adopt(
      connection,
      socket,
      this.entity,
      () => {
        clearTimeout(this.establishTimer);
        this.failures = 0;
        this.setStatus({ state: 'up' });
      },
      this.material ? this.ordinal : undefined,
    );
  }

  private onDown(reason: string): void {
    this.connection = undefined;
    if (this.status.state === 'stopped') return;
    if (this.retired) {
      this.setStatus({ state: 'stopped', reason: `retired for a newer sslProfile ordinal; its connection ended: ${reason}` });
      this.retired();
      return;
    }
    this.setStatus({ state: 'down', reason });
    const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** this.failures);
    this.failures++;
    this.retryTimer = setTimeout(() => this.dial(), delay);
  }

  private setStatus(status: ConnectorStatus): void {
    this.status = status;
    const key = `${status.state}:${status.reason ?? ''}`;
    if (key === this.loggedStatus) return;
    this.loggedStatus = key;
    const fields = { connector: this.entity.name, host: this.entity.host, port: this.entity.port, reason: status.reason };
    const text = `connector "${this.entity.name}" to ${this.entity.host}:${this.entity.port} is ${status.state}${status.reason ? `: ${status.reason}` : ''}`;
    if (status.state === 'down') this.deps.log.warn(fields, `${text}; retrying with backoff`);
    else this.deps.log.info(fields, text);
  }
}
