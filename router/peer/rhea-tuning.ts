// Changes to rhea's internals, made once at start-up, for the number of links
// TCP flows open, and for robustness against peers and pauses. Written for rhea
// 3.0.5 (pinned in package.json; test/rhea-version.test.ts fails on another).
// Each change keeps the bytes on the wire identical. How frames are written on
// inter-router connections is not a patch: see amqp/frame-output.ts.
import { createRequire } from 'node:module';
import { type IncomingCounters, takeDataTransfer } from './data-transfers.js';
import { installDecodeLimits } from './decode-limits.js';
import { installTransferReader } from './transfer-reader.js';
import { installInputLimits } from './unreadable-input.js';
import { installSaslPipelining } from './sasl-pipelining.js';

interface LinkFrames {
  attach(fields: Record<string, unknown>): Record<string, unknown>;
  detach(fields: Record<string, unknown>): Record<string, unknown>;
}

type Method = (this: LinkInternals, ...args: unknown[]) => unknown;
interface LinkInternals {
  name: string;
  session: SessionInternals;
  _process(): void;
}
interface SessionInternals {
  links: Record<string, LinkInternals>;
  state: { need_open(): boolean; need_close(): boolean; has_settled(): boolean };
  local: { begin: unknown; end: unknown };
  outgoing: { deliveries: { available(): number }; process(): void };
  incoming: { process(session: SessionInternals): void };
  output(frame: unknown): void;
  each_sender(action: (sender: unknown) => void, filter: (sender: unknown) => boolean): void;
  /** Links that may have frames to write (attach, flow, detach): the only ones _process visits. */
  kskupPending?: Set<LinkInternals>;
}
interface LinkModule {
  Sender: { prototype: Record<string, Method> };
  Receiver: { prototype: Record<string, Method> };
}

/** The rhea release these changes and amqp/frame-output.ts are written for (package.json pins it). */
export const RHEA_VERSION = '3.0.5';

let applied = false;

/**
 * Applies the changes below, once per process. Throws if the rhea installed is
 * not RHEA_VERSION: the changes reach into its internals, and on another
 * release they could put wrong bytes on the wire rather than fail.
 */
export function tuneRhea(): void {
  if (applied) return;
  const require = createRequire(import.meta.url);
  const installed = (require('rhea/package.json') as { version: string }).version;
  if (installed !== RHEA_VERSION) {
    throw new Error(`kskup's router is written for rhea ${RHEA_VERSION} (its frame output and router/peer/rhea-tuning.ts use rhea's internals); rhea ${installed} is installed: run npm ci`);
  }
  applied = true;
  const links = require('rhea/lib/link.js') as LinkModule;
  processOnlyPendingLinks(links, require('rhea/lib/session.js') as { prototype: Record<string, unknown> });
  shareLinkAccessors(links, require('rhea/lib/frames.js') as LinkFrames, require('rhea/lib/endpoint.js') as new () => unknown);
  shareLinkOptionsPrototype(require('rhea/lib/session.js') as { prototype: Record<string, unknown> }, require('rhea/lib/util.js') as { generate_uuid(): string });
  dropTransfersOnDetachedLinks(require('rhea/lib/session.js') as { prototype: Record<string, unknown> });
  forgetRemoteHandlesOfRemovedLinks(require('rhea/lib/session.js') as { prototype: Record<string, unknown> });
  installTransferReader(require('rhea/lib/frames.js') as Parameters<typeof installTransferReader>[0]);
  readBeforeIdleClose(require('rhea/lib/connection.js') as { prototype: Record<string, unknown> });
  silenceDisabledDebugLogs(require('rhea/lib/log.js') as RheaLog);
  installInputLimits();
  installSaslPipelining();
  installDecodeLimits();
}

/** rhea/lib/log.js: one `debug` logger per category (rhea:frames, rhea:io, ...). */
type RheaLog = Record<string, ((...args: unknown[]) => void) & { enabled?: boolean }>;

/**
 * rhea logs every frame and read through the `debug` package (rhea:frames,
 * rhea:io, ...). A disabled logger still costs a call, a getter and an array
 * for its arguments each time: about 3% of what a router allocates per
 * message (a sampling heap profile of 64-byte round trips), so more frequent
 * young-generation GCs. The categories that are off when the router starts
 * (DEBUG not naming them) are replaced by a no-op; DEBUG=rhea:* still logs.
 */
function silenceDisabledDebugLogs(log: RheaLog): void {
  const off = () => undefined;
  for (const [category, logger] of Object.entries(log)) if (typeof logger === 'function' && logger.enabled !== true) log[category] = off;
}

interface IdleInternals {
  heartbeat_in?: NodeJS.Timeout;
  local: { open: { idle_time_out?: number } };
  idle(): void;
  /** When input last arrived (ms since epoch), stamped by the wrapper below. */
  kskupInputAt?: number;
}

/**
 * rhea closes a connection with amqp:resource-limit-exceeded when its idle
 * timer (twice the local idle-time-out) fires. After this process was paused
 * (SIGSTOP, a suspended VM) or starved of CPU, that timer fires on the first
 * turn of the event loop, before the loop has read what the peer sent in the
 * meantime, so a live peer is closed for our own silence (a site process whose
 * router closed its own service-sync client after a 40 s pause). Here the
 * verdict waits one turn (setImmediate runs after the loop's I/O phase): if
 * anything arrived by then, the peer is alive and the timer starts again.
 */
function readBeforeIdleClose(Connection: { prototype: Record<string, unknown> }): void {
  const prototype = Connection.prototype as unknown as IdleInternals & { input(buffer: Buffer): void };
  const idle = prototype.idle;
  const input = prototype.input;
  prototype.input = function stampedInput(this: IdleInternals & { input(buffer: Buffer): void }, buffer: Buffer) {
    this.kskupInputAt = Date.now();
    input.call(this, buffer);
  };
  prototype.idle = function idleAfterReading(this: IdleInternals) {
    const firedAt = Date.now();
    setImmediate(() => {
      if (this.kskupInputAt === undefined || this.kskupInputAt < firedAt) {
        idle.call(this);
        return;
      }
      // rhea re-arms the timer on a whole frame only: arm it here too, so that a peer that sent half a frame and died is still caught.
      const period = this.local.open.idle_time_out;
      if (!period) return;
      if (this.heartbeat_in) clearTimeout(this.heartbeat_in);
      this.heartbeat_in = setTimeout(() => this.idle(), period * 2);
    });
  };
}

interface HandleInternals {
  remote: { handles: Record<number, unknown> };
}
interface RemovableLink {
  name: string;
  local: { handle: number };
  remote: { handle?: number };
  /** The handle the peer attached this link with (AMQP attach.handle), recorded by the on_attach wrapper below. */
  kskupRemoteHandle?: number;
}

/**
 * rhea 3.0.5 never takes a removed link out of its session's table of the
 * peer's handles: link.on_attach records `frame.handle`, which an attach frame
 * does not have (the handle is `frame.performative.handle`), so remove_link
 * deletes `remote.handles[undefined]`. Every link the peer ever attached stays
 * reachable, with its attach frames and emitter, until the peer happens to
 * reuse its handle number. After 1000 flows opened and closed, each router kept
 * ~2000 dead links (9 MB of a 19 MB heap after a full GC, heap snapshots), and
 * every later full GC marked them. Here on_attach records the peer's handle,
 * and remove_link deletes that entry when it is still this link's: the peer
 * may already have attached a new link under the same number, in the same
 * read as its detach of this one (rhea removes a link a tick after the detach).
 */
function forgetRemoteHandlesOfRemovedLinks(Session: { prototype: Record<string, unknown> }): void {
  const prototype = Session.prototype as unknown as HandleInternals & {
    on_attach(frame: { performative: { handle: number } }): void;
    remove_link(link: RemovableLink): void;
    links: Record<string, unknown>;
  };
  const onAttach = prototype.on_attach;
  const removeLink = prototype.remove_link;
  prototype.on_attach = function recordRemoteHandle(this: typeof prototype, frame: { performative: { handle: number } }) {
    onAttach.call(this, frame);
    const link = this.remote.handles[frame.performative.handle] as RemovableLink | undefined;
    if (link) link.kskupRemoteHandle = frame.performative.handle;
  };
  prototype.remove_link = function removeLinkAndRemoteHandle(this: typeof prototype, link: RemovableLink) {
    removeLink.call(this, link);
    const handle = link.kskupRemoteHandle;
    if (handle !== undefined && this.remote.handles[handle] === link) delete this.remote.handles[handle];
  };
}

/**
 * A transfer that arrives for a link the peer has already detached (or whose
 * handle is gone) makes rhea throw, and the throw closes the whole connection
 * with every flow on it. A late transfer for a dead link carries nothing anyone
 * can use: count the session's transfer id, as the window requires, and drop it.
 */
function dropTransfersOnDetachedLinks(Session: { prototype: Record<string, unknown> }): void {
  Session.prototype.on_transfer = function onTransfer(
    this: {
      remote: { handles: Record<number, (Parameters<typeof takeDataTransfer>[2] & { is_remote_open(): boolean }) | undefined> };
      incoming: IncomingCounters & { on_transfer(frame: unknown, link: unknown): void };
    },
    frame: Parameters<typeof takeDataTransfer>[1] & { performative: { handle: number } },
  ) {
    const link = this.remote.handles[frame.performative.handle];
    if (!link || !link.is_remote_open()) {
      this.incoming.next_transfer_id++;
      return;
    }
    if (takeDataTransfer(this.incoming, frame, link)) return;
    this.incoming.on_transfer(frame, link);
  };
}

/**
 * rhea's session visits every one of its links each time the connection has
 * anything to write, to see whether the link has an attach, flow or detach to
 * send. With a link pair per TCP flow that is O(open flows) work per event:
 * it was the top item of a connections-per-second profile (12% of a router with
 * a few hundred flows open). Here each link is put on its session's pending set
 * by the only methods that give it something to write (open/attach, close/detach,
 * credit and drain changes), and the session visits just those.
 */
function processOnlyPendingLinks(links: LinkModule, Session: { prototype: Record<string, unknown> }): void {
  const markPending = (link: LinkInternals) => {
    const session = link.session;
    (session.kskupPending ??= new Set()).add(link);
  };
  const wrap = (prototype: Record<string, Method>, name: string) => {
    const original = prototype[name]!;
    prototype[name] = function pendingAfter(this: LinkInternals, ...args: unknown[]) {
      const result = original.apply(this, args);
      markPending(this);
      return result;
    };
  };
  const base = Object.getPrototypeOf(links.Sender.prototype) as Record<string, Method>;
  for (const name of ['attach', 'open', 'detach', 'close']) wrap(base, name);
  for (const name of ['flow', 'add_credit', 'drain_credit']) wrap(links.Receiver.prototype, name);
  wrap(links.Sender.prototype, 'set_drained');

  const isSendable = (sender: unknown) => {
    const candidate = sender as { is_open(): boolean; sendable(): boolean };
    return candidate.is_open() && candidate.sendable();
  };
  const notifySendable = (sender: unknown) => (sender as { dispatch(event: string, context: unknown): void; _context(): unknown }).dispatch('sendable', (sender as { _context(): unknown })._context());
  // Session._process as rhea writes it, but for the loop over links.
  Session.prototype._process = function processPendingLinks(this: SessionInternals) {
    do {
      if (this.state.need_open()) this.output(this.local.begin);
      const wasBlocked = this.outgoing.deliveries.available() === 0;
      this.outgoing.process();
      if (wasBlocked && this.outgoing.deliveries.available()) this.each_sender(notifySendable, isSendable);
      this.incoming.process(this);
      const pending = this.kskupPending;
      if (pending && pending.size > 0) {
        const visit = [...pending];
        pending.clear();
        for (const link of visit) if (this.links[link.name] === link) link._process();
      }
      if (this.state.need_close()) this.output(this.local.end);
    } while (!this.state.has_settled());
  };
}

/** The attach fields rhea lets a link's options override, and the shortcuts it reads from the peer's attach. */
const INTERNAL_ATTACH_FIELDS = new Set(['name', 'handle', 'role', 'initial_delivery_count']);
const REMOTE_ATTACH_SHORTCUTS = ['snd_settle_mode', 'rcv_settle_mode', 'source', 'target', 'max_message_size', 'offered_capabilities', 'desired_capabilities', 'properties'];

/**
 * rhea's link.init defines nine getters on every link object with
 * Object.defineProperty and fresh closures, so V8 gives every link its own
 * hidden class and descriptor array: about 2.5 KiB of shapes per link pair,
 * with two pairs per open TCP flow (heap snapshot with 1000 idle flows). The
 * same getters are defined once on the shared prototype here, and init does
 * everything else rhea's does.
 */
function shareLinkAccessors(links: LinkModule, frames: LinkFrames, EndpointState: new () => unknown): void {
  const base = Object.getPrototypeOf(links.Sender.prototype) as Record<string, unknown>;
  for (const name of REMOTE_ATTACH_SHORTCUTS) {
    Object.defineProperty(base, name, {
      get(this: { remote: { attach?: Record<string, unknown> } }) {
        return this.remote.attach ? this.remote.attach[name] : undefined;
      },
      configurable: true,
    });
  }
  Object.defineProperty(base, 'error', {
    get(this: { remote: { detach?: { error?: unknown } } }) {
      return this.remote.detach ? this.remote.detach.error : undefined;
    },
    configurable: true,
  });
  const EventEmitter = Object.getPrototypeOf(base).constructor as new () => unknown;
  base.init = function init(this: Record<string, unknown>, session: { connection: unknown }, name: string, localHandle: number, options: Record<string, unknown> | undefined, isReceiver: boolean) {
    this.session = session;
    this.connection = session.connection;
    this.name = name;
    this.options = options === undefined ? {} : options;
    this.state = new EndpointState();
    this.issue_flow = false;
    const attach = frames.attach({ handle: localHandle, name, role: isReceiver });
    for (const field in attach) {
      if (!INTERNAL_ATTACH_FIELDS.has(field) && (this.options as Record<string, unknown>)[field] !== undefined) {
        attach[field] = (this.options as Record<string, unknown>)[field];
      }
    }
    this.local = { handle: localHandle, attach, detach: frames.detach({ handle: localHandle, closed: true }) };
    this.remote = { handle: undefined };
    this.delivery_count = 0;
    this.credit = 0;
    this.observers = new EventEmitter();
  };
}

/** The prototype of the options of links this router attaches when nothing else is configured: empty, never written. */
export const SHARED_LINK_OPTIONS: Readonly<Record<string, never>> = Object.freeze({});

interface AttachingSession {
  get_option(name: string, fallback: unknown): unknown;
  create_sender(name: string, options: Record<string, unknown>): AttachedLink;
  create_receiver(name: string, options: Record<string, unknown>): AttachedLink;
}
interface AttachedLink {
  is_sender(): boolean;
  is_receiver(): boolean;
  set_source(source: unknown): unknown;
  set_target(target: unknown): unknown;
  attach(): void;
}

/**
 * rhea's session.attach_sender/attach_receiver make each link's options an
 * Object.create of the configured sender_options/receiver_options, or of a
 * fresh {} when there are none. A new prototype per link gives every link's
 * options hidden classes of their own: 32 maps per flow at the listener side,
 * 2.7 KB of the 15 KB a flow keeps (heap snapshot, 1000 flows). Here the
 * fallback prototype is one shared, frozen, empty object, and the rest is
 * rhea's attach as written. (Configuring the container's sender_options would
 * not do: rhea also hands that object itself, unwrapped, to every link the
 * peer attaches.)
 */
function shareLinkOptionsPrototype(Session: { prototype: Record<string, unknown> }, util: { generate_uuid(): string }): void {
  const merge = (defaults: Record<string, unknown>, specific: Record<string, unknown>): void => {
    for (const field in specific) {
      if (field === 'properties' && defaults.properties) merge(defaults.properties as Record<string, unknown>, specific.properties as Record<string, unknown>);
      else defaults[field] = specific[field];
    }
  };
  const attach = (session: AttachingSession, sender: boolean, args: unknown): AttachedLink => {
    const remoteTerminus = sender ? 'target' : 'source';
    const configured = session.get_option(sender ? 'sender_options' : 'receiver_options', undefined) as object | undefined;
    const options = Object.create(configured ?? SHARED_LINK_OPTIONS) as Record<string, unknown>;
    if (typeof args === 'string') options[remoteTerminus] = args;
    else if (args) merge(options, args as Record<string, unknown>);
    if (!options.name) options.name = util.generate_uuid();
    const link = sender ? session.create_sender(options.name as string, options) : session.create_receiver(options.name as string, options);
    for (const terminus of ['source', 'target'] as const) {
      if (options[terminus]) {
        if (typeof options[terminus] === 'string') options[terminus] = { address: options[terminus] };
        if (terminus === 'source') link.set_source(options.source);
        else link.set_target(options.target);
      }
    }
    if (link.is_sender() && options.source === undefined) options.source = link.set_source({});
    if (link.is_receiver() && options.target === undefined) options.target = link.set_target({});
    link.attach();
    return link;
  };
  Session.prototype.attach_sender = function attachSender(this: AttachingSession, args: unknown) {
    return attach(this, true, args);
  };
  Session.prototype.attach_receiver = function attachReceiver(this: AttachingSession, args: unknown) {
    return attach(this, false, args);
  };
  // rhea's aliases were bound to the originals when its module loaded.
  Session.prototype.open_sender = Session.prototype.attach_sender;
  Session.prototype.open_receiver = Session.prototype.attach_receiver;
}
