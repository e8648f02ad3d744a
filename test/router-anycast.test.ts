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
import rhea, { type Connection, type EventContext, type Message, type Sender } from 'rhea';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useAmqpClients } from './helpers/amqp-clients.js';
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
        ['router', { id: name, helloMaxAgeSeconds: 3, mode: 'interior' }],
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

const connectTo = useAmqpClients();

/** The routers that `at` knows to have a receiver of `address` (its management agent's router.address row). */
async function consumersKnownAt(port: number, address: string): Promise<string[]> {
  const connection = rhea.create_container({ id: `mgmt-${Math.random().toString(36).slice(2)}` }).connect({ host: '127.0.0.1', port, reconnect: false } as never);
  connection.on('disconnected', () => undefined);
  try {
    const replies = connection.open_receiver({ source: { dynamic: true } as never });
    const replyTo = await new Promise<string>((resolve) => replies.once('receiver_open', () => resolve(String((replies.source as { address: string }).address))));
    const reply = await new Promise<Message>((resolve) => {
      replies.once('message', (context: EventContext) => resolve(context.message!));
      connection.open_sender('$management').send({
        reply_to: replyTo,
        application_properties: { operation: 'QUERY', type: 'org.amqp.management', entityType: 'router.address' },
        body: { attributeNames: ['name', 'remoteRouters'] },
      });
    });
    const { results } = reply.body as { results: [string, string[]][] };
    return results.find(([name]) => name === `amqp:${address}`)?.[1] ?? [];
  } finally {
    connection.close();
  }
}

interface Sent {
  readonly outcomes: Map<string, string>;
  stop(): void;
  readonly done: Promise<void>;
}

/** A rhea sender that sends "PREFIX i" every intervalMs (when it has credit) until stopped, recording each outcome. */
function keepSending(connection: Connection, address: string, prefix: string, intervalMs: number): Sent {
  const sender: Sender = connection.open_sender({ target: { address } });
  const outcomes = new Map<string, string>();
  const bodies = new Map<unknown, string>();
  let sent = 0;
  for (const outcome of ['accepted', 'released', 'rejected', 'modified'] as const) {
    sender.on(outcome, (context: EventContext) => outcomes.set(bodies.get(context.delivery) ?? '?', outcome));
  }
  const timer = setInterval(() => {
    if (!sender.sendable()) return;
    const body = `${prefix} ${sent++}`;
    bodies.set(sender.send({ body }), body);
    outcomes.set(body, 'none');
  }, intervalMs);
  let stopped: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (stopped = resolve));
  return {
    outcomes,
    done,
    stop: () => {
      clearInterval(timer);
      void waitFor('every outcome', () => [...outcomes.values()].every((o) => o !== 'none'), 10_000).then(stopped, stopped);
    },
  };
}

/** A rhea receiver that accepts what it gets, granting `window` credit at a time (a slow consumer when small). */
function collect(connection: Connection, address: string, window: number): { got: string[]; opened: Promise<void>; close(): void } {
  const got: string[] = [];
  const receiver = connection.open_receiver({ source: { address }, credit_window: window });
  receiver.on('message', (context: EventContext) => got.push(String(context.message?.body)));
  const opened = new Promise<void>((resolve) => receiver.once('receiver_open', () => resolve()));
  return { got, opened, close: () => receiver.close() };
}

describe('ring of four: A-B, B-C, C-D, D-A (A has two equal-cost paths to C)', () => {
  const ports = useNetwork(['A', 'B', 'C', 'D'], [['A', 'B'], ['B', 'C'], ['C', 'D'], ['D', 'A']]);

  it('Proton receiver at C, Proton sender at A: 20 messages, all accepted, each received once in order', async () => {
    expect(protonInstalled(), 'python3-qpid-proton must be installed (.ci/run installs it)').toBe(true);
    await protonAnycast(ports, 'A', 'C', 'q.x');
  });

  it('the consumer moves from C to D while B keeps sending: every accepted message arrives once, none is released', async () => {
    const atC = collect(connectTo(ports.C!.amqp, 'C'), 'q.move', 5);
    await atC.opened;
    const sent = keepSending(connectTo(ports.B!.amqp, 'B'), 'q.move', 'move', 5);
    await waitFor('50 messages at C', () => atC.got.length >= 50);
    const atD = collect(connectTo(ports.D!.amqp, 'D'), 'q.move', 5);
    await atD.opened;
    // B still sends towards C (one link, D is two); C must know of D before its own receiver goes.
    await waitFor('C to know the receiver at D', async () => ((await consumersKnownAt(ports.C!.amqp, 'q.move')).includes('D') ? true : undefined));
    atC.close();
    await waitFor('50 messages at D', () => atD.got.length >= 50);
    sent.stop();
    await sent.done;
    const outcomes = [...sent.outcomes.values()];
    expect(outcomes.filter((o) => o !== 'accepted' && o !== 'modified')).toEqual([]);
    // Modified (delivery-failed): given to C's receiver before it detached (it may have got them), so all
    // sent before anything that went to D; what still waited at C for credit went on to D instead.
    const numberOf = (body: string) => Number(body.split(' ')[1]);
    const modified = [...sent.outcomes].filter(([, o]) => o === 'modified').map(([body]) => numberOf(body));
    expect(Math.max(-1, ...modified)).toBeLessThan(Math.min(...atD.got.map(numberOf)));
    const got = [...atC.got, ...atD.got];
    expect(new Set(got).size).toBe(got.length);
    const accepted = [...sent.outcomes].filter(([, o]) => o === 'accepted').map(([body]) => body);
    // Every accepted message arrived (once, checked above). Not in send order: what waited at C for credit
    // is routed on to D after messages that went to D directly (docs/routing-protocol.md, "Anycast").
    const byNumber = (a: string, b: string) => numberOf(a) - numberOf(b);
    expect(got.filter((body) => accepted.includes(body)).sort(byNumber)).toEqual([...accepted].sort(byNumber));
    // In order at C, where the route never changed.
    expect(atC.got).toEqual([...atC.got].sort(byNumber));
  });

  it('no consumer anywhere: a Proton sender gets no credit; it gets it, and every message is accepted, once a receiver attaches', async () => {
    const sender = protonSender(ports.A!.amqp, 'q.later', 10, 'later');
    await sleep(2_000);
    expect(sender.lines).toEqual([]);
    const receiver = protonReceiver(ports.C!.amqp, 'q.later', 10);
    expect(await sender.exited).toBe(0);
    expect(sender.lines[0]).toMatch(/^credit \d+$/);
    expect([...outcomesOf(sender).values()].flat()).toEqual(Array(10).fill('accepted'));
    expect(await receiver.exited).toBe(0);
    expect(receivedBy(receiver)).toEqual(numbered('later', 10));
  });

  it('the only consumer leaves after the sender got credit: its messages are released at once, never left without an outcome', async () => {
    const receiver = collect(connectTo(ports.C!.amqp, 'C'), 'q.gone', 10);
    await receiver.opened;
    const sender = connectTo(ports.A!.amqp, 'A').open_sender({ target: { address: 'q.gone' } });
    await new Promise<void>((resolve) => sender.once('sendable', () => resolve()));
    receiver.close();
    await waitFor('A to forget the receiver at C', async () => ((await consumersKnownAt(ports.A!.amqp, 'q.gone')).length === 0 ? true : undefined));
    const outcomes: string[] = [];
    for (const outcome of ['accepted', 'released', 'rejected', 'modified']) sender.on(outcome, () => outcomes.push(outcome));
    for (let i = 0; i < 3; i++) sender.send({ body: `gone ${i}` });
    await waitFor('3 outcomes', () => outcomes.length === 3);
    expect(outcomes).toEqual(['released', 'released', 'released']);
  });
});

describe('diamond: A-B, A-C, B-D, C-D (two equal-cost paths from A to D)', () => {
  const ports = useNetwork(['A', 'B', 'C', 'D'], [['A', 'B'], ['A', 'C'], ['B', 'D'], ['C', 'D']]);

  it('Proton receiver at D, Proton sender at A: 20 messages, all accepted, each received once in order', async () => {
    await protonAnycast(ports, 'A', 'D', 'q.diamond');
  });

  it('rhea: a slow receiver at D (credit 3 at a time), 300 messages from A: all accepted, once each, in order', async () => {
    const receiver = collect(connectTo(ports.D!.amqp, 'D'), 'q.slow', 3);
    await receiver.opened;
    const sender = connectTo(ports.A!.amqp, 'A').open_sender({ target: { address: 'q.slow' } });
    const outcomes: string[] = [];
    for (const outcome of ['accepted', 'released', 'rejected', 'modified']) sender.on(outcome, () => outcomes.push(outcome));
    // Sent as soon as the router gives credit, that is once A knows the receiver at D.
    await new Promise<void>((resolve) => sender.once('sendable', () => resolve()));
    for (let i = 0; i < 300; i++) sender.send({ body: `slow ${i}` });
    await waitFor('300 outcomes', () => outcomes.length === 300, 20_000);
    expect(outcomes.filter((o) => o !== 'accepted')).toEqual([]);
    expect(receiver.got).toEqual(numbered('slow', 300));
  });
});

describe('full mesh of four', () => {
  const names = ['A', 'B', 'C', 'D'];
  const ports = useNetwork(names, [['A', 'B'], ['A', 'C'], ['A', 'D'], ['B', 'C'], ['B', 'D'], ['C', 'D']]);

  it('Proton receiver at C, Proton sender at A: 20 messages, all accepted, each received once in order', async () => {
    await protonAnycast(ports, 'A', 'C', 'q.mesh');
  });

  it('Proton senders at B and D to a receiver at A: each sender\'s messages all accepted, once each, in order', async () => {
    const receiver = protonReceiver(ports.A!.amqp, 'q.two', 40);
    await receiver.waitForLine('the receiver to attach', (line) => line === 'ready');
    const senders = ['B', 'D'].map((name) => protonSender(ports[name]!.amqp, 'q.two', 20, `from-${name}`));
    expect(await Promise.all(senders.map((sender) => sender.exited))).toEqual([0, 0]);
    expect(await receiver.exited).toBe(0);
    const got = receivedBy(receiver);
    for (const [i, name] of ['B', 'D'].entries()) {
      expect([...outcomesOf(senders[i]!).values()].flat()).toEqual(Array(20).fill('accepted'));
      expect(got.filter((body) => body.startsWith(`from-${name} `))).toEqual(numbered(`from-${name}`, 20));
    }
  });
});
