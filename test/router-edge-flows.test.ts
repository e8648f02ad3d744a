// Flow records of edge routers in the network-wide flow query, on four real
// router processes over plain AMQP on loopback:
//
//   E1 (edge, "edge-west") -- X ("hub") -- Y ("far") -- E2 (edge, "edge-east")
//   E1: tcpListeners web:9090 and both:1; Y: tcpConnector web:9090 -> echo;
//   E2: tcpConnector both:1 -> echo.
//
// Edge routers take no part in link state: their uplinks pass the query on to
// them. Asked at Y, E1's reply crosses X and Y by name to the asker; asked at
// X, E2's crosses Y and X. Each case sends a known stream, checks it comes
// back byte for byte, and checks the edge routers' records and totals.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WireFlowRecord } from '../router/flows/flow-query.js';
import { joinEnds } from '../cli/site/flow-list-command.js';
import { gatherFlows, serviceTraffic } from '../service-controller/flows/flow-gatherer.js';
import { freePort, RouterProcess, routerLogsOnFailure, waitFor, type Entity } from './helpers/router-process.js';
import { connect, exchangeStream, sha256Of, startEchoServer, type TestServer } from './helpers/tcp-tools.js';

const routers: RouterProcess[] = [];
let dir: string;
let echo: TestServer;
const ports = { xAmqp: 0, yAmqp: 0, xLink: 0, xEdge: 0, yEdge: 0, web: 0, both: 0 };
const at = (port: number) => ({ host: '127.0.0.1', port });

function router(id: string, site: string, mode: 'interior' | 'edge', amqp: number, extra: Entity[]): Entity[] {
  return [
    ['router', { id, mode, helloIntervalSeconds: 1, helloMaxAgeSeconds: 3, metadata: JSON.stringify({ id, name: site }) }],
    ['listener', { name: 'amqp', role: 'normal', host: '127.0.0.1', port: amqp }],
    ...extra,
  ];
}

routerLogsOnFailure(() => routers);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kskup-edgeflows-'));
  echo = await startEchoServer();
  for (const key of Object.keys(ports) as (keyof typeof ports)[]) ports[key] = await freePort();
  const x = router('ef-X', 'hub', 'interior', ports.xAmqp, [
    ['listener', { name: 'inter-router', role: 'inter-router', host: '127.0.0.1', port: ports.xLink }],
    ['listener', { name: 'edge', role: 'edge', host: '127.0.0.1', port: ports.xEdge }],
  ]);
  const y = router('ef-Y', 'far', 'interior', ports.yAmqp, [
    ['listener', { name: 'edge', role: 'edge', host: '127.0.0.1', port: ports.yEdge }],
    ['connector', { name: 'to-X', role: 'inter-router', host: '127.0.0.1', port: ports.xLink }],
    ['tcpConnector', { name: 'web', host: '127.0.0.1', port: echo.port, address: 'web:9090' }],
  ]);
  const e1 = router('ef-E1', 'edge-west', 'edge', await freePort(), [
    ['connector', { name: 'uplink', role: 'edge', host: '127.0.0.1', port: ports.xEdge }],
    ['tcpListener', { name: 'web', host: '127.0.0.1', port: ports.web, address: 'web:9090' }],
    ['tcpListener', { name: 'both', host: '127.0.0.1', port: ports.both, address: 'both:1' }],
  ]);
  const e2 = router('ef-E2', 'edge-east', 'edge', await freePort(), [
    ['connector', { name: 'uplink', role: 'edge', host: '127.0.0.1', port: ports.yEdge }],
    ['tcpConnector', { name: 'both', host: '127.0.0.1', port: echo.port, address: 'both:1' }],
  ]);
  routers.push(
    await RouterProcess.start(dir, 'ef-X', x),
    await RouterProcess.start(dir, 'ef-Y', y),
    await RouterProcess.start(dir, 'ef-E1', e1),
    await RouterProcess.start(dir, 'ef-E2', e2),
  );
  // Both services reachable from E1: E2's addresses have gone up to Y and Y's ad has reached X.
  await waitFor('a round trip through web and both', async () => {
    for (const port of [ports.web, ports.both]) {
      const socket = await connect(port).catch(() => undefined);
      if (!socket) return undefined;
      const { sent, got } = await exchangeStream(socket, 1, 10).catch(() => ({ sent: '', got: { sha256: 'none' } }));
      if (sent !== got.sha256) return undefined;
    }
    return true;
  }, 20_000);
}, 60_000);

afterAll(async () => {
  await Promise.all(routers.map((r) => r.stop()));
  await echo?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Sends `bytes` of a seeded stream through the tcpListener on `port` and checks the echo byte for byte. */
async function throughEcho(port: number, seed: number, bytes: number): Promise<void> {
  const socket = await connect(port);
  const { sent, got } = await exchangeStream(socket, seed, bytes);
  expect(got.bytes).toBe(bytes);
  expect(got.sha256).toBe(sent);
  expect(sent).toBe(sha256Of(seed, bytes));
}

/** Both ended records of the newest flow of `service` that E1 took, asked at `askAt`. */
async function bothEnds(askAt: number, service: string, after: number): Promise<WireFlowRecord[]> {
  return waitFor(`both ended records of a new ${service} flow, asked at ${askAt}`, async () => {
    const { records } = await gatherFlows(at(askAt), { limit: 1000, service });
    const listener = records.find((r) => r.router === 'ef-E1' && r.role === 'listener-side' && r.startTime >= after && r.result !== 'open');
    const mine = listener ? records.filter((r) => r.identity === listener.identity && r.result !== 'open') : [];
    return mine.length === 2 ? mine : undefined;
  });
}

describe('edge routers in the flow query', () => {
  it('every router answers, the edge routers named with the interior router that passed the query on', async () => {
    for (const askAt of [ports.xAmqp, ports.yAmqp]) {
      const { routers: answers } = await gatherFlows(at(askAt), { limit: 0 });
      expect(answers.map(({ router, site, state, uplink }) => ({ router, site, state, uplink })).sort((a, b) => a.router.localeCompare(b.router))).toEqual([
        { router: 'ef-E1', site: 'edge-west', state: 'answered', uplink: 'ef-X' },
        { router: 'ef-E2', site: 'edge-east', state: 'answered', uplink: 'ef-Y' },
        { router: 'ef-X', site: 'hub', state: 'answered', uplink: undefined },
        { router: 'ef-Y', site: 'far', state: 'answered', uplink: undefined },
      ]);
    }
  });

  it('E1 -> X -> Y: the edge listener side and the interior connector side, bytes exact, asked at Y and at X; the totals count it', async () => {
    const before = serviceTraffic('web', await gatherFlows(at(ports.yAmqp), { limit: 0, service: 'web' }));
    const started = Date.now();
    await throughEcho(ports.web, 7, 150_000);
    for (const askAt of [ports.yAmqp, ports.xAmqp]) {
      const records = await bothEnds(askAt, 'web', started);
      expect(records.find((r) => r.role === 'listener-side')).toMatchObject({
        router: 'ef-E1',
        vanAddress: 'web:9090',
        listener: 'web',
        listenerRouter: 'ef-E1',
        listenerSite: 'edge-west',
        // An edge router sends every flow it cannot serve to its uplink, and knows no further.
        connectorRouter: 'ef-X',
        result: 'closed',
        octets: 150_000,
        octetsReverse: 150_000,
      });
      expect(records.find((r) => r.role === 'connector-side')).toMatchObject({
        router: 'ef-Y',
        listenerRouter: 'ef-E1',
        listenerSite: 'edge-west',
        connectorSite: 'far',
        connector: 'web',
        destinationPort: echo.port,
        result: 'closed',
        octets: 150_000,
        octetsReverse: 150_000,
      });
      // kskup flow list's row: the target site from the connector side's own record.
      expect(joinEnds(records)).toMatchObject([{ service: 'web:9090', listenerSite: 'edge-west', listener: 'web', connectorSite: 'far', connector: 'web', octets: 150_000, result: 'closed' }]);
    }
    // The listener-side totals of the network are E1's: without it the flow would not count at all.
    const after = await gatherFlows(at(ports.xAmqp), { limit: 0, service: 'web' });
    expect(after.totals.some((t) => t.router === 'ef-E1' && t.site === 'edge-west' && t.role === 'listener-side' && t.peerRouter === 'ef-X')).toBe(true);
    expect(serviceTraffic('web', after)).toEqual({
      opened: before.opened + 1,
      failed: before.failed,
      requestBytes: before.requestBytes + 150_000,
      responseBytes: before.responseBytes + 150_000,
    });
  });

  it('E1 -> X -> Y -> E2: both ends on edge routers, each reported by its own edge router', async () => {
    const started = Date.now();
    await throughEcho(ports.both, 11, 64_000);
    for (const askAt of [ports.xAmqp, ports.yAmqp]) {
      const records = await bothEnds(askAt, 'both', started);
      expect(records.find((r) => r.role === 'listener-side')).toMatchObject({ router: 'ef-E1', connectorRouter: 'ef-X', result: 'closed', octets: 64_000, octetsReverse: 64_000 });
      expect(records.find((r) => r.role === 'connector-side')).toMatchObject({
        router: 'ef-E2',
        listenerRouter: 'ef-E1',
        connectorSite: 'edge-east',
        connector: 'both',
        result: 'closed',
        octets: 64_000,
        octetsReverse: 64_000,
      });
      expect(joinEnds(records)).toMatchObject([{ service: 'both:1', listenerSite: 'edge-west', connectorSite: 'edge-east', target: `127.0.0.1:${echo.port}` }]);
    }
  });
});
