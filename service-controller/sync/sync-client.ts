// The site controller's AMQP client for service sync: one connection to its
// own router's local listener, a sender and a receiver on the multicast sync
// address. Announcements are whole states, so only the latest unsent one
// matters: while there is no credit, a newer one replaces an older one.
//
// The connection is re-made, with backoff, whenever it ends for any reason:
// the socket drops, the router restarts, or the router closes it with an error
// (e.g. amqp:resource-limit-exceeded when its idle timer fired because this
// whole process was paused). Each attempt is a fresh rhea connection rather
// than rhea's own reconnect: rhea does not reconnect after a peer's close with
// an error it counts as fatal, and it re-attaches the old links, which would
// double the receivers each time.
import { setTimeout as sleep } from 'node:timers/promises';
import rhea from 'rhea';
import type { Connection, Container, EventContext, Sender } from 'rhea';
import { clientConnectionOptions } from '../../router/amqp/client-options.js';
import type { Logger } from 'pino';
import { ANNOUNCEMENT_SUBJECT, parseAnnouncement, SYNC_ADDRESS, type SiteAnnouncement } from './announcement.js';

/** Backoff between attempts to reach the router: 100 ms doubling up to 2 s (a local router is back quickly). */
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 2_000;

/**
 * An attempt whose AMQP open has not come back within this time is given up
 * and made again: a connection accepted by a router that is going away (a
 * replica deleted behind its Service) may never answer.
 */
export const OPEN_TIMEOUT_MS = 5_000;

/**
 * The AMQP idle timeout this client asks of the router (ms; the open frame's
 * idle-time-out, AMQP 1.0 part 2.4.5): the router sends a frame at least every
 * half of it, and rhea closes the connection after twice this without one, so
 * a router that vanished without a FIN is noticed within 8 s.
 */
export const IDLE_TIMEOUT_MS = 4_000;

export interface SyncClientOptions {
  /** The router's local AMQP listener: 127.0.0.1 (the default) for a local site, its Service for a cluster site. */
  readonly host?: string;
  readonly port: number;
  /** The local listener's CA and this site's local client certificate (mutual TLS, SASL EXTERNAL); plain AMQP without. */
  readonly tls?: { readonly ca: Buffer; readonly cert: Buffer; readonly key: Buffer };
  readonly containerId: string;
  readonly log: Logger;
  readonly onAnnouncement: (announcement: SiteAnnouncement) => void;
  /** The receiver is attached (again, after a reconnect): a good moment to announce ourselves. */
  readonly onReady: () => void;
  /** The connection was lost: nothing is heard until onReady again. */
  readonly onLost?: () => void;
}

export class SyncClient {
  private readonly container: Container;
  private connection: Connection | undefined;
  private sender: Sender | undefined;
  private pending: SiteAnnouncement | undefined;
  private readonly loggedProblems = new Set<string>();
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** The receiver is attached on the current connection: announcements of other sites reach us. */
  private listening = false;

  constructor(private readonly options: SyncClientOptions) {
    this.container = rhea.create_container({ id: options.containerId });
    // rhea re-emits here what a connection left unhandled; every connection below handles its own, so this is the last guard.
    this.container.on('error', (error: unknown) => this.logOnce(`container:${String(error)}`, `service sync: AMQP error ${String(error)}`));
    this.connect();
  }

  private connect(): void {
    this.retryTimer = undefined;
    if (this.closed) return;
    const connection = this.container.connect(
      clientConnectionOptions({ host: this.options.host ?? '127.0.0.1', port: this.options.port, ...(this.options.tls && { tls: this.options.tls }) }, this.container, {
        reconnect: false,
        idle_time_out: IDLE_TIMEOUT_MS,
      }),
    );
    this.connection = connection;
    let ended = false;
    const openTimer = setTimeout(() => lost(`no AMQP open from the router within ${OPEN_TIMEOUT_MS / 1000} s`), OPEN_TIMEOUT_MS);
    const lost = (reason: string) => {
      if (ended) return;
      ended = true;
      clearTimeout(openTimer);
      const wasListening = this.listening;
      this.listening = false;
      if (wasListening) this.options.onLost?.();
      if (this.connection === connection) {
        this.connection = undefined;
        this.sender = undefined;
      }
      if (!connection.is_closed()) connection.close();
      if (this.closed) return;
      this.logOnce('lost', `service sync lost its router connection (${reason}); reconnecting`);
      const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** this.failures);
      this.failures++;
      this.retryTimer = setTimeout(() => this.connect(), delay);
    };
    connection.on('connection_open', () => {
      clearTimeout(openTimer);
      this.failures = 0;
      this.attach(connection);
    });
    // A close from the router, with an error (connection_error, then connection_close) or without.
    connection.on('connection_error', () => lost(describeClose(connection)));
    connection.on('connection_close', () => lost(describeClose(connection)));
    connection.on('disconnected', (context: EventContext) => lost(String(context.error ?? 'connection closed')));
    connection.on('protocol_error', (error: unknown) => lost(`protocol error: ${String(error)}`));
    connection.on('error', (error: unknown) => lost(String(error)));
    connection.on('message', (context: EventContext) => this.receive(context));
    connection.on('sendable', () => this.flush());
  }

  private attach(connection: Connection): void {
    if (this.loggedProblems.delete('lost')) this.options.log.info('service sync has its router connection again');
    this.loggedProblems.clear();
    this.sender = connection.open_sender({ target: { address: SYNC_ADDRESS }, snd_settle_mode: 1 });
    const receiver = connection.open_receiver({ source: { address: SYNC_ADDRESS }, autoaccept: true, credit_window: 100 });
    receiver.once('receiver_open', () => {
      if (this.connection !== connection) return;
      this.listening = true;
      this.options.onReady();
    });
  }

  private receive(context: EventContext): void {
    const message = context.message;
    if (!message || message.subject !== ANNOUNCEMENT_SUBJECT) return;
    const parsed = parseAnnouncement(message.body);
    if (typeof parsed === 'string') {
      this.logOnce(`bad:${parsed}`, `service sync dropped an announcement that is not valid: ${parsed}`);
      return;
    }
    this.options.onAnnouncement(parsed);
  }

  publish(announcement: SiteAnnouncement): void {
    this.pending = announcement;
    this.flush();
  }

  private flush(): void {
    if (!this.pending || !this.sender?.sendable()) return;
    this.sender.send({ subject: ANNOUNCEMENT_SUBJECT, content_type: 'application/json', body: JSON.stringify(this.pending) });
    this.pending = undefined;
  }

  /** Sends what is pending, waiting at most `ms` for credit: a final announcement should get out before the process ends. */
  async drain(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.pending && Date.now() < deadline) {
      this.flush();
      await sleep(20);
    }
    // Give the socket a moment to write what was sent.
    await sleep(50);
  }

  /** Whether announcements of other sites reach this client now (its receiver is attached). */
  isListening(): boolean {
    return this.listening;
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.connection?.close();
  }

  private logOnce(key: string, message: string): void {
    if (this.loggedProblems.has(key)) return;
    this.loggedProblems.add(key);
    this.options.log.warn(message);
  }
}

function describeClose(connection: Connection): string {
  const error = connection.error as { condition?: string; description?: string } | undefined;
  if (!error) return 'closed by the router';
  return `closed by the router: ${error.condition ?? 'error'}${error.description ? ` (${error.description})` : ''}`;
}
