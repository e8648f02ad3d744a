// Weighted choice among the targets of one address: smooth weighted round
// robin, as nginx's upstream module does it. Each pick adds every candidate's
// weight to its running score, takes the highest score and subtracts the sum
// of the weights from it. The choices of every sum-of-weights picks match the
// weights exactly (90/10: 90 and 10 of every 100) and are spread out rather
// than bunched (a 1:1:8 split never sends 8 in a row), so a canary at 10 %
// gets every tenth flow, not a burst. Deterministic: no randomness.
//
// Weight 0 drains a target: it is never picked while one with a weight above 0
// is a candidate. Pure: the callers filter out targets that are unhealthy,
// out of rotation or already tried before they ask.

/** A target's weight when no weight is given for it while others have one (docs/traffic.md). */
export const DEFAULT_WEIGHT = 1;

export interface Weighted {
  /** Stable across picks: the router id, or the tcpConnector's name. */
  readonly key: string;
  /** 0 or more; undefined: not weighted (counts as DEFAULT_WEIGHT when another candidate is). */
  readonly weight?: number;
}

/** Whether any candidate carries a weight: only then does the weighted choice apply (else the caller's least-loaded choice stays). */
export function anyWeighted(candidates: readonly { readonly weight?: number }[]): boolean {
  return candidates.some((candidate) => candidate.weight !== undefined);
}

/** The weight a candidate counts with: its own, or DEFAULT_WEIGHT. Never negative or NaN. */
export function weightOf(candidate: { readonly weight?: number }): number {
  const weight = candidate.weight ?? DEFAULT_WEIGHT;
  return Number.isFinite(weight) && weight > 0 ? weight : 0;
}

/**
 * The running scores of one address's targets. The score of a target that is
 * not a candidate in a pick (drained, tried, out of rotation, gone) is
 * forgotten, so one that comes back starts from 0 and cannot burst with what
 * it saved up.
 */
export class WeightedChoice {
  private scores = new Map<string, number>();

  /** The candidate to use, or undefined when none has a weight above 0. */
  pick<T extends Weighted>(candidates: readonly T[]): T | undefined {
    const live = candidates.filter((candidate) => weightOf(candidate) > 0);
    if (live.length === 0) return undefined;
    const scores = new Map<string, number>();
    let total = 0;
    let best: T | undefined;
    let bestScore = -Infinity;
    for (const candidate of live) {
      const weight = weightOf(candidate);
      total += weight;
      const score = (this.scores.get(candidate.key) ?? 0) + weight;
      scores.set(candidate.key, score);
      // Ties go to the first candidate: callers list targets in a stable order.
      if (score > bestScore) {
        best = candidate;
        bestScore = score;
      }
    }
    scores.set(best!.key, bestScore - total);
    // Only this pick's candidates keep a score: the map stays the size of the target set.
    this.scores = scores;
    return best;
  }
}
