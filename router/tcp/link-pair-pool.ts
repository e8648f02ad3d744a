// Link pairs that a finished flow left attached (flow-protocol.ts,
// REUSE_PROPERTY), kept at the listener side for the next flow to the same
// router and address over the same connection. Bounded: at most
// MAX_IDLE_PAIRS per key, and a pair idle for IDLE_PAIR_MS is detached, so a
// burst of clients leaves no lasting cost on either router.
import type { Receiver, Sender } from 'rhea';
import type { PeerConnection } from '../peer/peer-connection.js';

/** A flow's links as the side that holds them sees them: `sender` carries this side's bytes, `receiver` brings the far side's. */
export interface LinkPair {
  readonly sender: Sender;
  readonly receiver: Receiver;
}

interface IdlePair extends LinkPair {
  readonly since: number;
}

/** Idle pairs kept per connection, destination router and address; more are detached. */
export const MAX_IDLE_PAIRS = 16;
/** How long an idle pair is kept (ms). */
export const IDLE_PAIR_MS = 30_000;

export class LinkPairPool {
  private readonly pairs = new Map<PeerConnection, Map<string, IdlePair[]>>();
  private sweeper: NodeJS.Timeout | undefined;

  /** The most recently released pair still attached, or undefined. */
  take(peer: PeerConnection, destination: string, address: string): LinkPair | undefined {
    const byKey = this.pairs.get(peer);
    const list = byKey?.get(poolKey(destination, address));
    while (list && list.length > 0) {
      const pair = list.pop()!;
      if (isUsable(pair)) return pair;
      detach(pair);
    }
    return undefined;
  }

  put(peer: PeerConnection, destination: string, address: string, pair: LinkPair): void {
    if (!isUsable(pair)) return detach(pair);
    let byKey = this.pairs.get(peer);
    if (!byKey) this.pairs.set(peer, (byKey = new Map()));
    const key = poolKey(destination, address);
    let list = byKey.get(key);
    if (!list) byKey.set(key, (list = []));
    if (list.length >= MAX_IDLE_PAIRS) return detach(pair);
    list.push({ ...pair, since: Date.now() });
    this.sweeper ??= setInterval(() => this.sweep(), IDLE_PAIR_MS / 3).unref();
  }

  /** Detaches pairs idle too long, and forgets pairs whose connection went away. */
  sweep(now = Date.now()): void {
    for (const [peer, byKey] of this.pairs) {
      for (const [key, list] of byKey) {
        const kept = list.filter((pair) => {
          const keep = isUsable(pair) && now - pair.since < IDLE_PAIR_MS;
          if (!keep) detach(pair);
          return keep;
        });
        if (kept.length > 0) byKey.set(key, kept);
        else byKey.delete(key);
      }
      if (byKey.size === 0) this.pairs.delete(peer);
    }
    if (this.pairs.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  /** Idle pairs held now, for management and tests. */
  size(): number {
    let count = 0;
    for (const byKey of this.pairs.values()) for (const list of byKey.values()) count += list.length;
    return count;
  }

  stop(): void {
    for (const byKey of this.pairs.values()) for (const list of byKey.values()) list.forEach(detach);
    this.pairs.clear();
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}

function poolKey(destination: string, address: string): string {
  return `${destination}\u0000${address}`;
}

function isUsable(pair: LinkPair): boolean {
  return pair.sender.is_open() && pair.receiver.is_open() && !pair.sender.is_closed() && !pair.receiver.is_closed();
}

function detach(pair: LinkPair): void {
  if (!pair.sender.is_closed()) pair.sender.close();
  if (!pair.receiver.is_closed()) pair.receiver.close();
}
