// The network agent's handling of neighbours, driven with stand-in peer
// connections: what it sends them and the routes it computes. Liveness is
// driven with real PeerConnections on loopback sockets (no AMQP on them): what
// counts is what arrives on the socket and when the router looks.
import net from 'node:net';
import pino from 'pino';
import type { Connection } from 'rhea';
import { describe, expect, it } from 'vitest';
import { parseControlMessage, type ControlMessage } from '../router/network/control-messages.js';
import { NetworkAgent } from '../router/network/network-agent.js';
import { PeerConnection } from '../router/peer/peer-connection.js';
import type { LinkStateAd } from '../router/routing/index.js';

interface FakePeer {
  readonly peer: PeerConnection;
  readonly sent: ControlMessage[];
}

function fakePeer(): FakePeer {
  const sent: ControlMessage[] = [];
  const stand = {
    origin: { kind: 'listener', name: 'inter-router', cost: 1 },
    cost: 1,
    lastHeard: Date.now(),
    remoteId: undefined,
    remoteMode: undefined,
    send: (message: ControlMessage) => sent.push(message),
  };
  return { peer: stand as unknown as PeerConnection, sent };
}

/** Interior router A, serving `addresses` with `weights` (its tcpConnectors'). */
function agentA(addresses: string[] = [], weights?: Record<string, number>): NetworkAgent {
  return new NetworkAgent({
    selfId: 'A',
    mode: 'interior',
    log: pino({ level: 'silent' }),
    helloIntervalMs: 1000,
    helloMaxAgeMs: 3000,
    servedAddresses: () => addresses,
    ...(weights && { servedWeights: () => weights }),
    dropPeer: () => undefined,
    onNeighbourUp: () => undefined,
  });
}

function ad(origin: string, epoch: number, seq: number, neighbours: Record<string, number>, addresses: string[] = []): LinkStateAd {
  return { origin, epoch, seq, mode: 'interior', neighbours, addresses };
}

const hello = (id: string, epoch: number): ControlMessage => ({ type: 'hello', id, mode: 'interior', epoch, cost: 0 });
const routeTo = (agent: NetworkAgent, router: string) => agent.routes().get(router)?.nextHop;

/** A new connection on which B says hello (B started at `epoch`). */
function meetB(agent: NetworkAgent, epoch: number): FakePeer {
  const b = fakePeer();
  agent.connectionOpened(b.peer);
  agent.onControl(b.peer, hello('B', epoch));
  return b;
}

/** A -- B -- C with B started at epoch 100 and C serving "svc"; returns B's connection. */
function lineThroughB(agent: NetworkAgent): FakePeer {
  const b = meetB(agent, 100);
  agent.onControl(b.peer, { type: 'lsa', ad: ad('B', 100, 3, { A: 1, C: 1 }) });
  agent.onControl(b.peer, { type: 'lsa', ad: ad('C', 50, 2, { B: 1 }, ['svc']) });
  return b;
}

describe('network agent: A -- B -- C, B restarts', () => {
  it('drops the ad from B\'s previous life at its first hello, so C is not routed through B before B links to C again', () => {
    const a = agentA();
    const first = lineThroughB(a);
    expect(routeTo(a, 'C')).toBe('B');
    expect(a.targets('svc').map((t) => t.router)).toEqual(['C']);

    // B goes down; C's ad (still listing B) stays until it ages out.
    a.connectionLost(first.peer);
    expect(routeTo(a, 'C')).toBeUndefined();

    // B is back, a new process: linked to A, not yet to C.
    const second = meetB(a, 200);
    expect(routeTo(a, 'C')).toBeUndefined();
    expect(a.targets('svc')).toEqual([]);
    // The summary A sends the new B no longer claims to hold B's ad.
    const summary = second.sent.find((m) => m.type === 'summary');
    expect(summary?.type === 'summary' && Object.keys(summary.summary).sort()).toEqual(['A', 'C']);

    a.onControl(second.peer, { type: 'lsa', ad: ad('B', 200, 1, { A: 1 }) });
    expect(routeTo(a, 'B')).toBe('B');
    expect(routeTo(a, 'C')).toBeUndefined();
    // B links to C again, and C says so too: the route is back.
    a.onControl(second.peer, { type: 'lsa', ad: ad('B', 200, 2, { A: 1, C: 1 }) });
    a.onControl(second.peer, { type: 'lsa', ad: ad('C', 50, 3, { B: 1 }, ['svc']) });
    expect(routeTo(a, 'C')).toBe('B');
    expect(a.targets('svc').map((t) => t.router)).toEqual(['C']);
  });

  it('keeps the ad of a neighbour that reconnects without restarting (same epoch)', () => {
    const a = agentA();
    a.connectionLost(lineThroughB(a).peer);
    meetB(a, 100);
    // B did not restart, so its links to C are still there: routed at once.
    expect(routeTo(a, 'C')).toBe('B');
  });
});

/** A connected pair of loopback sockets: [ours, the neighbour's]. */
async function socketPair(): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const ours = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const theirs = await accepted;
  server.close();
  return [ours, theirs];
}

/** Holds the event loop, as a long batch of work or a starved CPU does. */
function busyFor(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // spin
  }
}

describe('network agent: when a neighbour counts as lost', () => {
  const MAX_AGE_MS = 1_500;

  /** Agent A with one neighbour B on a real socket; `bSends` writes bytes as B would (flow data, no hello). */
  async function linkedToB() {
    const dropped: string[] = [];
    const agent = new NetworkAgent({
      selfId: 'A',
      mode: 'interior',
      log: pino({ level: 'silent' }),
      helloIntervalMs: 1_000,
      helloMaxAgeMs: MAX_AGE_MS,
      servedAddresses: () => [],
      dropPeer: (_peer, reason) => dropped.push(reason),
      onNeighbourUp: () => undefined,
    });
    const [ours, theirs] = await socketPair();
    // No AMQP here: the stand-in connection only has to take the frame output's
    // hooks (router/amqp/frame-output.ts), which write nothing unless rhea queues a frame.
    const connection = { output: () => undefined, amqp_transport: { pending: [] } } as unknown as Connection;
    const peer = new PeerConnection(connection, { kind: 'listener', name: 'inter-router', cost: 1 }, ours, pino({ level: 'silent' }));
    agent.connectionOpened(peer);
    agent.onControl(peer, hello('B', 100));
    agent.start();
    return {
      dropped,
      bSends: () => theirs.write(Buffer.alloc(1024)),
      close: () => {
        agent.stop();
        ours.destroy();
        theirs.destroy();
      },
    };
  }

  it('a neighbour whose flow data keeps arriving is kept though no hello comes for twice helloMaxAge; once silent it is dropped', async () => {
    // Hellos share the connection with flow data and wait behind it: on a full,
    // slow link they arrive late, though every byte shows the neighbour is there.
    const link = await linkedToB();
    try {
      const sending = setInterval(link.bSends, 50);
      await new Promise((resolve) => setTimeout(resolve, 2 * MAX_AGE_MS));
      clearInterval(sending);
      expect(link.dropped).toEqual([]);
      const silentFrom = Date.now();
      await waitUntil(() => link.dropped.length > 0, 5 * MAX_AGE_MS);
      expect(link.dropped).toEqual([`nothing heard from B for ${MAX_AGE_MS / 1000} s`]);
      expect(Date.now() - silentFrom).toBeGreaterThanOrEqual(MAX_AGE_MS);
    } finally {
      link.close();
    }
  });

  it("the router's own stall is not taken for the neighbour's silence: what arrived meanwhile is read before the verdict", async () => {
    const link = await linkedToB();
    try {
      link.bSends();
      await new Promise((resolve) => setTimeout(resolve, 100));
      // B sends at the start of a stall longer than helloMaxAge; A reads it only
      // once the stall is over. The stall is in the check phase, so the next
      // loop turn runs the (now due) liveness timer before polling the socket.
      await new Promise<void>((resolve) =>
        setImmediate(() => {
          link.bSends();
          busyFor(MAX_AGE_MS + 500);
          resolve();
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(link.dropped).toEqual([]);
    } finally {
      link.close();
    }
  });
});

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('network agent: edge routers and their weights (LinkStateAd.edges)', () => {
  /** An edge router's connection to A: it says hello (with its site) and sends its state. */
  function meetEdge(agent: NetworkAgent, id: string, site: string, state: ControlMessage): FakePeer {
    const edge = fakePeer();
    agent.connectionOpened(edge.peer);
    agent.onControl(edge.peer, { type: 'hello', id, mode: 'edge', epoch: 1, cost: 0, site });
    agent.onControl(edge.peer, state);
    return edge;
  }

  it("A's ad lists each edge router with its addresses, weights and site, what A serves itself, and the totals for routers that predate edges", () => {
    const agent = agentA(['web'], { web: 10 });
    const b = meetB(agent, 100);
    meetEdge(agent, 'E1', 'edge-1', { type: 'edge-state', addresses: ['web', 'db'], weights: { web: 60 } });
    meetEdge(agent, 'E2', 'edge-2', { type: 'edge-state', addresses: ['web'] });
    const own = b.sent.filter((m): m is Extract<ControlMessage, { type: 'lsa' }> => m.type === 'lsa' && m.ad.origin === 'A').at(-1)!.ad;
    expect(own.addresses).toEqual(['db', 'web']);
    // web: A 10 + E1 60 + E2 unweighted (1); db is weighted nowhere.
    expect(own.weights).toEqual({ web: 71 });
    expect(own.local).toEqual({ addresses: ['web'], weights: { web: 10 } });
    expect(own.edges).toEqual({ E1: { addresses: ['db', 'web'], weights: { web: 60 }, site: 'edge-1' }, E2: { addresses: ['web'], site: 'edge-2' } });
    expect(agent.flowTargets('web').map((t) => `${t.router}/${t.cost}/${t.weight ?? '-'}`)).toEqual(['A/0/10', 'E1/1/60', 'E2/1/-']);
    expect(agent.targets('web').map((t) => t.router)).toEqual(['A']);
  });

  it('without edge routers the ad is as before: no edges, no local', () => {
    const agent = agentA(['web'], { web: 10 });
    const b = meetB(agent, 100);
    const own = b.sent.filter((m): m is Extract<ControlMessage, { type: 'lsa' }> => m.type === 'lsa' && m.ad.origin === 'A').at(-1)!.ad;
    expect(own).not.toHaveProperty('edges');
    expect(own).not.toHaveProperty('local');
    expect(own.weights).toEqual({ web: 10 });
  });

  it('a flow that ends at A without a tcpConnector there goes to its edge routers by weight, or in turn when none has one', () => {
    const agent = agentA([]);
    const e1 = meetEdge(agent, 'E1', 'edge-1', { type: 'edge-state', addresses: ['web', 'db'], weights: { web: 3 } });
    const e2 = meetEdge(agent, 'E2', 'edge-2', { type: 'edge-state', addresses: ['web', 'db'], weights: { web: 1 } });
    const picks = Array.from({ length: 8 }, () => agent.edgeServing('web'));
    expect(picks.filter((p) => p === e1.peer)).toHaveLength(6);
    expect(picks.filter((p) => p === e2.peer)).toHaveLength(2);
    const inTurn = Array.from({ length: 4 }, () => agent.edgeServing('db'));
    expect(inTurn.filter((p) => p === e1.peer)).toHaveLength(2);
    expect(inTurn.filter((p) => p === e2.peer)).toHaveLength(2);
  });

  it('an edge router behind another interior router is reached through the route to that router, and its site comes from that ad', () => {
    const agent = agentA();
    const b = lineThroughB(agent);
    agent.onControl(b.peer, { type: 'lsa', ad: { ...ad('C', 50, 3, { B: 1 }, ['svc']), local: { addresses: [] }, edges: { EC: { addresses: ['svc'], site: 'edge-c' } } } });
    expect(agent.peerTowards('EC')).toBe(b.peer);
    expect(agent.siteOf('EC')).toBe('edge-c');
    expect(agent.flowTargets('svc').map((t) => `${t.router}/${t.cost}`)).toEqual(['EC/3']);
    expect(agent.peerTowards('nobody')).toBeUndefined();
  });
});

describe('parseControlMessage: edge-state', () => {
  it.each([
    [{ type: 'edge-state', addresses: ['web'] }, { type: 'edge-state', addresses: ['web'] }],
    [{ type: 'edge-state', addresses: ['web'], weights: { web: 5 } }, { type: 'edge-state', addresses: ['web'], weights: { web: 5 } }],
    [{ type: 'edge-state', addresses: ['web'], weights: { web: -1 } }, undefined],
    [{ type: 'edge-state', addresses: ['web'], weights: ['web'] }, undefined],
    [{ type: 'edge-state', addresses: ['web'], weights: { web: 'ten' } }, undefined],
    [{ type: 'edge-state', addresses: [1] }, undefined],
  ])('%j -> %j', (body, expected) => {
    expect(parseControlMessage(body)).toEqual(expected);
  });
});
