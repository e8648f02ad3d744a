// Route computation over the link-state database: for every router reachable
// from this one, the neighbour to forward through (next hop), the summed path
// cost and the number of links on the path.
//
// Rules:
// - A link is used only if BOTH ends list each other (the two-way check of OSPF
//   and skupper-router), so a half-configured or half-dead link carries nothing.
//   Its cost is the larger of the two advertised costs, so a link has one cost
//   whichever end advertises it. A listed cost that is not a finite number >= 1,
//   or a router listing itself, is ignored.
// - Edge routers are leaves: a path may end at an edge router but never pass
//   through one (an edge router's own routes still start from it, of course).
// - Dijkstra by lowest summed cost. Among equal-cost paths the choice is
//   deterministic, whatever order the ads come in:
//     1. fewer hops,
//     2. then the lexicographically lowest next-hop id,
//     3. then the lexicographically lowest predecessor id (the router just
//        before the destination; not visible in the table, but it fixes the
//        whole path, see computePaths).
//   Ids compare by UTF-16 code units (the < operator), never by locale.
// - Unreachable routers are absent; so is this router itself. Without its own
//   ad this router has no links, so the table is then empty.
// - Given several ads of one origin, the newest (by epoch, then seq) is used.
import { compareVersions, type LinkStateAd, type Served } from './link-state.js';
import { MinHeap } from './min-heap.js';

export interface Route {
  readonly nextHop: string;
  readonly cost: number;
  readonly hops: number;
}

/** Destination router id -> how to reach it; one entry per reachable router other than self. */
export type RouteTable = ReadonlyMap<string, Route>;

export interface Target {
  readonly router: string;
  readonly cost: number;
  /** The router's advertised weight for the address (LinkStateAd.weights); absent: not weighted. */
  readonly weight?: number;
}

/** router id -> neighbour id -> cost, holding only links that passed the two-way check. */
type LinkGraph = ReadonlyMap<string, ReadonlyMap<string, number>>;

/** Dijkstra's label for a router: the best path found so far and what breaks its ties. */
interface PathLabel extends Route {
  readonly previous: string;
}

interface FrontierEntry {
  readonly router: string;
  readonly label: PathLabel;
}

function compareIds(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

/** The documented order: cost, then hops, then next-hop id, then predecessor id. */
function compareLabels(a: PathLabel, b: PathLabel): number {
  return (
    a.cost - b.cost ||
    a.hops - b.hops ||
    compareIds(a.nextHop, b.nextHop) ||
    compareIds(a.previous, b.previous)
  );
}

function compareFrontierEntries(a: FrontierEntry, b: FrontierEntry): number {
  return compareLabels(a.label, b.label) || compareIds(a.router, b.router);
}

function newestByOrigin(ads: Iterable<LinkStateAd>): Map<string, LinkStateAd> {
  const newest = new Map<string, LinkStateAd>();
  for (const ad of ads) {
    const held = newest.get(ad.origin);
    if (held === undefined || compareVersions(ad, held) > 0) newest.set(ad.origin, ad);
  }
  return newest;
}

/** The cost ad gives its link to neighbour, or undefined if it lists none usable. */
function advertisedCost(ad: LinkStateAd, neighbour: string): number | undefined {
  if (neighbour === ad.origin || !Object.hasOwn(ad.neighbours, neighbour)) return undefined;
  const cost = ad.neighbours[neighbour];
  return cost !== undefined && Number.isFinite(cost) && cost >= 1 ? cost : undefined;
}

/** The two-way-checked links of one router, each at the larger of its two advertised costs. */
function confirmedLinks(ad: LinkStateAd, adsByOrigin: ReadonlyMap<string, LinkStateAd>): Map<string, number> {
  const links = new Map<string, number>();
  for (const neighbour of Object.keys(ad.neighbours)) {
    const ourCost = advertisedCost(ad, neighbour);
    const neighbourAd = adsByOrigin.get(neighbour);
    const theirCost = neighbourAd === undefined ? undefined : advertisedCost(neighbourAd, ad.origin);
    if (ourCost !== undefined && theirCost !== undefined) links.set(neighbour, Math.max(ourCost, theirCost));
  }
  return links;
}

function buildGraph(adsByOrigin: ReadonlyMap<string, LinkStateAd>): LinkGraph {
  const graph = new Map<string, Map<string, number>>();
  for (const [origin, ad] of adsByOrigin) graph.set(origin, confirmedLinks(ad, adsByOrigin));
  return graph;
}

/** The label of the path that reaches `to` over one more link from `from` (whose label is fromLabel, or undefined for self). */
function extendPath(from: string, fromLabel: PathLabel | undefined, to: string, linkCost: number): PathLabel {
  if (fromLabel === undefined) return { nextHop: to, cost: linkCost, hops: 1, previous: from };
  return {
    nextHop: fromLabel.nextHop,
    cost: fromLabel.cost + linkCost,
    hops: fromLabel.hops + 1,
    previous: from,
  };
}

/**
 * Dijkstra from selfId with the tie-break order of compareLabels. Since every
 * link adds at least one hop, a settled router's label can never be improved
 * by one settled later, so the tie-breaks are exact, not merely greedy.
 */
function shortestPathTree(selfId: string, ads: Iterable<LinkStateAd>): Map<string, PathLabel> {
  const adsByOrigin = newestByOrigin(ads);
  const graph = buildGraph(adsByOrigin);
  const best = new Map<string, PathLabel>();
  const settled = new Set<string>([selfId]);
  const frontier = new MinHeap<FrontierEntry>(compareFrontierEntries);

  const relaxLinksOf = (router: string, label: PathLabel | undefined): void => {
    for (const [neighbour, linkCost] of graph.get(router) ?? []) {
      if (settled.has(neighbour)) continue;
      const candidate = extendPath(router, label, neighbour, linkCost);
      const current = best.get(neighbour);
      if (current !== undefined && compareLabels(candidate, current) >= 0) continue;
      best.set(neighbour, candidate);
      frontier.push({ router: neighbour, label: candidate });
    }
  };

  relaxLinksOf(selfId, undefined);
  for (let entry = frontier.pop(); entry !== undefined; entry = frontier.pop()) {
    // Entries superseded by a better label stay in the heap; skip them when they surface.
    if (settled.has(entry.router) || best.get(entry.router) !== entry.label) continue;
    settled.add(entry.router);
    const isTransit = adsByOrigin.get(entry.router)?.mode !== 'edge';
    if (isTransit) relaxLinksOf(entry.router, entry.label);
  }
  return best;
}

function sortedById<V>(entries: Iterable<[string, V]>): Map<string, V> {
  return new Map([...entries].sort(([a], [b]) => compareIds(a, b)));
}

/** Next hop, cost and hop count for every router reachable from selfId (see the rules above); iterates in id order. */
export function computeRoutes(selfId: string, ads: Iterable<LinkStateAd>): RouteTable {
  const tree = shortestPathTree(selfId, ads);
  return sortedById(
    [...tree].map(([router, { nextHop, cost, hops }]): [string, Route] => [router, { nextHop, cost, hops }]),
  );
}

/**
 * The full chosen path (selfId first, destination last) to every reachable
 * router: the same choice computeRoutes makes, spelled out for diagnostics.
 */
export function computePaths(selfId: string, ads: Iterable<LinkStateAd>): ReadonlyMap<string, readonly string[]> {
  const tree = shortestPathTree(selfId, ads);
  const pathTo = (destination: string): string[] => {
    const reversed = [destination];
    for (let at = tree.get(destination); at !== undefined; at = tree.get(at.previous)) reversed.push(at.previous);
    return reversed.reverse();
  };
  return sortedById([...tree.keys()].map((router): [string, string[]] => [router, pathTo(router)]));
}

/**
 * The reachable routers that advertise address, nearest first (ties by router
 * id): self at cost 0 when it serves the address itself, others at their route
 * cost. Routers without a route are left out; of several ads of one
 * origin, only the newest counts.
 *
 * With `edges`, an interior router's edge routers that serve the address (its
 * ad's `edges`) are targets of their own, at the interior's cost plus
 * EDGE_HOP_COST and with their own weights, and the interior is one only when
 * it serves the address itself (`local`). Without, the interior stands for its
 * edges, as for messaging, whose interior routers pass messages on to them.
 */
export function targetsFor(
  address: string,
  selfId: string,
  ads: Iterable<LinkStateAd>,
  routes: RouteTable,
  options: { readonly edges?: boolean } = {},
): Target[] {
  const targets = new Map<string, Target>();
  const add = (target: Target) => {
    const known = targets.get(target.router);
    if (!known || target.cost < known.cost) targets.set(target.router, target);
  };
  for (const [router, ad] of newestByOrigin(ads)) {
    const cost = router === selfId ? 0 : routes.get(router)?.cost;
    if (cost === undefined) continue;
    if (!options.edges || ad.edges === undefined) {
      if (ad.addresses.includes(address)) add({ router, cost, ...weightIn(ad, address) });
      continue;
    }
    if (ad.local?.addresses.includes(address)) add({ router, cost, ...weightIn(ad.local, address) });
    for (const [edge, served] of Object.entries(ad.edges)) {
      if (served.addresses.includes(address)) add({ router: edge, cost: cost + EDGE_HOP_COST, ...weightIn(served, address) });
    }
  }
  return [...targets.values()].sort((a, b) => a.cost - b.cost || compareIds(a.router, b.router));
}

/** The cost of the hop from an interior router to an edge router attached to it, when edge routers are targets (targetsFor). */
export const EDGE_HOP_COST = 1;

function weightIn(served: Served, address: string): { weight?: number } {
  return served.weights !== undefined && Object.hasOwn(served.weights, address) ? { weight: served.weights[address]! } : {};
}
