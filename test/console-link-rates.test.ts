// The console's link traffic rates (cli/console/link-rates.ts): bytes/s per
// pair of sites from the routers' link counters in two gathers.
import { describe, expect, it } from 'vitest';
import { LinkRates, sitePairKey } from '../cli/console/link-rates.js';

const sample = (router: string, site: string, peerRouter: string, peerSite: string, octetsOut: number, octetsIn: number) => ({ router, site, peerRouter, peerSite, octetsOut, octetsIn });

describe('LinkRates', () => {
  it('has no rate from one gather; from two, both directions over the time between them', () => {
    const rates = new LinkRates();
    expect(rates.update([sample('A', 'west', 'B', 'middle', 1_000, 2_000)], 10_000).size).toBe(0);
    const second = rates.update([sample('A', 'west', 'B', 'middle', 3_000, 6_000)], 12_000);
    expect(second.get(sitePairKey('middle', 'west'))).toBe(3_000);
  });

  it('takes the larger of the two ends, so one end missing or behind still gives the rate', () => {
    const rates = new LinkRates();
    rates.update([sample('A', 'west', 'B', 'middle', 0, 0), sample('B', 'middle', 'A', 'west', 0, 0)], 0);
    const both = rates.update([sample('A', 'west', 'B', 'middle', 500, 500), sample('B', 'middle', 'A', 'west', 400, 400)], 1_000);
    expect(both.get(sitePairKey('west', 'middle'))).toBe(1_000);
    const oneEnd = rates.update([sample('B', 'middle', 'A', 'west', 1_400, 1_400)], 2_000);
    expect(oneEnd.get(sitePairKey('west', 'middle'))).toBe(2_000);
  });

  it('adds up the routers of one site towards another (router replicas), and leaves out links inside a site', () => {
    const rates = new LinkRates();
    const at = (t: number, n: number) => [sample('W1', 'west', 'M', 'middle', n, 0), sample('W2', 'west', 'M', 'middle', n, 0), sample('W1', 'west', 'W2', 'west', n * 10, 0)];
    rates.update(at(0, 0), 0);
    const next = rates.update(at(1_000, 100), 1_000);
    expect([...next]).toEqual([[sitePairKey('west', 'middle'), 200]]);
  });

  it('starts afresh when a counter goes down (its router restarted)', () => {
    const rates = new LinkRates();
    rates.update([sample('A', 'west', 'B', 'middle', 10_000, 0)], 0);
    expect(rates.update([sample('A', 'west', 'B', 'middle', 100, 0)], 1_000).size).toBe(0);
    expect(rates.update([sample('A', 'west', 'B', 'middle', 600, 0)], 2_000).get(sitePairKey('west', 'middle'))).toBe(500);
  });
});
