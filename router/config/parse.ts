// Reads a router config file, in skupper-router's JSON or in skrouterd's .conf
// syntax (source.ts), into the typed, frozen RouterConfig. Which entity types
// and attributes exist, and what kskup does with each, comes from the schema
// (schema.ts); each implemented entity type has a table of attribute specs
// here driving one generic validator. Every problem in the file is collected
// before ConfigError is thrown, so one run shows everything to fix.

import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ConfigError } from './errors.js';
import { servicePort } from './named-ports.js';
import { LOG_MODULES, MAX_COST, REMOVED_ENTITY_TYPES, ROUTER_SCHEMA, entityType, type AttributeSchema, type EntityTypeSchema } from './schema.js';
import { parseSerialList } from './serials.js';
import { NOT_A_PAIR, describeType, readSource, type RawEntity } from './source.js';
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
  /** Which syntax the file was read as. */
  readonly syntax: 'json' | 'conf';
}

export function parseRouterConfig(text: string, file?: string): ParsedRouterConfig {
  const context = new ParseContext();
  const source = readSource(text);
  if (source.ok) {
    readEntities(source.entities, context);
    checkAcrossEntities(context);
  } else {
    context.problem(0, 'file', undefined, source.message, source.line);
  }
  if (context.problems.length > 0) throw new ConfigError(context.sortedProblems(), file);
  return { config: assembleConfig(context.collected), warnings: context.warnings, syntax: source.syntax };
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

/**
 * A port number, or a service name as skrouterd resolves it (getaddrinfo: the
 * services database, see named-ports.ts): `amqp` is 5672 unless
 * KSKUP_SERVICES_FILE maps it elsewhere.
 */
function parsePort(raw: unknown, lowest: 0 | 1): Parsed<number> {
  const name = typeof raw === 'string' ? raw.trim() : '';
  if (/^[A-Za-z][\w.+-]*$/.test(name)) {
    const service = servicePort(name);
    return service === undefined ? bad(`${show(raw)} is neither a port number nor a known service name (as in /etc/services)`) : ok(service);
  }
  return parseInteger(raw, { min: lowest, max: 65535 });
}

/** skupper-router's booleans (its schema's BooleanType), in either case, as JSON values or strings. */
const BOOLEAN_WORDS: ReadonlyMap<string, boolean> = new Map([
  ['yes', true], ['true', true], ['on', true], ['1', true],
  ['no', false], ['false', false], ['off', false], ['0', false],
]);

function parseBoolean(raw: unknown): Parsed<boolean> {
  if (typeof raw === 'boolean') return ok(raw);
  if (raw === 1 || raw === 0) return ok(raw === 1);
  const word = typeof raw === 'string' ? BOOLEAN_WORDS.get(raw.trim().toLowerCase()) : undefined;
  return word === undefined ? bad(`${show(raw)} is not a boolean (yes/no, true/false, on/off, 1/0)`) : ok(word);
}

/** The default port of listeners and connectors: skupper-router's `amqp`, resolved. */
const AMQP_PORT = servicePort('amqp') ?? 5672;

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

/**
 * skupper-router 3's severities (its log.c) by the pino level that shows them;
 * `trace` is kskup's own, below debug. Qpid Dispatch's `notice` is gone from
 * skupper-router 3, which refuses it, and so does kskup.
 */
const SKUPPER_SEVERITIES: ReadonlyMap<string, LogLevel> = new Map([
  ['trace', 'trace'],
  ['debug', 'debug'],
  ['info', 'info'],
  ['warning', 'warn'],
  ['error', 'error'],
  ['critical', 'fatal'],
]);

function parseLogLevel(raw: unknown): Parsed<LogLevel> {
  if (typeof raw !== 'string') return bad(`${show(raw)} is not a string`);
  const words = raw.split(',').map((word) => word.trim().replace(/\+$/, ''));
  const unknown = words.filter((word) => word !== 'none' && !SKUPPER_SEVERITIES.has(word));
  if (unknown.length > 0) {
    const plural = unknown.length === 1 ? 'level' : 'levels';
    return bad(`${show(raw)} has unknown ${plural} ${unknown.map((word) => show(word)).join(', ')}; skupper-router 3's are none, debug, info, warning, error, critical (kskup also takes trace)`);
  }
  const enabled = words.flatMap((word) => SKUPPER_SEVERITIES.get(word) ?? []);
  const lowest = LOG_LEVEL_ORDER.find((level) => enabled.includes(level));
  return ok(lowest ?? 'silent');
}

// ---------------------------------------------------------------------------
// Entity kinds: one table of attribute specs per entity type kskup implements.
// The schema says which attributes exist; these say how kskup reads the ones it
// honours (the schema's `implemented`), checked against it when the module loads.

type RawAttributes = Readonly<Record<string, unknown>>;
/** `lineOf`: the attribute whose line to name, when the problem is not about one attribute's value (an unknown name). */
type Report = (attribute: string | undefined, message: string, lineOf?: string) => void;
type Warn = (key: string, warning: string) => void;

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
  /** What to call an entity whose `name` is absent, when something else identifies it. */
  readonly fallbackName?: (raw: RawAttributes) => string | undefined;
  /** Rules that involve more than one attribute of the entity. */
  readonly check?: (values: Values<S>, report: Report) => void;
  /** `warn` for a value kskup accepts but does not run as asked (a role, a distribution). */
  readonly collect: (values: Values<S>, where: Where, into: Collected, warn: Warn, raw: RawAttributes) => void;
}

/** An EntityKind with its schema type erased, so kinds can share one registry. */
interface EntityHandler {
  readonly type: string;
  /** The attributes kskup honours: the schema's `implemented` ones. */
  readonly implemented: readonly string[];
  read(raw: RawAttributes, index: number, context: ParseContext): void;
}

const ROLES = ['normal', 'inter-router', 'route-container', 'edge', 'inter-edge', 'inter-network'] as const;
type AnyRole = (typeof ROLES)[number];
const WILDCARD_HOST = '0.0.0.0';
/** skupper-router's default host of connectors and tcpConnectors (its schema). */
const CONNECT_HOST = '127.0.0.1';

/**
 * kskup runs `normal`, `inter-router` and `edge`. A route-container connection
 * is one to a broker or other container: kskup serves it as normal (it has no
 * link routes). inter-edge and inter-network connections are not run at all.
 */
function runnableRole(role: AnyRole, label: string, warn: Warn): 'normal' | 'inter-router' | 'edge' | undefined {
  if (role === 'normal' || role === 'inter-router' || role === 'edge') return role;
  if (role === 'route-container') {
    warn(`${label}.role`, `${label}: role "route-container" is run as "normal" (kskup has no link routes)`);
    return 'normal';
  }
  warn(`${label}.role`, `${label}: role "${role}" is not supported by kskup; the entity is ignored`);
  return undefined;
}

/** skrouterd's router ids may not hold whitespace, control characters, `|` or `$`. */
function parseRouterId(raw: unknown): Parsed<string> {
  if (typeof raw !== 'string') return bad(`${show(raw)} is not a string`);
  if (raw.trim() === '') return bad('must not be empty');
  if (/[\s\u0000-\u001f|$]/.test(raw)) return bad(`${show(raw)} may not contain whitespace, control characters, "|" or "$"`);
  return ok(raw);
}

/** skrouterd's generated id: the mode's prefix and a random discriminator (src/dispatch.c). */
function generatedRouterId(mode: RouterEntity['mode']): string {
  const prefix = { standalone: 'Standalone_', interior: 'Interior_', edge: 'Edge_' }[mode];
  return prefix + randomBytes(12).toString('base64url').slice(0, 15);
}

const routerKind = defineKind({
  type: 'router',
  attributes: {
    id: attr(parseRouterId),
    mode: oneOf(['standalone', 'interior', 'edge']).default('standalone'),
    helloIntervalSeconds: integer({ min: 1 }).default(1),
    helloMaxAgeSeconds: integer({ min: 1 }).default(3),
    // Optional: the network agent's defaults (10 s, 60 s) apply when absent.
    raIntervalSeconds: integer({ min: 1 }),
    remoteLsMaxAgeSeconds: integer({ min: 1 }),
    metadata: text(),
  },
  fallbackName: (raw) => nonEmptyString(raw['id']),
  collect: (values, where, into) => {
    const id = values.id ?? generatedRouterId(values.mode);
    const generated = values.id === undefined ? { idGenerated: true as const } : {};
    into.routers.push(located(where, definedOnly<RouterEntity>({ ...values, id, ...generated })));
  },
});

const listenerKind = defineKind({
  type: 'listener',
  attributes: {
    name: string({ nonEmpty: true }),
    host: string().default(WILDCARD_HOST),
    port: port(0).default(AMQP_PORT),
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
  fallbackName: (raw) => hostPortName('listener', raw, ''),
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
  collect: (values, where, into, warn, raw) => {
    const role = runnableRole(values.role, where.label, warn);
    if (role === undefined) return;
    const name = values.name ?? hostPortName('listener', raw, '') ?? `${values.host}:${values.port}`;
    into.listeners.push(located(where, definedOnly<ListenerEntity>({ ...values, role, name })));
  },
});

const connectorKind = defineKind({
  type: 'connector',
  attributes: {
    name: string({ nonEmpty: true }),
    host: string({ nonEmpty: true }).default(CONNECT_HOST),
    port: port(1).default(AMQP_PORT),
    role: oneOf(ROLES).default('normal'),
    cost: integer({ min: 1, max: MAX_COST }).default(1),
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
  fallbackName: (raw) => hostPortName('connector', raw, CONNECT_HOST),
  check: (values, report) => {
    if ((values.protocol === 'amqps' || values.protocol === 'wss') && values.sslProfile === undefined) {
      report('protocol', `"${values.protocol}" requires sslProfile`);
    }
    if (mechanismsOf(values.saslMechanisms).includes('EXTERNAL') && values.sslProfile === undefined) {
      report('saslMechanisms', 'EXTERNAL requires an sslProfile with certFile');
    }
  },
  collect: (values, where, into, warn, raw) => {
    const role = runnableRole(values.role, where.label, warn);
    if (role === undefined) return;
    const name = values.name ?? hostPortName('connector', raw, CONNECT_HOST) ?? `${values.host}:${values.port}`;
    into.connectors.push(located(where, definedOnly<ConnectorEntity>({ ...values, role, name })));
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
    // skupper-router 3's certificate rotation (types.ts); negative values are refused there too.
    ordinal: integer({ min: 0 }).default(0),
    oldestValidOrdinal: integer({ min: 0 }).default(0),
  },
  check: (values, report) => {
    // skupper-router refuses the profile with "ordinal must be >= oldestValidOrdinal".
    if (values.oldestValidOrdinal > values.ordinal) {
      report('oldestValidOrdinal', `${values.oldestValidOrdinal} is above ordinal ${values.ordinal}: ordinal must be >= oldestValidOrdinal`);
    }
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
    // skupper-router's default 0: the operating system's maximum (SOMAXCONN).
    backlog: integer({ min: 0 }).default(0),
    siteId: string(),
    sslProfile: string({ nonEmpty: true }),
    authenticatePeer: boolean().default(false),
  },
  fallbackName: (raw) => hostPortName('tcpListener', raw, ''),
  check: (values, report) => {
    if (values.authenticatePeer && values.sslProfile === undefined) report('authenticatePeer', 'requires sslProfile');
  },
  collect: (values, where, into, _warn, raw) => {
    const name = values.name ?? hostPortName('tcpListener', raw, '') ?? values.address;
    into.tcpListeners.push(located(where, definedOnly<TcpListenerEntity>({ ...values, name })));
  },
});

/** The largest tcpConnector `weight` (a kskup attribute): sums of many stay exact in a double. */
export const MAX_CONNECTOR_WEIGHT = 1_000_000;

const tcpConnectorKind = defineKind({
  type: 'tcpConnector',
  attributes: {
    name: string({ nonEmpty: true }),
    host: string({ nonEmpty: true }).default(CONNECT_HOST),
    port: port(1).required(),
    address: string({ nonEmpty: true }).required(),
    siteId: string(),
    sslProfile: string({ nonEmpty: true }),
    verifyHostname: boolean().default(true),
    // kskup's extension (router/policy/): a config without it serves every site, as skupper-router does.
    allowedSites: string(),
    weight: integer({ min: 0, max: MAX_CONNECTOR_WEIGHT }),
    // kskup's rate limits of the address at this router (router/tcp/flow-limiter.ts); absent: no limit.
    maxFlows: integer({ min: 1 }),
    flowsPerSecond: integer({ min: 1 }),
    flowBurst: integer({ min: 1 }),
    bandwidth: integer({ min: 1 }),
    flowQueue: integer({ min: 0 }),
    flowQueueTimeoutMs: integer({ min: 1 }),
  },
  fallbackName: (raw) => hostPortName('tcpConnector', raw, CONNECT_HOST),
  check: (values, report) => {
    // A burst without a rate, or a queue without any limit, would be a setting that silently does nothing.
    if (values.flowBurst !== undefined && values.flowsPerSecond === undefined) report('flowBurst', 'is set but flowsPerSecond is not (the burst is of the new flows per second)');
    const limited = values.maxFlows !== undefined || values.flowsPerSecond !== undefined;
    for (const attribute of ['flowQueue', 'flowQueueTimeoutMs'] as const) {
      if (values[attribute] !== undefined && !limited) report(attribute, 'is set but neither maxFlows nor flowsPerSecond is (nothing would wait in the queue)');
    }
  },
  collect: (values, where, into, _warn, raw) => {
    const name = values.name ?? hostPortName('tcpConnector', raw, CONNECT_HOST) ?? values.address;
    into.tcpConnectors.push(located(where, definedOnly<TcpConnectorEntity>({ ...values, name })));
  },
});

const addressKind = defineKind({
  type: 'address',
  attributes: {
    prefix: string({ nonEmpty: true }),
    pattern: string({ nonEmpty: true }),
    distribution: oneOf(['balanced', 'closest', 'multicast', 'unavailable']).default('balanced'),
  },
  fallbackName: (raw) => nonEmptyString(raw['prefix']) ?? nonEmptyString(raw['pattern']),
  check: (values, report) => {
    if (values.prefix === undefined && values.pattern === undefined) {
      report(undefined, 'has neither prefix nor pattern; give exactly one');
    }
    if (values.prefix !== undefined && values.pattern !== undefined) {
      report(undefined, 'has both prefix and pattern; give exactly one');
    }
  },
  collect: (values, where, into, warn) => {
    const { distribution } = values;
    if (distribution === 'unavailable') {
      warn(`${where.label}.distribution`, `${where.label}: distribution "unavailable" is not supported by kskup; the entity is ignored`);
      return;
    }
    into.addresses.push(Object.freeze(definedOnly<AddressEntity>({ ...values, distribution })));
  },
});

/** kskup's own log modules (AMQP messaging between clients). */
const KSKUP_LOG_MODULES: readonly string[] = ['MESSAGING'];

/** skupper-router's modules and kskup's own; kskup also takes them in lower case. */
function parseLogModule(raw: unknown): Parsed<string> {
  if (typeof raw !== 'string') return bad(`${show(raw)} is not a string`);
  const module = raw.trim().toUpperCase();
  const known = [...LOG_MODULES, ...KSKUP_LOG_MODULES];
  return known.includes(module) ? ok(module) : bad(`${show(raw)} is not a log module of skupper-router 3 or kskup${didYouMean(module, known)}`);
}

const logKind = defineKind({
  type: 'log',
  attributes: {
    module: attr(parseLogModule).required(),
    enable: logLevel().default('info'),
  },
  fallbackName: (raw) => nonEmptyString(raw['module'])?.toUpperCase(),
  collect: (values, _where, into) => {
    into.logs.push(Object.freeze<LogEntity>({ module: values.module, level: values.enable }));
  },
});

const ENTITY_KINDS: ReadonlyMap<string, EntityHandler> = new Map(
  [routerKind, listenerKind, connectorKind, sslProfileKind, tcpListenerKind, tcpConnectorKind, addressKind, logKind].map(
    (kind) => [kind.type, kind],
  ),
);

/** The schema's implemented entity types are exactly the kinds above: a mismatch is a bug, found when the module loads. */
for (const type of ROUTER_SCHEMA) {
  if ((type.support === 'implemented') !== ENTITY_KINDS.has(type.name)) {
    throw new Error(`router config schema: entity type ${type.name} is ${type.support} in schema.ts but ${ENTITY_KINDS.has(type.name) ? 'has' : 'has no'} kind in parse.ts`);
  }
}

/** The same config under another router id (a reload of a file without one keeps the running router's). */
export function withRouterId(config: RouterConfig, id: string): RouterConfig {
  return Object.freeze({ ...config, router: Object.freeze({ ...config.router, id }) });
}

/** The attribute names kskup reads for each implemented entity type (for tests that check them against the schema). */
export function implementedAttributes(type: string): readonly string[] | undefined {
  return ENTITY_KINDS.get(type)?.implemented;
}

function nonEmptyString(raw: unknown): string | undefined {
  return typeof raw === 'string' && raw.trim() !== '' ? raw : undefined;
}

/**
 * skrouterd's name of an unnamed listener, connector, tcpListener or
 * tcpConnector: `TYPE/HOST:PORT`, host and port as written (the port not
 * resolved) or the schema's defaults (its agent.py). Undefined when the host or
 * port is not a string or number (that attribute is then reported).
 */
function hostPortName(type: string, raw: RawAttributes, defaultHost: string): string | undefined {
  const written = (value: unknown, fallback: string | undefined): string | undefined =>
    value === undefined || value === null ? fallback : typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
  const host = written(raw['host'], defaultHost);
  const portName = written(raw['port'], type === 'listener' || type === 'connector' ? 'amqp' : undefined);
  return host === undefined || portName === undefined ? undefined : `${type}/${host}:${portName}`;
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
  const schema = entityType(kind.type);
  if (schema === undefined) throw new Error(`router config schema: parse.ts has a kind for ${kind.type}, which schema.ts does not have`);
  const implemented = Object.keys(kind.attributes);
  const promised = Object.entries(schema.attributes).filter(([name, a]) => a.support === 'implemented' && name !== 'name').map(([name]) => name);
  const mismatch = [...implemented.filter((name) => name !== 'name' && !promised.includes(name)), ...promised.filter((name) => !implemented.includes(name))];
  if (mismatch.length > 0) throw new Error(`router config schema: ${kind.type} attributes ${mismatch.join(', ')} are implemented in one of schema.ts and parse.ts only`);
  return {
    type: kind.type,
    implemented,
    read(raw, index, context) {
      const where = whereIs(kind, raw, index);
      const report: Report = (attribute, message, lineOf) => context.problem(index, where.label, attribute, message, context.lineOf(index, lineOf));
      context.seen(kind.type, where);
      checkOtherAttributes(schema, kind.attributes, raw, where.label, report, context);
      const values = readAttributes(kind.attributes, raw, report);
      if (values === undefined) return;
      kind.check?.(values, report);
      kind.collect(values, where, context.collected, (key, warning) => context.warnOnce(key, warning), raw);
    },
  };
}

/** `listener "amqp"`, `listener "listener/0.0.0.0:5672"` when unnamed, else `listener #3`. */
function whereIs<S extends Schema>(kind: EntityKind<S>, raw: RawAttributes, index: number): Where {
  const written = 'name' in kind.attributes ? nonEmptyString(raw['name']) : undefined;
  const name = written ?? kind.fallbackName?.(raw);
  const label = name === undefined ? `${kind.type} #${index}` : `${kind.type} ${JSON.stringify(name)}`;
  return { label, index, named: written !== undefined };
}

/**
 * The attributes kskup does not read itself, by what the schema says of them:
 * refused ones are problems, ignored and status ones are checked against their
 * schema type and warned about once, unknown ones are problems.
 */
function checkOtherAttributes(
  schema: EntityTypeSchema,
  read: Readonly<Record<string, unknown>>,
  raw: RawAttributes,
  label: string,
  report: Report,
  context: ParseContext,
): void {
  for (const [attribute, value] of Object.entries(raw)) {
    if (Object.hasOwn(read, attribute) || value === null) continue;
    const known = schema.attributes[attribute];
    if (known === undefined) {
      report(undefined, `unknown attribute ${JSON.stringify(attribute)}${didYouMean(attribute, Object.keys(schema.attributes))}`, attribute);
    } else if (known.support === 'refused') {
      report(attribute, known.refusal ?? 'is not supported');
    } else {
      const problem = checkSchemaValue(known, value);
      if (problem !== undefined) report(attribute, problem);
      // `name` of an entity kskup keeps no name for (address, log) only labels it.
      else if (attribute !== 'name') context.warnOnce(`${schema.name}.${attribute}`, `${label}: attribute "${attribute}" ${ignoredBecause(known)}`);
    }
  }
}

function ignoredBecause(attribute: AttributeSchema): string {
  if (attribute.support === 'status') return 'is a read-only status and is ignored';
  if (attribute.legacy) return 'is not in skupper-router 3 and is ignored';
  return 'is not supported by kskup yet and is ignored';
}

/**
 * Whether a value fits an attribute's schema type and range, as skupper-router
 * converts it (its schema.py): strings take any scalar, integers take numeric
 * strings, booleans the words of parseBoolean, enumerations their names.
 * Undefined when it fits, else the problem; a secret's value is never quoted.
 */
function checkSchemaValue(attribute: AttributeSchema, raw: unknown): string | undefined {
  const { type } = attribute;
  if (Array.isArray(type)) {
    return typeof raw === 'string' && type.includes(raw) ? undefined : `${show(raw)} must be one of ${type.join(', ')}`;
  }
  switch (type) {
    case 'string':
    case 'path':
      if (typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean') return undefined;
      return attribute.secret ? 'is not a string' : `${show(raw)} is not a string`;
    case 'integer': {
      const parsed = parseInteger(raw, { min: attribute.min ?? Number.MIN_SAFE_INTEGER, ...(attribute.max !== undefined && { max: attribute.max }) });
      return parsed.ok ? undefined : parsed.message;
    }
    case 'boolean': {
      const parsed = parseBoolean(raw);
      return parsed.ok ? undefined : parsed.message;
    }
    case 'properties':
    case 'map':
      return typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? undefined : `is ${describeType(raw)}, not a map`;
    case 'list':
      return Array.isArray(raw) ? undefined : `is ${describeType(raw)}, not a list`;
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
// The file: its entity list, and rules across entities.

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
  /** Where each entity (by index) and its attributes are in the file, when it has lines. */
  private readonly lines = new Map<number, Pick<RawEntity, 'line' | 'attributeLines'>>();

  get problems(): readonly ConfigProblem[] {
    return this.locatedProblems.map(({ problem }) => problem);
  }

  locate(index: number, entity: Pick<RawEntity, 'line' | 'attributeLines'>): void {
    this.lines.set(index, entity);
  }

  /** The line of an attribute of the entity at `index`, when the file gives lines per attribute. */
  lineOf(index: number, attribute: string | undefined): number | undefined {
    return attribute === undefined ? undefined : this.lines.get(index)?.attributeLines?.[attribute];
  }

  /** index orders problems by position in the file; Infinity puts file-wide ones last. */
  problem(index: number, entity: string, attribute: string | undefined, message: string, line?: number): void {
    const where = this.lines.get(index);
    const at = line ?? (attribute === undefined ? undefined : where?.attributeLines?.[attribute]) ?? where?.line;
    const problem: ConfigProblem = { entity, ...(attribute !== undefined && { attribute }), message, ...(at !== undefined && { line: at }) };
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

function readEntities(entities: readonly RawEntity[], context: ParseContext): void {
  entities.forEach((entity, position) => readEntity(entity, position + 1, context));
  // skrouterd adds a missing router entity with every attribute at its default
  // (standalone, a generated id), as it does for every singleton type.
  if (context.seenOf('router').length === 0) routerKind.read({}, 0, context);
}

function readEntity(element: RawEntity, index: number, context: ParseContext): void {
  context.locate(index, element);
  const label = `entity #${index}`;
  const { type, attributes } = element;
  if (type === NOT_A_PAIR) {
    const what = Array.isArray(attributes) ? `an array of ${attributes.length}` : describeType(attributes);
    context.problem(index, label, undefined, `must be a [type, attributes] pair, not ${what}`);
    return;
  }
  if (typeof type !== 'string') {
    context.problem(index, label, undefined, `type must be a string, not ${describeType(type)}`);
    return;
  }
  if (!isPlainObject(attributes)) {
    context.problem(index, label, undefined, `attributes of "${type}" must be an object, not ${describeType(attributes)}`);
    return;
  }
  const kind = ENTITY_KINDS.get(type);
  const schema = entityType(type);
  const removed = REMOVED_ENTITY_TYPES.get(type);
  if (kind !== undefined) {
    kind.read(attributes, index, context);
  } else if (schema?.support === 'refused') {
    context.problem(index, `${type} #${index}`, undefined, `is not supported: ${schema.refusal ?? 'kskup cannot honour it'}`);
  } else if (schema?.support === 'operational') {
    context.problem(index, `${type} #${index}`, undefined, 'is an operational entity type (management shows it); a config file cannot create one');
  } else if (schema !== undefined) {
    readIgnoredEntity(schema, attributes, index, context);
  } else if (removed !== undefined) {
    context.problem(index, `${type} #${index}`, undefined, `is not an entity type of skupper-router 3 (${removed})`);
  } else {
    const known = ROUTER_SCHEMA.filter((t) => t.support !== 'operational').map((t) => t.name);
    context.problem(index, label, undefined, `unknown entity type ${JSON.stringify(type)}${didYouMean(type, known)}`);
  }
}

/** An entity type kskup does not run: its attributes are still checked against the schema, then it is warned about once. */
function readIgnoredEntity(schema: EntityTypeSchema, raw: RawAttributes, index: number, context: ParseContext): void {
  const name = nonEmptyString(raw['name']);
  const label = name === undefined ? `${schema.name} #${index}` : `${schema.name} ${JSON.stringify(name)}`;
  const before = context.problems.length;
  for (const [attribute, value] of Object.entries(raw)) {
    const known = schema.attributes[attribute];
    if (value === null) continue;
    if (known === undefined) {
      context.problem(index, label, undefined, `unknown attribute ${JSON.stringify(attribute)}${didYouMean(attribute, Object.keys(schema.attributes))}`, context.lineOf(index, attribute));
    } else {
      const problem = checkSchemaValue(known, value);
      if (problem !== undefined) context.problem(index, label, attribute, problem);
    }
  }
  for (const [attribute, spec] of Object.entries(schema.attributes)) {
    if (spec.required && (raw[attribute] === undefined || raw[attribute] === null)) context.problem(index, label, attribute, 'is required');
  }
  if (schema.singleton && context.seenOf(schema.name).length > 0) {
    context.problem(index, label, undefined, `only one "${schema.name}" entity is allowed`);
  }
  context.seen(schema.name, { label, index, named: name !== undefined });
  if (context.problems.length === before) {
    context.warnOnce(`entity ${schema.name}`, `entity type ${JSON.stringify(schema.name)} is not supported by kskup yet and is ignored`);
  }
}

function isPlainObject(value: unknown): value is RawAttributes {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}


function checkAcrossEntities(context: ParseContext): void {
  const { collected } = context;
  checkSingleRouter(context.seenOf('router'), context);
  checkRolesForMode(context);
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
  for (const router of extra) {
    context.problem(router.index, router.label, undefined, `only one "router" entity is allowed; the first is entity #${first?.index}`);
  }
}

/**
 * skupper-router's rule (its qdrouter.py): a standalone router makes no
 * inter-router or edge connections. (It also keeps inter-router connections
 * to interior routers and edge listeners off edge routers; kskup does not
 * enforce that yet: its site model has built edge configs with inter-router
 * links, which still run.)
 */
function checkRolesForMode(context: ParseContext): void {
  if (context.collected.routers[0]?.entity.mode !== 'standalone') return;
  for (const { entity, index, label } of [...context.collected.listeners, ...context.collected.connectors]) {
    if (entity.role === 'inter-router' || entity.role === 'edge') {
      context.problem(index, label, 'role', `"${entity.role}" is not allowed on a router in mode "standalone" (the default when mode is absent); set mode "interior"`);
    }
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
