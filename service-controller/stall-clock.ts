// Tells when this process stood still: a periodic timer that fires far later
// than it was due. A process that was stopped (SIGSTOP, a suspended VM) or
// starved of CPU runs its overdue timers on the first turn after, all at once;
// what it measured in wall-clock time meanwhile (how long others were silent)
// measured its own absence, not theirs.

export class StallClock {
  private last: number;

  /** `periodMs`: the timer's period, in ms; `now`: ms since the epoch of its start. */
  constructor(
    private readonly periodMs: number,
    now = Date.now(),
  ) {
    this.last = now;
  }

  /**
   * Call on each tick of the timer. Returns the ms this process stood still
   * beyond the period, when that is more than a whole period (one missed tick
   * is a busy turn, not a stall); else 0.
   */
  tick(now = Date.now()): number {
    const late = now - this.last - this.periodMs;
    this.last = now;
    return late > this.periodMs ? late : 0;
  }
}
