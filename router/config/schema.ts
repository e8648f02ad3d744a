// The router's management schema: every entity type and attribute of
// skupper-router 3.x (its `skrouter.json`, checked against 3.5.1; the abstract
// base types and its test-only `dummy` type left out), each with its
// type, default, range, a one-line description in kskup's words, and what kskup
// does with it. The config parser (which attributes exist, which are ignored
// with a warning, which are refused, the values an ignored attribute may take),
// management (GET-TYPES, GET-ATTRIBUTES, QUERY's attribute names) and
// docs/router-config-reference.md (`npm run docs:router-config`) all read this
// one table, as skupper-router drives its own from skrouter.json.

/** skupper-router's attribute types; a list is an enumeration of allowed values. */
export type SchemaType = 'string' | 'path' | 'integer' | 'boolean' | 'properties' | 'map' | 'list' | readonly string[];

/**
 * What kskup does with an attribute written in a config file or a CREATE:
 * - `implemented`: honoured, with the parser's own checks;
 * - `ignored`: accepted (its value checked against the schema) with one warning;
 * - `refused`: a config error, because it asks for security kskup cannot give
 *   (docs/security-attributes.md), with `refusal` saying why and what instead;
 * - `status`: a read-only value management shows; ignored with a warning when written.
 */
export type AttributeSupport = 'implemented' | 'ignored' | 'refused' | 'status';

export interface AttributeSchema {
  readonly type: SchemaType;
  /** skupper-router's default, as its schema writes it; absent when there is none. */
  readonly default?: string | number | boolean;
  readonly required?: boolean;
  /** Inclusive bounds of an integer. */
  readonly min?: number;
  readonly max?: number;
  readonly support: AttributeSupport;
  /** One line: what the attribute means (and, for kskup, any difference). */
  readonly description: string;
  /** For `refused`: the problem text, e.g. `is not supported: ...; use X`. */
  readonly refusal?: string;
  /** Not in skupper-router 3's schema: kskup's own extension. */
  readonly kskup?: true;
  /** Not in skupper-router 3's schema: a Qpid Dispatch or skupper-router 2 name, still found in files. */
  readonly legacy?: true;
  /** Never echoed in a message (passwords). */
  readonly secret?: true;
}

/**
 * - `implemented`: kskup runs it;
 * - `ignored`: accepted with one warning, nothing is done;
 * - `refused`: a config error (asks for access control kskup does not enforce);
 * - `operational`: management shows it; a config file may not contain it.
 */
export type EntitySupport = 'implemented' | 'ignored' | 'refused' | 'operational';

export interface EntityTypeSchema {
  /** The short name, as a config file writes it (`address`, not `router.config.address`). */
  readonly name: string;
  /** The management name after `io.skupper.router.` (`router.config.address`). */
  readonly managementName: string;
  readonly support: EntitySupport;
  readonly description: string;
  /** At most one entity of this type (router, network, policy). */
  readonly singleton?: true;
  readonly refusal?: string;
  readonly kskup?: true;
  readonly attributes: Readonly<Record<string, AttributeSchema>>;
}

/** The prefix of long entity type names in management. */
export const SCHEMA_PREFIX = 'io.skupper.router.';

/** skupper-router's upper bound of `cost` (a signed 32-bit integer). */
export const MAX_COST = 2147483647;

// Small builders keep each row of the table on one line.
type Extra = Omit<Partial<AttributeSchema>, 'type' | 'support' | 'description'>;
const row =
  (support: AttributeSupport) =>
  (type: SchemaType, description: string, extra: Extra = {}): AttributeSchema =>
    Object.freeze({ type, support, description, ...extra });
const yes = row('implemented');
const warn = row('ignored');
const status = row('status');
const refuse = (type: SchemaType, description: string, refusal: string, extra: Extra = {}): AttributeSchema =>
  Object.freeze({ type, support: 'refused', description, refusal, ...extra });

const ROLES = ['normal', 'inter-router', 'route-container', 'edge', 'inter-edge', 'inter-network'] as const;
const DISTRIBUTIONS = ['multicast', 'closest', 'balanced', 'unavailable'] as const;
const STRIP = ['in', 'out', 'both', 'no'] as const;
const FAMILY = ['IPv4', 'IPv6'] as const;
/** skupper-router 3's log modules (skrouter.json `log.module`). */
export const LOG_MODULES = [
  'ROUTER', 'ROUTER_CORE', 'ROUTER_HELLO', 'ROUTER_LS', 'ROUTER_MA', 'MESSAGE', 'SERVER', 'AGENT', 'CONTAINER',
  'ERROR', 'POLICY', 'HTTP', 'CONN_MGR', 'PYTHON', 'PROTOCOL', 'TCP_ADAPTOR', 'HTTP_ADAPTOR', 'FLOW_LOG',
  'ADDRESS_WATCH', 'HTTP1_OBSERVER', 'HTTP2_OBSERVER', 'HTTP2_DECODER', 'DEFAULT',
] as const;

const NO_POLICY = 'is not supported: kskup enforces no vhost policy, so the limits it names would not apply';
const NO_SASL_PLAIN = 'is not supported: kskup cannot authenticate with SASL PLAIN; use an sslProfile with certFile (SASL EXTERNAL)';

/** Attributes every entity has (skrouter.json's base type `entity`). */
const BASE: Readonly<Record<string, AttributeSchema>> = {
  name: yes('string', 'The entity\'s name, unique within its type; skupper-router\'s default for unnamed entities is described in docs/router-config.md.'),
  identity: status('string', 'The identity management gives the entity (kskup: the same as name).'),
  type: warn('string', 'The management type; implied by the entity block in a file.'),
};

const entity = (
  name: string,
  support: EntitySupport,
  description: string,
  attributes: Record<string, AttributeSchema>,
  extra: Partial<Pick<EntityTypeSchema, 'managementName' | 'singleton' | 'refusal' | 'kskup'>> = {},
): EntityTypeSchema =>
  Object.freeze({ name, managementName: extra.managementName ?? name, support, description, ...extra, attributes: Object.freeze({ ...BASE, ...attributes }) });

const connectionCommon = {
  socketAddressFamily: warn(FAMILY, 'Restrict the socket to IPv4 or IPv6; kskup lets the host name decide.'),
  role: yes(ROLES, 'What the connection is for: normal (clients, management), inter-router, edge; route-container is run as normal, inter-edge and inter-network are not run (one warning).', { default: 'normal' }),
  cost: warn('integer', 'Routing cost of an inter-router connection (higher is less preferred); kskup takes the dialling connector\'s.', { default: 1, min: 1, max: MAX_COST }),
  sslProfile: yes('string', 'The sslProfile giving this end\'s certificate and the trusted CAs; with one, the connection is TLS.'),
  saslMechanisms: yes('string', 'SASL mechanisms, separated by spaces; kskup can do EXTERNAL and ANONYMOUS, any other is a config error.'),
  maxFrameSize: yes('integer', 'Largest AMQP frame, in octets, offered at open.', { default: 16384, min: 512 }),
  maxSessions: warn('integer', 'Largest number of AMQP sessions on the connection.', { default: 32768, min: 0 }),
  maxSessionFrames: yes('integer', 'Session incoming window, in frames (0: no limit).', { min: 0 }),
  idleTimeoutSeconds: yes('integer', 'A connection silent for this long is closed, in seconds (0: never).', { default: 16, min: 0 }),
  stripAnnotations: warn(STRIP, 'Which router message annotations to strip from client messages.', { default: 'both' }),
  linkCapacity: warn('integer', 'Deliveries in flight per link.', { min: 0 }),
  messageLoggingComponents: warn('string', 'Which parts of each message to log.', { default: 'none' }),
  policyVhost: refuse('string', 'A vhost policy that limits what the peer may do.', NO_POLICY),
  openProperties: warn('properties', 'Connection properties sent to the peer at AMQP open (a JSON map).'),
};

export const ROUTER_SCHEMA: readonly EntityTypeSchema[] = Object.freeze([
  entity('router', 'implemented', 'The router itself: its id, mode and routing protocol timers.', {
    id: yes('string', 'The router\'s unique id (no whitespace, `|` or `$`); absent: generated at start (`Standalone_`, `Interior_` or `Edge_` and a random suffix) and logged.'),
    vanId: warn('string', 'Deprecated in skupper-router 3 in favour of network tenantId.'),
    mode: yes(['standalone', 'interior', 'edge'], 'standalone (no inter-router or edge connections; runs as an interior router alone), interior, or edge.', { default: 'standalone' }),
    area: warn('string', 'Unused placeholder.', { default: '0' }),
    version: status('string', 'The router\'s software version.'),
    hostName: status('string', 'The host the router runs on.'),
    helloIntervalSeconds: yes('integer', 'Seconds between HELLO messages to neighbour routers.', { default: 1, min: 1 }),
    helloMaxAgeSeconds: yes('integer', 'A neighbour not heard for this many seconds is lost.', { default: 3, min: 1 }),
    raIntervalSeconds: yes('integer', 'Seconds between router advertisements in a stable network (kskup\'s default is 10).', { default: 30, min: 1 }),
    raIntervalFluxSeconds: warn('integer', 'Seconds between router advertisements while the topology changes.', { default: 4, min: 1 }),
    remoteLsMaxAgeSeconds: yes('integer', 'A router whose link state is not re-advertised for this many seconds is forgotten.', { default: 60, min: 1 }),
    unreachableHoldoffSeconds: warn('integer', 'Seconds before an unreachable router\'s addresses are withdrawn.', { default: 1, min: 0 }),
    workerThreads: warn('integer', 'Worker threads; Node.js runs one event loop.', { default: 4, min: 1 }),
    debugDumpFile: warn('path', 'Where to write debug information when the logger is not available.'),
    saslConfigDir: warn('path', 'Where Cyrus SASL finds its configuration; every mechanism that would use it is refused.'),
    saslConfigName: warn('string', 'Name of the Cyrus SASL configuration file.', { default: 'skrouterd' }),
    timestampsInUTC: warn('boolean', 'Log timestamps in UTC (kskup\'s JSON logs always are).'),
    timestampFormat: warn('string', 'Format of log timestamps.'),
    defaultDistribution: warn(DISTRIBUTIONS, 'Forwarding of an address with no address entity.', { default: 'balanced' }),
    metadata: yes('string', 'Free text (skupper puts JSON here), passed on as is.'),
    dataConnectionCount: warn('string', 'Parallel inter-router data connections ("auto" or a number).', { default: 'auto' }),
    dropTcpConnections: warn('boolean', 'End the TCP connections of a deleted tcpListener or tcpConnector.', { default: true }),
    saslConfigPath: warn('path', 'Qpid Dispatch\'s name of saslConfigDir.', { legacy: true }),
    enableVhostPolicy: refuse('boolean', 'Enforce vhost policies (Qpid Dispatch\'s place; now the policy entity).', NO_POLICY, { legacy: true }),
    policyDir: refuse('path', 'A folder of vhost policies (Qpid Dispatch\'s place; now the policy entity).', NO_POLICY, { legacy: true }),
    // The router's runtime figures, which skupper-router 3 gives as routerMetrics.
    connectionCount: status('integer', 'Open AMQP connections.'),
    nodeCount: status('integer', 'Routers known, this one included.'),
    addrCount: status('integer', 'Addresses known.'),
    linkCount: status('integer', 'Open links.'),
    uptimeSeconds: status('integer', 'Seconds since the router started.'),
    flowCount: status('integer', 'Open TCP flows.', { kskup: true }),
  }, { singleton: true }),

  entity('network', 'ignored', 'The AMQP network the router belongs to (multi-tenant backbones).', {
    networkId: warn('string', 'The network\'s unique id.'),
    tenantId: warn('string', 'The tenant id on a multi-tenant backbone.'),
  }, { singleton: true }),

  entity('site', 'ignored', 'Describes the site the router serves, for the flow collector.', {
    location: warn('string', 'Where the site is.'),
    provider: warn('string', 'The cloud or data centre.'),
    version: warn('string', 'The control plane\'s version.'),
    platform: warn('string', 'Kubernetes, Podman, Linux, ...'),
    namespace: warn('string', 'The namespace (or user) of the site.'),
  }),

  entity('sslProfile', 'implemented', 'A certificate, its key and the trusted CAs, for the entities that name it.', {
    ciphers: yes('string', 'OpenSSL cipher list for TLS 1.2 and below; TLS 1.3 suites may be named.'),
    protocols: yes('string', 'TLS versions allowed, separated by spaces (a contiguous run of TLSv1, TLSv1.1, TLSv1.2, TLSv1.3).'),
    caCertFile: yes('path', 'PEM file of the CAs trusted to sign the peer\'s certificate.'),
    certFile: yes('path', 'PEM file of this end\'s certificate.'),
    privateKeyFile: yes('path', 'PEM file of this end\'s private key.'),
    password: yes('string', 'Unlocks the private key: `pass:`, `literal:`, `env:VAR`, `file:PATH` or bare text; never logged.', { secret: true }),
    uidFormat: warn('string', 'Which certificate fields make a client\'s user name; grants nothing.'),
    uidNameMappingFile: warn('string', 'Maps certificate user names to display names.'),
    ordinal: yes('integer', 'Revision of the certificate files; raising it makes inter-router and edge connectors open new connections with the new files, the old ones carry on without reconnecting.', { default: 0, min: 0 }),
    oldestValidOrdinal: yes('integer', 'Raising it closes the listeners\' and connectors\' connections made with a lower ordinal; at most ordinal.', { default: 0, min: 0 }),
    revokedSerials: yes('string', 'Serial numbers (hex, separated by spaces or commas) of client certificates refused although the CA signed them.', { kskup: true }),
    displayNameFile: warn('string', 'Qpid Dispatch\'s name of uidNameMappingFile.', { legacy: true }),
    trustedCertsFile: refuse('path', 'Qpid Dispatch\'s separate list of trusted CAs.', 'is not supported (skupper-router 3 has no such attribute); put the trusted CAs in caCertFile', { legacy: true }),
    passwordFile: refuse('path', 'Qpid Dispatch\'s key password file.', 'is not supported; write password "file:PATH" instead', { legacy: true }),
  }),

  entity('proxyProfile', 'ignored', 'An HTTP proxy that connectors naming it dial through.', {
    host: warn('string', 'The proxy\'s host.'),
    port: warn('string', 'The proxy\'s port.'),
    username: warn('string', 'HTTP basic authorization user.'),
    password: warn('string', 'HTTP basic authorization password; never logged.', { secret: true }),
  }),

  entity('listener', 'implemented', 'Accepts AMQP connections (clients, management, other routers), optionally over HTTP/WebSocket.', {
    host: yes('string', 'Address to listen on; empty: all addresses (kskup binds 0.0.0.0).', { default: '' }),
    port: yes('string', 'Port number or service name (amqp, amqps, http, ... as in /etc/services); 0 picks a free port.', { default: 'amqp' }),
    ...connectionCommon,
    authenticatePeer: yes('boolean', 'Require a client certificate signed by the sslProfile\'s caCertFile (SASL EXTERNAL).', { default: false }),
    requireEncryption: yes('boolean', 'Accept only encrypted connections (needs an sslProfile).', { default: false }),
    requireSsl: yes('boolean', 'Accept only TLS connections (needs an sslProfile).', { default: false }),
    initialHandshakeTimeoutSeconds: warn('integer', 'Seconds a new connection has to open (0: no limit).', { default: 0, min: 0 }),
    failoverUrls: warn('string', 'Failover URLs offered to clients, separated by commas.'),
    healthz: yes('boolean', 'Serve /healthz on an http listener.', { default: true }),
    metrics: yes('boolean', 'Serve Prometheus /metrics on an http listener.', { default: true }),
    websockets: yes('boolean', 'Accept AMQP over WebSocket on an http listener.', { default: true }),
    http: yes('boolean', 'Speak HTTP (metrics, health, WebSocket) instead of plain AMQP.', { default: false }),
    httpRootDir: warn('path', 'Folder of static files (the console) to serve.'),
    trustedCertsFile: refuse('path', 'Qpid Dispatch\'s CA file on the listener.', 'is not supported; put the CA in the sslProfile\'s caCertFile', { legacy: true }),
    saslPlugin: refuse('string', 'Qpid Dispatch\'s external authentication service.', 'is not supported: kskup has no external authentication service; use authenticatePeer with an sslProfile', { legacy: true }),
    protocolFamily: warn('string', 'Qpid Dispatch\'s name of socketAddressFamily.', { legacy: true }),
    multiTenant: warn('boolean', 'Qpid Dispatch\'s multi-tenant address prefixing.', { legacy: true }),
    maxMessageSize: warn('integer', 'Qpid Dispatch\'s message size limit (now a policy).', { legacy: true }),
    maxSessionWindow: warn('integer', 'Qpid Dispatch\'s session window in octets.', { legacy: true }),
    operStatus: status(['up', 'down'], 'up, or down when the listener does not run.', { kskup: true }),
    operStatusMsg: status('string', 'Why the listener is down.', { kskup: true }),
  }),

  entity('connector', 'implemented', 'Dials an AMQP connection (to another router, or a container) and keeps it up.', {
    host: yes('string', 'Host name or IP address to dial.', { default: '127.0.0.1' }),
    port: yes('string', 'Port number or service name (amqp, amqps, ... as in /etc/services).', { default: 'amqp' }),
    ...connectionCommon,
    cost: yes('integer', 'Routing cost of the inter-router connection (higher is less preferred).', { default: 1, min: 1, max: MAX_COST }),
    proxyProfile: warn('string', 'The proxyProfile to dial through; kskup dials directly.'),
    allowRedirect: warn('boolean', 'Follow a peer\'s redirect.', { default: true }),
    verifyHostname: yes('boolean', 'The server certificate must name host.', { default: true }),
    saslUsername: refuse('string', 'SASL PLAIN user.', NO_SASL_PLAIN),
    saslPassword: refuse('string', 'SASL PLAIN password.', NO_SASL_PLAIN, { secret: true }),
    failoverUrls: status('string', 'Failover URLs the peer offered.'),
    connectionStatus: status('string', 'up, down or connecting.'),
    connectionMsg: status('string', 'Why the connection is down.'),
    protocol: yes(['amqp', 'amqps', 'ws', 'wss'], 'AMQP straight over TCP, or over a WebSocket to an http listener; the s forms demand an sslProfile.', { default: 'amqp', kskup: true }),
    websocketPath: yes('string', 'The HTTP path of the WebSocket, for ws and wss.', { default: '/', kskup: true }),
    protocolFamily: warn('string', 'Qpid Dispatch\'s name of socketAddressFamily.', { legacy: true }),
    maxMessageSize: warn('integer', 'Qpid Dispatch\'s message size limit (now a policy).', { legacy: true }),
    healthz: warn('boolean', 'Not a connector attribute in skupper-router 3; accepted from older files.', { legacy: true }),
  }),

  entity('tcpListener', 'implemented', 'Accepts TCP connections and carries each as a flow to a tcpConnector with the same address.', {
    address: yes('string', 'The service address flows go to.', { required: true }),
    host: yes('string', 'Address to listen on; empty: all addresses (kskup binds 0.0.0.0).', { default: '' }),
    backlog: yes('integer', 'listen() backlog; 0 or more than SOMAXCONN means SOMAXCONN (the operating system\'s maximum).', { default: 0, min: 0 }),
    port: yes('string', 'Port number or service name; 0 picks a free port.', { required: true }),
    multiAddressStrategy: warn(['none', 'priority', 'weighted'], 'Choose among several addresses (listenerAddress entities); kskup uses address alone.', { default: 'none' }),
    siteId: yes('string', 'Deprecated: the site the listener belongs to; passed on as is.'),
    sslProfile: yes('string', 'Serve TLS to clients with the profile\'s certFile and privateKeyFile.'),
    authenticatePeer: yes('boolean', 'Require a client certificate signed by the profile\'s caCertFile.', { default: false }),
    observer: warn(['none', 'auto', 'http1', 'http2'], 'Which protocol observer reports on the flows.', { default: 'auto' }),
    connectionsOpened: status('integer', 'Connections accepted.'),
    connectionsClosed: status('integer', 'Connections ended.'),
    bytesIn: status('integer', 'Bytes from clients.'),
    bytesOut: status('integer', 'Bytes to clients.'),
    operStatus: status(['up', 'down'], 'up while the port is bound and accepting.'),
    operStatusMsg: status('string', 'Why the listener is down (a bind error, an sslProfile that cannot be loaded).', { kskup: true }),
    connectionMsg: status('string', 'The last hard failure.'),
    processId: warn('string', 'Not a tcpListener attribute in skupper-router 3; accepted from older files.', { legacy: true }),
    verifyHostname: refuse('boolean', 'Not a tcpListener attribute in skupper-router 3.', 'has no meaning on a tcpListener (it checks a server certificate, for a tcpConnector); use authenticatePeer to verify clients', { legacy: true }),
  }),

  entity('tcpConnector', 'implemented', 'Opens a TCP connection to a backend for each flow that arrives for its address.', {
    address: yes('string', 'The service address it serves.', { required: true }),
    host: yes('string', 'The backend\'s host name or IP address.', { default: '127.0.0.1' }),
    port: yes('string', 'The backend\'s port number or service name.', { required: true }),
    siteId: yes('string', 'Deprecated: the site the connector belongs to; passed on as is.'),
    processId: warn('string', 'The flow-collector process record of the backend.'),
    sslProfile: yes('string', 'Speak TLS to the backend, verified against the profile\'s caCertFile.'),
    verifyHostname: yes('boolean', 'The backend certificate must name host.', { default: true }),
    allowedSites: yes('string', 'Serve only flows from routers of these sites: site names or router ids, separated by spaces or commas (empty: only this router\'s own site). Absent: any site. A refused flow is detached with kskup:policy-denied (docs/policy.md).', { kskup: true }),
    flowsDenied: status('integer', 'Flows refused because allowedSites does not name the site they came from.', { kskup: true }),
    weight: yes('integer', 'This connector\'s share of new flows for its address, 0 (drain: no new flows) to 1000000; the router advertises the sum of its connectors\' weights and listener sides split flows by them (docs/traffic.md). Absent: not weighted.', { min: 0, max: 1_000_000, kskup: true }),
    maxFlows: yes('integer', 'Rate limit: flows of its address open at once at this router, over all its tcpConnectors for the address; one more waits in the queue (flowQueue). Absent: no limit (docs/traffic.md).', { min: 1, kskup: true }),
    flowsPerSecond: yes('integer', 'Rate limit: new flows per second of its address at this router (a token bucket refilled at this rate); over it a flow waits in the queue. Absent: no limit.', { min: 1, kskup: true }),
    flowBurst: yes('integer', 'Rate limit: new flows at once after a quiet spell (the token bucket\'s size). Needs flowsPerSecond. Default: flowsPerSecond.', { min: 1, kskup: true }),
    bandwidth: yes('integer', 'Rate limit: bytes per second in each direction over all flows of its address at this router, shaped by pacing link credit and socket reads, never by dropping bytes. Absent: no limit.', { min: 1, kskup: true }),
    flowQueue: yes('integer', 'Rate limit: flows that may wait for maxFlows or flowsPerSecond; one more is refused at once with kskup:rate-limited. 0: no waiting. Default: 100.', { min: 0, kskup: true }),
    flowQueueTimeoutMs: yes('integer', 'Rate limit: how long a flow may wait in the queue, in milliseconds, before it is refused with kskup:rate-limited. Default: 5000.', { min: 1, kskup: true }),
    flowsWaiting: status('integer', 'Flows of its address waiting for a rate limit at this router now.', { kskup: true }),
    flowsRateLimited: status('integer', 'Flows of its address refused by a rate limit at this router (the queue full, or waited too long).', { kskup: true }),
    connectionsOpened: status('integer', 'Connections opened.'),
    connectionsClosed: status('integer', 'Connections ended.'),
    bytesIn: status('integer', 'Bytes from the backend.'),
    bytesOut: status('integer', 'Bytes to the backend.'),
    operStatus: status(['up', 'down'], 'up, or down when the connector does not run.', { kskup: true }),
    operStatusMsg: status('string', 'Why the connector is down.', { kskup: true }),
    observer: warn(['none', 'auto', 'http1', 'http2'], 'Not a tcpConnector attribute in skupper-router 3; accepted from older files.', { legacy: true }),
  }),

  entity('listenerAddress', 'ignored', 'One of several addresses of a tcpListener with a multiAddressStrategy.', {
    address: warn('string', 'The service address.', { required: true }),
    value: warn('integer', 'The strategy\'s number for it (priority or weight).', { required: true }),
    listener: warn('string', 'The tcpListener it belongs to.', { required: true }),
    connectionsOpened: status('integer', 'Connections opened for this address.'),
  }),

  entity('log', 'implemented', 'The log level of one module (DEFAULT: all).', {
    module: yes(LOG_MODULES, 'The module (kskup also accepts lower case).', { required: true }),
    enable: yes('string', 'Levels: none, or a comma-separated list of debug, info, warning, error, critical (a trailing + means "and above"); kskup also takes trace.'),
    includeTimestamp: warn('boolean', 'Put a timestamp in each line (kskup\'s JSON lines always have one).'),
    includeSource: warn('boolean', 'Put the source file and line in each line.'),
    outputFile: warn('string', 'stderr, stdout, syslog or a file; kskup writes to stdout.'),
  }),

  entity('address', 'implemented', 'How messages to addresses with a prefix or pattern are forwarded.', {
    prefix: yes('string', 'The address prefix (not with pattern).'),
    pattern: yes('string', 'A wildcard pattern (not with prefix).'),
    distribution: yes(DISTRIBUTIONS, 'multicast, closest or balanced; unavailable is not implemented (the entity is ignored, one warning).', { default: 'balanced' }),
    priority: warn('integer', 'Priority for messages that carry none.', { min: 0, max: 9 }),
    waypoint: warn('boolean', 'Qpid Dispatch\'s waypoints.', { legacy: true }),
    ingressPhase: warn('integer', 'Qpid Dispatch\'s waypoint phase.', { legacy: true }),
    egressPhase: warn('integer', 'Qpid Dispatch\'s waypoint phase.', { legacy: true }),
    enableFallback: warn('boolean', 'Qpid Dispatch\'s fallback destinations.', { legacy: true }),
  }, { managementName: 'router.config.address' }),

  entity('autoLink', 'ignored', 'A link the router keeps attached to a container (a broker queue).', {
    address: warn('string', 'The address of the link.'),
    direction: warn(['in', 'out'], 'in or out.', { required: true }),
    containerId: warn('string', 'The container to attach to.'),
    connection: warn('string', 'The connector or listener to attach over.'),
    externalAddress: warn('string', 'The address on the container.'),
    linkRef: status('string', 'The link\'s reference.'),
    operStatus: status(['inactive', 'attaching', 'failed', 'active', 'quiescing', 'idle'], 'The link\'s state.'),
    lastError: status('string', 'The last error.'),
  }, { managementName: 'router.config.autoLink' }),

  entity('policy', 'refused', 'Connection limits and vhost policies.', {
    maxConnections: warn('integer', 'Most connections at once.', { default: 65535, min: 0 }),
    maxMessageSize: warn('integer', 'Largest message (0: no limit).', { default: 0, min: 0 }),
    enableVhostPolicy: warn('boolean', 'Enforce vhost policies.', { default: false }),
    enableVhostNamePatterns: warn('boolean', 'Match vhost names as patterns.', { default: false }),
    policyDir: warn('path', 'Folder of vhost policy files.', { default: '' }),
    defaultVhost: warn('string', 'The vhost for connections that name none.', { default: '$default' }),
    connectionsProcessed: status('integer', 'Connections checked.'),
    connectionsDenied: status('integer', 'Connections refused.'),
    connectionsCurrent: status('integer', 'Connections open.'),
    linksDenied: status('integer', 'Links refused.'),
    maxMessageSizeDenied: status('integer', 'Messages refused for size.'),
    totalDenials: status('integer', 'Refusals in all.'),
  }, { singleton: true, refusal: 'kskup enforces no connection or vhost policy, so the limits it asks for would not apply' }),

  entity('vhost', 'ignored', 'A vhost\'s limits, enforced only with the policy entity (itself refused).', {
    hostname: warn('string', 'The vhost\'s name.', { required: true }),
    aliases: warn('string', 'Other names of the vhost.'),
    maxConnections: warn('integer', 'Most connections.', { default: 65535, min: 0 }),
    maxMessageSize: warn('integer', 'Largest message.', { min: 0 }),
    maxConnectionsPerUser: warn('integer', 'Most connections per user.', { default: 65535, min: 0 }),
    maxConnectionsPerHost: warn('integer', 'Most connections per host.', { default: 65535, min: 0 }),
    allowUnknownUser: warn('boolean', 'Let users outside every group in, with $default settings.', { default: false }),
    groups: warn('map', 'User groups and their settings (a JSON map; `$default` and `$connector` are group names).'),
  }),

  entity('vhostUserGroupSettings', 'ignored', 'The settings of one user group of a vhost.', {
    users: warn('string', 'The group\'s users.', { required: true }),
    remoteHosts: warn('string', 'Hosts they may connect from.', { required: true }),
    maxConnectionsPerUser: warn('integer', 'Most connections per user.', { min: 0 }),
    maxConnectionsPerHost: warn('integer', 'Most connections per host.', { min: 0 }),
    maxMessageSize: warn('integer', 'Largest message.', { min: 0 }),
    maxFrameSize: warn('integer', 'Largest frame.', { min: 0 }),
    maxSessionWindow: warn('integer', 'Session window in octets.', { min: 0 }),
    maxSessions: warn('integer', 'Most sessions.', { min: 0 }),
    maxSenders: warn('integer', 'Most senders.', { default: 2147483647, min: 0 }),
    maxReceivers: warn('integer', 'Most receivers.', { default: 2147483647, min: 0 }),
    allowDynamicSource: warn('boolean', 'May create dynamic sources.', { default: false }),
    allowAnonymousSender: warn('boolean', 'May send without a target address.', { default: false }),
    allowUserIdProxy: warn('boolean', 'May send messages with another user id.', { default: false }),
    allowAdminStatusUpdate: warn('boolean', 'May change a connection\'s adminStatus.', { default: true }),
    sources: warn('string', 'Addresses they may receive from.'),
    targets: warn('string', 'Addresses they may send to.'),
    sourcePattern: warn('string', 'Patterns they may receive from.'),
    targetPattern: warn('string', 'Patterns they may send to.'),
  }),

  // Operational types: management shows them, a config file may not contain them.
  entity('connection', 'operational', 'An open AMQP connection.', {
    host: status('string', 'The peer\'s address.'),
    role: status('string', 'normal, inter-router or edge.'),
    dir: status(['in', 'out'], 'in: accepted by a listener; out: dialled by a connector.'),
    container: status('string', 'The peer\'s container id (a router\'s id).'),
    opened: status('boolean', 'True once the peer has opened.'),
    via: status('string', 'The listener or connector it came through.', { kskup: true }),
    operStatus: status(['up', 'closing'], 'up or closing.'),
    protocol: status('string', 'amqp.'),
    isAuthenticated: status('boolean', 'The peer proved who it is.'),
    isEncrypted: status('boolean', 'The connection is encrypted.'),
    sasl: status('string', 'The SASL mechanism used.'),
    user: status('string', 'The authenticated user.'),
    ssl: status('boolean', 'The connection is TLS.'),
    uptimeSeconds: status('integer', 'Seconds since it opened.'),
    adminStatus: status(['enabled', 'deleted'], 'enabled; deleted asks skupper-router to close it (not offered by kskup).'),
    localSocket: status('string', 'This end\'s socket address.'),
    meshId: status('string', 'The inter-router mesh the connection belongs to.'),
    enableProtocolTrace: status('boolean', 'Log every frame of the connection.'),
    sslProto: status('string', 'The TLS version in use.'),
    sslCipher: status('string', 'The TLS cipher in use.'),
    sslSsf: status('integer', 'The strength of the cipher, in bits.'),
    properties: status('map', 'The peer\'s connection properties.'),
    lastDlvSeconds: status('integer', 'Seconds since the last delivery.'),
    tlsOrdinal: status('integer', 'The sslProfile ordinal of the certificates the connection was made with.'),
    groupCorrelationId: status('string', 'Joins the connections of one inter-router group.'),
    groupOrdinal: status('integer', 'The connection\'s place in its group.'),
  }),

  entity('router.node', 'operational', 'A router of the network, as this router\'s link state sees it.', {
    id: status('string', 'The router\'s id.'),
    nextHop: status('string', 'The neighbour a message to it goes through; (self) for this router.'),
    cost: status('integer', 'The cost of the route to it.'),
    hops: status('integer', 'Links on the route to it.', { kskup: true }),
    mode: status('string', 'interior or edge.', { kskup: true }),
    addresses: status('list', 'The addresses it serves.', { kskup: true }),
    neighbours: status('list', 'Its neighbours, as it advertises them.', { kskup: true }),
    linkState: status('list', 'Its neighbours, as skupper-router names them.'),
    protocolVersion: status('integer', 'The routing protocol version it speaks.'),
    instance: status('integer', 'Its start time, telling restarts apart.'),
    validOrigins: status('list', 'Routers whose traffic may come through it.'),
    address: status('string', 'Its router address.'),
    routerLink: status('string', 'The link to it, when it is a neighbour.'),
    lastTopoChange: status('integer', 'When its topology last changed.'),
    index: status('integer', 'Its index in the routing table.'),
  }),

  entity('router.address', 'operational', 'An address the router knows.', {
    distribution: status(['flood', 'multicast', 'closest', 'balanced', 'linkBalanced', 'unavailable'], 'How it is forwarded.'),
    localTargets: status('integer', 'tcpConnectors for it on this router.', { kskup: true }),
    remoteRouters: status('list', 'Routers elsewhere that serve it.', { kskup: true }),
    remoteHostRouters: status('list', 'Routers elsewhere that serve it, as skupper-router names them.'),
    routes: status('integer', 'Targets a new flow could go to.', { kskup: true }),
    key: status('string', 'The address with its class prefix.'),
    inProcess: status('integer', 'In-process subscribers.'),
    subscriberCount: status('integer', 'Local subscribers.'),
    remoteCount: status('integer', 'Remote routers with subscribers.'),
    containerCount: status('integer', 'Local containers serving it.'),
    deliveriesIngress: status('integer', 'Deliveries that entered here.'),
    deliveriesEgress: status('integer', 'Deliveries that left here.'),
    deliveriesTransit: status('integer', 'Deliveries that passed through.'),
    deliveriesToContainer: status('integer', 'Deliveries to in-process subscribers.'),
    deliveriesFromContainer: status('integer', 'Deliveries from in-process senders.'),
    deliveriesIngressRouteContainer: status('integer', 'Deliveries from route-container connections.'),
    deliveriesEgressRouteContainer: status('integer', 'Deliveries to route-container connections.'),
    deliveriesIngressInterNetwork: status('integer', 'Deliveries from inter-network connections.'),
    deliveriesEgressInterNetwork: status('integer', 'Deliveries to inter-network connections.'),
    transitOutstanding: status('list', 'Unsettled transit deliveries per neighbour.'),
    trackedDeliveries: status('integer', 'Deliveries tracked for settlement.'),
    priority: status('integer', 'The address\'s priority.'),
    watch: status('boolean', 'Watched by an address watcher.'),
  }),

  entity('router.link', 'operational', 'A link; kskup shows the two links of each TCP flow.', {
    linkType: status(['endpoint', 'router-control', 'inter-router', 'inter-edge'], 'kskup shows flow for the links of a TCP flow.'),
    linkDir: status(['in', 'out'], 'in or out.'),
    owningAddr: status('string', 'The address of the link.'),
    role: status('string', 'listener-side, connector-side or relay.', { kskup: true }),
    operStatus: status(['up', 'down', 'quiescing', 'idle'], 'The link\'s state.'),
    linkName: status('string', 'The link\'s name.'),
    capacity: status('integer', 'Deliveries the link may hold.'),
    undeliveredCount: status('integer', 'Deliveries waiting to be sent.'),
    unsettledCount: status('integer', 'Deliveries sent and not settled.'),
    deliveryCount: status('integer', 'Deliveries so far.'),
    connectionId: status('integer', 'The connection\'s identity.'),
    presettledCount: status('integer', 'Presettled deliveries.'),
    droppedPresettledCount: status('integer', 'Presettled deliveries dropped.'),
    acceptedCount: status('integer', 'Accepted deliveries.'),
    rejectedCount: status('integer', 'Rejected deliveries.'),
    releasedCount: status('integer', 'Released deliveries.'),
    modifiedCount: status('integer', 'Modified deliveries.'),
    deliveriesDelayed1Sec: status('integer', 'Deliveries unsettled for more than 1 s.'),
    deliveriesDelayed10Sec: status('integer', 'Deliveries unsettled for more than 10 s.'),
    deliveriesStuck: status('integer', 'Deliveries stuck.'),
    openMovedStreams: status('integer', 'Streamed deliveries moved to another link.'),
    creditAvailable: status('integer', 'Credit the link has.'),
    zeroCreditSeconds: status('integer', 'Seconds without credit.'),
    settleRate: status('integer', 'Settlements per second.'),
    ingressHistogram: status('list', 'Deliveries per ingress router.'),
    priority: status('integer', 'The link\'s priority.'),
  }),

  entity('flow', 'operational', 'An open TCP flow.', {
    address: status('string', 'The service address.'),
    state: status('string', 'The flow\'s state.'),
    bytesIn: status('integer', 'Bytes in.'),
    bytesOut: status('integer', 'Bytes out.'),
    role: status('string', 'listener-side, connector-side or relay.'),
  }, { kskup: true }),

  entity('tcpConnection', 'operational', 'A TCP connection of the TCP adaptor (not shown by kskup; see flow).', {
    address: status('string', 'The service address.'),
    host: status('string', 'The peer\'s address.'),
    direction: status(['in', 'out'], 'in or out.'),
    bytesIn: status('integer', 'Bytes in.'),
    bytesOut: status('integer', 'Bytes out.'),
    uptimeSeconds: status('integer', 'Seconds open.'),
    lastInSeconds: status('integer', 'Seconds since bytes came in.'),
    lastOutSeconds: status('integer', 'Seconds since bytes went out.'),
  }),

  entity('logStats', 'operational', 'Counts of log lines per module and level (not shown by kskup).', {
    debugCount: status('integer', 'debug lines.'),
    infoCount: status('integer', 'info lines.'),
    noticeCount: status('integer', 'notice lines.'),
    warningCount: status('integer', 'warning lines.'),
    errorCount: status('integer', 'error lines.'),
    criticalCount: status('integer', 'critical lines.'),
  }),

  entity('routerMetrics', 'operational', 'The router\'s counters (kskup shows its own on the router entity).', {
    id: status('string', 'The router\'s id.'),
    version: status('string', 'The software version.'),
    addrCount: status('integer', 'Addresses known.'),
    linkCount: status('integer', 'Open links.'),
    nodeCount: status('integer', 'Routers known.'),
    autoLinkCount: status('integer', 'autoLinks.'),
    connectionCount: status('integer', 'Open connections.'),
    presettledDeliveries: status('integer', 'Presettled deliveries.'),
    droppedPresettledDeliveries: status('integer', 'Presettled deliveries dropped.'),
    acceptedDeliveries: status('integer', 'Accepted deliveries.'),
    rejectedDeliveries: status('integer', 'Rejected deliveries.'),
    releasedDeliveries: status('integer', 'Released deliveries.'),
    modifiedDeliveries: status('integer', 'Modified deliveries.'),
    deliveriesIngress: status('integer', 'Deliveries that entered here.'),
    deliveriesEgress: status('integer', 'Deliveries that left here.'),
    deliveriesTransit: status('integer', 'Deliveries that passed through.'),
    deliveriesIngressRouteContainer: status('integer', 'Deliveries from route-container connections.'),
    deliveriesEgressRouteContainer: status('integer', 'Deliveries to route-container connections.'),
    deliveriesIngressInterNetwork: status('integer', 'Deliveries from inter-network connections.'),
    deliveriesEgressInterNetwork: status('integer', 'Deliveries to inter-network connections.'),
    residentMemoryUsage: status('integer', 'Resident memory, in bytes.'),
    memoryUsage: status('integer', 'Memory in use, in bytes.'),
    uptimeSeconds: status('integer', 'Seconds since start.'),
    deliveriesStuck: status('integer', 'Deliveries stuck.'),
    deliveriesDelayed10Sec: status('integer', 'Deliveries unsettled for more than 10 s.'),
    deliveriesDelayed1Sec: status('integer', 'Deliveries unsettled for more than 1 s.'),
    connectionCounters: status('map', 'Connections per protocol.'),
  }),

  entity('allocator', 'operational', 'skupper-router\'s memory pools (none in kskup).', {
    typeName: status('string', 'The pooled type.'),
    typeSize: status('integer', 'Its size, in bytes.'),
    transferBatchSize: status('integer', 'Items moved between pools at once.'),
    localFreeListMax: status('integer', 'Most free items per thread.'),
    globalFreeListMax: status('integer', 'Most free items in the shared pool.'),
    totalAllocFromHeap: status('integer', 'Items taken from the heap.'),
    totalFreeToHeap: status('integer', 'Items given back to the heap.'),
    heldByThreads: status('integer', 'Items held by threads.'),
    batchesRebalancedToThreads: status('integer', 'Batches moved to threads.'),
    batchesRebalancedToGlobal: status('integer', 'Batches moved to the shared pool.'),
  }),

  entity('vhostStats', 'operational', 'Counters of a vhost policy (none in kskup).', {
    hostname: status('string', 'The vhost.'),
    connectionsApproved: status('integer', 'Connections allowed.'),
    connectionsDenied: status('integer', 'Connections refused.'),
    connectionsCurrent: status('integer', 'Connections open.'),
    perUserState: status('map', 'Connections per user.'),
    perHostState: status('map', 'Connections per host.'),
    sessionDenied: status('integer', 'Sessions refused.'),
    senderDenied: status('integer', 'Senders refused.'),
    receiverDenied: status('integer', 'Receivers refused.'),
    maxMessageSizeDenied: status('integer', 'Messages refused for size.'),
  }),
]);

/**
 * Entity types that skupper-router 3 no longer has. skupper-router 3.5.1 refuses
 * a file with any of them, and so does kskup, saying what became of it.
 */
export const REMOVED_ENTITY_TYPES: ReadonlyMap<string, string> = new Map([
  ['container', 'Qpid Dispatch Router\'s; its attributes moved to router (skupper-router 3 has no container entity)'],
  ['linkRoute', 'Qpid Dispatch Router\'s; skupper-router 3 has no link routes'],
  ['httpListener', 'skupper-router 2\'s; skupper-router 3 has no HTTP adaptor (a tcpListener carries HTTP as bytes)'],
  ['httpConnector', 'skupper-router 2\'s; skupper-router 3 has no HTTP adaptor (a tcpConnector carries HTTP as bytes)'],
  ['exchange', 'Qpid Dispatch Router\'s; skupper-router 3 has no exchanges'],
  ['binding', 'Qpid Dispatch Router\'s; skupper-router 3 has no exchanges'],
  ['console', 'Qpid Dispatch Router\'s; serve the console with a listener\'s httpRootDir'],
  ['waypoint', 'Qpid Dispatch Router\'s; skupper-router 3 has no waypoints'],
  ['authServicePlugin', 'Qpid Dispatch Router\'s external authentication service; use authenticatePeer with an sslProfile'],
  ['sslListener', 'not a skupper-router entity; use a listener with an sslProfile'],
]);

const BY_NAME: ReadonlyMap<string, EntityTypeSchema> = new Map(
  ROUTER_SCHEMA.flatMap((type) => [[type.name, type] as const, [type.managementName, type] as const]),
);

/** The entity type by short name (`address`), management name (`router.config.address`) or long name. */
export function entityType(name: string): EntityTypeSchema | undefined {
  return BY_NAME.get(name.startsWith(SCHEMA_PREFIX) ? name.slice(SCHEMA_PREFIX.length) : name);
}

/** `io.skupper.router.router.config.address` */
export function longTypeName(type: EntityTypeSchema): string {
  return SCHEMA_PREFIX + type.managementName;
}

/** skupper-router's base types of an entity type, long names, nearest first (GET-TYPES). */
export function baseTypes(type: EntityTypeSchema): readonly string[] {
  const base = type.support === 'operational' ? 'operationalEntity' : 'configurationEntity';
  return [SCHEMA_PREFIX + base, SCHEMA_PREFIX + 'entity'];
}

/** Names of the attributes of a type with a given support, in schema order. */
export function attributesWith(type: EntityTypeSchema, ...support: readonly AttributeSupport[]): string[] {
  return Object.entries(type.attributes)
    .filter(([, attribute]) => support.includes(attribute.support))
    .map(([name]) => name);
}
