// Bytes carried over each inter-router and edge link, per peer router, for
// the whole life of this router: the live connections' counters plus those of
// connections that closed (a link that drops and redials keeps counting on).
// The flow query's replies carry them (docs/flows.md), so that one site can
// tell the traffic rate of every link in the network from two replies.

/** A peer connection's counters (PeerConnection): AMQP bytes, before TLS. */
export interface CountedPeer {
  readonly remoteId: string | undefined;
  readonly octetsOut: number;
  readonly octetsIn: number;
}

/** One peer router's link totals: bytes this router sent it and received from it. */
export interface LinkOctetsRow {
  readonly peerRouter: string;
  readonly octetsOut: number;
  readonly octetsIn: number;
}

export class LinkOctets {
  readonly #live = new Set<CountedPeer>();
  /** Totals of closed connections, by peer router id. */
  readonly #closed = new Map<string, { octetsOut: number; octetsIn: number }>();

  /** A peer connection was made: counted from now on, while it lives. */
  track(peer: CountedPeer): void {
    this.#live.add(peer);
  }

  /** Its socket closed: its counts move to the peer router's closed totals. A connection that never learnt its peer's id carried no link. */
  retire(peer: CountedPeer): void {
    if (!this.#live.delete(peer) || peer.remoteId === undefined) return;
    const closed = this.#closed.get(peer.remoteId) ?? { octetsOut: 0, octetsIn: 0 };
    closed.octetsOut += peer.octetsOut;
    closed.octetsIn += peer.octetsIn;
    this.#closed.set(peer.remoteId, closed);
  }

  /** One row per peer router ever linked, sorted by its id. */
  rows(): LinkOctetsRow[] {
    const sums = new Map<string, { octetsOut: number; octetsIn: number }>();
    for (const [id, closed] of this.#closed) sums.set(id, { ...closed });
    for (const peer of this.#live) {
      if (peer.remoteId === undefined) continue;
      const sum = sums.get(peer.remoteId) ?? { octetsOut: 0, octetsIn: 0 };
      sum.octetsOut += peer.octetsOut;
      sum.octetsIn += peer.octetsIn;
      sums.set(peer.remoteId, sum);
    }
    return [...sums].sort(([a], [b]) => a.localeCompare(b)).map(([peerRouter, sum]) => ({ peerRouter, ...sum }));
  }
}
