// Rate limits of one service address at the router that dials its backends
// (kskup's tcpConnector attributes maxFlows, flowsPerSecond, flowBurst,
// bandwidth, flowQueue, flowQueueTimeoutMs: docs/router-config.md,
// docs/traffic.md). Pure bookkeeping over an injected clock: the TCP adaptor
// asks admit() before it dials a backend and tells release() when the flow
// ends; TcpFlow takes bytes from the ByteBuckets before it writes to or reads
// from the backend socket. Imports nothing of the adaptor.
//
// - Concurrency: at most maxFlows admitted flows open at once.
// - Rate: a token bucket of flowBurst tokens refilled at flowsPerSecond; a
//   new flow takes one.
// - Over either, a new flow waits in a FIFO queue of at most flowQueue flows
//   for at most flowQueueTimeoutMs ms, and is then refused; a full queue refuses
//   at once. A flow never overtakes one that waits (no starvation).
// - Bandwidth: one byte bucket per direction shared by every flow of the
//   address (ByteBucket), so the sum over flows is bounded, not each flow.
import type { FlowLimits } from '../config/types.js';

/** Time and timers, injected so tests run on a fake clock. */
export interface LimiterClock {
  /** Milliseconds, monotonic enough for rates (Date.now in the router). */
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const SYSTEM_CLOCK: LimiterClock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** One address's limits, as the tcpConnector attributes give them (router/config/types.ts); an absent one does not limit. */
export type { FlowLimits };

/**
 * Waiting flows per address by default: a burst of clients (a pool that
 * reconnects at once) waits rather than fails, while the queue's memory stays
 * small (a waiting flow holds its two links and, on a reused link pair, at most
 * one credit window of bytes).
 */
export const DEFAULT_FLOW_QUEUE = 100;
/** How long a flow waits by default (ms): under the 10 s a router gives a backend to connect, so a client sees a refusal before a dial would time out. */
export const DEFAULT_FLOW_QUEUE_TIMEOUT_MS = 5_000;

/** Whether any limit is set (the queue's size and timeout alone limit nothing). */
export function hasLimits(limits: FlowLimits): boolean {
  return limits.maxFlows !== undefined || limits.flowsPerSecond !== undefined || limits.bandwidth !== undefined;
}

/** The detach condition of a flow refused by a limit (a kskup condition, like kskup:policy-denied). */
export const RATE_LIMITED = 'kskup:rate-limited';

/** A flow that asked to be admitted: cancel() takes it out of the queue (its client went away). */
export interface Admission {
  cancel(): void;
}

interface Waiter {
  readonly admit: () => void;
  readonly refuse: (reason: string) => void;
  readonly since: number;
  timer: unknown;
}

export class FlowLimiter {
  private limits: FlowLimits = {};
  private tokens = 0;
  private lastRefill: number;
  private readonly queue: Waiter[] = [];
  private refillTimer: unknown;
  /** Flows admitted and not yet released. */
  open = 0;
  /** Flows refused since the limiter was made (queue full or waited too long). */
  refused = 0;
  /** The byte buckets, client -> backend (`toBackend`) and backend -> client (`fromBackend`); undefined without a bandwidth. */
  toBackend: ByteBucket | undefined;
  fromBackend: ByteBucket | undefined;

  constructor(
    limits: FlowLimits,
    private readonly clock: LimiterClock = SYSTEM_CLOCK,
  ) {
    this.lastRefill = clock.now();
    this.setLimits(limits);
    // A new limiter starts with a full bucket: its first burst is served at once.
    this.tokens = this.burst();
  }

  /** New limits (a config change): counts and the queue carry over; the queue is looked at again. */
  setLimits(limits: FlowLimits): void {
    this.refill();
    this.limits = limits;
    this.tokens = Math.min(this.tokens, this.burst());
    if (limits.bandwidth === undefined) this.toBackend = this.fromBackend = undefined;
    else if (this.toBackend) {
      this.toBackend.setRate(limits.bandwidth);
      this.fromBackend!.setRate(limits.bandwidth);
    } else {
      this.toBackend = new ByteBucket(limits.bandwidth, this.clock);
      this.fromBackend = new ByteBucket(limits.bandwidth, this.clock);
    }
    this.serveQueue();
  }

  /** Flows waiting now. */
  get waiting(): number {
    return this.queue.length;
  }

  /**
   * Admits a new flow now (calls `admit` synchronously), queues it, or refuses
   * it (calls `refuse` with why, synchronously when the queue is full, later
   * when it waited flowQueueTimeoutMs ms). Exactly one of the two is called,
   * unless the admission is cancelled first.
   */
  admit(admit: () => void, refuse: (reason: string) => void): Admission {
    this.refill();
    if (this.queue.length === 0 && this.canStart()) {
      this.start();
      admit();
      return { cancel: () => undefined };
    }
    const size = this.limits.flowQueue ?? DEFAULT_FLOW_QUEUE;
    if (this.queue.length >= size) {
      this.refused++;
      refuse(`${this.overWhat()}, and the queue of ${size} waiting flow(s) is full`);
      return { cancel: () => undefined };
    }
    const timeout = this.limits.flowQueueTimeoutMs ?? DEFAULT_FLOW_QUEUE_TIMEOUT_MS;
    const waiter: Waiter = { admit, refuse, since: this.clock.now(), timer: undefined };
    waiter.timer = this.clock.setTimeout(() => {
      if (!this.remove(waiter)) return;
      this.refused++;
      refuse(`${this.overWhat()}: waited ${timeout} ms in the queue`);
    }, timeout);
    this.queue.push(waiter);
    this.serveQueue();
    return {
      cancel: () => {
        if (this.remove(waiter)) this.clock.clearTimeout(waiter.timer);
      },
    };
  }

  /** An admitted flow ended: its place goes to the next waiting one. */
  release(): void {
    this.open = Math.max(0, this.open - 1);
    this.serveQueue();
  }

  /** Drops every timer; waiting flows are refused (the router stops, or the address has no limits any more: then admitted). */
  stop(admitWaiting: boolean): void {
    if (this.refillTimer !== undefined) this.clock.clearTimeout(this.refillTimer);
    this.refillTimer = undefined;
    for (const waiter of this.queue.splice(0)) {
      this.clock.clearTimeout(waiter.timer);
      if (admitWaiting) waiter.admit();
      else waiter.refuse('the router is stopping');
    }
  }

  private burst(): number {
    const { flowsPerSecond, flowBurst } = this.limits;
    if (flowsPerSecond === undefined) return Infinity;
    return flowBurst ?? Math.max(1, Math.ceil(flowsPerSecond));
  }

  private refill(): void {
    const now = this.clock.now();
    const rate = this.limits.flowsPerSecond;
    if (rate !== undefined) this.tokens = Math.min(this.burst(), this.tokens + ((now - this.lastRefill) * rate) / 1000);
    this.lastRefill = now;
  }

  private canStart(): boolean {
    const { maxFlows, flowsPerSecond } = this.limits;
    if (maxFlows !== undefined && this.open >= maxFlows) return false;
    return flowsPerSecond === undefined || this.tokens >= 1;
  }

  private start(): void {
    if (this.limits.flowsPerSecond !== undefined) this.tokens -= 1;
    this.open++;
  }

  private serveQueue(): void {
    this.refill();
    while (this.queue.length > 0 && this.canStart()) {
      const waiter = this.queue.shift()!;
      this.clock.clearTimeout(waiter.timer);
      this.start();
      waiter.admit();
    }
    // Waiting for a token (not for a flow to end, which release() reports): wake when the next one is there.
    const rate = this.limits.flowsPerSecond;
    if (this.queue.length > 0 && rate !== undefined && this.tokens < 1 && this.refillTimer === undefined) {
      const ms = Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / rate));
      this.refillTimer = this.clock.setTimeout(() => {
        this.refillTimer = undefined;
        this.serveQueue();
      }, ms);
    }
  }

  private remove(waiter: Waiter): boolean {
    const index = this.queue.indexOf(waiter);
    if (index < 0) return false;
    this.queue.splice(index, 1);
    return true;
  }

  private overWhat(): string {
    const { maxFlows, flowsPerSecond } = this.limits;
    if (maxFlows !== undefined && this.open >= maxFlows) return `rate limit: ${this.open} flow(s) open, at maxFlows ${maxFlows}`;
    if (flowsPerSecond !== undefined) return `rate limit: over ${flowsPerSecond} new flow(s) per second (burst ${this.burst()})`;
    return 'rate limit';
  }
}

/**
 * Bandwidth in one direction, shared by the flows of an address: a byte
 * bucket that may go into debt. A flow takes what it moves (a socket read, a
 * message to write), and when the balance is below zero it waits the ms
 * take() returns before it moves more: the long-run rate is the bucket's rate
 * however large each piece is, and no byte is ever dropped. The bucket holds
 * at most a tenth of a second's worth, so an idle spell buys a short burst only.
 */
export class ByteBucket {
  private balance: number;
  private last: number;

  constructor(
    private rate: number,
    private readonly clock: LimiterClock = SYSTEM_CLOCK,
  ) {
    this.last = clock.now();
    this.balance = this.capacity();
  }

  setRate(rate: number): void {
    this.refill();
    this.rate = rate;
    this.balance = Math.min(this.balance, this.capacity());
  }

  /** Takes `bytes`; returns how many ms to wait before moving more (0: go on). */
  take(bytes: number): number {
    this.refill();
    this.balance -= bytes;
    return this.delay();
  }

  /** Ms until the balance is back to zero (0 when it is not below). */
  delay(): number {
    this.refill();
    return this.balance >= 0 ? 0 : Math.ceil((-this.balance * 1000) / this.rate);
  }

  private capacity(): number {
    return this.rate / 10;
  }

  private refill(): void {
    const now = this.clock.now();
    this.balance = Math.min(this.capacity(), this.balance + ((now - this.last) * this.rate) / 1000);
    this.last = now;
  }
}
