// Weights of targets behind edge routers (docs/traffic.md), on five real router
// processes over plain AMQP on loopback:
//
//   L ("west", tcpListener web) -- H ("hub", tcpConnector web, weight 10 -> "H")
//                                  |-- EA (edge, "edge-a", tcpConnector web, weight 60 -> "A")
//                                  |-- EB (edge, "edge-b", tcpConnector web, weight 30 -> "B")
//   H also has a tcpListener web of its own.
//
// Edge routers take no part in link state: their uplink H advertises their
// addresses and, per edge router, their weights (LinkStateAd.edges), so the
// router where a client connects splits flows among H itself and each edge
// router by weight, and counts them per edge site.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatherFlows, serviceSplit } from '../service-controller/flows/flow-gatherer.js';
import { freePort, RouterProcess, routerLogsOnFailure, waitFor, type Entity } from './helpers/router-process.js';
import { openNamed, startNamedEcho, type TestServer } from './helpers/tcp-tools.js';

const routers = new Map<string, RouterProcess>();
let dir: string;
const backends = new Map<string, TestServer>();
const ports = { lAmqp: 0, hAmqp: 0, hLink: 0, hEdge: 0, lWeb: 0, hWeb: 0 };

function router(id: string, site: string, mode: 'interior' | 'edge', amqp: number, extra: Entity[]): Entity[] {
  return [
    ['router', { id, mode, helloIntervalSeconds: 1, helloMaxAgeSeconds: 3, metadata: JSON.stringify({ id, name: site }) }],
    ['listener', { name: 'amqp', role: 'normal', host: '127.0.0.1', port: amqp }],
    ...extra,
  ];
}

function edge(id: string, site: string, amqp: number, name: string, weight: number): Entity[] {
  return router(id, site, 'edge', amqp, [
    ['connector', { name: 'uplink', role: 'edge', host: '127.0.0.1', port: ports.hEdge }],
    ['tcpConnector', { name: 'web', host: '127.0.0.1', port: backends.get(name)!.port, address: 'web', weight }],
  ]);
}

const edgeAmqp = { EA: 0, EB: 0 };

routerLogsOnFailure(() => [...routers.values()]);

/** One flow: the backend's name, and a 1 KiB pattern echoed byte for byte after it. */
async function oneFlow(port: number, seed: number): Promise<string> {
  const { name, socket, rest } = await openNamed(port);
  const data = Buffer.alloc(1024, seed & 0xff);
  for (let i = 0; i < data.length; i += 7) data[i] = (seed + i) & 0xff;
  socket.write(data);
  await waitFor(`the echo of flow ${seed}`, () => (Buffer.concat(rest).length >= data.length ? true : undefined), 10_000);
  socket.end();
  if (!Buffer.concat(rest).equals(data)) throw new Error(`flow ${seed} to ${name}: the echo differs from what was sent`);
  return name;
}

/** `count` flows through the listener on `port`, 10 at a time: the count per backend, and what failed. */
async function split(port: number, count: number, seed: number): Promise<{ counts: Record<string, number>; failures: string[] }> {
  const counts: Record<string, number> = {};
  const failures: string[] = [];
  for (let batch = 0; batch < count / 10; batch++) {
    const names = await Promise.all(
      Array.from({ length: 10 }, (_, i) => oneFlow(port, seed + batch * 10 + i).catch((error: Error) => (failures.push(error.message), 'failed'))),
    );
    for (const name of names) counts[name] = (counts[name] ?? 0) + 1;
  }
  return { counts, failures };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kskup-edgeweights-'));
  for (const name of ['H', 'A', 'B']) backends.set(name, await startNamedEcho(name));
  for (const key of Object.keys(ports) as (keyof typeof ports)[]) ports[key] = await freePort();
  edgeAmqp.EA = await freePort();
  edgeAmqp.EB = await freePort();
  const h = router('ew-H', 'hub', 'interior', ports.hAmqp, [
    ['listener', { name: 'inter-router', role: 'inter-router', host: '127.0.0.1', port: ports.hLink }],
    ['listener', { name: 'edge', role: 'edge', host: '127.0.0.1', port: ports.hEdge }],
    ['tcpConnector', { name: 'web', host: '127.0.0.1', port: backends.get('H')!.port, address: 'web', weight: 10 }],
    ['tcpListener', { name: 'web', host: '127.0.0.1', port: ports.hWeb, address: 'web' }],
  ]);
  const l = router('ew-L', 'west', 'interior', ports.lAmqp, [
    ['connector', { name: 'to-H', role: 'inter-router', host: '127.0.0.1', port: ports.hLink }],
    ['tcpListener', { name: 'web', host: '127.0.0.1', port: ports.lWeb, address: 'web' }],
  ]);
  routers.set('H', await RouterProcess.start(dir, 'ew-H', h));
  routers.set('L', await RouterProcess.start(dir, 'ew-L', l));
  routers.set('EA', await RouterProcess.start(dir, 'ew-EA', edge('ew-EA', 'edge-a', edgeAmqp.EA, 'A', 60)));
  routers.set('EB', await RouterProcess.start(dir, 'ew-EB', edge('ew-EB', 'edge-b', edgeAmqp.EB, 'B', 30)));
  // Every target reached from L: both edge routers' weights have gone up to H and H's ad has reached L.
  await waitFor('all three targets answer at L', async () => {
    const seen = new Set(await Promise.all(Array.from({ length: 20 }, (_, i) => oneFlow(ports.lWeb, i).catch(() => 'failed'))));
    return seen.has('H') && seen.has('A') && seen.has('B') && !seen.has('failed') ? true : undefined;
  }, 30_000);
}, 60_000);

afterAll(async () => {
  await Promise.all([...routers.values()].map((r) => r.stop()));
  for (const backend of backends.values()) await backend.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('weights of targets behind edge routers', () => {
  it('1,000 flows from another interior router split 10/60/30 over the uplink and its two edge routers within ±5%, counted per edge site', async () => {
    const before = serviceSplit('web', await gatherFlows({ host: '127.0.0.1', port: ports.lAmqp }, { limit: 0, service: 'web' }));
    const { counts, failures } = await split(ports.lWeb, 1000, 1_000);
    console.log(`1,000 flows at L, weights H 10, A 60, B 30: ${JSON.stringify(counts)}`);
    expect(failures).toEqual([]);
    expect((counts.H ?? 0) + (counts.A ?? 0) + (counts.B ?? 0)).toBe(1000);
    expect(Math.abs((counts.H ?? 0) - 100)).toBeLessThanOrEqual(50);
    expect(Math.abs((counts.A ?? 0) - 600)).toBeLessThanOrEqual(50);
    expect(Math.abs((counts.B ?? 0) - 300)).toBeLessThanOrEqual(50);
    // L's listener-side totals name each edge router's site (from H's ad), not the uplink's.
    const after = serviceSplit('web', await gatherFlows({ host: '127.0.0.1', port: ports.lAmqp }, { limit: 0, service: 'web' }));
    const grown = (site: string) => (after[site] ?? 0) - (before[site] ?? 0);
    expect(grown('edge-a')).toBe(counts.A);
    expect(grown('edge-b')).toBe(counts.B);
    expect(grown('hub')).toBe(counts.H);
  });

  it('at the uplink itself: its own tcpConnector and its edge routers split 10/60/30 too', async () => {
    const { counts, failures } = await split(ports.hWeb, 500, 5_000);
    console.log(`500 flows at H: ${JSON.stringify(counts)}`);
    expect(failures).toEqual([]);
    expect(Math.abs((counts.H ?? 0) - 50)).toBeLessThanOrEqual(25);
    expect(Math.abs((counts.A ?? 0) - 300)).toBeLessThanOrEqual(25);
    expect(Math.abs((counts.B ?? 0) - 150)).toBeLessThanOrEqual(25);
  });

  it('an edge router drains (weight 0): no new flow reaches it within 1 s, none fails, and the rest split 10/30', async () => {
    const drainedAt = Date.now();
    await routers.get('EA')!.rewrite(edge('ew-EA', 'edge-a', edgeAmqp.EA, 'A', 0));
    let lastA = 0;
    let flows = 0;
    const failures: string[] = [];
    while (Date.now() - drainedAt < 2_000) {
      const name = await oneFlow(ports.lWeb, 9_000 + flows).catch((error: Error) => (failures.push(error.message), 'failed'));
      flows++;
      if (name === 'A') lastA = Date.now() - drainedAt;
    }
    console.log(`edge-a drained: last new flow to it ${lastA} ms after the config was written; ${flows} flows`);
    expect(failures).toEqual([]);
    expect(lastA).toBeLessThan(1_000);
    const { counts, failures: later } = await split(ports.lWeb, 400, 20_000);
    expect(later).toEqual([]);
    expect(counts.A ?? 0).toBe(0);
    expect(Math.abs((counts.H ?? 0) - 100)).toBeLessThanOrEqual(20);
    expect(Math.abs((counts.B ?? 0) - 300)).toBeLessThanOrEqual(20);
  });
});
