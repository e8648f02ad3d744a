// The pure routing core: link-state bookkeeping and route computation. Each
// topology is drawn next to its table; a link written A-B:3 is listed by both
// ends at cost 3 (cost 1 when no cost is written).
import { describe, expect, it } from 'vitest';
import {
  computePaths,
  computeRoutes,
  EDGE_HOP_COST,
  isLinkStateAd,
  LinkStateDatabase,
  targetsFor,
  type AdVersion,
  type LinkStateAd,
  type Route,
  type RouterMode,
} from '../router/routing/index.js';

interface AdOptions {
  readonly epoch?: number;
  readonly seq?: number;
  readonly mode?: RouterMode;
  readonly addresses?: readonly string[];
}

function ad(origin: string, neighbours: Record<string, number>, options: AdOptions = {}): LinkStateAd {
  return {
    origin,
    epoch: options.epoch ?? 1,
    seq: options.seq ?? 1,
    mode: options.mode ?? 'interior',
    neighbours,
    addresses: options.addresses ?? [],
  };
}

interface NetworkOptions {
  readonly edgeRouters?: readonly string[];
  readonly addresses?: Readonly<Record<string, readonly string[]>>;
}

/** Ads for links written 'A-B' or 'A-B:5', each listed by both ends. */
function network(links: readonly string[], options: NetworkOptions = {}): LinkStateAd[] {
  const neighboursOf = new Map<string, Record<string, number>>();
  const listLink = (from: string, to: string, cost: number): void => {
    const neighbours = neighboursOf.get(from) ?? {};
    neighbours[to] = cost;
    neighboursOf.set(from, neighbours);
  };
  for (const link of links) {
    const match = /^(\w+)-(\w+)(?::(\d+))?$/.exec(link);
    if (match === null) throw new Error(`bad link ${link}`);
    const [, a = '', b = '', cost = '1'] = match;
    listLink(a, b, Number(cost));
    listLink(b, a, Number(cost));
  }
  return [...neighboursOf].map(([origin, neighbours]) =>
    ad(origin, neighbours, {
      mode: options.edgeRouters?.includes(origin) ? 'edge' : 'interior',
      addresses: options.addresses?.[origin] ?? [],
    }),
  );
}

/** The ad of origin with its neighbour list changed: how a router reports a link going away. */
function withNeighbours(ads: readonly LinkStateAd[], origin: string, neighbours: Record<string, number>): LinkStateAd[] {
  return ads.map((each) => (each.origin === origin ? { ...each, neighbours, seq: each.seq + 1 } : each));
}

function routeTo(nextHop: string, cost: number, hops: number): Route {
  return { nextHop, cost, hops };
}

/** A small seeded PRNG (mulberry32), so random topologies are the same on every run. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function routerIds(count: number): string[] {
  const width = String(count - 1).length;
  return Array.from({ length: count }, (_, i) => `r${String(i).padStart(width, '0')}`);
}

/** A connected random mesh: a random spanning tree plus extraLinks more links, costs 1..maxCost. */
function randomMesh(count: number, extraLinks: number, maxCost: number, seed: number): LinkStateAd[] {
  const random = seededRandom(seed);
  const ids = routerIds(count);
  const pick = (below: number): number => Math.floor(random() * below);
  const links = new Set<string>();
  const addLink = (i: number, j: number): void => {
    if (i === j) return;
    const [low, high] = i < j ? [i, j] : [j, i];
    links.add(`${ids[low]}-${ids[high]}:${1 + pick(maxCost)}`);
  };
  for (let i = 1; i < count; i++) addLink(i, pick(i));
  for (let n = 0; n < extraLinks; n++) addLink(pick(count), pick(count));
  // A pair drawn twice keeps its last cost: network() overwrites, so both ends still agree.
  return network([...links]);
}

describe('computeRoutes', () => {
  // A -1- B -2- C -3- D
  const line = network(['A-B:1', 'B-C:2', 'C-D:3']);

  it.each([
    ['A', 'B', routeTo('B', 1, 1)],
    ['A', 'C', routeTo('B', 3, 2)],
    ['A', 'D', routeTo('B', 6, 3)],
    ['D', 'C', routeTo('C', 3, 1)],
    ['D', 'B', routeTo('C', 5, 2)],
    ['D', 'A', routeTo('C', 6, 3)],
  ])('line A-B-C-D: from %s to %s', (from, to, expected) => {
    const routes = computeRoutes(from, line);
    expect(routes.get(to)).toEqual(expected);
    expect(routes.size).toBe(3);
    expect(routes.has(from)).toBe(false);
  });

  //   A - B
  //   |   |     all links cost 1: opposite corners have two equal paths,
  //   D - C     and the lower next-hop id wins.
  const ring = network(['A-B', 'B-C', 'C-D', 'D-A']);

  it.each([
    ['A', { B: routeTo('B', 1, 1), C: routeTo('B', 2, 2), D: routeTo('D', 1, 1) }],
    ['B', { A: routeTo('A', 1, 1), C: routeTo('C', 1, 1), D: routeTo('A', 2, 2) }],
    ['C', { A: routeTo('B', 2, 2), B: routeTo('B', 1, 1), D: routeTo('D', 1, 1) }],
    ['D', { A: routeTo('A', 1, 1), B: routeTo('A', 2, 2), C: routeTo('C', 1, 1) }],
  ])('ring A-B-C-D-A, equal costs: from %s the lowest next-hop id breaks ties', (from, expected) => {
    expect(Object.fromEntries(computeRoutes(from, ring))).toEqual(expected);
  });

  it('ring A-B-C-D-A: the same table whatever order the ads arrive in', () => {
    const expected = computeRoutes('A', ring);
    const orders = [[...ring].reverse(), [ring[2], ring[0], ring[3], ring[1]], [ring[1], ring[3], ring[0], ring[2]]];
    for (const order of orders) {
      const ads = order.filter((each): each is LinkStateAd => each !== undefined);
      expect([...computeRoutes('A', ads)]).toEqual([...expected]);
    }
  });

  //   A  x  B
  //   |     |     A stops listing B (B still lists A): the two-way check drops
  //   D --- C     the link and routes go the long way round.
  const cutRing = withNeighbours(ring, 'A', { D: 1 });

  it.each([
    ['A', 'B', routeTo('D', 3, 3)],
    ['A', 'C', routeTo('D', 2, 2)],
    ['B', 'A', routeTo('C', 3, 3)],
    ['B', 'D', routeTo('C', 2, 2)],
    ['C', 'A', routeTo('D', 2, 2)],
  ])('ring with A-B cut: from %s to %s', (from, to, expected) => {
    expect(computeRoutes(from, cutRing).get(to)).toEqual(expected);
  });

  //        L1
  //        |1
  //  L4 -4- H -2- L2
  //        |3
  //        L3
  const star = network(['H-L1:1', 'H-L2:2', 'H-L3:3', 'H-L4:4']);

  it.each([
    ['H', { L1: routeTo('L1', 1, 1), L2: routeTo('L2', 2, 1), L3: routeTo('L3', 3, 1), L4: routeTo('L4', 4, 1) }],
    ['L1', { H: routeTo('H', 1, 1), L2: routeTo('H', 3, 2), L3: routeTo('H', 4, 2), L4: routeTo('H', 5, 2) }],
    ['L4', { H: routeTo('H', 4, 1), L1: routeTo('H', 5, 2), L2: routeTo('H', 6, 2), L3: routeTo('H', 7, 2) }],
  ])('star around H: from %s', (from, expected) => {
    expect(Object.fromEntries(computeRoutes(from, star))).toEqual(expected);
  });

  // Full mesh of r00..r19, every link cost 1.
  const meshIds = routerIds(20);
  const fullMesh = network(meshIds.flatMap((a, i) => meshIds.slice(i + 1).map((b) => `${a}-${b}`)));

  it.each(['r00', 'r07', 'r19'])('full mesh of 20: every router is a direct neighbour of %s', (from) => {
    const routes = computeRoutes(from, fullMesh);
    expect(routes.size).toBe(19);
    for (const [destination, route] of routes) expect(route).toEqual(routeTo(destination, 1, 1));
  });

  it.each([
    ['r05', 'r10', 'r05', 'r10', 'r00'],
    ['r10', 'r05', 'r05', 'r10', 'r00'],
    ['r00', 'r01', 'r00', 'r01', 'r02'],
    ['r01', 'r00', 'r00', 'r01', 'r02'],
    ['r18', 'r19', 'r18', 'r19', 'r00'],
  ])('full mesh of 20: from %s to %s with %s-%s cut goes round via %s (lowest id)', (from, to, cutA, cutB, via) => {
    const cutAd = fullMesh.find((each) => each.origin === cutA);
    if (cutAd === undefined) throw new Error(`no ad for ${cutA}`);
    const { [cutB]: _dropped, ...kept } = cutAd.neighbours;
    const routes = computeRoutes(from, withNeighbours(fullMesh, cutA, kept));
    expect(routes.get(to)).toEqual(routeTo(via, 2, 2));
    expect(routes.size).toBe(19);
  });

  it.each([
    // A lists B at 1, B lists A at 5: the link costs 5 seen from either end.
    ['A lists 1, B lists 5, from A', 'A', [ad('A', { B: 1 }), ad('B', { A: 5 })], 'B', routeTo('B', 5, 1)],
    ['A lists 1, B lists 5, from B', 'B', [ad('A', { B: 1 }), ad('B', { A: 5 })], 'A', routeTo('A', 5, 1)],
    // A -1/5- B, A -1- C -1- B: the max rule makes the detour cheaper.
    [
      'detour A-C-B beats the 5',
      'A',
      [ad('A', { B: 1, C: 1 }), ad('B', { A: 5, C: 1 }), ad('C', { A: 1, B: 1 })],
      'B',
      routeTo('C', 2, 2),
    ],
  ])('asymmetric costs take the larger: %s', (_name, from, ads, to, expected) => {
    expect(computeRoutes(from, ads).get(to)).toEqual(expected);
  });

  it.each([
    // A lists B, B does not list A.
    ['A lists B only, from A', 'A', [ad('A', { B: 1 }), ad('B', {})], {}],
    ['A lists B only, from B', 'B', [ad('A', { B: 1 }), ad('B', {})], {}],
    ['A lists B but B has no ad', 'A', [ad('A', { B: 1 })], {}],
    // A -x- B one-sided, A -1- C -1- B two-way: B only via C.
    [
      'one-sided A-B, two-way A-C-B',
      'A',
      [ad('A', { B: 1, C: 1 }), ad('B', { C: 1 }), ad('C', { A: 1, B: 1 })],
      { B: routeTo('C', 2, 2), C: routeTo('C', 1, 1) },
    ],
    ['a cost below 1 is not a link', 'A', [ad('A', { B: 0 }), ad('B', { A: 0 })], {}],
    ['a NaN cost is not a link', 'A', [ad('A', { B: Number.NaN }), ad('B', { A: 1 })], {}],
    ['a router listing itself gains nothing', 'A', [ad('A', { A: 1 })], {}],
  ])('one-sided links are ignored: %s', (_name, from, ads, expected) => {
    expect(Object.fromEntries(computeRoutes(from, ads))).toEqual(expected);
  });

  //   A -1- E(edge) -1- C        the cheap path through edge E is never taken:
  //   |                 |        A reaches C the long way, E only as a destination.
  //   X ------1------ Y -1-
  const edgeDetour = network(['A-E', 'E-C', 'A-X', 'X-Y', 'Y-C'], { edgeRouters: ['E'] });

  it.each([
    ['A', 'C', routeTo('X', 3, 3)],
    ['A', 'E', routeTo('E', 1, 1)],
    ['C', 'A', routeTo('Y', 3, 3)],
    ['C', 'E', routeTo('E', 1, 1)],
    ['X', 'E', routeTo('A', 2, 2)],
    // From the edge router itself its own links are usable.
    ['E', 'C', routeTo('C', 1, 1)],
    ['E', 'X', routeTo('A', 2, 2)],
    ['E', 'Y', routeTo('C', 2, 2)],
  ])('edge router E is a leaf, never transit: from %s to %s', (from, to, expected) => {
    expect(computeRoutes(from, edgeDetour).get(to)).toEqual(expected);
  });

  it.each([
    // A - E(edge) - C, no other path: C is unreachable from A and vice versa.
    ['A', network(['A-E', 'E-C'], { edgeRouters: ['E'] }), { E: routeTo('E', 1, 1) }],
    ['C', network(['A-E', 'E-C'], { edgeRouters: ['E'] }), { E: routeTo('E', 1, 1) }],
    // E1(edge) - H - E2(edge): edges reach each other through the interior hub.
    ['E1', network(['E1-H', 'H-E2'], { edgeRouters: ['E1', 'E2'] }), { H: routeTo('H', 1, 1), E2: routeTo('H', 2, 2) }],
  ])('edge routers: full table from %s', (from, ads, expected) => {
    expect(Object.fromEntries(computeRoutes(from, ads))).toEqual(expected);
  });

  it.each([
    // A - B - C      D - E       (two islands)
    ['A', network(['A-B', 'B-C', 'D-E']), ['B', 'C']],
    ['E', network(['A-B', 'B-C', 'D-E']), ['D']],
    // A router with an ad but no links is an island of its own.
    ['A', [...network(['A-B']), ad('Z', {})], ['B']],
    ['Z', [...network(['A-B']), ad('Z', {})], []],
    // Without our own ad we have no links at all.
    ['A', network(['B-C']), []],
  ])('partitions: from %s only %j are reachable', (from, ads, reachable) => {
    expect([...computeRoutes(from, ads).keys()]).toEqual(reachable);
  });

  it('uses the newest of several ads of one origin, in any order', () => {
    // A-B-C at seq 1; at seq 2 B drops C.
    const old = network(['A-B', 'B-C']);
    const newer = withNeighbours(old, 'B', { A: 1 }).filter((each) => each.origin === 'B');
    expect([...computeRoutes('A', [...old, ...newer]).keys()]).toEqual(['B']);
    expect([...computeRoutes('A', [...newer, ...old]).keys()]).toEqual(['B']);
  });

  it('the lowest predecessor id breaks ties left by cost, hops and next hop', () => {
    //        C
    //      /   \       A to E: A-B-C-E and A-B-D-E tie on cost, hops and next
    // A - B     E      hop (B); the lower predecessor, C, is chosen.
    //      \   /
    //        D
    const diamond = network(['A-B', 'B-D', 'B-C', 'D-E', 'C-E']);
    expect(computePaths('A', diamond).get('E')).toEqual(['A', 'B', 'C', 'E']);
    expect(computePaths('A', [...diamond].reverse()).get('E')).toEqual(['A', 'B', 'C', 'E']);
    expect(computePaths('A', diamond).get('B')).toEqual(['A', 'B']);
  });

  it('fewer hops beat the lower next-hop id at equal cost', () => {
    // A -1- B -1- C -1- D, and A -3- D directly: both cost 3, but the direct
    // link has 1 hop against 3, so it wins although B sorts before D.
    const ads = network(['A-B', 'B-C', 'C-D', 'A-D:3']);
    expect(computeRoutes('A', ads).get('D')).toEqual(routeTo('D', 3, 1));
  });

  it.each([1, 2, 3, 4])('random mesh (seed %i): next hops match a brute-force all-pairs reference', (seed) => {
    // Costs 1..3 on 30 routers make many equal-cost paths, so the tie-breaks are exercised.
    const ads = randomMesh(30, 45, 3, seed);
    const reference = allPairsReference(ads);
    for (const from of ads.map((each) => each.origin)) {
      for (const [to, route] of computeRoutes(from, ads)) {
        expect(route, `${from} -> ${to}`).toEqual(reference.expectedRoute(from, to));
      }
    }
  });

  it('200-router random connected mesh: computeRoutes is fast', () => {
    const ads = randomMesh(200, 600, 10, 42);
    computeRoutes('r000', ads); // warm-up: the first call also pays for JIT compilation
    const started = performance.now();
    const routes = computeRoutes('r000', ads);
    const elapsedMs = performance.now() - started;
    expect(routes.size).toBe(199);
    // Typically a few ms; the generous bound only catches an accidental blow-up on a busy machine.
    expect(elapsedMs).toBeLessThan(500);
  });
});

/**
 * Floyd-Warshall over (cost, hops) pairs, which compare lexicographically and
 * add component-wise: an independent oracle for what the best path costs. The
 * expected next hop is then the lowest-id neighbour that starts a best path.
 */
function allPairsReference(ads: readonly LinkStateAd[]): { expectedRoute(from: string, to: string): Route } {
  const ids = ads.map((each) => each.origin).sort();
  const key = (a: string, b: string): string => `${a}>${b}`;
  const best = new Map<string, { cost: number; hops: number }>();
  const linkCost = (a: string, b: string): number | undefined => ads.find((each) => each.origin === a)?.neighbours[b];
  for (const a of ids) {
    best.set(key(a, a), { cost: 0, hops: 0 });
    for (const b of ids) {
      const cost = linkCost(a, b);
      if (cost !== undefined) best.set(key(a, b), { cost, hops: 1 });
    }
  }
  const isBetter = (x: { cost: number; hops: number }, y: { cost: number; hops: number } | undefined): boolean =>
    y === undefined || x.cost < y.cost || (x.cost === y.cost && x.hops < y.hops);
  for (const via of ids) {
    for (const a of ids) {
      const first = best.get(key(a, via));
      if (first === undefined) continue;
      for (const b of ids) {
        const second = best.get(key(via, b));
        if (second === undefined) continue;
        const candidate = { cost: first.cost + second.cost, hops: first.hops + second.hops };
        if (isBetter(candidate, best.get(key(a, b)))) best.set(key(a, b), candidate);
      }
    }
  }
  return {
    expectedRoute(from: string, to: string): Route {
      const target = best.get(key(from, to));
      if (target === undefined) throw new Error(`reference has no path ${from} -> ${to}`);
      const startsBestPath = (neighbour: string): boolean => {
        const first = linkCost(from, neighbour);
        const rest = best.get(key(neighbour, to));
        return (
          first !== undefined &&
          rest !== undefined &&
          first + rest.cost === target.cost &&
          1 + rest.hops === target.hops
        );
      };
      const nextHop = ids.find(startsBestPath);
      if (nextHop === undefined) throw new Error(`reference found no next hop ${from} -> ${to}`);
      return { nextHop, cost: target.cost, hops: target.hops };
    },
  };
}

describe('targetsFor', () => {
  //   A -1- B -1- C        E (unreachable)
  //   |
  //   D (A-D costs 2)
  // 'backend' is served at A, C, D and E; 'metrics' only at B.
  const ads = network(['A-B', 'B-C', 'A-D:2', 'E-F'], {
    addresses: { A: ['backend'], B: ['metrics'], C: ['backend'], D: ['backend'], E: ['backend'] },
  });

  it.each([
    ['A', 'backend', [{ router: 'A', cost: 0 }, { router: 'C', cost: 2 }, { router: 'D', cost: 2 }]],
    ['C', 'backend', [{ router: 'C', cost: 0 }, { router: 'A', cost: 2 }, { router: 'D', cost: 4 }]],
    ['B', 'backend', [{ router: 'A', cost: 1 }, { router: 'C', cost: 1 }, { router: 'D', cost: 3 }]],
    ['F', 'backend', [{ router: 'E', cost: 1 }]],
    ['D', 'metrics', [{ router: 'B', cost: 3 }]],
    ['A', 'nobody-serves-this', []],
  ])('from %s, %s is served by %j (by cost, then router id)', (from, address, expected) => {
    expect(targetsFor(address, from, ads, computeRoutes(from, ads))).toEqual(expected);
  });

  it('only the newest ad of a router counts', () => {
    const withdrawn = { ...ad('C', { B: 1 }, { seq: 2 }), addresses: [] };
    const all = [...ads, withdrawn];
    expect(targetsFor('backend', 'A', all, computeRoutes('A', all)).map((t) => t.router)).toEqual(['A', 'D']);
  });

  describe('with edge routers as targets (LinkStateAd.edges)', () => {
    //   A -1- B -1- C, edge routers EB1 and EB2 behind B, EC behind C.
    // 'web': B itself (weight 10), EB1 (60), EB2 (no weight), EC (5). 'db': EB1 only.
    const hub: LinkStateAd = {
      ...ad('B', { A: 1, C: 1 }),
      addresses: ['db', 'web'],
      weights: { web: 71 },
      local: { addresses: ['web'], weights: { web: 10 } },
      edges: { EB1: { addresses: ['db', 'web'], weights: { web: 60 }, site: 'edge-1' }, EB2: { addresses: ['web'] } },
    };
    const far: LinkStateAd = { ...ad('C', { B: 1 }), addresses: ['web'], weights: { web: 5 }, local: { addresses: [] }, edges: { EC: { addresses: ['web'], weights: { web: 5 } } } };
    const all = [ad('A', { B: 1 }), hub, far];

    it('each edge router is a target at its uplink\'s cost + EDGE_HOP_COST with its own weight; the uplink only for what it serves itself', () => {
      expect(EDGE_HOP_COST).toBe(1);
      expect(targetsFor('web', 'A', all, computeRoutes('A', all), { edges: true })).toEqual([
        { router: 'B', cost: 1, weight: 10 },
        { router: 'EB1', cost: 2, weight: 60 },
        { router: 'EB2', cost: 2 },
        { router: 'EC', cost: 3, weight: 5 },
      ]);
      expect(targetsFor('db', 'A', all, computeRoutes('A', all), { edges: true })).toEqual([{ router: 'EB1', cost: 2 }]);
      // At the uplink itself: its own tcpConnectors at cost 0, its edge routers at 1.
      expect(targetsFor('web', 'B', all, computeRoutes('B', all), { edges: true }).map((t) => `${t.router}/${t.cost}`)).toEqual(['B/0', 'EB1/1', 'EB2/1', 'EC/2']);
    });

    it('without the option (messaging), or from a router that predates edges, each interior router stands for its edge routers with the totals', () => {
      expect(targetsFor('web', 'A', all, computeRoutes('A', all))).toEqual([
        { router: 'B', cost: 1, weight: 71 },
        { router: 'C', cost: 2, weight: 5 },
      ]);
      expect(targetsFor('db', 'A', all, computeRoutes('A', all))).toEqual([{ router: 'B', cost: 1 }]);
    });

    it('an edge router listed by two uplinks (moving from one to the other) is one target, at the lower cost', () => {
      const moved: LinkStateAd = { ...far, seq: 2, edges: { EC: { addresses: ['web'], weights: { web: 5 } }, EB2: { addresses: ['web'] } } };
      const both = [ad('A', { B: 1 }), hub, moved];
      expect(targetsFor('web', 'A', both, computeRoutes('A', both), { edges: true }).filter((t) => t.router === 'EB2')).toEqual([{ router: 'EB2', cost: 2 }]);
    });
  });
});

describe('LinkStateDatabase', () => {
  const version = (epoch: number, seq: number): AdVersion => ({ epoch, seq });

  it.each([
    ['nothing held', undefined, version(5, 1), 'newer', version(5, 1)],
    ['higher seq, same epoch', version(5, 1), version(5, 2), 'newer', version(5, 2)],
    ['same epoch and seq', version(5, 2), version(5, 2), 'same', version(5, 2)],
    ['lower seq, same epoch', version(5, 2), version(5, 1), 'older', version(5, 2)],
    ['higher epoch beats a higher seq (restart)', version(5, 9), version(6, 1), 'newer', version(6, 1)],
    ['lower epoch loses despite a higher seq', version(6, 1), version(5, 9), 'older', version(6, 1)],
  ] as const)('accept: %s', (_name, held, incoming, result, kept) => {
    const db = new LinkStateDatabase('A');
    if (held !== undefined) db.accept(ad('B', {}, held), 0);
    expect(db.accept(ad('B', { A: 1 }, incoming), 1)).toBe(result);
    const stored = db.get('B');
    expect(stored === undefined ? undefined : version(stored.epoch, stored.seq)).toEqual(kept);
  });

  it('keeps the first ad on "same" (a re-flood does not rewrite it)', () => {
    const db = new LinkStateDatabase('A');
    const first = ad('B', { A: 1 });
    db.accept(first, 0);
    expect(db.accept(ad('B', { A: 1 }), 1)).toBe('same');
    expect(db.get('B')).toBe(first);
  });

  it.each([
    ['a copy matching our version', version(3, 4), 'same'],
    ['a stale copy from before a restart', version(2, 9), 'older'],
    ['a copy claiming a newer version', version(3, 5), 'older'],
  ] as const)('an ad claiming to be ours is never stored: %s is %s', (_name, incoming, result) => {
    const db = new LinkStateDatabase('A');
    const mine = ad('A', { B: 1 }, version(3, 4));
    db.own(mine);
    expect(db.accept(ad('A', {}, incoming), 0)).toBe(result);
    expect(db.get('A')).toBe(mine);
  });

  it('own() refuses an ad of another router', () => {
    expect(() => new LinkStateDatabase('A').own(ad('B', {}))).toThrow(/originate at A/);
  });

  it('expires ads not refreshed within maxAgeMs, never our own', () => {
    const db = new LinkStateDatabase('A');
    db.own(ad('A', { B: 1 }));
    db.accept(ad('B', {}), 0);
    db.accept(ad('C', {}, { seq: 2 }), 0);
    expect(db.accept(ad('B', {}), 5_000)).toBe('same'); // refreshes B
    expect(db.accept(ad('C', {}, { seq: 1 }), 6_000)).toBe('older'); // does not refresh C

    expect(db.expire(10_000, 10_000)).toEqual([]); // C is exactly maxAgeMs old: kept
    expect(db.expire(10_001, 10_000)).toEqual(['C']);
    expect(db.get('C')).toBeUndefined();
    expect(db.expire(1e12, 1)).toEqual(['B']);
    expect(db.all().map((each) => each.origin)).toEqual(['A']);
  });

  it('remove() drops another router but not our own ad', () => {
    const db = new LinkStateDatabase('A');
    db.own(ad('A', {}));
    db.accept(ad('B', {}), 0);
    expect(db.remove('B')).toBe(true);
    expect(db.remove('B')).toBe(false);
    expect(db.remove('A')).toBe(false);
    expect(db.get('A')).toBeDefined();
  });

  it('summary() lists every ad held, and missingFrom() what a neighbour lacks or has older', () => {
    const db = new LinkStateDatabase('A');
    db.own(ad('A', {}, version(1, 3)));
    db.accept(ad('B', {}, version(1, 2)), 0);
    db.accept(ad('C', {}, version(2, 1)), 0);
    db.accept(ad('D', {}, version(1, 1)), 0);
    expect(db.summary()).toEqual({ A: version(1, 3), B: version(1, 2), C: version(2, 1), D: version(1, 1) });

    const neighbourSummary = { A: version(1, 3), B: version(1, 1), C: version(3, 0), E: version(1, 1) };
    // A: same; B: theirs older; C: theirs newer; D: they lack it; E: we lack it (their business).
    expect(db.missingFrom(neighbourSummary).map((each) => each.origin)).toEqual(['B', 'D']);
    expect(db.missingFrom(db.summary())).toEqual([]);
  });

  it('summary and missingFrom treat origins named like Object members as data', () => {
    const db = new LinkStateDatabase('A');
    db.accept(ad('toString', {}), 0);
    db.accept(ad('__proto__', {}), 0);
    expect(db.missingFrom({}).map((each) => each.origin)).toEqual(['toString', '__proto__']);
    expect(db.missingFrom(db.summary())).toEqual([]);
  });
});

describe('isLinkStateAd', () => {
  it.each([
    ['a well-formed ad', ad('A', { B: 2 }, { addresses: ['x'] }), true],
    ['null', null, false],
    ['an empty origin', { ...ad('A', {}), origin: '' }, false],
    ['a NaN seq', { ...ad('A', {}), seq: Number.NaN }, false],
    ['an unknown mode', { ...ad('A', {}), mode: 'normal' }, false],
    ['a cost below 1', ad('A', { B: 0.5 }), false],
    ['neighbours as an array', { ...ad('A', {}), neighbours: ['B'] }, false],
    ['a non-string address', { ...ad('A', {}), addresses: [1] }, false],
    ['edge routers and what it serves itself', { ...ad('A', {}), addresses: ['x'], local: { addresses: [] }, edges: { E: { addresses: ['x'], weights: { x: 3 }, site: 'e' } } }, true],
    ['an edge router without addresses', { ...ad('A', {}), local: { addresses: [] }, edges: { E: { weights: { x: 3 } } } }, false],
    ['an edge router with a negative weight', { ...ad('A', {}), local: { addresses: [] }, edges: { E: { addresses: ['x'], weights: { x: -1 } } } }, false],
    ['an edge router whose site is not a string', { ...ad('A', {}), local: { addresses: [] }, edges: { E: { addresses: ['x'], site: 7 } } }, false],
    ['local weights that are not numbers', { ...ad('A', {}), local: { addresses: ['x'], weights: { x: 'ten' } } }, false],
  ])('%s -> %s', (_name, value, expected) => {
    expect(isLinkStateAd(value)).toBe(expected);
  });
});
