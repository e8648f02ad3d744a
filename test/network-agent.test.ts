// The network agent's handling of neighbours, driven with stand-in peer
// connections: what it sends them and the routes it computes.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { ControlMessage } from '../router/network/control-messages.js';
import { NetworkAgent } from '../router/network/network-agent.js';
import type { PeerConnection } from '../router/peer/peer-connection.js';
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

function agentA(): NetworkAgent {
  return new NetworkAgent({
    selfId: 'A',
    mode: 'interior',
    log: pino({ level: 'silent' }),
    helloIntervalMs: 1000,
    helloMaxAgeMs: 3000,
    servedAddresses: () => [],
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
