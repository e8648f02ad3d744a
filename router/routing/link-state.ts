// The link-state database: the newest advertisement (LSA) each router has
// flooded, plus this router's own. Pure bookkeeping: the runtime receives ads,
// calls accept() and re-floods those reported 'newer'; it calls expire() on its
// own clock to forget routers that went silent, and exchanges summary() with a
// neighbour on connect so each side can send the other what it lacks
// (missingFrom). Time is always passed in, so there are no timers here.

export type RouterMode = 'interior' | 'edge';

export interface LinkStateAd {
  readonly origin: string; // router id
  readonly epoch: number; // changes when the router restarts (e.g. its start time in ms)
  readonly seq: number; // increases with each change within an epoch
  readonly mode: RouterMode;
  readonly neighbours: Readonly<Record<string, number>>; // neighbour router id -> link cost (>= 1)
  readonly addresses: readonly string[]; // addresses with consumers (tcpConnectors, receivers) at this router
  readonly site?: string; // the name of the site the router belongs to (from its router metadata), for flow records and metrics
  // kskup: address -> the sum of the weights of this router's tcpConnectors for it, for addresses whose connectors
  // carry a weight (docs/traffic.md); an address not listed here is not weighted at this router.
  readonly weights?: Readonly<Record<string, number>>;
  // kskup: the edge routers whose uplink this router is (router id -> what each serves), so that routers elsewhere
  // can choose among them by weight and count flows per edge site. Present only with `local`; `addresses` and
  // `weights` stay the totals through this router (its own and its edges'), as routers that predate these fields read them.
  readonly edges?: Readonly<Record<string, Served & { readonly site?: string }>>;
  // kskup: what this router serves itself, when `edges` is present.
  readonly local?: Served;
}

/** Addresses served at one router, and their weights (as LinkStateAd.addresses and weights). */
export interface Served {
  readonly addresses: readonly string[];
  readonly weights?: Readonly<Record<string, number>>;
}

/** Which version of a router's ad: a higher epoch always wins, else a higher seq. */
export interface AdVersion {
  readonly epoch: number;
  readonly seq: number;
}

/** How an incoming ad compares with what we hold; only 'newer' ones are re-flooded. */
export type AcceptResult = 'newer' | 'same' | 'older';

/** origin -> version of the ad held for it; what two routers exchange on connect. */
export type LinkStateSummary = Readonly<Record<string, AdVersion>>;

/** Negative when a is older than b, 0 when the same version, positive when newer. */
export function compareVersions(a: AdVersion, b: AdVersion): number {
  // The epoch comes first: a restarted router starts its seq again from scratch,
  // and its new ads must still replace those of its previous life.
  if (a.epoch !== b.epoch) return a.epoch < b.epoch ? -1 : 1;
  if (a.seq !== b.seq) return a.seq < b.seq ? -1 : 1;
  return 0;
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Whether a decoded message body has the shape of an ad, so the runtime can
 * drop garbage before it reaches the database (NaN versions would otherwise
 * compare as newer than anything, and costs below 1 would break Dijkstra).
 */
export function isLinkStateAd(value: unknown): value is LinkStateAd {
  if (!isRecord(value)) return false;
  const { origin, epoch, seq, mode, neighbours, addresses } = value;
  return (
    typeof origin === 'string' &&
    origin !== '' &&
    isFiniteNumber(epoch) &&
    isFiniteNumber(seq) &&
    (mode === 'interior' || mode === 'edge') &&
    isRecord(neighbours) &&
    Object.values(neighbours).every((cost) => isFiniteNumber(cost) && cost >= 1) &&
    Array.isArray(addresses) &&
    addresses.every((address) => typeof address === 'string') &&
    (value.site === undefined || typeof value.site === 'string') &&
    isWeights(value.weights) &&
    (value.local === undefined || isServed(value.local)) &&
    (value.edges === undefined ||
      (isRecord(value.edges) && Object.values(value.edges).every((edge) => isServed(edge) && (edge.site === undefined || typeof edge.site === 'string'))))
  );
}

function isWeights(value: unknown): boolean {
  return value === undefined || (isRecord(value) && Object.values(value).every((weight) => isFiniteNumber(weight) && weight >= 0));
}

function isServed(value: unknown): value is Served & Record<string, unknown> {
  return isRecord(value) && Array.isArray(value.addresses) && value.addresses.every((address) => typeof address === 'string') && isWeights(value.weights);
}

function versionOf(ad: LinkStateAd): AdVersion {
  return { epoch: ad.epoch, seq: ad.seq };
}

/** The version a summary holds for origin; own properties only, so an origin named "toString" is safe. */
function versionIn(summary: LinkStateSummary, origin: string): AdVersion | undefined {
  return Object.hasOwn(summary, origin) ? summary[origin] : undefined;
}

interface HeldAd {
  readonly ad: LinkStateAd;
  /** When the ad was last accepted as newer or same: what expiry measures from. */
  refreshedAt: number;
}

export class LinkStateDatabase {
  readonly selfId: string;
  /** Ours is kept apart: it is set by us, never expires and is never replaced by a flooded copy. */
  private ownAd: LinkStateAd | undefined;
  private readonly others = new Map<string, HeldAd>();

  constructor(selfId: string) {
    this.selfId = selfId;
  }

  /** Sets this router's own ad (the runtime bumps seq whenever its links or addresses change). */
  own(ad: LinkStateAd): void {
    if (ad.origin !== this.selfId) {
      throw new Error(`own ad must originate at ${this.selfId}, not ${ad.origin}`);
    }
    this.ownAd = ad;
  }

  /**
   * Takes an ad received from the network if it is newer than the one held for
   * its origin; 'same' refreshes the held ad's age (a periodic re-flood keeps a
   * quiet router alive). An ad claiming to be ours is never stored, since ours
   * is authoritative: it is 'same' when it matches our version and 'older'
   * otherwise, so the runtime never re-floods a stale copy of us from before a
   * restart.
   */
  accept(ad: LinkStateAd, now: number): AcceptResult {
    if (ad.origin === this.selfId) return this.judgeCopyOfOwn(ad);
    const held = this.others.get(ad.origin);
    if (held === undefined || compareVersions(ad, held.ad) > 0) {
      this.others.set(ad.origin, { ad, refreshedAt: now });
      return 'newer';
    }
    if (compareVersions(ad, held.ad) < 0) return 'older';
    held.refreshedAt = now;
    return 'same';
  }

  private judgeCopyOfOwn(ad: LinkStateAd): AcceptResult {
    const matchesOurs = this.ownAd !== undefined && compareVersions(ad, this.ownAd) === 0;
    return matchesOurs ? 'same' : 'older';
  }

  /**
   * Forgets the ads of other routers not refreshed for more than maxAgeMs
   * (an ad exactly maxAgeMs old is kept); returns their origins, sorted.
   */
  expire(now: number, maxAgeMs: number): string[] {
    const expired: string[] = [];
    for (const [origin, held] of this.others) {
      if (now - held.refreshedAt > maxAgeMs) expired.push(origin);
    }
    for (const origin of expired) this.others.delete(origin);
    return expired.sort();
  }

  get(origin: string): LinkStateAd | undefined {
    if (origin === this.selfId) return this.ownAd;
    return this.others.get(origin)?.ad;
  }

  /** Every ad held, our own first when set. */
  all(): LinkStateAd[] {
    const othersAds = [...this.others.values()].map((held) => held.ad);
    return this.ownAd === undefined ? othersAds : [this.ownAd, ...othersAds];
  }

  /** Drops another router's ad (e.g. the runtime learned it is gone); our own can only be replaced, via own(). */
  remove(origin: string): boolean {
    return this.others.delete(origin);
  }

  /** origin -> version for every ad held, our own included. */
  summary(): Record<string, AdVersion> {
    // fromEntries defines own properties, so even an origin named "__proto__" is kept as data.
    return Object.fromEntries(this.all().map((ad) => [ad.origin, versionOf(ad)]));
  }

  /** The ads we hold that a neighbour's summary lacks or has in an older version: what to send it. */
  missingFrom(summary: LinkStateSummary): LinkStateAd[] {
    return this.all().filter((ad) => {
      const theirs = versionIn(summary, ad.origin);
      return theirs === undefined || compareVersions(theirs, ad) < 0;
    });
  }
}
