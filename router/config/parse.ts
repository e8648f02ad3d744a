// Reads skupper-router's JSON config (`[["router",{...}],["listener",{...}],...]`)
// into the typed, frozen RouterConfig. Each entity type is a declarative table of
// attribute specs driving one generic validator; every problem in the file is
// collected before ConfigError is thrown, so one run shows everything to fix.

import { readFile } from 'node:fs/promises';
import { ConfigError } from './errors.js';
import { parseSerialList } from './serials.js';
import type {
  AddressEntity,
  ConfigProblem,
  ConnectorEntity,
  ListenerEntity,
  LogEntity,
  LogLevel,
  RouterConfig,
  RouterEntity,
  SslProfileEntity,
  TcpConnectorEntity,
  TcpListenerEntity,
} from './types.js';

export interface ParsedRouterConfig {
  readonly config: RouterConfig;
  /** Accepted but ignored parts of the file, one line each, never a secret. */
  readonly warnings: string[];
}

export function parseRouterConfig(text: string, file?: string): ParsedRouterConfig {
  const context = new ParseContext();
  const document = parseJson(text, context);
  if (document.ok && readEntities(document.value, context)) checkAcrossEntities(context);
  if (context.problems.length > 0) throw new ConfigError(context.sortedProblems(), file);
  return { config: assembleConfig(context.collected), warnings: context.warnings };
}

export async function loadRouterConfigFile(path: string): Promise<ParsedRouterConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError([{ entity: 'file', message: `cannot be read: ${reason}` }], path);
  }
  return parseRouterConfig(text, path);
}

// ---------------------------------------------------------------------------
// Attribute specs: how one attribute's raw JSON value becomes a typed value.

type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = (message: string): Parsed<never> => ({ ok: false, message });

/** 'present' when the attribute always has a value after validation (required or defaulted). */
type Presence = 'optional' | 'present';

class Attr<T, P extends Presence = 'optional'> {
  constructor(
    readonly parseValue: (raw: unknown) => Parsed<T>,
    readonly presence: P,
    readonly isRequired: boolean,
    readonly defaultValue: T | undefined,
  ) {}

  required(): Attr<T, 'present'> {
    return new Attr(this.parseValue, 'present', true, undefined);
  }

  default(value: T): Attr<T, 'present'> {
    return new Attr(this.parseValue, 'present', false, value);
  }
}

type Schema = Readonly<Record<string, Attr<unknown, Presence>>>;
type ValueOf<A> =
  A extends Attr<infer T, 'present'> ? T : A extends Attr<infer T, Presence> ? T | undefined : never;
/** What a schema's validator yields: required and defaulted attributes are never undefined. */
type Values<S extends Schema> = { readonly [K in keyof S]: ValueOf<S[K]> };

const attr = <T>(parseValue: (raw: unknown) => Parsed<T>): Attr<T> =>
  new Attr(parseValue, 'optional', false, undefined);

interface StringOptions {
  readonly nonEmpty?: boolean;
  /** Keeps the value out of every message (passwords). */
  readonly secret?: boolean;
}

const string = (options: StringOptions = {}): Attr<string> => attr((raw) => parseString(raw, options));
const integer = (range: Range): Attr<number> => attr((raw) => parseInteger(raw, range));
const port = (lowest: 0 | 1): Attr<number> => attr((raw) => parsePort(raw, lowest));
const boolean = (): Attr<boolean> => attr(parseBoolean);
const text = (): Attr<string> => attr(parseText);
const logLevel = (): Attr<LogLevel> => attr(parseLogLevel);
const serialList = (): Attr<readonly string[]> => attr(parseSerials);
const tlsProtocols = (): Attr<string> => attr(parseTlsProtocols);
const saslMechanisms = (): Attr<string> => attr(parseSaslMechanisms);

function oneOf<const V extends string>(values: readonly V[]): Attr<V> {
  return attr((raw) =>
    isOneOf(values, raw) ? ok(raw) : bad(`${show(raw)} must be one of ${values.join(', ')}`),
  );
}

function isOneOf<V extends string>(values: readonly V[], raw: unknown): raw is V {
  return typeof raw === 'string' && (values as readonly string[]).includes(raw);
}

/** A value as the operator wrote it, short enough for one problem line. */
function show(raw: unknown): string {
  const written = JSON.stringify(raw) ?? String(raw);
  return written.length > 40 ? `${written.slice(0, 37)}...` : written;
}

function parseString(raw: unknown, options: StringOptions): Parsed<string> {
  if (typeof raw !== 'string') return bad(options.secret ? 'is not a string' : `${show(raw)} is not a string`);
  if (options.nonEmpty && raw.trim() === '') return bad('must not be empty');
  return ok(raw);
}

interface Range {
  readonly min: number;
  readonly max?: number;
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** skupper-router writes numbers as JSON strings as often as numbers ("port": "1028"). */
function toNumber(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isFinite(raw) ? raw : undefined;
  if (typeof raw === 'string' && DECIMAL.test(raw.trim())) return Number(raw.trim());
  return undefined;
}

function parseInteger(raw: unknown, { min, max }: Range): Parsed<number> {
  const value = toNumber(raw);
  if (value === undefined) return bad(`${show(raw)} is not a number`);
  if (!Number.isInteger(value)) return bad(`${show(raw)} is not an integer`);
  if (max === undefined && value < min) return bad(`${show(raw)} must be at least ${min}`);
  if (max !== undefined && (value < min || value > max)) return bad(`${show(raw)} is out of range ${min}-${max}`);
  return ok(value);
}

/** skupper accepts these service names where a port number goes. */
const SERVICE_PORTS: ReadonlyMap<string, number> = new Map([
  ['amqp', 5672],
  ['amqps', 5671],
]);

function parsePort(raw: unknown, lowest: 0 | 1): Parsed<number> {
  const service = typeof raw === 'string' ? SERVICE_PORTS.get(raw.trim()) : undefined;
  return service === undefined ? parseInteger(raw, { min: lowest, max: 65535 }) : ok(service);
}

function parseBoolean(raw: unknown): Parsed<boolean> {
  if (typeof raw === 'boolean') return ok(raw);
  const word = typeof raw === 'string' ? raw.trim().toLowerCase() : undefined;
  if (word === 'true' || word === 'false') return ok(word === 'true');
  return bad(`${show(raw)} is not a boolean (true or false)`);
}

/** skupper writes metadata as a JSON string; a hand-written file may inline the object. */
function parseText(raw: unknown): Parsed<string> {
  if (typeof raw === 'string') return ok(raw);
  if (typeof raw === 'object' && raw !== null) return ok(JSON.stringify(raw));
  return bad(`${show(raw)} is not a string or an object`);
}

/** revokedSerials: every bad item is named, so that one run shows all of them. */
function parseSerials(raw: unknown): Parsed<readonly string[]> {
  if (typeof raw !== 'string') return bad(`${show(raw)} is not a string of hex serial numbers separated by spaces or commas`);
  const list = parseSerialList(raw);
  if (list.ok) return ok(Object.freeze(list.serials));
  const plural = list.bad.length === 1 ? 'is not a hex certificate serial number' : 'are not hex certificate serial numbers';
  return bad(`${list.bad.map((item) => show(item)).join(', ')} ${plural} (write e.g. "0a1b2c" or "0A:1B:2C", separated by spaces or commas)`);
}

/**
 * skupper-router's sslProfile `protocols` (Proton's pn_ssl_domain_set_protocols
 * names). node:tls sets a lowest and a highest version, so a list with a gap
 * ("TLSv1.1 TLSv1.3") cannot be honoured and is refused rather than widened.
 */
export const TLS_VERSIONS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;

function parseTlsProtocols(raw: unknown): Parsed<string> {
  if (typeof raw !== 'string') return bad(`${show(raw)} is not a string of TLS versions separated by spaces`);
  const words = raw.trim().split(/\s+/).filter((word) => word !== '');
  if (words.length === 0) return bad(`must name at least one of ${TLS_VERSIONS.join(', ')}`);
  const unknown = words.filter((word) => !isOneOf(TLS_VERSIONS, word));
  if (unknown.length > 0) return bad(`${unknown.map((word) => show(word)).join(', ')} ${unknown.length === 1 ? 'is not a TLS version' : 'are not TLS versions'}; use ${TLS_VERSIONS.join(', ')}`);
  const positions = [...new Set(words.map((word) => TLS_VERSIONS.indexOf(word as (typeof TLS_VERSIONS)[number])))].sort();
  const first = positions[0] ?? 0;
  if (positions.some((position, i) => position !== first + i)) {
    return bad(`${show(raw)} leaves a gap; kskup (node:tls) can only enable a contiguous range of versions, such as "TLSv1.2 TLSv1.3"`);
  }
  return ok(raw);
}

/**
 * SASL mechanisms kskup can honour: EXTERNAL (the TLS client certificate is the
 * identity) and ANONYMOUS. A name such as PLAIN or SCRAM-SHA-256 asks for an
 * authentication kskup cannot do, so it is refused, not ignored.
 */
const SASL_MECHANISMS = ['EXTERNAL', 'ANONYMOUS'] as const;

function parseSaslMechanisms(raw: unknown): Parsed<string> {
  if (typeof raw !== 'string') return bad(`${show(raw)} is not a string of mechanism names separated by spaces`);
  const words = raw.trim().split(/\s+/).filter((word) => word !== '');
  if (words.length === 0) return bad('names no mechanism; leave it out for the default');
  const unsupported = words.filter((word) => !isOneOf(SASL_MECHANISMS, word.toUpperCase()));
  if (unsupported.length > 0) {
    return bad(`${unsupported.map((word) => show(word)).join(', ')} cannot be offered by kskup, which supports only ${SASL_MECHANISMS.join(' and ')}`);
  }
  return ok(words.map((word) => word.toUpperCase()).join(' '));
}

/** The mechanism names of a parsed saslMechanisms value. */
export function mechanismsOf(value: string | undefined): readonly string[] {
  return value === undefined ? [] : value.split(' ');
}

const LOG_LEVEL_ORDER: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

/** skupper-router's severities by the pino level that shows them. */
const SKUPPER_SEVERITIES: ReadonlyMap<string, LogLevel> = new Map([
  ['trace', 'trace'],
  ['debug', 'debug'],
  ['info', 'info'],
  ['notice', 'info'],
  ['warning', 'warn'],
  ['error', 'error'],
  ['critical', 'fatal'],
  ['default', 'info'],
]);

/**
 * skupper's `enable` ("info+", "none", "info,error", ...) as the lowest level it
 * turns on: pino has one threshold per logger, not a set of severities.
 */
function parseLogLevel(raw: unknown): Parsed<LogLevel> {
  if (typeof raw !== 'string') return bad(`${show(raw)} is not a string`);
  const words = raw.split(',').map((word) => word.trim().replace(/\+$/, ''));
  const unknown = words.filter((word) => word !== 'none' && !SKUPPER_SEVERITIES.has(word));
  if (unknown.length > 0) {
    const plural = unknown.length === 1 ? 'level' : 'levels';
    return bad(`${show(raw)} has unknown ${plural} ${unknown.map((word) => show(word)).join(', ')}`);
  }
  const enabled = words.flatMap((word) => SKUPPER_SEVERITIES.get(word) ?? []);
  const lowest = LOG_LEVEL_ORDER.find((level) => enabled.includes(level));
  return ok(lowest ?? 'silent');
}

// ---------------------------------------------------------------------------
// Entity kinds: one declarative table per entity type kskup implements.

type RawAttributes = Readonly<Record<string, unknown>>;
type Report = (attribute: string | undefined, message: string) => void;

/** An entity with where it came from, for problems that involve two entities. */
interface Located<T> {
  readonly entity: T;
  readonly label: string;
  /** 1-based position in the file. */
  readonly index: number;
  /** False when the name was derived (host:port, address) rather than written. */
  readonly named: boolean;
}

interface Collected {
  readonly routers: Located<RouterEntity>[];
  readonly listeners: Located<ListenerEntity>[];
  readonly connectors: Located<ConnectorEntity>[];
  readonly sslProfiles: Located<SslProfileEntity>[];
  readonly tcpListeners: Located<TcpListenerEntity>[];
  readonly tcpConnectors: Located<TcpConnectorEntity>[];
  readonly addresses: AddressEntity[];
  readonly logs: LogEntity[];
}

interface Where {
  readonly label: string;
  readonly index: number;
  readonly named: boolean;
}

interface EntityKind<S extends Schema> {
  readonly type: string;
  readonly attributes: S;
  /** skupper-router attributes kskup accepts with a warning and ignores. */
  readonly unsupported: readonly string[];
  /** Ignored like `unsupported`, with advice on what to write instead. */
  readonly deprecated?: Readonly<Record<string, string>>;
  /**
   * skupper-router attributes that ask for security kskup cannot give: a
   * problem (the message says why and what to use instead), never a warning.
   */
  readonly refused?: Readonly<Record<string, string>>;
  /** What to call an entity whose `name` is absent, when something else identifies it. */
  readonly fallbackName?: (raw: RawAttributes) => string | undefined;
  /** Rules that involve more than one attribute of the entity. */
  readonly check?: (values: Values<S>, report: Report) => void;
  readonly collect: (values: Values<S>, where: Where, into: Collected) => void;
}

/** An EntityKind with its schema type erased, so kinds can share one registry. */
interface EntityHandler {
  readonly type: string;
  read(raw: RawAttributes, index: number, context: ParseContext): void;
}

const ROLES = ['normal', 'inter-router', 'edge'] as const;
const WILDCARD_HOST = '0.0.0.0';

const routerKind = defineKind({
  type: 'router',
  attributes: {
    id: string({ nonEmpty: true }).required(),
    mode: oneOf(['interior', 'edge']).default('interior'),
    helloIntervalSeconds: integer({ min: 1 }).default(1),
    helloMaxAgeSeconds: integer({ min: 1 }).default(3),
    // Optional: the network agent's defaults (10 s, 60 s) apply when absent.
    raIntervalSeconds: integer({ min: 1 }),
    remoteLsMaxAgeSeconds: integer({ min: 1 }),
    metadata: text(),
  },
  unsupported: [
    'raIntervalFluxSeconds', 'workerThreads',
    'debugDumpFile', 'saslConfigPath', 'saslConfigName', 'timestampsInUTC', 'timestampFormat',
    'defaultDistribution', 'dataConnectionCount', 'maxConnections', 'allowUnsettledMulticast',
    'vhostNamePatterns', 'type', 'name', 'area',
  ],
  refused: {
    enableVhostPolicy: 'is not supported: kskup enforces no vhost policy, so the limits it would apply do not',
    policyDir: 'is not supported: kskup enforces no vhost policy, so the limits it would apply do not',
  },
  fallbackName: (raw) => nonEmptyString(raw['id']),
  collect: (values, where, into) => {
    into.routers.push(located(where, definedOnly<RouterEntity>({ ...values })));
  },
});

const listenerKind = defineKind({
  type: 'listener',
  attributes: {
    name: string({ nonEmpty: true }),
    host: string().default(WILDCARD_HOST),
    port: port(0).required(),
    role: oneOf(ROLES).default('normal'),
    sslProfile: string({ nonEmpty: true }),
    saslMechanisms: saslMechanisms(),
    authenticatePeer: boolean().default(false),
    requireSsl: boolean(),
    requireEncryption: boolean(),
    maxFrameSize: integer({ min: 512 }).default(16384),
    maxSessionFrames: integer({ min: 0 }).default(0),
    idleTimeoutSeconds: integer({ min: 0 }).default(16),
    http: boolean().default(false),
    healthz: boolean().default(true),
    metrics: boolean().default(true),
    websockets: boolean().default(true),
  },
  unsupported: [
    'protocolFamily', 'socketAddressFamily', 'cost',
    'initialHandshakeTimeoutSeconds', 'stripAnnotations', 'linkCapacity', 'multiTenant',
    'httpRootDir', 'messageLoggingComponents', 'maxSessions',
    'maxMessageSize', 'maxSessionWindow',
  ],
  refused: {
    trustedCertsFile: "is not supported; put the CA in the sslProfile's caCertFile",
    saslPlugin: 'is not supported: kskup has no external authentication service; use authenticatePeer with an sslProfile',
    policyVhost: 'is not supported: kskup enforces no vhost policy, so the limits it names would not apply',
  },
  fallbackName: (raw) => hostPortName(raw, WILDCARD_HOST),
  check: (values, report) => {
    if (values.authenticatePeer && values.sslProfile === undefined) {
      report('authenticatePeer', 'requires sslProfile');
    }
    for (const attribute of ['requireSsl', 'requireEncryption'] as const) {
      if (values[attribute] === true && values.sslProfile === undefined) report(attribute, 'is true but the listener has no sslProfile to serve TLS with');
    }
    const mechanisms = mechanismsOf(values.saslMechanisms);
    if (mechanisms.includes('EXTERNAL') && !values.authenticatePeer) {
      report('saslMechanisms', 'EXTERNAL needs authenticatePeer true (the client certificate is the identity)');
    }
  },
  collect: (values, where, into) => {
    const name = values.name ?? `${values.host}:${values.port}`;
    into.listeners.push(located(where, definedOnly<ListenerEntity>({ ...values, name })));
  },
});

const connectorKind = defineKind({
  type: 'connector',
  attributes: {
    name: string({ nonEmpty: true }),
    host: string({ nonEmpty: true }).required(),
    port: port(1).required(),
    role: oneOf(ROLES).default('normal'),
    cost: integer({ min: 1 }).default(1),
    sslProfile: string({ nonEmpty: true }),
    saslMechanisms: saslMechanisms(),
    verifyHostname: boolean().default(true),
    maxFrameSize: integer({ min: 512 }).default(16384),
    maxSessionFrames: integer({ min: 0 }).default(0),
    idleTimeoutSeconds: integer({ min: 0 }).default(16),
    // kskup's own: AMQP straight over TCP (the default) or over a WebSocket,
    // for a listener behind an HTTP(S) ingress or proxy. See docs/websocket-links.md.
    protocol: oneOf(['amqp', 'amqps', 'ws', 'wss']).default('amqp'),
    websocketPath: string({ nonEmpty: true }).default('/'),
  },
  unsupported: [
    'stripAnnotations', 'linkCapacity', 'messageLoggingComponents',
    'failoverUrls', 'openProperties', 'policyVhost', 'allowRedirect', 'protocolFamily',
    'socketAddressFamily', 'maxSessions', 'maxMessageSize', 'healthz',
  ],
  refused: {
    saslUsername: 'is not supported: kskup cannot authenticate with SASL PLAIN; use an sslProfile with certFile (SASL EXTERNAL)',
    saslPassword: 'is not supported: kskup cannot authenticate with SASL PLAIN; use an sslProfile with certFile (SASL EXTERNAL)',
  },
  fallbackName: (raw) => hostPortName(raw, undefined),
  check: (values, report) => {
    if ((values.protocol === 'amqps' || values.protocol === 'wss') && values.sslProfile === undefined) {
      report('protocol', `"${values.protocol}" requires sslProfile`);
    }
    if (mechanismsOf(values.saslMechanisms).includes('EXTERNAL') && values.sslProfile === undefined) {
      report('saslMechanisms', 'EXTERNAL requires an sslProfile with certFile');
    }
  },
  collect: (values, where, into) => {
    const name = values.name ?? `${values.host}:${values.port}`;
    into.connectors.push(located(where, definedOnly<ConnectorEntity>({ ...values, name })));
  },
});

const sslProfileKind = defineKind({
  type: 'sslProfile',
  attributes: {
    name: string({ nonEmpty: true }).required(),
    caCertFile: string({ nonEmpty: true }),
    certFile: string({ nonEmpty: true }),
    privateKeyFile: string({ nonEmpty: true }),
    password: string({ secret: true }),
    protocols: tlsProtocols(),
    ciphers: string({ nonEmpty: true }),
    // kskup's own: client certificates refused although the CA signed them.
    // A change of this alone is applied without restarting the listeners.
    revokedSerials: serialList(),
  },
  unsupported: ['uidFormat', 'uidNameMappingFile', 'displayNameFile'],
  refused: {
    trustedCertsFile: 'is not supported (skupper-router 3 has no such attribute); put the trusted CAs in caCertFile',
    passwordFile: 'is not supported; write password "file:PATH" instead',
  },
  check: (values, report) => {
    if (values.certFile !== undefined && values.privateKeyFile === undefined) {
      report('certFile', 'is set but privateKeyFile is not');
    }
    if (values.privateKeyFile !== undefined && values.certFile === undefined) {
      report('privateKeyFile', 'is set but certFile is not');
    }
  },
  collect: (values, where, into) => {
    // An empty list revokes nothing: the same profile as one without the attribute.
    const revokedSerials = values.revokedSerials?.length ? values.revokedSerials : undefined;
    into.sslProfiles.push(located(where, definedOnly<SslProfileEntity>({ ...values, revokedSerials })));
  },
});

const tcpListenerKind = defineKind({
  type: 'tcpListener',
  attributes: {
    name: string({ nonEmpty: true }),
    host: string().default(WILDCARD_HOST),
    port: port(0).required(),
    address: string({ nonEmpty: true }).required(),
    backlog: integer({ min: 1 }).default(128),
    siteId: string(),
    sslProfile: string({ nonEmpty: true }),
    authenticatePeer: boolean().default(false),
  },
  unsupported: ['observer', 'processId'],
  refused: {
    verifyHostname: 'has no meaning on a tcpListener (it checks a server certificate, for a tcpConnector); use authenticatePeer to verify clients',
  },
  fallbackName: (raw) => nonEmptyString(raw['address']),
  check: (values, report) => {
    if (values.authenticatePeer && values.sslProfile === undefined) report('authenticatePeer', 'requires sslProfile');
  },
  collect: (values, where, into) => {
    const name = values.name ?? values.address;
    into.tcpListeners.push(located(where, definedOnly<TcpListenerEntity>({ ...values, name })));
  },
});

const tcpConnectorKind = defineKind({
  type: 'tcpConnector',
  attributes: {
    name: string({ nonEmpty: true }),
    host: string({ nonEmpty: true }).required(),
    port: port(1).required(),
    address: string({ nonEmpty: true }).required(),
    siteId: string(),
    sslProfile: string({ nonEmpty: true }),
    verifyHostname: boolean().default(true),
  },
  unsupported: ['processId', 'observer'],
  fallbackName: (raw) => nonEmptyString(raw['address']),
  collect: (values, where, into) => {
    const name = values.name ?? values.address;
    into.tcpConnectors.push(located(where, definedOnly<TcpConnectorEntity>({ ...values, name })));
  },
});

const addressKind = defineKind({
  type: 'address',
  attributes: {
    prefix: string({ nonEmpty: true }),
    pattern: string({ nonEmpty: true }),
    distribution: oneOf(['balanced', 'closest', 'multicast']).default('balanced'),
  },
  unsupported: ['waypoint', 'ingressPhase', 'egressPhase', 'priority', 'enableFallback', 'name'],
  fallbackName: (raw) => nonEmptyString(raw['prefix']) ?? nonEmptyString(raw['pattern']),
  check: (values, report) => {
    if (values.prefix === undefined && values.pattern === undefined) {
      report(undefined, 'has neither prefix nor pattern; give exactly one');
    }
    if (values.prefix !== undefined && values.pattern !== undefined) {
      report(undefined, 'has both prefix and pattern; give exactly one');
    }
  },
  collect: (values, _where, into) => {
    into.addresses.push(Object.freeze(definedOnly<AddressEntity>({ ...values })));
  },
});

const logKind = defineKind({
  type: 'log',
  attributes: {
    module: string({ nonEmpty: true }).required(),
    enable: logLevel().default('info'),
  },
  unsupported: ['includeTimestamp', 'includeSource', 'outputFile'],
  fallbackName: (raw) => nonEmptyString(raw['module'])?.toUpperCase(),
  collect: (values, _where, into) => {
    into.logs.push(Object.freeze<LogEntity>({ module: values.module.toUpperCase(), level: values.enable }));
  },
});

const ENTITY_KINDS: ReadonlyMap<string, EntityHandler> = new Map(
  [routerKind, listenerKind, connectorKind, sslProfileKind, tcpListenerKind, tcpConnectorKind, addressKind, logKind].map(
    (kind) => [kind.type, kind],
  ),
);

/** Entity types skupper-router has that kskup accepts with a warning and ignores. */
const UNSUPPORTED_ENTITY_TYPES: readonly string[] = [
  'site', 'vhost', 'linkRoute', 'autoLink', 'exchange', 'binding', 'httpListener',
  'httpConnector', 'console', 'management',
];

/** Entity types that ask for access control kskup does not enforce: a problem, never ignored. */
const REFUSED_ENTITY_TYPES: ReadonlyMap<string, string> = new Map([
  ['policy', 'kskup enforces no connection or vhost policy, so the limits it asks for would not apply'],
  ['authServicePlugin', 'kskup has no external authentication service; use authenticatePeer with an sslProfile'],
]);

function nonEmptyString(raw: unknown): string | undefined {
  return typeof raw === 'string' && raw.trim() !== '' ? raw : undefined;
}

/** The name a listener or connector gets when the file gives none; undefined if its port is bad. */
function hostPortName(raw: RawAttributes, defaultHost: string | undefined): string | undefined {
  const host = typeof raw['host'] === 'string' ? raw['host'] : defaultHost;
  const parsedPort = parsePort(raw['port'], 0);
  return host === undefined || !parsedPort.ok ? undefined : `${host}:${parsedPort.value}`;
}

function located<T extends object>(where: Where, entity: T): Located<T> {
  return { entity: Object.freeze(entity), label: where.label, index: where.index, named: where.named };
}

/** Leaves absent optional attributes out, so entities compare and print the same however built. */
function definedOnly<T extends object>(entity: T): T {
  for (const key of Object.keys(entity) as (keyof T)[]) {
    if (entity[key] === undefined) delete entity[key];
  }
  return entity;
}

// ---------------------------------------------------------------------------
// The generic validator.

function defineKind<S extends Schema>(kind: EntityKind<S>): EntityHandler {
  const known = [...Object.keys(kind.attributes), ...kind.unsupported, ...Object.keys(kind.deprecated ?? {}), ...Object.keys(kind.refused ?? {})];
  return {
    type: kind.type,
    read(raw, index, context) {
      const where = whereIs(kind, raw, index);
      const report: Report = (attribute, message) => context.problem(index, where.label, attribute, message);
      context.seen(kind.type, where);
      checkAttributeNames(kind, raw, where.label, known, report, context);
      const values = readAttributes(kind.attributes, raw, report);
      if (values === undefined) return;
      kind.check?.(values, report);
      kind.collect(values, where, context.collected);
    },
  };
}

/** `listener "amqp"`, `listener "0.0.0.0:5672"` when unnamed, else `listener #3`. */
function whereIs<S extends Schema>(kind: EntityKind<S>, raw: RawAttributes, index: number): Where {
  const written = 'name' in kind.attributes ? nonEmptyString(raw['name']) : undefined;
  const name = written ?? kind.fallbackName?.(raw);
  const label = name === undefined ? `${kind.type} #${index}` : `${kind.type} ${JSON.stringify(name)}`;
  return { label, index, named: written !== undefined };
}

function checkAttributeNames<S extends Schema>(
  kind: EntityKind<S>,
  raw: RawAttributes,
  label: string,
  known: readonly string[],
  report: Report,
  context: ParseContext,
): void {
  for (const attribute of Object.keys(raw)) {
    if (Object.hasOwn(kind.attributes, attribute)) continue;
    const advice = kind.deprecated?.[attribute];
    const refusal = kind.refused?.[attribute];
    if (refusal !== undefined) {
      report(attribute, refusal);
    } else if (advice !== undefined) {
      context.warnOnce(`${kind.type}.${attribute}`, `${label}: attribute "${attribute}" is deprecated and ignored by kskup; ${advice}`);
    } else if (kind.unsupported.includes(attribute)) {
      context.warnOnce(`${kind.type}.${attribute}`, `${label}: attribute "${attribute}" is not supported by kskup yet and is ignored`);
    } else {
      report(undefined, `unknown attribute ${JSON.stringify(attribute)}${didYouMean(attribute, known)}`);
    }
  }
}

/** Undefined when any attribute is wrong (each one reported). JSON null counts as absent. */
function readAttributes<S extends Schema>(schema: S, raw: RawAttributes, report: Report): Values<S> | undefined {
  const values: Record<string, unknown> = {};
  let valid = true;
  for (const [attribute, spec] of Object.entries(schema)) {
    const written = Object.hasOwn(raw, attribute) ? raw[attribute] : undefined;
    if (written === undefined || written === null) {
      if (spec.isRequired) {
        report(attribute, 'is required');
        valid = false;
      }
      values[attribute] = spec.defaultValue;
      continue;
    }
    const parsed = spec.parseValue(written);
    if (parsed.ok) {
      values[attribute] = parsed.value;
    } else {
      report(attribute, parsed.message);
      valid = false;
    }
  }
  // Sound by construction: each value came from its spec's parser or default,
  // and required attributes are present whenever `valid` holds.
  return valid ? (values as Values<S>) : undefined;
}

/** ` (did you mean "port"?)` for a name within edit distance 2 of a known one, else ``. */
function didYouMean(written: string, known: readonly string[]): string {
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(written.toLowerCase(), name.toLowerCase());
    if (distance <= 2 && (best === undefined || distance < best.distance)) best = { name, distance };
  }
  return best === undefined ? '' : ` (did you mean ${JSON.stringify(best.name)}?)`;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

// ---------------------------------------------------------------------------
// The file: JSON, its entity list, and rules across entities.

class ParseContext {
  readonly warnings: string[] = [];
  readonly collected: Collected = {
    routers: [], listeners: [], connectors: [], sslProfiles: [],
    tcpListeners: [], tcpConnectors: [], addresses: [], logs: [],
  };
  private readonly warned = new Set<string>();
  /** Every entity of each implemented type, valid or not, for rules such as "one router". */
  private readonly seenByType = new Map<string, Where[]>();
  private readonly locatedProblems: { readonly index: number; readonly problem: ConfigProblem }[] = [];

  get problems(): readonly ConfigProblem[] {
    return this.locatedProblems.map(({ problem }) => problem);
  }

  /** index orders problems by position in the file; Infinity puts file-wide ones last. */
  problem(index: number, entity: string, attribute: string | undefined, message: string): void {
    const problem = attribute === undefined ? { entity, message } : { entity, attribute, message };
    this.locatedProblems.push({ index, problem: Object.freeze(problem) });
  }

  seen(type: string, where: Where): void {
    const seen = this.seenByType.get(type) ?? [];
    seen.push(where);
    this.seenByType.set(type, seen);
  }

  seenOf(type: string): readonly Where[] {
    return this.seenByType.get(type) ?? [];
  }

  /** One warning per key, so a file with forty listeners does not say the same thing forty times. */
  warnOnce(key: string, warning: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.warnings.push(warning);
  }

  sortedProblems(): ConfigProblem[] {
    return [...this.locatedProblems].sort((a, b) => a.index - b.index).map(({ problem }) => problem);
  }
}

function parseJson(text: string, context: ParseContext): Parsed<unknown> {
  const withoutBom = text.startsWith('\uFEFF') ? text.slice(1) : text;
  try {
    return ok(JSON.parse(withoutBom));
  } catch {
    // V8's own message quotes a slice of the file, which may hold a password.
    const { offset, reason } = locateJsonError(withoutBom);
    const { line, column } = lineAndColumn(withoutBom, offset);
    const message = `is not valid JSON: ${reason} at line ${line}, column ${column}`;
    context.problem(0, 'file', undefined, message);
    return bad(message);
  }
}

/** False when the top level is not an entity list, so rules across entities would only add noise. */
function readEntities(document: unknown, context: ParseContext): boolean {
  if (!Array.isArray(document)) {
    context.problem(0, 'file', undefined, `must be an array of [type, attributes] pairs, not ${describeType(document)}`);
    return false;
  }
  document.forEach((element: unknown, position) => readEntity(element, position + 1, context));
  return true;
}

function readEntity(element: unknown, index: number, context: ParseContext): void {
  const label = `entity #${index}`;
  if (!Array.isArray(element) || element.length !== 2) {
    const what = Array.isArray(element) ? `an array of ${element.length}` : describeType(element);
    context.problem(index, label, undefined, `must be a [type, attributes] pair, not ${what}`);
    return;
  }
  const [type, attributes]: unknown[] = element;
  if (typeof type !== 'string') {
    context.problem(index, label, undefined, `type must be a string, not ${describeType(type)}`);
    return;
  }
  if (!isPlainObject(attributes)) {
    context.problem(index, label, undefined, `attributes of "${type}" must be an object, not ${describeType(attributes)}`);
    return;
  }
  const kind = ENTITY_KINDS.get(type);
  const refusal = REFUSED_ENTITY_TYPES.get(type);
  if (kind !== undefined) {
    kind.read(attributes, index, context);
  } else if (refusal !== undefined) {
    context.problem(index, `${type} #${index}`, undefined, `is not supported: ${refusal}`);
  } else if (UNSUPPORTED_ENTITY_TYPES.includes(type)) {
    context.warnOnce(`entity ${type}`, `entity type ${JSON.stringify(type)} is not supported by kskup yet and is ignored`);
  } else {
    const known = [...ENTITY_KINDS.keys(), ...UNSUPPORTED_ENTITY_TYPES, ...REFUSED_ENTITY_TYPES.keys()];
    context.problem(index, label, undefined, `unknown entity type ${JSON.stringify(type)}${didYouMean(type, known)}`);
  }
}

function isPlainObject(value: unknown): value is RawAttributes {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Names a value's type without quoting it: the value could be a secret. */
function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function checkAcrossEntities(context: ParseContext): void {
  const { collected } = context;
  checkSingleRouter(context.seenOf('router'), context);
  checkUniqueNames(collected.listeners, context);
  checkUniqueNames(collected.connectors, context);
  checkUniqueNames(collected.sslProfiles, context);
  checkUniqueNames(collected.tcpListeners, context);
  checkUniqueNames(collected.tcpConnectors, context);
  const profiles = new Map(collected.sslProfiles.map(({ entity }) => [entity.name, entity]));
  checkSslProfileReferences('server', [...collected.listeners, ...collected.tcpListeners], profiles, context);
  checkSslProfileReferences('client', [...collected.connectors, ...collected.tcpConnectors], profiles, context);
  checkPortClashes([...collected.listeners, ...collected.tcpListeners], context);
}

/** Counts invalid router entities too: a second router is a problem whatever its attributes. */
function checkSingleRouter(routers: readonly Where[], context: ParseContext): void {
  const [first, ...extra] = routers;
  if (first === undefined) {
    context.problem(Infinity, 'router', undefined, 'a "router" entity is required');
  }
  for (const router of extra) {
    context.problem(router.index, router.label, undefined, `only one "router" entity is allowed; the first is entity #${first?.index}`);
  }
}

function checkUniqueNames(entities: readonly Located<{ readonly name: string }>[], context: ParseContext): void {
  const firstByName = new Map<string, Located<{ readonly name: string }>>();
  for (const entity of entities) {
    const name = entity.entity.name;
    const first = firstByName.get(name);
    if (first === undefined) {
      firstByName.set(name, entity);
    } else if (entity.named) {
      context.problem(entity.index, entity.label, 'name', `${JSON.stringify(name)} is already used by entity #${first.index}`);
    } else {
      const message = `has no name and its default name ${JSON.stringify(name)} is already used by entity #${first.index}`;
      context.problem(entity.index, entity.label, undefined, message);
    }
  }
}

interface TlsUser {
  readonly sslProfile?: string;
  readonly authenticatePeer?: boolean;
  readonly saslMechanisms?: string;
}

/**
 * Each sslProfile reference names a profile with what its user needs, as
 * skupper-router checks when it builds the TLS context: a server (listener,
 * tcpListener) needs certFile and privateKeyFile, and caCertFile to
 * authenticate peers; a client (connector, tcpConnector) needs caCertFile to
 * verify the server, and certFile for SASL EXTERNAL.
 */
function checkSslProfileReferences(
  side: 'server' | 'client',
  entities: readonly Located<TlsUser>[],
  profiles: ReadonlyMap<string, SslProfileEntity>,
  context: ParseContext,
): void {
  for (const { entity, index, label } of entities) {
    if (entity.sslProfile === undefined) continue;
    const profile = profiles.get(entity.sslProfile);
    const named = `sslProfile ${JSON.stringify(entity.sslProfile)}`;
    if (profile === undefined) {
      context.problem(index, label, 'sslProfile', `${JSON.stringify(entity.sslProfile)} does not name an sslProfile in this file`);
      continue;
    }
    const isServer = side === 'server';
    if (isServer && profile.certFile === undefined) {
      context.problem(index, label, 'sslProfile', `${JSON.stringify(entity.sslProfile)} has no certFile and privateKeyFile, which a TLS server needs`);
    }
    if (isServer && entity.authenticatePeer === true && profile.caCertFile === undefined) {
      context.problem(index, label, 'authenticatePeer', `needs a caCertFile in ${named} to verify client certificates with`);
    }
    if (!isServer && profile.caCertFile === undefined) {
      context.problem(index, label, 'sslProfile', `${JSON.stringify(entity.sslProfile)} has no caCertFile, which is needed to verify the server's certificate`);
    }
    if (!isServer && mechanismsOf(entity.saslMechanisms).includes('EXTERNAL') && profile.certFile === undefined) {
      context.problem(index, label, 'saslMechanisms', `EXTERNAL needs a certFile in ${named} to present`);
    }
  }
}

type Bound = Located<{ readonly host: string; readonly port: number }>;

/** Two sockets on one port fail at bind time; say so now, with both entities named. */
function checkPortClashes(entities: readonly Bound[], context: ParseContext): void {
  const inFileOrder = [...entities].sort((a, b) => a.index - b.index);
  inFileOrder.forEach((later, position) => {
    if (later.entity.port === 0) return;
    const earlier = inFileOrder.slice(0, position).find((candidate) => sameSocket(candidate, later));
    if (earlier === undefined) return;
    const { host, port: boundPort } = earlier.entity;
    const message = `${boundPort} is already bound by ${earlier.label} (${host}:${boundPort})`;
    context.problem(later.index, later.label, 'port', message);
  });
}

/** An all-interfaces listener takes the port on every host. */
function sameSocket(a: Bound, b: Bound): boolean {
  const wildcard = (host: string): boolean => host === WILDCARD_HOST || host === '' || host === '::';
  if (a.entity.port !== b.entity.port) return false;
  return a.entity.host === b.entity.host || wildcard(a.entity.host) || wildcard(b.entity.host);
}

function assembleConfig(collected: Collected): RouterConfig {
  const router = collected.routers[0];
  if (router === undefined) throw new Error('assembleConfig called without a router entity');
  return Object.freeze({
    router: router.entity,
    listeners: frozenMap(collected.listeners),
    connectors: frozenMap(collected.connectors),
    sslProfiles: frozenMap(collected.sslProfiles),
    tcpListeners: frozenMap(collected.tcpListeners),
    tcpConnectors: frozenMap(collected.tcpConnectors),
    addresses: Object.freeze([...collected.addresses]),
    logs: Object.freeze([...collected.logs]),
  });
}

/** Object.freeze does not stop Map#set, so the mutators are replaced too. */
function frozenMap<T extends { readonly name: string }>(entities: readonly Located<T>[]): ReadonlyMap<string, T> {
  const map = new Map(entities.map(({ entity }) => [entity.name, entity]));
  const refuse = (): never => {
    throw new TypeError('a parsed router config is read-only');
  };
  Object.defineProperties(map, { set: { value: refuse }, delete: { value: refuse }, clear: { value: refuse } });
  return Object.freeze(map);
}

// ---------------------------------------------------------------------------
// Locating a JSON syntax error ourselves: V8's messages differ between Node
// versions, often lack a position, and quote file text that may be secret.

class JsonSyntaxError {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {}
}

function locateJsonError(source: string): { offset: number; reason: string } {
  let at = 0;
  const fail = (reason: string, offset = at): never => {
    throw new JsonSyntaxError(offset, reason);
  };
  const skipWhitespace = (): void => {
    while (at < source.length && ' \t\n\r'.includes(source.charAt(at))) at++;
  };
  const unexpected = (): never =>
    at >= source.length ? fail('unexpected end of input') : fail(`unexpected character ${JSON.stringify(source.charAt(at))}`);
  const expect = (char: string, reason: string): void => {
    skipWhitespace();
    if (source.charAt(at) !== char) fail(at >= source.length ? 'unexpected end of input' : reason);
    at++;
  };
  const readString = (): void => {
    const start = at++;
    for (;;) {
      if (at >= source.length) fail('unterminated string', start);
      const char = source.charAt(at);
      if (char === '"') break;
      if (char < ' ') fail('control character in string');
      if (char === '\\') {
        const escape = source.charAt(at + 1);
        if (escape === 'u' && /^[0-9a-fA-F]{4}$/.test(source.slice(at + 2, at + 6))) at += 4;
        else if (!'"\\/bfnrt'.includes(escape) || escape === '') fail('invalid escape in string');
        at++;
      }
      at++;
    }
    at++;
  };
  const readSequence = (close: string, readItem: () => void): void => {
    at++;
    skipWhitespace();
    if (source.charAt(at) === close) {
      at++;
      return;
    }
    for (;;) {
      readItem();
      skipWhitespace();
      if (source.charAt(at) === close) {
        at++;
        return;
      }
      expect(',', `expected "," or "${close}"`);
    }
  };
  const readValue = (): void => {
    skipWhitespace();
    const char = source.charAt(at);
    if (char === '{') {
      readSequence('}', () => {
        skipWhitespace();
        if (source.charAt(at) !== '"') fail(at >= source.length ? 'unexpected end of input' : 'expected a property name in double quotes');
        readString();
        expect(':', 'expected ":" after a property name');
        readValue();
      });
    } else if (char === '[') {
      readSequence(']', readValue);
    } else if (char === '"') {
      readString();
    } else {
      const token = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?|true|false|null/y;
      token.lastIndex = at;
      if (!token.test(source)) unexpected();
      at = token.lastIndex;
    }
  };
  try {
    readValue();
    skipWhitespace();
    if (at < source.length) fail('unexpected text after the JSON value');
  } catch (error) {
    if (error instanceof JsonSyntaxError) return { offset: error.offset, reason: error.reason };
    throw error;
  }
  return { offset: at, reason: 'unexpected input' };
}

function lineAndColumn(source: string, offset: number): { line: number; column: number } {
  const before = source.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}
