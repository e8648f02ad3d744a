// The weighted choice of router/tcp/weighted-choice.ts (smooth weighted round
// robin), and the weights link state carries to it (router/routing/).
import { describe, expect, it } from 'vitest';
import { anyWeighted, WeightedChoice, type Weighted } from '../router/tcp/weighted-choice.js';
import { isLinkStateAd, targetsFor, type LinkStateAd } from '../router/routing/index.js';

function counts(choice: WeightedChoice, candidates: readonly Weighted[], picks: number): Record<string, number> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < picks; i++) {
    const key = choice.pick(candidates)?.key ?? 'none';
    seen[key] = (seen[key] ?? 0) + 1;
  }
  return seen;
}

describe('WeightedChoice', () => {
  it.each([
    [{ east: 90, west: 10 }, 1000, { east: 900, west: 100 }],
    [{ a: 1, b: 1, c: 8 }, 100, { a: 10, b: 10, c: 80 }],
    [{ blue: 100, green: 0 }, 50, { blue: 50 }],
    [{ blue: 0, green: 100 }, 50, { green: 50 }],
    [{ a: 3, b: 7 }, 10, { a: 3, b: 7 }],
  ])('%o over %i picks: exactly %o', (weights, picks, expected) => {
    const candidates = Object.entries(weights).map(([key, weight]) => ({ key, weight }));
    expect(counts(new WeightedChoice(), candidates, picks)).toEqual(expected);
  });

  it('spreads picks out: 1:1:8 never gives one target more than 2 in a row of its 8, and the 1s are apart', () => {
    const choice = new WeightedChoice();
    const candidates = [{ key: 'a', weight: 1 }, { key: 'b', weight: 1 }, { key: 'c', weight: 8 }];
    const order = Array.from({ length: 10 }, () => choice.pick(candidates)!.key).join('');
    expect(order).not.toMatch(/ccccc/);
    expect(order.indexOf('a')).not.toBe(order.indexOf('b') - 1);
  });

  it('nothing with a weight above 0: undefined; a missing weight counts as 1 beside weighted ones', () => {
    expect(new WeightedChoice().pick([{ key: 'a', weight: 0 }])).toBeUndefined();
    expect(new WeightedChoice().pick([])).toBeUndefined();
    expect(counts(new WeightedChoice(), [{ key: 'a', weight: 3 }, { key: 'b' }], 8)).toEqual({ a: 6, b: 2 });
    expect(anyWeighted([{}, {}])).toBe(false);
    expect(anyWeighted([{}, { weight: 0 }])).toBe(true);
  });

  it('a target that returns after an absence starts from 0 and does not burst', () => {
    const choice = new WeightedChoice();
    const both = [{ key: 'a', weight: 1 }, { key: 'b', weight: 1 }];
    counts(choice, [both[0]!], 50);
    expect(counts(choice, both, 4)).toEqual({ a: 2, b: 2 });
  });

  it('weights that change between picks take effect at the next pick', () => {
    const choice = new WeightedChoice();
    counts(choice, [{ key: 'blue', weight: 100 }, { key: 'green', weight: 0 }], 7);
    expect(counts(choice, [{ key: 'blue', weight: 0 }, { key: 'green', weight: 100 }], 5)).toEqual({ green: 5 });
  });
});

describe('weights in link state', () => {
  const ad = (origin: string, extra: Partial<LinkStateAd> = {}): LinkStateAd => ({ origin, epoch: 1, seq: 1, mode: 'interior', neighbours: {}, addresses: ['web:80', 'db:5432'], ...extra });

  it('an ad with weights is valid; negative or non-numeric weights are not', () => {
    expect(isLinkStateAd(ad('A', { weights: { 'web:80': 90 } }))).toBe(true);
    expect(isLinkStateAd(ad('A', { weights: { 'web:80': 0 } }))).toBe(true);
    expect(isLinkStateAd({ ...ad('A'), weights: { 'web:80': -1 } })).toBe(false);
    expect(isLinkStateAd({ ...ad('A'), weights: { 'web:80': 'ninety' } })).toBe(false);
    expect(isLinkStateAd({ ...ad('A'), weights: [90] })).toBe(false);
  });

  it('targetsFor gives each router its weight for the address, none where it has none', () => {
    const ads = [ad('A', { weights: { 'web:80': 10 } }), ad('B', { weights: { 'web:80': 90 } }), ad('C')];
    const routes = new Map([
      ['B', { nextHop: 'B', cost: 1, hops: 1 }],
      ['C', { nextHop: 'C', cost: 1, hops: 1 }],
    ]);
    expect(targetsFor('web:80', 'A', ads, routes)).toEqual([
      { router: 'A', cost: 0, weight: 10 },
      { router: 'B', cost: 1, weight: 90 },
      { router: 'C', cost: 1 },
    ]);
    expect(targetsFor('db:5432', 'A', ads, routes).every((t) => t.weight === undefined)).toBe(true);
  });
});
