// The traffic rate of each link between two sites, in bytes per second, from
// the link byte counters every router sends in its flow-query reply
// (router/peer/link-octets.ts, docs/flows.md): the difference between two
// gathers over the time between them. Both ends of a link count its bytes;
// the rate of a pair of sites is the larger of what either side's routers
// report, so one side not answering (or older than the counters) still gives it.

/** One router's counters for one neighbour, as gathered (GatheredFlows.links). */
export interface LinkCounterSample {
  readonly router: string;
  readonly site?: string;
  readonly peerRouter: string;
  readonly peerSite?: string;
  /** AMQP bytes sent to and received from the neighbour since the router started. */
  readonly octetsOut: number;
  readonly octetsIn: number;
}

/** A counter not seen for this long (its router gone or silent) is forgotten. */
const FORGET_AFTER_MS = 60_000;

/** The key of an unordered pair of site names. */
export function sitePairKey(a: string, b: string): string {
  return a < b ? `${a}\n${b}` : `${b}\n${a}`;
}

export class LinkRates {
  readonly #last = new Map<string, { readonly octets: number; readonly at: number }>();

  /**
   * Takes the counters gathered at `at` (ms since the epoch) and gives bytes/s
   * (both directions together) per pair of sites (sitePairKey) over the time
   * since each counter was last seen. A pair has no rate until a second gather;
   * a counter that went down (its router restarted) starts afresh. Links inside
   * one site (router replicas) and routers without a site name are left out.
   */
  update(samples: readonly LinkCounterSample[], at: number): Map<string, number> {
    const bySide = new Map<string, number>();
    for (const sample of samples) {
      if (sample.site === undefined || sample.peerSite === undefined || sample.site === sample.peerSite) continue;
      const key = `${sample.router}>${sample.peerRouter}`;
      const octets = sample.octetsOut + sample.octetsIn;
      const last = this.#last.get(key);
      this.#last.set(key, { octets, at });
      if (!last || at <= last.at || octets < last.octets) continue;
      const side = `${sitePairKey(sample.site, sample.peerSite)}\n@${sample.site}`;
      bySide.set(side, (bySide.get(side) ?? 0) + ((octets - last.octets) * 1000) / (at - last.at));
    }
    for (const [key, last] of this.#last) if (at - last.at > FORGET_AFTER_MS) this.#last.delete(key);
    const rates = new Map<string, number>();
    for (const [side, rate] of bySide) {
      const pair = side.slice(0, side.lastIndexOf('\n@'));
      rates.set(pair, Math.max(rates.get(pair) ?? 0, rate));
    }
    return rates;
  }
}
