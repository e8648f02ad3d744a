// Multicast with edge routers, real router processes:
//
//   E1   E3        X -- Y interior; E1 and E3 are edge routers on X, E2 on Y.
//     \ /          A message sent at an edge goes up to its uplink and from there
//      X -- Y      to every receiver in the network, the other edges included,
//           |      exactly once; one sent at an interior router comes down to the
//           E2     edges. (Service sync between sites relies on this.)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection } from 'rhea';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectMessages, useAmqpClients } from './helpers/amqp-clients.js';
import { freePort, metric, RouterProcess, waitFor, type Entity } from './helpers/router-process.js';

const NAMES = ['X', 'Y', 'E1', 'E2', 'E3'] as const;
type Name = (typeof NAMES)[number];
const UPLINK: Record<string, Name> = { E1: 'X', E2: 'Y', E3: 'X' };

let dir: string;
const routers: RouterProcess[] = [];
const ports = {} as Record<Name, { link: number; edge: number; amqp: number; http: number }>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kskup-edge-mc-'));
  for (const name of NAMES) ports[name] = { link: await freePort(), edge: await freePort(), amqp: await freePort(), http: await freePort() };
  for (const name of NAMES) {
    const p = ports[name];
    const edge = name.startsWith('E');
    const entities: Entity[] = [
      ['router', { id: `emc-${name}`, mode: edge ? 'edge' : 'interior' }],
      ['listener', { name: 'amqp', host: '127.0.0.1', port: p.amqp }],
      ['listener', { name: 'http', host: '127.0.0.1', port: p.http, http: true }],
      ['address', { prefix: 'mc', distribution: 'multicast' }],
    ];
    if (edge) {
      entities.push(['connector', { name: 'uplink', role: 'edge', host: '127.0.0.1', port: ports[UPLINK[name]!]!.edge }]);
    } else {
      entities.push(
        ['listener', { name: 'inter-router', role: 'inter-router', host: '127.0.0.1', port: p.link }],
        ['listener', { name: 'edge', role: 'edge', host: '127.0.0.1', port: p.edge }],
      );
      if (name === 'Y') entities.push(['connector', { name: 'to-x', role: 'inter-router', host: '127.0.0.1', port: ports.X.link }]);
    }
    routers.push(await RouterProcess.start(dir, name, entities));
  }
  const expected: Record<Name, number> = { X: 3, Y: 2, E1: 1, E2: 1, E3: 1 };
  for (const name of NAMES) {
    await waitFor(`${name}'s connections`, async () => (await metric(ports[name].http, 'kskup_inter_router_connections').catch(() => 0)) === expected[name], 15_000);
  }
});

afterAll(async () => {
  await Promise.all(routers.map((r) => r.stop()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

const connectTo = useAmqpClients();
const client = (router: Name): Connection => connectTo(ports[router].amqp, router);
const receiverAt = (router: Name, address: string, got: string[]): Promise<void> => collectMessages(client(router), address, got);

describe('multicast with edge routers', () => {
  const got = Object.fromEntries(NAMES.map((n) => [n, [] as string[]])) as Record<Name, string[]>;

  beforeAll(async () => {
    for (const name of NAMES) await receiverAt(name, 'mc/sites', got[name]);
  });

  it.each([['E1'], ['Y']] as [Name][])('sent at %s: every receiver, edges included, gets each message exactly once', async (from) => {
    const sender = client(from).open_sender({ target: { address: 'mc/sites' }, snd_settle_mode: 1 });
    await new Promise<void>((resolve) => sender.once('sendable', () => resolve()));
    // Consumers reach the sender's router through link state and edge state: probe until all have one.
    await waitFor('a probe everywhere', async () => {
      sender.send({ body: `probe from ${from}` });
      await new Promise((r) => setTimeout(r, 100));
      return NAMES.every((n) => got[n].includes(`probe from ${from}`)) ? true : undefined;
    });
    await new Promise((r) => setTimeout(r, 200));
    for (const name of NAMES) got[name].length = 0;
    for (let i = 0; i < 25; i++) sender.send({ body: `${from} ${i}` });
    await waitFor('25 at each', () => NAMES.every((n) => got[n].length >= 25));
    await new Promise((r) => setTimeout(r, 300)); // duplicates would have arrived by now
    for (const name of NAMES) expect({ name, got: got[name] }).toEqual({ name, got: Array.from({ length: 25 }, (_, i) => `${from} ${i}`) });
  });
});
