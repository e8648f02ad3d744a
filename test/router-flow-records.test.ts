// Flow records, the network-wide flow query and the per-service metrics, on
// three real router processes over plain AMQP on loopback:
//
//   A (site "west") -- B (site "middle") -- C (site "east")
//   A: tcpListeners web:8080, dead:1, nowhere:1; C: tcpConnectors web:8080 -> a
//   "doubler" (answers twice the bytes it got, after the client's FIN) and
//   dead:1 -> a port nobody listens on. A keeps only RING flow records.
//
// Each case counts the bytes it sends and checks the records at both ends, as
// the routers there report them through a flow query asked at A, at C and at B.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WireFlowRecord } from '../router/flows/flow-query.js';
import { gatherFlows } from '../service-controller/flows/flow-gatherer.js';
import { freePort, RouterProcess, waitFor, type Entity } from './helpers/router-process.js';
import { connect, openAndWatchEnd, startServer, type TestServer } from './helpers/tcp-tools.js';

const RING = 20;
let dir: string;
let doubler: TestServer;
/** Bytes the doubler has received per connection, in order. */
const doublerGot: number[] = [];
const routers: RouterProcess[] = [];
const ports = { aAmqp: 0, bAmqp: 0, cAmqp: 0, aHttp: 0, bHttp: 0, web: 0, dead: 0, nowhere: 0, deadBackend: 0 };

function routerConfig(id: string, site: string, link: number, amqp: number, http: number, extra: Entity[]): Entity[] {
  return [
    ['router', { id, mode: 'interior', helloIntervalSeconds: 1, helloMaxAgeSeconds: 3, metadata: JSON.stringify({ id, name: site }) }],
    ['listener', { name: 'inter-router', role: 'inter-router', host: '127.0.0.1', port: link }],
    ['listener', { name: 'amqp', role: 'normal', host: '127.0.0.1', port: amqp }],
    ['listener', { name: 'http', host: '127.0.0.1', port: http, http: true }],
    ...extra,
  ];
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kskup-flowrec-'));
  doubler = await startServer((socket) => {
    let got = 0;
    const index = doublerGot.push(0) - 1;
    socket.on('data', (chunk: Buffer) => {
      got += chunk.length;
      doublerGot[index] = got;
    });
    socket.on('end', () => socket.end(Buffer.alloc(got * 2, 7)));
  });
  for (const key of Object.keys(ports) as (keyof typeof ports)[]) ports[key] = await freePort();
  const links = { a: await freePort(), b: await freePort(), c: await freePort() };
  const cHttp = await freePort();
  const a = routerConfig('fr-A', 'west', links.a, ports.aAmqp, ports.aHttp, [
    ['tcpListener', { name: 'web', host: '127.0.0.1', port: ports.web, address: 'web:8080' }],
    ['tcpListener', { name: 'dead', host: '127.0.0.1', port: ports.dead, address: 'dead:1' }],
    ['tcpListener', { name: 'nowhere', host: '127.0.0.1', port: ports.nowhere, address: 'nowhere:1' }],
  ]);
  const b = routerConfig('fr-B', 'middle', links.b, ports.bAmqp, ports.bHttp, [['connector', { name: 'to-A', role: 'inter-router', host: '127.0.0.1', port: links.a }]]);
  const c = routerConfig('fr-C', 'east', links.c, ports.cAmqp, cHttp, [
    ['connector', { name: 'to-B', role: 'inter-router', host: '127.0.0.1', port: links.b }],
    ['tcpConnector', { name: 'web', host: '127.0.0.1', port: doubler.port, address: 'web:8080' }],
    ['tcpConnector', { name: 'dead', host: '127.0.0.1', port: ports.deadBackend, address: 'dead:1' }],
  ]);
  await writeFile(join(dir, 'a.json'), JSON.stringify(a));
  routers.push(RouterProcess.run('fr-A', join(dir, 'a.json'), { KSKUP_FLOW_RECORDS: String(RING) }));
  routers.push(await RouterProcess.start(dir, 'fr-B', b), await RouterProcess.start(dir, 'fr-C', c));
  // Both services reachable from A: C's ad has come through B.
  await waitFor('A to route web and dead to C', async () => {
    const gathered = await gatherFlows({ host: '127.0.0.1', port: ports.aAmqp }, { limit: 0 }, 2_000).catch(() => undefined);
    return gathered?.routers.filter((r) => r.state === 'answered').length === 3 || undefined;
  }, 20_000);
  await waitFor('a flow to web to go through', async () => {
    const socket = await connect(ports.web).catch(() => undefined);
    if (!socket) return undefined;
    const back = await roundTrip(socket, 1).catch(() => undefined);
    return back === 2 || undefined;
  }, 20_000);
}, 60_000);

afterAll(async () => {
  await Promise.all(routers.map((r) => r.stop()));
  await doubler?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Sends `bytes`, ends, and counts what comes back until the far end closes. */
function roundTrip(socket: net.Socket, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let back = 0;
    socket.on('data', (chunk: Buffer) => (back += chunk.length));
    socket.on('end', () => resolve(back));
    socket.on('error', reject);
    socket.end(Buffer.alloc(bytes, 1));
  });
}

async function recordsOf(askAt: number, identity: string, ends = 2): Promise<WireFlowRecord[]> {
  return waitFor(`${ends} ended record(s) of flow ${identity}`, async () => {
    const { records } = await gatherFlows({ host: '127.0.0.1', port: askAt }, { limit: 1000 });
    const mine = records.filter((r) => r.identity === identity && r.result !== 'open');
    return mine.length === ends ? mine : undefined;
  });
}

/** The newest listener-side record at A of a service, once it has ended. */
async function newestAtA(service: string, after: number): Promise<WireFlowRecord> {
  return waitFor(`a new ended ${service} flow at A`, async () => {
    const { records } = await gatherFlows({ host: '127.0.0.1', port: ports.aAmqp }, { limit: 1000, service });
    return records.find((r) => r.router === 'fr-A' && r.startTime >= after && r.result !== 'open');
  });
}

describe('A--B--C flow records', () => {
  it('A->B->C closed cleanly: bytes exact each way, client and sites at both ends, asked at A, C and B', async () => {
    const started = Date.now();
    const socket = await connect(ports.web);
    const clientPort = socket.localPort;
    const back = await roundTrip(socket, 100_000);
    expect(back).toBe(200_000);
    const atA = await newestAtA('web', started);
    const both = await recordsOf(ports.cAmqp, atA.identity);
    for (const askAt of [ports.aAmqp, ports.bAmqp]) expect((await recordsOf(askAt, atA.identity)).length).toBe(2);
    const listener = both.find((r) => r.role === 'listener-side')!;
    const connector = both.find((r) => r.role === 'connector-side')!;
    expect(listener).toMatchObject({
      router: 'fr-A',
      vanAddress: 'web:8080',
      result: 'closed',
      octets: 100_000,
      octetsReverse: 200_000,
      sourceHost: '127.0.0.1',
      sourcePort: clientPort,
      listener: 'web',
      listenerRouter: 'fr-A',
      listenerSite: 'west',
      connectorRouter: 'fr-C',
      connectorSite: 'east',
    });
    expect(listener.reason).toBeUndefined();
    expect(listener.latency).toBeGreaterThan(0);
    expect(listener.endTime).toBeGreaterThanOrEqual(listener.startTime);
    expect(connector).toMatchObject({
      router: 'fr-C',
      result: 'closed',
      octets: 100_000,
      octetsReverse: 200_000,
      connector: 'web',
      destinationHost: '127.0.0.1',
      destinationPort: doubler.port,
      listenerSite: 'west',
      connectorSite: 'east',
    });
  });

  it('each reply carries the router\'s version and its links\' byte counters, which grow by at least what a flow carried, at every hop and both ends', async () => {
    const linksNow = async () => {
      const { routers: answers, links } = await gatherFlows({ host: '127.0.0.1', port: ports.aAmqp }, { limit: 0 });
      expect(answers.map((r) => r.version)).toEqual(answers.map(() => expect.stringMatching(/^\d+\.\d+\.\d+/)));
      const of = (router: string, peer: string) => links.find((l) => l.router === router && l.peerRouter === peer);
      return { aToB: of('fr-A', 'fr-B'), bFromA: of('fr-B', 'fr-A'), bToC: of('fr-B', 'fr-C'), cFromB: of('fr-C', 'fr-B'), all: links };
    };
    const before = await linksNow();
    // A's link to B, B's to A and to C, C's to B: one row per neighbour, with its site; A and C are not neighbours.
    expect(before.all.filter((l) => l.router === 'fr-A').map((l) => [l.peerRouter, l.peerSite])).toEqual([['fr-B', 'middle']]);
    expect(before.all.filter((l) => l.router === 'fr-B').map((l) => l.peerRouter)).toEqual(['fr-A', 'fr-C']);
    const socket = await connect(ports.web);
    // 300 kB towards C, 600 kB back: every link on the way carries both, whatever the framing adds.
    expect(await roundTrip(socket, 300_000)).toBe(600_000);
    const after = await linksNow();
    const grew = (key: 'aToB' | 'bFromA' | 'bToC' | 'cFromB', field: 'octetsOut' | 'octetsIn') => after[key]![field] - before[key]![field];
    expect(grew('aToB', 'octetsOut')).toBeGreaterThanOrEqual(300_000);
    expect(grew('aToB', 'octetsIn')).toBeGreaterThanOrEqual(600_000);
    expect(grew('bFromA', 'octetsIn')).toBeGreaterThanOrEqual(300_000);
    expect(grew('bToC', 'octetsOut')).toBeGreaterThanOrEqual(300_000);
    expect(grew('cFromB', 'octetsOut')).toBeGreaterThanOrEqual(600_000);
    // Framing, hellos and the queries themselves: well under 10% more than the payload.
    expect(grew('aToB', 'octetsIn')).toBeLessThan(660_000);
  });

  it('A->B->C reset by the client: reset-by-client at both ends, the bytes sent before it counted', async () => {
    const started = Date.now();
    const before = doublerGot.length;
    const socket = await connect(ports.web);
    socket.write(Buffer.alloc(3_000, 2));
    await waitFor('the backend to have the 3000 bytes', () => doublerGot.length > before && doublerGot[doublerGot.length - 1] === 3_000);
    socket.resetAndDestroy();
    const atA = await newestAtA('web', started);
    const both = await recordsOf(ports.aAmqp, atA.identity);
    for (const record of both) {
      expect(record.result, `${record.role}: ${record.reason}`).toBe('reset-by-client');
      expect(record.octets).toBe(3_000);
      expect(record.octetsReverse).toBe(0);
      expect(record.reason).toBeTruthy();
    }
  });

  it('A->B->C to a dead target: refused at both ends, the client reset', async () => {
    const started = Date.now();
    const { ended } = openAndWatchEnd(ports.dead);
    expect((await ended).code).toBe('ECONNRESET');
    const atA = await newestAtA('dead', started);
    const both = await recordsOf(ports.cAmqp, atA.identity);
    for (const record of both) {
      expect(record.result, `${record.role}: ${record.reason}`).toBe('refused');
      expect(record.reason).toContain('ECONNREFUSED');
      expect(record.octets + record.octetsReverse).toBe(0);
    }
    expect(both.find((r) => r.role === 'connector-side')).toMatchObject({ router: 'fr-C', connector: 'dead', destinationPort: ports.deadBackend });
  });

  it('A to an address with no route: no-route at A only, with the listener and the client', async () => {
    const started = Date.now();
    const { ended } = openAndWatchEnd(ports.nowhere);
    expect((await ended).code).toBe('ECONNRESET');
    const record = await newestAtA('nowhere', started);
    expect(record).toMatchObject({ result: 'no-route', listener: 'nowhere', listenerSite: 'west', octets: 0, octetsReverse: 0 });
    expect(record.connectorRouter).toBeUndefined();
    expect(record.sourcePort).toBeGreaterThan(0);
    expect(record.reason).toContain('no reachable tcpConnector');
    const { records } = await gatherFlows({ host: '127.0.0.1', port: ports.cAmqp }, { limit: 1000, service: 'nowhere' });
    expect(records.filter((r) => r.router !== 'fr-A')).toEqual([]);
  });

  it('filters: --errors, --service, --site apply at every router; the limit says how many more matched', async () => {
    const at = { host: '127.0.0.1', port: ports.bAmqp };
    const errors = await gatherFlows(at, { limit: 1000, errors: true });
    expect(errors.records.length).toBeGreaterThan(0);
    expect(errors.records.every((r) => r.result !== 'closed' && r.result !== 'open')).toBe(true);
    const web = await gatherFlows(at, { limit: 1000, service: 'web' });
    expect(web.records.every((r) => r.vanAddress === 'web:8080')).toBe(true);
    const middle = await gatherFlows(at, { limit: 1000, site: 'middle' });
    expect(middle.records).toEqual([]);
    const one = await gatherFlows(at, { limit: 1, service: 'web' });
    expect(one.records.length).toBe(2);
    expect(one.more).toBe(web.records.length - 2);
  });

  it('metrics at A: per-service counters, the time-to-first-byte histogram, links and their RTT', async () => {
    const text = await (await fetch(`http://127.0.0.1:${ports.aHttp}/metrics`)).text();
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.split(' ').pop());
    };
    const web = 'service="web:8080",side="listener",peer_site="east"';
    const { totals } = await gatherFlows({ host: '127.0.0.1', port: ports.aAmqp }, { limit: 0, service: 'web' });
    const atA = totals.find((t) => t.router === 'fr-A' && t.role === 'listener-side')!;
    expect(value(`kskup_service_flows_opened_total{${web}}`)).toBe(atA.opened);
    expect(value(`kskup_service_flows_closed_total{${web},result="closed"}`)).toBe(atA.ended.closed);
    expect(value(`kskup_service_flows_closed_total{${web},result="reset-by-client"}`)).toBe(1);
    expect(value(`kskup_service_request_bytes_total{${web}}`)).toBe(atA.octets);
    expect(value(`kskup_service_response_bytes_total{${web}}`)).toBe(atA.octetsReverse);
    // The warm-up flow (1 byte, 2 back) and the clean one (100,000, 200,000): both got bytes back.
    expect(atA.octets).toBeGreaterThanOrEqual(1 + 100_000 + 3_000);
    expect(value('kskup_service_first_byte_seconds_count{service="web:8080",peer_site="east"}')).toBe(atA.latencyCount);
    expect(value('kskup_service_first_byte_seconds_bucket{service="web:8080",peer_site="east",le="+Inf"}')).toBe(atA.latencyCount);
    expect(atA.latencyCount).toBeGreaterThanOrEqual(2);
    expect(value('kskup_service_flows_closed_total{service="nowhere:1",side="listener",peer_site="none",result="no-route"}')).toBe(1);
    expect(value('kskup_service_flows_closed_total{service="dead:1",side="listener",peer_site="east",result="refused"}')).toBe(1);
    expect(value('kskup_link_up{peer_site="middle",peer_router="fr-B"}')).toBe(1);
    const rtt = await waitFor('a link RTT at A', async () => {
      const again = await (await fetch(`http://127.0.0.1:${ports.aHttp}/metrics`)).text();
      const line = again.split('\n').find((l) => l.startsWith('kskup_link_rtt_seconds{peer_site="middle",peer_router="fr-B"}'));
      return line === undefined ? undefined : Number(line.split(' ').pop());
    });
    expect(rtt).toBeGreaterThanOrEqual(0);
    expect(rtt).toBeLessThan(1);
  });

  it('the Grafana dashboard (docs/grafana/kskup-services.json) parses, and every metric its queries use is in a scrape of A and B', async () => {
    const dashboard = JSON.parse(await readFile(join(import.meta.dirname, '../docs/grafana/kskup-services.json'), 'utf8')) as { panels: { targets: { expr: string }[] }[] };
    const exprs = dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr));
    expect(exprs.length).toBeGreaterThan(5);
    const used = new Set(exprs.flatMap((expr) => [...expr.matchAll(/\bkskup_[a-z_]+/g)].map((m) => m[0])));
    const scraped = (await Promise.all([ports.aHttp, ports.bHttp].map(async (port) => (await fetch(`http://127.0.0.1:${port}/metrics`)).text()))).join('\n');
    const series = new Set([...scraped.matchAll(/^(kskup_[a-z_]+)[{ ]/gm)].map((m) => m[1]));
    expect([...used].filter((name) => !series.has(name))).toEqual([]);
  });

  it(`A keeps at most ${RING} records after 3 x ${RING} flows; the totals count every flow`, async () => {
    const before = (await gatherFlows({ host: '127.0.0.1', port: ports.aAmqp }, { limit: 0, service: 'web' })).totals.find((t) => t.router === 'fr-A' && t.role === 'listener-side')!;
    for (let i = 0; i < 3 * RING; i++) expect(await roundTrip(await connect(ports.web), 10)).toBe(20);
    const after = await waitFor('every flow ended in the totals', async () => {
      const { totals } = await gatherFlows({ host: '127.0.0.1', port: ports.aAmqp }, { limit: 0, service: 'web' });
      const t = totals.find((x) => x.router === 'fr-A' && x.role === 'listener-side')!;
      return t.ended.closed === before.ended.closed + 3 * RING ? t : undefined;
    });
    expect(after.opened).toBe(before.opened + 3 * RING);
    expect(after.octets).toBe(before.octets + 3 * RING * 10);
    const { routers: answers, records } = await gatherFlows({ host: '127.0.0.1', port: ports.aAmqp }, { limit: 1000 });
    const a = answers.find((r) => r.router === 'fr-A')!;
    expect(a).toMatchObject({ capacity: RING, matched: RING, returned: RING, site: 'west' });
    expect(records.filter((r) => r.router === 'fr-A').length).toBe(RING);
    // C keeps the default 1000: every web flow's connector-side record is still there.
    expect(answers.find((r) => r.router === 'fr-C')!.capacity).toBe(1000);
  });
});
