// A controller's work queue (client-go's workqueue, reduced): keys are
// coalesced while waiting, one key is handled at a time, and a key added while
// it is being handled is handled again afterwards. A failed handler is
// reported and retried after a delay, so one bad object never stops the loop.

export class WorkQueue {
  private readonly pending = new Set<string>();
  private running = false;
  private stopped = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly handle: (key: string) => Promise<void>,
    private readonly onError: (key: string, err: unknown) => void,
    private readonly retryMs = 200,
  ) {}

  add(key: string): void {
    if (this.stopped) return;
    this.pending.add(key);
    if (!this.running) void this.drain();
  }

  /** Adds the key after `ms` (a requeue: a status that depends on time, a retry). */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.add(key);
    }, ms);
    this.timers.add(t);
  }

  /** Resolves when nothing is pending or running. */
  idle(): Promise<void> {
    if (!this.running && this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    this.pending.clear();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.pending.size > 0 && !this.stopped) {
      const key = this.pending.values().next().value as string;
      this.pending.delete(key);
      try {
        await this.handle(key);
      } catch (err) {
        this.onError(key, err);
        this.addAfter(key, this.retryMs);
      }
    }
    this.running = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

/**
 * A controller over one WorkQueue: a subclass adds keys from its watch and
 * handles them in sync(); idle() and stop() are the same for all of them.
 */
export abstract class QueuedController {
  protected readonly queue: WorkQueue;
  /** Set by the subclass once it watches what it follows. */
  protected unwatch: () => void = () => undefined;

  /** `what`: the kind of key, for errors (`Deployment ns/name`). */
  constructor(what: string, onError: (what: string, err: unknown) => void) {
    this.queue = new WorkQueue((key) => this.sync(key), (key, err) => onError(`${what} ${key}`, err));
  }

  protected abstract sync(key: string): Promise<void>;

  idle(): Promise<void> {
    return this.queue.idle();
  }

  stop(): void {
    this.unwatch();
    this.queue.stop();
  }
}
