// AMQP management on the `$management` address (docs/management.md): requests
// from clients on normal listeners, replies to their dynamic reply addresses.
// It reads the router through a narrow view and edits it only by handing a new
// configuration to `reconfigure`, validated by the same parser as a file.
import { randomUUID } from 'node:crypto';
import type { EventContext, Message, Receiver, Sender } from 'rhea';
import {
  ConfigError,
  ROUTER_SCHEMA,
  baseTypes,
  entityType,
  longTypeName,
  parseRouterConfig,
  serialiseRouterConfig,
  serialiseSslProfile,
  type RouterConfig,
  type SslProfileEntity,
} from '../config/index.js';
import type { Logger } from '../log/logger.js';
import type { BindStatus } from '../net/bound-server.js';

export const MANAGEMENT_ADDRESS = '$management';
const TYPE_PREFIX = 'io.skupper.router.';
const REQUEST_CREDIT = 50;

type Row = Record<string, unknown>;

/** What management can see of the running router. */
export interface ManagementView {
  config(): RouterConfig;
  reconfigure(next: RouterConfig): Promise<void>;
  /** Rows of the runtime entity types: router, connection, router.node, router.address, flow. */
  rows(type: RuntimeType): Row[];
  connectorStatus(name: string): { state: string; reason?: string } | undefined;
  tcpListenerStatus(name: string): BindStatus | undefined;
  /** kskup's own flow types: the flow records (newest first) and the per-service totals (docs/flows.md). */
  flowRows(type: FlowType): Row[];
  /** Why a configured entity is not running (its sslProfile could not be loaded), or undefined. */
  entityError(type: 'listener' | 'connector' | 'tcpListener' | 'tcpConnector', name: string): string | undefined;
  /** Flows a tcpConnector refused by its allowedSites (router/policy/). */
  flowsDenied(tcpConnector: string): number;
  /** Flows of an address waiting for its rate limits here now, and refused by them (router/tcp/rate-limits.ts). */
  rateLimited(address: string): { flowsWaiting: number; flowsRateLimited: number };
}

/** kskup's own entity types, outside skupper-router's schema: the flow records and totals (router/flows/). */
export type FlowType = 'kskup.flowRecord' | 'kskup.flowTotal';
const FLOW_ATTRIBUTES: Record<FlowType, readonly string[]> = {
  'kskup.flowRecord': [
    'identity', 'router', 'role', 'vanAddress', 'startTime', 'endTime', 'sourceHost', 'sourcePort', 'listener', 'listenerRouter', 'listenerSite',
    'connectorRouter', 'connectorSite', 'connector', 'destinationHost', 'destinationPort', 'octets', 'octetsReverse', 'latency', 'result', 'reason',
  ],
  'kskup.flowTotal': ['identity', 'vanAddress', 'role', 'peerRouter', 'peerSite', 'opened', 'ended', 'octets', 'octetsReverse', 'latencySum', 'latencyCount'],
};

export type RuntimeType = 'router' | 'connection' | 'router.node' | 'router.address' | 'router.link' | 'flow';
const RUNTIME_TYPES: readonly RuntimeType[] = ['router', 'connection', 'router.node', 'router.address', 'router.link', 'flow'];
const CONFIG_TYPES = ['listener', 'connector', 'sslProfile', 'tcpListener', 'tcpConnector'] as const;
type ConfigType = (typeof CONFIG_TYPES)[number];
const CREATABLE: ReadonlySet<string> = new Set(['tcpListener', 'tcpConnector', 'connector', 'sslProfile']);
const CONFIG_KEYS: Record<ConfigType, keyof RouterConfig> = {
  listener: 'listeners',
  connector: 'connectors',
  sslProfile: 'sslProfiles',
  tcpListener: 'tcpListeners',
  tcpConnector: 'tcpConnectors',
};

class ManagementError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

interface Reply {
  statusCode: number;
  statusDescription: string;
  body: unknown;
}

export class ManagementAgent {
  private readonly replyTo = new Map<string, Sender>();

  constructor(
    private readonly view: ManagementView,
    private readonly log: Logger,
  ) {}

  /** A client attached a receiver with a dynamic source: give it a reply address. */
  acceptReplyLink(sender: Sender): void {
    const address = `_kskup/reply/${randomUUID()}`;
    sender.set_source({ address });
    this.replyTo.set(address, sender);
    sender.on('sender_close', () => this.replyTo.delete(address));
  }

  /** A client attached a sender to $management. */
  acceptRequestLink(receiver: Receiver): void {
    receiver.set_target({ address: MANAGEMENT_ADDRESS });
    receiver.add_credit(REQUEST_CREDIT);
    receiver.on('message', (context: EventContext) => {
      context.delivery?.accept();
      receiver.add_credit(1);
      // handle() answers every failure of the request itself; this catches one of sending the reply (a link that just went away).
      if (context.message) this.handle(context.message).catch((error: unknown) => this.log.debug({ reason: String(error) }, 'management reply not sent'));
    });
  }

  dropConnectionLinks(senders: Iterable<Sender>): void {
    const gone = new Set(senders);
    for (const [address, sender] of this.replyTo) if (gone.has(sender)) this.replyTo.delete(address);
  }

  private async handle(request: Message): Promise<void> {
    const reply = await this.answer(request).catch(
      (error: unknown): Reply =>
        error instanceof ManagementError
          ? { statusCode: error.statusCode, statusDescription: error.message, body: {} }
          : { statusCode: 500, statusDescription: String(error), body: {} },
    );
    const to = typeof request.reply_to === 'string' ? request.reply_to : undefined;
    const sender = to ? this.replyTo.get(to) : undefined;
    if (!sender) {
      this.log.debug({ replyTo: to }, 'management request with no reachable reply address');
      return;
    }
    sender.send({
      to,
      correlation_id: request.correlation_id ?? request.message_id,
      application_properties: { statusCode: reply.statusCode, statusDescription: reply.statusDescription },
      body: reply.body,
    });
  }

  private async answer(request: Message): Promise<Reply> {
    const properties = (request.application_properties ?? {}) as Record<string, unknown>;
    const operation = String(properties.operation ?? '');
    const type = shortType(String(properties.type ?? ''));
    const name = typeof properties.name === 'string' ? properties.name : typeof properties.identity === 'string' ? properties.identity : undefined;
    const body = (request.body ?? {}) as Record<string, unknown>;
    switch (operation) {
      // Both from the schema (router/config/schema.ts), as skupper-router answers them from skrouter.json.
      case 'GET-TYPES':
        return ok(Object.fromEntries(ROUTER_SCHEMA.map((t) => [longTypeName(t), baseTypes(t)])));
      case 'GET-ATTRIBUTES':
        return ok(Object.fromEntries(ROUTER_SCHEMA.map((t) => [longTypeName(t), Object.keys(t.attributes)])));
      case 'QUERY': {
        const entityType = shortType(String(properties.entityType ?? ''));
        const rows = this.rowsOf(entityType);
        const requested = Array.isArray(body.attributeNames) && body.attributeNames.length > 0 ? body.attributeNames.map(String) : undefined;
        if (requested !== undefined) checkAttributeNames(entityType, requested);
        const attributeNames = requested ?? [...new Set(rows.flatMap((row) => Object.keys(row)))];
        return ok({ attributeNames, results: rows.map((row) => attributeNames.map((attribute) => row[attribute] ?? null)) });
      }
      case 'READ': {
        const row = this.rowsOf(type).find((r) => r.name === name || r.identity === name);
        if (!row) throw new ManagementError(404, `no ${type} named "${name}"`);
        return ok(row);
      }
      case 'CREATE':
        return this.create(type, name, body);
      case 'UPDATE':
        return this.update(type, name, body);
      case 'DELETE':
        return this.remove(type, name);
      default:
        throw new ManagementError(405, `operation "${operation}" is not supported (GET-TYPES, GET-ATTRIBUTES, QUERY, READ, CREATE, UPDATE, DELETE)`);
    }
  }

  private rowsOf(type: string): Row[] {
    if (Object.hasOwn(FLOW_ATTRIBUTES, type)) return this.view.flowRows(type as FlowType);
    if ((RUNTIME_TYPES as readonly string[]).includes(type)) return this.view.rows(type as RuntimeType);
    if (!(CONFIG_TYPES as readonly string[]).includes(type)) {
      // A type of the schema that kskup keeps no entities of (network, allocator, ...) has none to show.
      if (entityType(type) !== undefined) return [];
      throw new ManagementError(404, `unknown entity type "${type}"`);
    }
    const entities = this.view.config()[CONFIG_KEYS[type as ConfigType]] as ReadonlyMap<string, object>;
    return [...entities.values()].map((entity) => {
      // Attributes as the config file writes them (revokedSerials is one string there).
      const attributes = type === 'sslProfile' ? serialiseSslProfile(entity as SslProfileEntity) : entity;
      const row: Row = { ...attributes, identity: (entity as { name: string }).name };
      if (type === 'sslProfile' && row.password !== undefined) row.password = '********';
      if (type === 'connector') {
        const status = this.view.connectorStatus(String(row.name));
        row.connectionStatus = status?.state ?? 'stopped';
        row.connectionMsg = status?.reason ?? this.view.entityError(type, String(row.name)) ?? '';
      } else if (type === 'listener' || type === 'tcpListener' || type === 'tcpConnector') {
        // skupper-router's operStatus of a tcpListener; kskup gives it to listeners and tcpConnectors too, with why it is down.
        const error = this.view.entityError(type, String(row.name));
        Object.assign(
          row,
          error !== undefined
            ? { operStatus: 'down', operStatusMsg: error }
            : type === 'tcpListener'
              ? tcpListenerOperStatus(this.view.tcpListenerStatus(String(row.name)))
              : { operStatus: 'up', operStatusMsg: '' },
        );
        if (type === 'tcpConnector') {
          row.flowsDenied = this.view.flowsDenied(String(row.name));
          Object.assign(row, this.view.rateLimited(String(row.address)));
        }
      }
      return row;
    });
  }

  private async create(type: string, name: string | undefined, attributes: Record<string, unknown>): Promise<Reply> {
    if (!CREATABLE.has(type)) throw new ManagementError(405, `CREATE is not supported for ${type}`);
    const entityName = name ?? (typeof attributes.name === 'string' ? attributes.name : undefined);
    if (!entityName) throw new ManagementError(400, `CREATE ${type} needs a name`);
    const current = this.view.config();
    if ((current[CONFIG_KEYS[type as ConfigType]] as ReadonlyMap<string, unknown>).has(entityName)) {
      throw new ManagementError(409, `${type} "${entityName}" already exists`);
    }
    const entities = serialiseRouterConfig(current);
    entities.push([type, { ...attributes, name: entityName }]);
    await this.apply(entities);
    const created = this.rowsOf(type).find((row) => row.name === entityName) ?? {};
    return { statusCode: 201, statusDescription: 'Created', body: created };
  }

  /** Replaces the named entity's attributes with the current ones overlaid by the request's. */
  private async update(type: string, name: string | undefined, attributes: Record<string, unknown>): Promise<Reply> {
    if (!CREATABLE.has(type)) throw new ManagementError(405, `UPDATE is not supported for ${type}`);
    const current = this.view.config();
    if (!name || !(current[CONFIG_KEYS[type as ConfigType]] as ReadonlyMap<string, unknown>).has(name)) {
      throw new ManagementError(404, `no ${type} named "${name}"`);
    }
    const entities = serialiseRouterConfig(current).map(([entityType, existing]): [string, Record<string, unknown>] =>
      entityType === type && existing.name === name ? [entityType, { ...existing, ...attributes, name }] : [entityType, existing],
    );
    await this.apply(entities);
    return ok(this.rowsOf(type).find((row) => row.name === name) ?? {});
  }

  private async remove(type: string, name: string | undefined): Promise<Reply> {
    if (!CREATABLE.has(type)) throw new ManagementError(405, `DELETE is not supported for ${type}`);
    const current = this.view.config();
    if (!name || !(current[CONFIG_KEYS[type as ConfigType]] as ReadonlyMap<string, unknown>).has(name)) {
      throw new ManagementError(404, `no ${type} named "${name}"`);
    }
    const entities = serialiseRouterConfig(current).filter(([entityType, attributes]) => !(entityType === type && attributes.name === name));
    await this.apply(entities);
    return { statusCode: 204, statusDescription: 'No Content', body: {} };
  }

  private async apply(entities: [string, Record<string, unknown>][]): Promise<void> {
    let next: RouterConfig;
    const current = this.view.config();
    try {
      next = parseRouterConfig(JSON.stringify(entities), 'management request').config;
      // A generated router id came back as a written one: the running router entity stays as it is.
      if (current.router.idGenerated && next.router.id === current.router.id) next = Object.freeze({ ...next, router: current.router });
    } catch (error) {
      if (error instanceof ConfigError) throw new ManagementError(400, error.problems.map((p) => `${p.entity}: ${p.attribute ? `${p.attribute} ` : ''}${p.message}`).join('; '));
      throw error;
    }
    await this.view.reconfigure(next);
  }
}

/**
 * skupper-router's `operStatus` of a tcpListener (up: accepting; down: not),
 * and kskup's `operStatusMsg`, why it is down (like a connector's
 * `connectionMsg`). A listener still making its first attempt counts as down.
 */
function tcpListenerOperStatus(status: BindStatus | undefined): { operStatus: 'up' | 'down'; operStatusMsg: string } {
  if (status?.state === 'up') return { operStatus: 'up', operStatusMsg: '' };
  if (status?.state === 'down') return { operStatus: 'down', operStatusMsg: status.reason };
  return { operStatus: 'down', operStatusMsg: status ? 'binding' : 'not started' };
}

/** skupper-router answers a QUERY naming an attribute its type does not have with 404 Not Found. */
function checkAttributeNames(type: string, names: readonly string[]): void {
  const attributes = Object.hasOwn(FLOW_ATTRIBUTES, type) ? Object.fromEntries(FLOW_ATTRIBUTES[type as FlowType].map((name) => [name, true])) : (entityType(type)?.attributes ?? {});
  const unknown = names.filter((name) => !Object.hasOwn(attributes, name));
  if (unknown.length > 0) {
    throw new ManagementError(404, `${type} has no attribute${unknown.length === 1 ? '' : 's'} ${unknown.map((name) => `"${name}"`).join(', ')}`);
  }
}

function shortType(type: string): string {
  return type.startsWith(TYPE_PREFIX) ? type.slice(TYPE_PREFIX.length) : type;
}

function ok(body: unknown): Reply {
  return { statusCode: 200, statusDescription: 'OK', body };
}
