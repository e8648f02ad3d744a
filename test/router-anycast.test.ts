// Anycast messages reach a consumer whenever one is reachable, whatever the
// topology and its equal-cost paths. Real router processes, Qpid Proton
// (Python) and rhea clients:
//
//   ring:     A -- B     diamond:  A -- B      full mesh of 4:  every pair linked
//             |    |               |    |
//             D -- C               C -- D
//
// Every message a sender is told "accepted" arrives exactly once, in order; none
// is released while a consumer is reachable; with no consumer anywhere the
// sender gets no credit (as from skupper-router), and never waits forever for
// the outcome of a message it sent.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outcomesOf, protonInstalled, protonReceiver, protonSender, receivedBy } from './helpers/proton-clients.js';
import { freePort, metric, RouterProcess, waitFor, type Entity } from './helpers/router-process.js';

type Ports = Record<string, { link: number; amqp: number; http: number }>;

/**
 * Starts one router per name, with a connector for each [dialler, listener]
 * pair (cost 1), helloMaxAgeSeconds 3, and waits until every router has all
 * its links up.
 */
function useNetwork(names: string[], links: [string, string][]): Ports {
  const ports: Ports = {};
  const routers: RouterProcess[] = [];
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kskup-anycast-'));
    for (const name of names) ports[name] = { link: await freePort(), amqp: await freePort(), http: await freePort() };
    for (const name of names) {
      const p = ports[name]!;
      const entities: Entity[] = [
        ['router', { id: name, helloMaxAgeSeconds: 3 }],
        ['listener', { name: 'inter-router', role: 'inter-router', host: '127.0.0.1', port: p.link }],
        ['listener', { name: 'amqp', host: '127.0.0.1', port: p.amqp }],
        ['listener', { name: 'http', host: '127.0.0.1', port: p.http, http: true }],
        ...links
          .filter(([from]) => from === name)
          .map(([, to]): Entity => ['connector', { name: `to-${to}`, role: 'inter-router', host: '127.0.0.1', port: ports[to]!.link, cost: 1 }]),
      ];
      routers.push(await RouterProcess.start(dir, name, entities));
    }
    for (const name of names) {
      const degree = links.filter((link) => link.includes(name)).length;
      await waitFor(`${name}'s ${degree} links`, async () => (await metric(ports[name]!.http, 'kskup_inter_router_connections').catch(() => 0)) === degree, 15_000);
    }
  });
  afterAll(async () => {
    await Promise.all(routers.map((router) => router.stop()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return ports;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const numbered = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix} ${i}`);

/**
 * The reported case: a Proton receiver (prefetch 10) attaches at `at`; a second
 * later a Proton sender at `from` sends `count` messages as fast as it has
 * credit. All are accepted and each arrives once, in order.
 */
async function protonAnycast(ports: Ports, from: string, at: string, address: string, count = 20): Promise<void> {
  const receiver = protonReceiver(ports[at]!.amqp, address, count);
  await receiver.waitForLine('the receiver to attach', (line) => line === 'ready');
  await sleep(1_000);
  const sender = protonSender(ports[from]!.amqp, address, count, address);
  // The sender exits once it has every outcome; a message it was told is accepted has arrived by then.
  expect(await sender.exited).toBe(0);
  await Promise.race([receiver.exited, sleep(1_000)]);
  expect(Object.fromEntries(outcomesOf(sender))).toEqual(Object.fromEntries(numbered(address, count).map((body) => [body, ['accepted']])));
  expect(receivedBy(receiver)).toEqual(numbered(address, count));
  expect(await receiver.exited).toBe(0);
}

describe('ring of four: A-B, B-C, C-D, D-A (A has two equal-cost paths to C)', () => {
  const ports = useNetwork(['A', 'B', 'C', 'D'], [['A', 'B'], ['B', 'C'], ['C', 'D'], ['D', 'A']]);

  it('Proton receiver at C, Proton sender at A: 20 messages, all accepted, each received once in order', async () => {
    expect(protonInstalled(), 'python3-qpid-proton must be installed (.ci/run installs it)').toBe(true);
    await protonAnycast(ports, 'A', 'C', 'q.x');
  });
});
