// The rate limits of every address at this router, from its tcpConnectors'
// attributes (maxFlows, flowsPerSecond, flowBurst, bandwidth, flowQueue,
// flowQueueTimeoutMs): one FlowLimiter per address, shared by all the
// address's tcpConnectors here, kept across config changes so that open flows
// and waiting ones are not forgotten when a connector is replaced. Counts
// waiting and refused flows per address for metrics, and logs refusals once
// per address (then at debug), as router/policy/flow-policy.ts does.
import type { TcpConnectorEntity } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import type { AddressCounters } from '../metrics.js';
import { FlowLimiter, hasLimits, RATE_LIMITED, SYSTEM_CLOCK, type Admission, type FlowLimits, type LimiterClock } from './flow-limiter.js';

const LIMIT_ATTRIBUTES = ['maxFlows', 'flowsPerSecond', 'flowBurst', 'bandwidth', 'flowQueue', 'flowQueueTimeoutMs'] as const;

/** The limits of an address from its tcpConnectors: for each attribute the lowest any of them gives (they normally agree: a site controller writes the same on each). */
export function limitsOf(connectors: readonly TcpConnectorEntity[]): FlowLimits {
  const limits: Record<string, number> = {};
  for (const connector of connectors) {
    for (const attribute of LIMIT_ATTRIBUTES) {
      const value = connector[attribute];
      if (value !== undefined) limits[attribute] = Math.min(value, limits[attribute] ?? Infinity);
    }
  }
  return limits as FlowLimits;
}

/** A flow admitted under a limiter: release() once when it ends. */
export interface Admitted {
  readonly limiter: FlowLimiter;
  release(): void;
}

export class RateLimits {
  private readonly limiters = new Map<string, FlowLimiter>();
  private readonly dirty = new Set<string>();
  private readonly logged = new Set<string>();

  constructor(
    private readonly selfId: string,
    private readonly log: Logger,
    private readonly connectorsOf: (address: string) => readonly TcpConnectorEntity[],
    private readonly counters: (address: string) => AddressCounters,
    private readonly clock: LimiterClock = SYSTEM_CLOCK,
  ) {}

  /**
   * The address's tcpConnectors changed. Applied on the next turn, or at the
   * next flow if sooner: a config change replaces a connector by removing and
   * adding it in one go, and the limits must not lapse in between.
   */
  changed(address: string): void {
    if (this.dirty.has(address)) return;
    this.dirty.add(address);
    setImmediate(() => this.sync(address));
  }

  /**
   * Asks to start a flow for `address`: `start` is called with the admission
   * (now, or when the flow's turn comes), or `refuse` with the detach error;
   * undefined when the address has no limits here (start it at once). The
   * returned Admission's cancel() takes a waiting flow out of the queue.
   */
  request(address: string, start: (admitted: Admitted) => void, refuse: (error: { condition: string; description: string }) => void): Admission | undefined {
    // Only a change of the address's tcpConnectors changes its limits: nothing to compute per flow otherwise.
    if (this.dirty.has(address)) this.sync(address);
    const limiter = this.limiters.get(address);
    if (!limiter) return undefined;
    const counters = this.counters(address);
    const admission = limiter.admit(
      () => {
        counters.flowsWaiting = limiter.waiting;
        let released = false;
        start({
          limiter,
          release: () => {
            if (released) return;
            released = true;
            limiter.release();
            counters.flowsWaiting = limiter.waiting;
          },
        });
      },
      (reason) => {
        counters.flowsWaiting = limiter.waiting;
        counters.flowsRateLimited++;
        refuse(this.refusal(address, reason));
      },
    );
    counters.flowsWaiting = limiter.waiting;
    return {
      cancel: () => {
        admission.cancel();
        counters.flowsWaiting = limiter.waiting;
      },
    };
  }

  /** The limiter of an address (its byte buckets), if it has limits. */
  limiter(address: string): FlowLimiter | undefined {
    return this.limiters.get(address);
  }

  /** Refuses every waiting flow and stops the timers: the router is stopping. */
  stop(): void {
    for (const limiter of this.limiters.values()) limiter.stop(false);
  }

  private sync(address: string): void {
    if (!this.dirty.delete(address)) return;
    const limits = limitsOf(this.connectorsOf(address));
    let limiter = this.limiters.get(address);
    if (hasLimits(limits)) {
      if (limiter) limiter.setLimits(limits);
      else this.limiters.set(address, (limiter = new FlowLimiter(limits, this.clock)));
      return;
    }
    if (!limiter) return;
    // No limits any more: whoever waits goes ahead; the limiter stays while flows it admitted are open, so their ends are counted.
    limiter.setLimits({});
    if (limiter.open === 0 && limiter.waiting === 0) {
      limiter.stop(true);
      this.limiters.delete(address);
    }
    this.counters(address).flowsWaiting = limiter.waiting;
  }

  private refusal(address: string, reason: string): { condition: string; description: string } {
    const description = `${reason} for address "${address}" at router ${this.selfId}`;
    const key = `${address}\u0000${reason.replace(/\d+/g, 'N')}`;
    if (this.logged.has(key)) this.log.debug({ address }, `flow refused: ${description}`);
    else {
      this.logged.add(key);
      this.log.warn({ address }, `flow refused: ${description} (further refusals of this kind are logged at debug)`);
    }
    return { condition: RATE_LIMITED, description };
  }
}
