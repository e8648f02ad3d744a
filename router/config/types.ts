// The typed model of a router's configuration: what a skupper-router JSON file
// (`[["router",{...}],["listener",{...}],...]`) means once it has been parsed and
// validated. Everything here is plain, frozen data; nothing imports the runtime.

/** skupper-router's modes; standalone runs as interior with no inter-router or edge connections (the parser enforces that). */
export type RouterMode = 'standalone' | 'interior' | 'edge';
export type ListenerRole = 'normal' | 'inter-router' | 'edge';
export type Distribution = 'balanced' | 'closest' | 'multicast';
/** pino level names; skupper-router's "notice" maps to info, "critical" to fatal. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export interface RouterEntity {
  /** From the file, or generated as skrouterd does (`Interior_` and a random suffix) when the file gives none. */
  readonly id: string;
  /** True when the id was generated: a reload keeps the running router's id rather than making another. */
  readonly idGenerated?: true;
  readonly mode: RouterMode;
  readonly helloIntervalSeconds: number;
  readonly helloMaxAgeSeconds: number;
  /** How often a router re-advertises its link state (skupper-router's name; kskup's default 10). */
  readonly raIntervalSeconds?: number;
  /** A router whose link state is not re-advertised for this long is forgotten (default 60). */
  readonly remoteLsMaxAgeSeconds?: number;
  /** Opaque string that skupper puts here (usually JSON); passed on as is. */
  readonly metadata?: string;
}

export interface ListenerEntity {
  /** The name from the file, or `host:port` when the file gives none. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly role: ListenerRole;
  readonly sslProfile?: string;
  /**
   * skupper-router: the SASL mechanisms the listener accepts, separated by
   * spaces. kskup can offer EXTERNAL (with authenticatePeer) and ANONYMOUS;
   * any other name is a config error (docs/security-attributes.md).
   */
  readonly saslMechanisms?: string;
  readonly authenticatePeer: boolean;
  /**
   * skupper-router's requireSsl / requireEncryption: every connection must be
   * TLS. kskup honours it by demanding an sslProfile (a listener with one
   * accepts nothing but TLS).
   */
  readonly requireSsl?: boolean;
  readonly requireEncryption?: boolean;
  readonly maxFrameSize: number;
  readonly maxSessionFrames: number;
  readonly idleTimeoutSeconds: number;
  readonly http: boolean;
  readonly healthz: boolean;
  readonly metrics: boolean;
  readonly websockets: boolean;
}

export interface ConnectorEntity {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly role: ListenerRole;
  readonly cost: number;
  readonly sslProfile?: string;
  readonly saslMechanisms?: string;
  readonly verifyHostname: boolean;
  readonly maxFrameSize: number;
  readonly maxSessionFrames: number;
  readonly idleTimeoutSeconds: number;
  /**
   * kskup's own: `amqp` (default) or `ws`, AMQP over a WebSocket to a listener
   * with `http` and `websockets`. TLS whenever there is an sslProfile; the `s`
   * forms (`amqps`, `wss`) also demand one.
   */
  readonly protocol: 'amqp' | 'amqps' | 'ws' | 'wss';
  /** The HTTP path of the WebSocket, for `ws`/`wss`. */
  readonly websocketPath: string;
}

export interface SslProfileEntity {
  readonly name: string;
  readonly caCertFile?: string;
  readonly certFile?: string;
  readonly privateKeyFile?: string;
  /**
   * The private key's password as skupper-router writes it: `pass:`, `literal:`,
   * `env:`, `file:` prefixes or a bare string. Resolved when the key is loaded,
   * never logged.
   */
  readonly password?: string;
  /**
   * skupper-router: the TLS versions allowed, separated by spaces ("TLSv1.2
   * TLSv1.3"). node:tls takes a lowest and a highest version, so the list must
   * be a contiguous run of TLSv1, TLSv1.1, TLSv1.2, TLSv1.3 (checked by the
   * parser). Absent: Node's defaults (TLSv1.2 to TLSv1.3).
   */
  readonly protocols?: string;
  /**
   * skupper-router: an OpenSSL cipher list for TLS 1.2 and below ("ECDHE-RSA-
   * AES128-GCM-SHA256:!aNULL"); TLS 1.3 suites (TLS_AES_...) may be named too.
   * Checked against the local OpenSSL when the entity starts.
   */
  readonly ciphers?: string;
  /**
   * kskup's own: serial numbers of client certificates that listeners using
   * this profile refuse, even though the CA signed them (a site revoking a link
   * it granted). Written as hex separated by spaces and/or commas ("0a1b2c
   * 3D:4E:5F"); held normalised (lower case, no ':', no leading zeros), sorted
   * and without duplicates. Absent when the file lists none.
   */
  readonly revokedSerials?: readonly string[];
  /**
   * skupper-router 3's certificate rotation (its skrouter.json, sslProfile):
   * the revision of the files, raised each time they are renewed. Every TLS
   * connection of a listener or connector records the ordinal it was made
   * with (management `connection` rows, `tlsOrdinal`). Raising it makes each
   * inter-router and edge connector open a new connection with the new files
   * while the old one carries on, without reconnecting, until it ends.
   * The parser always sets it (default 0); hand-built profiles may leave it out.
   */
  readonly ordinal?: number;
  /**
   * Connections made with an ordinal below this are closed when it is raised,
   * at listeners and connectors alike; never above `ordinal` (the parser
   * refuses it, as skupper-router does). Default 0, as ordinal.
   */
  readonly oldestValidOrdinal?: number;
}

export interface TcpListenerEntity {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly address: string;
  /** listen() backlog; 0 (the default) means the operating system's maximum, SOMAXCONN. */
  readonly backlog: number;
  readonly siteId?: string;
  /** With one, clients must speak TLS: the profile's certFile/privateKeyFile serve it. */
  readonly sslProfile?: string;
  /** Clients must present a certificate signed by the profile's caCertFile and not in its revokedSerials. */
  readonly authenticatePeer: boolean;
}

/**
 * kskup's rate limits of an address (tcpConnector attributes; at a router,
 * the lowest value over the address's tcpConnectors wins). Absent: no limit.
 * Enforced by router/tcp/flow-limiter.ts; a service's limits in the site
 * document have the same shape (site-controller/site/model.ts ServiceLimits).
 * See docs/traffic.md.
 */
export interface FlowLimits {
  /** Flows open at once. */
  readonly maxFlows?: number;
  /** New flows per second (the token bucket's refill rate; may be below 1). */
  readonly flowsPerSecond?: number;
  /** New flows at once after a quiet spell (the bucket's size); default: one second's worth, at least 1. */
  readonly flowBurst?: number;
  /** Bytes per second in each direction, over all flows of the address. */
  readonly bandwidth?: number;
  /** Flows that may wait; default DEFAULT_FLOW_QUEUE (flow-limiter.ts). 0: refuse at once. */
  readonly flowQueue?: number;
  /** How long a flow may wait, ms; default DEFAULT_FLOW_QUEUE_TIMEOUT_MS (flow-limiter.ts). */
  readonly flowQueueTimeoutMs?: number;
}

export interface TcpConnectorEntity extends FlowLimits {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly address: string;
  readonly siteId?: string;
  /** With one, the backend connection is TLS, its certificate verified against the profile's caCertFile. */
  readonly sslProfile?: string;
  /** The backend certificate must name `host` (skupper-router's default: true). */
  readonly verifyHostname: boolean;
  /**
   * kskup: serve only flows from routers of these sites (site names or router
   * ids, separated by spaces or commas; empty: this router's own site only).
   * Absent: any site. See router/policy/ and docs/policy.md.
   */
  readonly allowedSites?: string;
  /**
   * kskup: this connector's share of new flows for its address (0 drains it);
   * absent, it is not weighted. See docs/traffic.md.
   */
  readonly weight?: number;
}

export interface AddressEntity {
  /** Exactly one of prefix and pattern is set. */
  readonly prefix?: string;
  readonly pattern?: string;
  readonly distribution: Distribution;
}

export interface LogEntity {
  /** skupper-router module name, upper case: DEFAULT, ROUTER, TCP_ADAPTOR, SERVER, HTTP, ... */
  readonly module: string;
  /** The lowest level enabled, from skupper's `enable` ("info+", "debug+", "none", ...). */
  readonly level: LogLevel;
}

export interface RouterConfig {
  readonly router: RouterEntity;
  /** Keyed by entity name. Map iteration order is file order. */
  readonly listeners: ReadonlyMap<string, ListenerEntity>;
  readonly connectors: ReadonlyMap<string, ConnectorEntity>;
  readonly sslProfiles: ReadonlyMap<string, SslProfileEntity>;
  readonly tcpListeners: ReadonlyMap<string, TcpListenerEntity>;
  readonly tcpConnectors: ReadonlyMap<string, TcpConnectorEntity>;
  readonly addresses: readonly AddressEntity[];
  readonly logs: readonly LogEntity[];
}

/** The named entity kinds that live reconfiguration adds, changes and removes. */
export type NamedEntityKind = 'listeners' | 'connectors' | 'sslProfiles' | 'tcpListeners' | 'tcpConnectors';

export interface EntityDiff<T> {
  readonly added: readonly T[];
  readonly removed: readonly T[];
  /** Same name, different attributes. */
  readonly changed: readonly { readonly before: T; readonly after: T }[];
}

export interface ConfigDiff {
  readonly listeners: EntityDiff<ListenerEntity>;
  readonly connectors: EntityDiff<ConnectorEntity>;
  readonly sslProfiles: EntityDiff<SslProfileEntity>;
  readonly tcpListeners: EntityDiff<TcpListenerEntity>;
  readonly tcpConnectors: EntityDiff<TcpConnectorEntity>;
  /** True when `router`, `addresses` or `logs` differ (applied as a whole). */
  readonly routerChanged: boolean;
  readonly addressesChanged: boolean;
  readonly logsChanged: boolean;
  readonly empty: boolean;
}

/** One thing wrong with a config file, with where it is. */
export interface ConfigProblem {
  /** e.g. `tcpListener "backend:8080"` or `entity #3`. */
  readonly entity: string;
  /** The attribute, when the problem is about one. */
  readonly attribute?: string;
  readonly message: string;
  /** 1-based line in the file (of the attribute, else of the entity), when the file has lines. */
  readonly line?: number;
}
