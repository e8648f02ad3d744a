// Gathers the console's snapshot every interval, one gather at a time, and
// tells subscribers when it changed. A gather that throws is kept as the
// feed's problem and the last good snapshot stays; the next gather tries again.

export interface FeedState<T> {
  readonly snapshot?: T;
  /** Why the last gather failed; absent after a good one. */
  readonly problem?: string;
}

export class SnapshotFeed<T extends { readonly gatheredAt: string }> {
  #state: FeedState<T> = {};
  #lastKey = '';
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #first: Promise<void>;
  readonly #subscribers = new Set<(state: FeedState<T>) => void>();

  /** Starts gathering at once; `intervalMs` between the end of one gather and the start of the next. */
  constructor(
    private readonly gather: () => Promise<T>,
    private readonly intervalMs: number,
  ) {
    this.#first = this.#tick();
  }

  /** The state after the first gather ended. */
  async ready(): Promise<FeedState<T>> {
    await this.#first;
    return this.#state;
  }

  get state(): FeedState<T> {
    return this.#state;
  }

  /** Calls `listener` on every change (not on gathers that found the same); returns the unsubscribe. */
  subscribe(listener: (state: FeedState<T>) => void): () => void {
    this.#subscribers.add(listener);
    return () => this.#subscribers.delete(listener);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  async #tick(): Promise<void> {
    let next: FeedState<T>;
    try {
      next = { snapshot: await this.gather() };
    } catch (error) {
      next = { ...(this.#state.snapshot !== undefined && { snapshot: this.#state.snapshot }), problem: error instanceof Error ? error.message : String(error) };
    }
    if (this.#stopped) return;
    // The time of the gather alone is no change.
    const key = JSON.stringify({ ...next, snapshot: next.snapshot && { ...next.snapshot, gatheredAt: '' } });
    this.#state = next;
    if (key !== this.#lastKey) {
      this.#lastKey = key;
      for (const listener of this.#subscribers) listener(next);
    }
    this.#timer = setTimeout(() => void this.#tick(), this.intervalMs);
  }
}
