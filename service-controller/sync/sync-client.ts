// The site controller's AMQP client for service sync: one connection to its
// own router's local listener, a sender and a receiver on the multicast sync
// address. Announcements are whole states, so only the latest unsent one
// matters: while there is no credit, a newer one replaces an older one. The
// connection is re-opened if it drops (rhea's reconnect).
import { setTimeout as sleep } from 'node:timers/promises';
import rhea from 'rhea';
import type { Connection, EventContext, Sender } from 'rhea';
import { clientConnectionOptions } from '../../router/amqp/client-options.js';
import type { Logger } from 'pino';
import { ANNOUNCEMENT_SUBJECT, parseAnnouncement, SYNC_ADDRESS, type SiteAnnouncement } from './announcement.js';

export interface SyncClientOptions {
  /** The router's local AMQP listener: 127.0.0.1 (the default) for a local site, its Service for a cluster site. */
  readonly host?: string;
  readonly port: number;
  /** The local listener's CA and this site's local client certificate (mutual TLS, SASL EXTERNAL); plain AMQP without. */
  readonly tls?: { readonly ca: Buffer; readonly cert: Buffer; readonly key: Buffer };
  readonly containerId: string;
  readonly log: Logger;
  readonly onAnnouncement: (announcement: SiteAnnouncement) => void;
  /** The receiver is attached: a good moment to announce ourselves. */
  readonly onReady: () => void;
}

export class SyncClient {
  private readonly connection: Connection;
  private sender: Sender | undefined;
  private pending: SiteAnnouncement | undefined;
  private readonly loggedProblems = new Set<string>();

  constructor(private readonly options: SyncClientOptions) {
    const container = rhea.create_container({ id: options.containerId });
    this.connection = container.connect(
      clientConnectionOptions({ host: options.host ?? '127.0.0.1', port: options.port, ...(options.tls && { tls: options.tls }) }, container, {
        reconnect: true,
        initial_reconnect_delay: 100,
        max_reconnect_delay: 2_000,
      }),
    );
    this.connection.on('connection_open', () => this.attach());
    this.connection.on('disconnected', (context: EventContext) => {
      this.sender = undefined;
      this.logOnce('disconnected', `service sync lost its router connection (${String(context.error ?? 'closed')}); reconnecting`);
    });
    this.connection.on('message', (context: EventContext) => this.receive(context));
    this.connection.on('sendable', () => this.flush());
  }

  private attach(): void {
    this.loggedProblems.clear();
    this.sender = this.connection.open_sender({ target: { address: SYNC_ADDRESS }, snd_settle_mode: 1 });
    const receiver = this.connection.open_receiver({ source: { address: SYNC_ADDRESS }, autoaccept: true, credit_window: 100 });
    receiver.once('receiver_open', () => this.options.onReady());
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

  close(): void {
    this.connection.close();
  }

  private logOnce(key: string, message: string): void {
    if (this.loggedProblems.has(key)) return;
    this.loggedProblems.add(key);
    this.options.log.warn(message);
  }
}

