// An AMQP management client for kskup and skupper routers (docs/management.md):
// one connection, a receiver with a dynamic source for the replies and a
// sender to `$management`; requests are matched to replies by correlation_id.
// Every failure (socket, SASL, link refused, timeout, error status) becomes a
// ManagementError whose message names the router, so a command can print it as is.
import { randomUUID } from 'node:crypto';
import { Socket } from 'node:net';
import rhea from 'rhea';
import type { Connection, Delivery, EventContext, Message, Receiver, Sender, Source } from 'rhea';
import { clientConnectionOptions, type AmqpClientTarget } from '../amqp/client-options.js';
import { ManagementError } from './management-error.js';

export const MANAGEMENT_ADDRESS = '$management';
/** The `type` of operations addressed to the management node itself (QUERY, GET-TYPES). */
export const MANAGEMENT_NODE_TYPE = 'org.amqp.management';
const ENTITY_TYPE_PREFIX = 'io.skupper.router.';

/** `tcpListener` -> `io.skupper.router.tcpListener`; requests always use the long form. */
export function longEntityType(type: string): string {
  return type.startsWith(ENTITY_TYPE_PREFIX) ? type : `${ENTITY_TYPE_PREFIX}${type}`;
}

/** The router to manage; with `tls`, over TLS (and SASL EXTERNAL with a client certificate). */
export type ManagementTarget = AmqpClientTarget;

export interface ManagementClientOptions {
  /** How long connecting, and then each request, may take. */
  readonly timeoutMs: number;
}

export interface ManagementRequest {
  readonly operation: string;
  readonly type: string;
  readonly name?: string;
  readonly identity?: string;
  readonly entityType?: string;
  readonly body?: unknown;
}

export interface ManagementReply {
  readonly statusCode: number;
  readonly statusDescription: string;
  readonly body: unknown;
}

export type Entity = Record<string, unknown>;

/** Any failure to get an answer; the message is one line naming the router. */
export { ManagementError };

/** The router answered with a status outside 2xx. */
export class ManagementStatusError extends ManagementError {
  override readonly name = 'ManagementStatusError';
  constructor(
    message: string,
    readonly statusCode: number,
    readonly statusDescription: string,
  ) {
    super(message);
  }
}

interface PendingRequest {
  readonly label: string;
  readonly resolve: (reply: ManagementReply) => void;
  readonly reject: (error: ManagementError) => void;
  readonly timer: NodeJS.Timeout;
  delivery?: Delivery;
}

export class ManagementClient {
  private readonly where: string;
  private readonly container = rhea.create_container({ id: `kskup-cli-${randomUUID()}` });
  private readonly connection: Connection;
  private readonly receiver: Receiver;
  private readonly sender: Sender;
  private readonly pending = new Map<string, PendingRequest>();
  /** Requests waiting for link credit: sending without credit would break the protocol. */
  private readonly unsent: Array<() => void> = [];
  private replyTo: string | undefined;
  private senderAttached = false;
  private connectionOpened = false;
  private closing = false;
  /** Once set, the client is dead: every pending and later request fails with it. */
  private failure: ManagementError | undefined;
  private readonly ready: Promise<void>;
  private settleReady: { resolve: () => void; reject: (error: ManagementError) => void } | undefined;
  private requestCount = 0;

  /** Connects and attaches both links; rejects with a ManagementError naming host:port. */
  static async connect(target: ManagementTarget, options: ManagementClientOptions): Promise<ManagementClient> {
    const client = new ManagementClient(target, options);
    const timer = setTimeout(() => client.fail(client.setupTimeoutError()), options.timeoutMs);
    try {
      await client.ready;
      return client;
    } finally {
      clearTimeout(timer);
    }
  }

  private constructor(
    target: ManagementTarget,
    private readonly options: ManagementClientOptions,
  ) {
    this.where = `${target.host}:${target.port}`;
    this.ready = new Promise((resolve, reject) => (this.settleReady = { resolve, reject }));
    // A failure may come before anyone awaits `ready` (a refused connection is fast).
    this.ready.catch(() => undefined);
    this.container.on('error', (error: unknown) => this.fail(this.connectionError(reasonOf(error))));
    this.connection = this.container.connect(clientConnectionOptions(target, this.container, { reconnect: false }));
    this.watchConnection();
    // No address: the router picks one and tells us in its attach (rhea's typings insist on one).
    this.receiver = this.connection.open_receiver({ source: { dynamic: true } as Source });
    this.sender = this.connection.open_sender({ target: { address: MANAGEMENT_ADDRESS } });
    this.watchReceiver();
    this.watchSender();
  }

  /** The address the router assigned to our reply receiver. */
  get replyAddress(): string | undefined {
    return this.replyTo;
  }

  async request(request: ManagementRequest): Promise<ManagementReply> {
    if (this.failure) throw this.failure;
    const id = `${this.container.id}-${++this.requestCount}`;
    const label = `${request.operation} ${request.entityType ?? request.type}`;
    const message: Message = {
      // Both ids: the draft has the reply's correlation_id copy the request's
      // correlation_id, or its message_id when there is none.
      message_id: id,
      correlation_id: id,
      reply_to: this.replyTo,
      application_properties: applicationProperties(request),
      body: request.body ?? {},
    };
    const reply = await new Promise<ManagementReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ManagementError(`router at ${this.where} did not answer ${label} within ${seconds(this.options.timeoutMs)}`));
      }, this.options.timeoutMs);
      const entry: PendingRequest = { label, resolve, reject, timer };
      this.pending.set(id, entry);
      this.whenSendable(() => {
        if (this.pending.get(id) === entry) entry.delivery = this.sender.send(message);
      });
    });
    if (reply.statusCode < 200 || reply.statusCode > 299) {
      throw new ManagementStatusError(
        `router at ${this.where} refused ${label}: ${reply.statusDescription || 'no description'} (status ${reply.statusCode})`,
        reply.statusCode,
        reply.statusDescription,
      );
    }
    return reply;
  }

  /** All entities of a type, as attribute maps; `attributeNames` empty asks for every attribute. */
  async query(entityType: string, attributeNames: readonly string[] = []): Promise<Entity[]> {
    const reply = await this.request({
      operation: 'QUERY',
      type: MANAGEMENT_NODE_TYPE,
      // The draft names the management node itself "self" for node operations.
      name: 'self',
      entityType: longEntityType(entityType),
      body: { attributeNames: [...attributeNames] },
    });
    return this.queryRows(reply.body, `QUERY ${longEntityType(entityType)}`);
  }

  async read(type: string, name: string): Promise<Entity> {
    const reply = await this.request({ operation: 'READ', type: longEntityType(type), name });
    return this.attributeMap(reply.body, `READ ${longEntityType(type)}`);
  }

  async create(type: string, name: string, attributes: Entity): Promise<Entity> {
    const reply = await this.request({ operation: 'CREATE', type: longEntityType(type), name, body: attributes });
    return this.attributeMap(reply.body, `CREATE ${longEntityType(type)}`);
  }

  async delete(type: string, name: string): Promise<void> {
    await this.request({ operation: 'DELETE', type: longEntityType(type), name });
  }

  /** Long type name -> base types. */
  async getTypes(): Promise<Record<string, unknown>> {
    const reply = await this.request({ operation: 'GET-TYPES', type: MANAGEMENT_NODE_TYPE, name: 'self' });
    return this.attributeMap(reply.body, 'GET-TYPES');
  }

  /** Closes politely, but never waits more than a second for the router to agree. */
  async close(): Promise<void> {
    if (this.closing) return;
    const dead = this.failure !== undefined || !this.connectionOpened;
    this.closing = true;
    this.fail(new ManagementError(`connection to router at ${this.where} is closed`));
    if (dead) return this.destroySocket();
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.destroySocket();
        resolve();
      };
      const timer = setTimeout(done, 1000);
      this.connection.once('connection_close', done);
      this.connection.once('disconnected', done);
      this.connection.close();
    });
  }

  private watchConnection(): void {
    this.connection.on('connection_open', () => (this.connectionOpened = true));
    this.connection.on('disconnected', (context: EventContext) => {
      if (this.closing) return;
      const reason = context.error ? reasonOf(context.error) : 'the router closed the connection';
      this.fail(this.connectionError(reason));
    });
    this.connection.on('connection_error', (context: EventContext) => {
      this.fail(this.connectionError(describeAmqpError(context.connection.error, 'connection error')));
    });
    this.connection.on('connection_close', () => {
      if (!this.closing) this.fail(this.connectionError('the router closed the connection'));
    });
    this.connection.on('protocol_error', (error: unknown) => this.fail(this.connectionError(`protocol error: ${reasonOf(error)}`)));
    this.connection.on('error', (error: unknown) => this.fail(this.connectionError(reasonOf(error))));
  }

  private watchReceiver(): void {
    this.receiver.on('receiver_open', () => {
      const address = this.receiver.source?.address;
      if (typeof address !== 'string' || address === '') {
        this.failSetup(new ManagementError(`router at ${this.where} assigned no address to the dynamic reply receiver`));
        return;
      }
      this.replyTo = address;
      this.checkReady();
    });
    this.receiver.on('receiver_error', () => undefined); // reported by receiver_close with the error
    this.receiver.on('receiver_close', () => {
      if (!this.closing) this.failSetup(this.linkError('the reply receiver', this.receiver));
    });
    this.receiver.on('message', (context: EventContext) => {
      if (context.message) this.onReply(context.message);
    });
  }

  private watchSender(): void {
    this.sender.on('sender_open', () => {
      this.senderAttached = true;
      this.checkReady();
    });
    this.sender.on('sendable', () => {
      while (this.unsent.length > 0 && this.sender.sendable()) this.unsent.shift()!();
    });
    this.sender.on('sender_error', () => undefined); // reported by sender_close with the error
    this.sender.on('sender_close', () => {
      if (!this.closing) this.failSetup(this.linkError(`the link to ${MANAGEMENT_ADDRESS}`, this.sender));
    });
    const refused = (verb: string) => (context: EventContext) => {
      const entry = [...this.pending.entries()].find(([, request]) => request.delivery === context.delivery);
      if (!entry) return;
      const [id, request] = entry;
      this.settle(id, request);
      const why = describeAmqpError(context.delivery?.remote_state?.error, '');
      request.reject(new ManagementError(`router at ${this.where} ${verb} ${request.label}${why ? `: ${why}` : ''}`));
    };
    this.sender.on('rejected', refused('rejected'));
    this.sender.on('released', refused('released'));
    this.sender.on('modified', refused('did not deliver'));
  }

  private onReply(message: Message): void {
    const id = message.correlation_id;
    const key = typeof id === 'string' ? id : id === undefined ? undefined : String(id);
    const request = key === undefined ? undefined : this.pending.get(key);
    // A late reply (after its timeout) or someone else's: nothing waits for it.
    if (key === undefined || request === undefined) return;
    this.settle(key, request);
    const properties: Record<string, unknown> = message.application_properties ?? {};
    const statusCode = Number(properties['statusCode']);
    if (!Number.isInteger(statusCode)) {
      request.reject(new ManagementError(`router at ${this.where} answered ${request.label} without a statusCode`));
      return;
    }
    const description = properties['statusDescription'];
    request.resolve({
      statusCode,
      statusDescription: typeof description === 'string' ? description : description === undefined ? '' : String(description),
      body: message.body,
    });
  }

  private settle(id: string, request: PendingRequest): void {
    clearTimeout(request.timer);
    this.pending.delete(id);
  }

  private whenSendable(send: () => void): void {
    if (this.sender.sendable() && this.unsent.length === 0) send();
    else this.unsent.push(send);
  }

  private checkReady(): void {
    if (this.isReady) this.settleReady?.resolve();
  }

  private get isReady(): boolean {
    return this.replyTo !== undefined && this.senderAttached;
  }

  /**
   * A link failure while connecting waits a moment: a router that refuses the
   * connection (a client certificate it does not take) answers the attaches
   * and closes them before its connection close arrives, and that close says why.
   */
  private failSetup(error: ManagementError): void {
    if (this.isReady) this.fail(error);
    else setTimeout(() => this.fail(error), 100).unref();
  }

  /** Marks the client dead once and fails everything waiting; the first reason wins. */
  private fail(error: ManagementError): void {
    if (this.failure) return;
    this.failure = error;
    this.settleReady?.reject(error);
    for (const [id, request] of this.pending) {
      this.settle(id, request);
      request.reject(error);
    }
    this.unsent.length = 0;
    if (!this.closing) this.destroySocket();
  }

  private destroySocket(): void {
    // rhea keeps its socket on an untyped property; destroying it lets the process exit at once.
    const socket: unknown = this.connection.socket;
    if (socket instanceof Socket) socket.destroy();
  }

  private connectionError(reason: string): ManagementError {
    return this.connectionOpened
      ? new ManagementError(`lost the connection to router at ${this.where}: ${reason}`)
      : new ManagementError(`cannot reach router at ${this.where}: ${reason}`);
  }

  private setupTimeoutError(): ManagementError {
    return this.connectionOpened
      ? new ManagementError(`router at ${this.where} did not attach the management links within ${seconds(this.options.timeoutMs)}`)
      : new ManagementError(`cannot reach router at ${this.where}: no answer within ${seconds(this.options.timeoutMs)}`);
  }

  private linkError(what: string, link: Sender | Receiver): ManagementError {
    const why = describeAmqpError(link.error, 'no reason given');
    return new ManagementError(`router at ${this.where} closed ${what}: ${why}`);
  }

  private queryRows(body: unknown, label: string): Entity[] {
    const map = this.attributeMap(body, label);
    const names = map['attributeNames'];
    const results = map['results'];
    if (!Array.isArray(names) || !names.every((name): name is string => typeof name === 'string') || !Array.isArray(results)) {
      throw new ManagementError(`router at ${this.where} sent a malformed ${label} reply: expected attributeNames and results lists`);
    }
    return results.map((row: unknown) => {
      if (!Array.isArray(row)) throw new ManagementError(`router at ${this.where} sent a malformed ${label} reply: a result is not a list`);
      return Object.fromEntries(names.map((name, index) => [name, row[index]]));
    });
  }

  private attributeMap(body: unknown, label: string): Entity {
    if (typeof body !== 'object' || body === null || Array.isArray(body) || Buffer.isBuffer(body)) {
      throw new ManagementError(`router at ${this.where} sent a malformed ${label} reply: the body is not a map`);
    }
    return body as Entity;
  }
}

function applicationProperties(request: ManagementRequest): Record<string, string> {
  const properties: Record<string, string> = { operation: request.operation, type: request.type };
  if (request.name !== undefined) properties['name'] = request.name;
  if (request.identity !== undefined) properties['identity'] = request.identity;
  if (request.entityType !== undefined) properties['entityType'] = request.entityType;
  return properties;
}

const SOCKET_REASONS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'unknown host',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
};

/** A short reason for a socket, TLS or SASL error: `connection refused`, not `connect ECONNREFUSED ...`. */
function reasonOf(error: unknown): string {
  // Node reports a host with several addresses as an AggregateError of per-address errors.
  const first = error instanceof AggregateError && error.errors.length > 0 ? (error.errors[0] as unknown) : error;
  const code = errorCode(error) ?? errorCode(first);
  if (code !== undefined && SOCKET_REASONS[code]) return SOCKET_REASONS[code];
  if (first instanceof Error && first.message) return first.message;
  return String(first);
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}

/** An AMQP error (connection close, detach, rejected outcome) in one line. */
function describeAmqpError(error: unknown, fallback: string): string {
  if (typeof error !== 'object' || error === null) return fallback;
  const description = 'description' in error && typeof error.description === 'string' ? error.description : undefined;
  const condition = 'condition' in error && typeof error.condition === 'string' ? error.condition : undefined;
  if (description && condition) return `${description} (${condition})`;
  if (error instanceof Error && error.message) return error.message;
  return description ?? condition ?? fallback;
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}
