// Rate limits at the router that dials the backend (kskup's tcpConnector
// attributes maxFlows, flowsPerSecond, flowBurst, bandwidth, flowQueue,
// flowQueueTimeoutMs), and a refused flow passed on to another target. Real
// router processes on loopback, plain inter-router links, every byte checked.
//
//   west (A) ---- east (C) ---- middle (B)
//   A has tcpListeners for web, slow, bulk and pass; B one for web.
//   C: web (10 flows/s, burst 10, wait up to 3 s), slow (maxFlows 2, a queue
//   of 1), bulk (1 MiB/s), pass (maxFlows 1, no queue, weight 1000000).
//   B: pass too (weight 1): where C's refusals of pass go. C has a tcpListener
//   for slow too: its own clients count against the same limit.
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManagementClient } from '../router/management/management-client.js';
import { freePort, metric, RouterProcess, routerLogsOnFailure, waitFor, type Entity } from './helpers/router-process.js';
import { connect, echoOrRefused, exchangeStream, openAndWatchEnd, sendStream, sha256Of, startServer, type TestServer } from './helpers/tcp-tools.js';

const MiB = 1024 * 1024;
let dir: string;
const backends: Record<string, TestServer> = {};
/**
 * The web backend, an echo server in a process of its own, prints the time
 * (its performance.now(), ms) it accepted each connection: this test process
 * is busy with 100 clients, and its own accept callbacks come in clumps.
 */
const WEB_BACKEND = `
  const server = require('node:net').createServer({ allowHalfOpen: true }, (socket) => {
    process.stdout.write('accept ' + performance.now() + '\\n');
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write('port ' + server.address().port + '\\n'));
`;
let webBackend: ChildProcess;
let webPort: number;
const webAccepts: number[] = [];
const routers: Record<string, RouterProcess> = {};
const ports: Record<string, { link: number; http: number; amqp: number; web: number; slow: number; bulk: number; pass: number }> = {};
/** What the bulk backend received on its latest connection, with when each chunk came. */
let bulkUpload: { times: [number, number][]; hash: ReturnType<typeof createHash>; bytes: number; done?: Promise<void> } = { times: [], hash: createHash('sha256'), bytes: 0 };
/** What the bulk backend sends on each connection (seed 7). */
let bulkBytes = 11 * MiB;

routerLogsOnFailure(() => Object.values(routers));

function config(name: 'A' | 'B' | 'C', passMaxFlows = 2): Entity[] {
  const site = { A: 'west', B: 'middle', C: 'east' }[name];
  const p = ports[name]!;
  const entities: Entity[] = [
    ['router', { id: `router-${name}`, mode: 'interior', helloIntervalSeconds: 1, helloMaxAgeSeconds: 3, metadata: JSON.stringify({ id: `router-${name}`, name: site }) }],
    ['listener', { name: 'inter-router', role: 'inter-router', host: '127.0.0.1', port: p.link }],
    ['listener', { name: 'amqp', host: '127.0.0.1', port: p.amqp }],
    ['listener', { name: 'http', host: '127.0.0.1', port: p.http, http: true, metrics: true }],
  ];
  if (name !== 'C') entities.push(['connector', { name: 'to-C', role: 'inter-router', host: '127.0.0.1', port: ports.C!.link }]);
  if (name === 'A') for (const address of ['web', 'slow', 'bulk', 'pass'] as const) entities.push(['tcpListener', { name: address, address, host: '127.0.0.1', port: p[address] }]);
  if (name === 'B') {
    entities.push(['tcpListener', { name: 'web', address: 'web', host: '127.0.0.1', port: p.web }]);
    entities.push(['tcpConnector', { name: 'pass', address: 'pass', host: '127.0.0.1', port: backends.passB!.port, weight: 1 }]);
  }
  if (name === 'C') {
    // Clients at east itself: spliced to the backend in the router, under the same limits.
    entities.push(['tcpListener', { name: 'slow', address: 'slow', host: '127.0.0.1', port: p.slow }]);
    entities.push(['tcpListener', { name: 'bulk', address: 'bulk', host: '127.0.0.1', port: p.bulk }]);
    // Numbers as strings, as skupper-router files write them.
    entities.push(['tcpConnector', { name: 'web', address: 'web', host: '127.0.0.1', port: webPort, flowsPerSecond: '10', flowQueueTimeoutMs: 3000 }]);
    entities.push(['tcpConnector', { name: 'slow', address: 'slow', host: '127.0.0.1', port: backends.echo!.port, maxFlows: 2, flowQueue: 1, flowQueueTimeoutMs: 2000 }]);
    entities.push(['tcpConnector', { name: 'bulk', address: 'bulk', host: '127.0.0.1', port: backends.bulk!.port, bandwidth: MiB }]);
    entities.push(['tcpConnector', { name: 'pass', address: 'pass', host: '127.0.0.1', port: backends.echo!.port, maxFlows: passMaxFlows, flowQueue: 0, weight: 1_000_000 }]);
  }
  return entities;
}

async function routes(name: string, address: string): Promise<number> {
  return (await metric(ports[name]!.http, `kskup_tcp_listener_routes{address="${address}"}`).catch(() => 0)) ?? 0;
}

/** The most connections the web backend accepted in any span of `spanMs` after the first of `since`. */
function mostWithin(times: readonly number[], spanMs: number): number {
  let most = 0;
  for (const start of times) most = Math.max(most, times.filter((t) => t >= start && t < start + spanMs).length);
  return most;
}

/**
 * A token bucket of 10 and 10 a second lets through at most 10 + 10 x T/1000
 * flows in any span of T ms. One more is allowed for the dial after the
 * admission (the accept comes a little later, at a different moment for each).
 */
function withinTheBucket(accepts: readonly number[]): void {
  for (const span of [100, 500, 1_000, 2_000]) expect(mostWithin(accepts, span), `accepts within ${span} ms`).toBeLessThanOrEqual(10 + Math.floor((10 * span) / 1000) + 1);
}

/** The first byte back, or a rejection if the socket closes first (a refused client would otherwise hang the test). */
function echoed(socket: net.Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('data', () => resolve());
    socket.once('close', () => reject(new Error('closed before any byte came back')));
  });
}

async function counter(name: string, series: string): Promise<number> {
  return (await metric(ports[name]!.http, series)) ?? 0;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kskup-router-rate-limit-'));
  webBackend = spawn(process.execPath, ['-e', WEB_BACKEND], { stdio: ['ignore', 'pipe', 'inherit'] });
  webPort = await new Promise<number>((resolve) => {
    createInterface({ input: webBackend.stdout! }).on('line', (line) => {
      const [what, value] = line.split(' ');
      if (what === 'port') resolve(Number(value));
      else webAccepts.push(Number(value));
    });
  });
  backends.echo = await startServer((socket) => socket.pipe(socket));
  backends.passB = await startServer((socket) => socket.pipe(socket));
  backends.bulk = await startServer((socket) => {
    // Sends bulkBytes and takes what the client sends, noting when each chunk came.
    void sendStream(socket, 7, bulkBytes).catch(() => undefined);
    const upload: typeof bulkUpload = { times: [], hash: createHash('sha256'), bytes: 0 };
    bulkUpload = upload;
    upload.done = new Promise((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        upload.bytes += chunk.length;
        upload.times.push([performance.now(), chunk.length]);
        upload.hash.update(chunk);
      });
      socket.once('end', () => resolve());
    });
  });
  for (const name of ['A', 'B', 'C']) {
    ports[name] = { link: await freePort(), http: await freePort(), amqp: await freePort(), web: await freePort(), slow: await freePort(), bulk: await freePort(), pass: await freePort() };
  }
  routers.C = await RouterProcess.start(dir, 'C', config('C'), ['--log-level', 'info']);
  routers.A = await RouterProcess.start(dir, 'A', config('A'), ['--log-level', 'info']);
  routers.B = await RouterProcess.start(dir, 'B', config('B'), ['--log-level', 'info']);
  await waitFor(
    'A and B to route to C, and A to pass at B and C',
    async () => ((await routes('A', 'web')) >= 1 && (await routes('B', 'web')) >= 1 && (await routes('A', 'pass')) >= 2 ? true : undefined),
    20_000,
  );
});

afterAll(async () => {
  await Promise.all(Object.values(routers).map((router) => router.stop()));
  for (const backend of Object.values(backends)) await backend.close();
  webBackend?.kill();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('rate limits at the target router: west -- east -- middle', () => {
  it('10 flows/s: 100 clients at once from west get 10 served at once, the rest 10 a second or refused after 3 s', async () => {
    webAccepts.length = 0;
    const outcomes = await Promise.all(Array.from({ length: 100 }, (_, i) => echoOrRefused(ports.A!.web, i, 2_000)));
    const served = outcomes.filter((o) => o === 'served').length;
    const refused = outcomes.length - served;
    console.log(`served ${served}, refused ${refused}; accepts (ms after the first): ${webAccepts.map((t) => Math.round(t - webAccepts[0]!)).join(' ')}`);
    // 10 at once, then one every 100 ms while a flow may wait (3 s): about 40 in all.
    expect(webAccepts.filter((t) => t - webAccepts[0]! < 500).length).toBeGreaterThanOrEqual(10);
    withinTheBucket(webAccepts);
    expect(served).toBe(webAccepts.length);
    // Flows that arrive at east over a longer spell (a loaded machine) find more tokens: about 40-60 served.
    expect(served).toBeGreaterThanOrEqual(30);
    expect(refused).toBeGreaterThanOrEqual(20);
    expect(await counter('C', 'kskup_tcp_flows_rate_limited_total{address="web"}')).toBe(refused);
    expect(await counter('C', 'kskup_tcp_flows_waiting{address="web"}')).toBe(0);
    // Said once, with why.
    const said = routers.C!.lines.filter((line) => line.msg.startsWith('flow refused: rate limit: over 10 new flow(s) per second (burst 10): waited 3000 ms'));
    expect(said).toHaveLength(1);
  });

  it('the limit holds over clients from west and middle together: 50 each at once', async () => {
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // the bucket full again
    webAccepts.length = 0;
    const before = await counter('C', 'kskup_tcp_flows_rate_limited_total{address="web"}');
    const outcomes = await Promise.all(Array.from({ length: 100 }, (_, i) => echoOrRefused(i % 2 === 0 ? ports.A!.web : ports.B!.web, 1000 + i, 2_000)));
    const served = outcomes.filter((o) => o === 'served').length;
    console.log(`served ${served}; accepts (ms after the first): ${webAccepts.map((t) => Math.round(t - webAccepts[0]!)).join(' ')}`);
    withinTheBucket(webAccepts);
    expect(served).toBe(webAccepts.length);
    expect(served).toBeGreaterThanOrEqual(30);
    // Both sites got some: the queue is first come, first served, whoever comes.
    expect(outcomes.filter((o, i) => o === 'served' && i % 2 === 0).length).toBeGreaterThan(0);
    expect(outcomes.filter((o, i) => o === 'served' && i % 2 === 1).length).toBeGreaterThan(0);
    expect((await counter('C', 'kskup_tcp_flows_rate_limited_total{address="web"}')) - before).toBe(100 - served);
  });

  it('maxFlows 2 with a queue of 1: the third waits until one ends, the fourth is refused at once', async () => {
    const first = await connect(ports.A!.slow);
    const second = await connect(ports.A!.slow);
    first.on('error', () => undefined);
    second.on('error', () => undefined);
    first.write('1');
    second.write('2');
    await Promise.all([echoed(first), echoed(second)]);
    const third = await connect(ports.A!.slow);
    third.on('error', () => undefined);
    let thirdGot = 0;
    third.on('data', (chunk: Buffer) => (thirdGot += chunk.length));
    third.write('3');
    await waitFor('the third to wait at east', async () => ((await counter('C', 'kskup_tcp_flows_waiting{address="slow"}')) === 1 ? true : undefined));
    const fourth = openAndWatchEnd(ports.A!.slow);
    fourth.socket.write('4');
    const end = await fourth.ended;
    expect(end.code).toBe('ECONNRESET');
    expect(end.afterMs).toBeLessThan(1_000);
    expect(thirdGot).toBe(0);
    first.end();
    await waitFor('the third to be served', () => (thirdGot === 1 ? true : undefined));
    expect(await counter('C', 'kskup_tcp_flows_waiting{address="slow"}')).toBe(0);
    expect(await counter('C', 'kskup_tcp_flows_rate_limited_total{address="slow"}')).toBe(1);
    // Management shows the counts on the tcpConnector.
    const client = await ManagementClient.connect({ host: '127.0.0.1', port: ports.C!.amqp }, { timeoutMs: 5_000 });
    try {
      const row = (await client.query('tcpConnector')).find((r) => r.name === 'slow');
      expect(row).toMatchObject({ maxFlows: 2, flowQueue: 1, flowsWaiting: 0, flowsRateLimited: 1 });
    } finally {
      await client.close();
    }
    second.destroy();
    third.destroy();
    first.destroy();
  });

  it('a client at east itself waits for maxFlows like one from west, and is served when a flow from west ends', async () => {
    // The last test's flows ended at east first: their places are free.
    await waitFor('no flow open at east', async () => ((await counter('C', 'kskup_tcp_flows_open{address="slow"}')) === 0 ? true : undefined));
    const fromWest = await Promise.all([connect(ports.A!.slow), connect(ports.A!.slow)]);
    for (const socket of fromWest) {
      socket.on('error', () => undefined);
      socket.write('w');
      await echoed(socket);
    }
    const local = await connect(ports.C!.slow);
    local.on('error', () => undefined);
    const gotLocal = exchangeStream(local, 70, 20_000);
    await waitFor('the local client to wait', async () => ((await counter('C', 'kskup_tcp_flows_waiting{address="slow"}')) === 1 ? true : undefined));
    fromWest[0]!.destroy();
    const { sent, got } = await gotLocal;
    expect(got.bytes).toBe(20_000);
    expect(got.sha256).toBe(sent);
    fromWest[1]!.destroy();
  });

  it('refused by its target, a flow goes to another target that takes it: pass, on fresh and reused link pairs', { timeout: 20_000 }, async () => {
    // Two flows at once to east (maxFlows 2) end cleanly and leave their link pairs for the next flows from west.
    const warm = await Promise.all([0, 1].map(async (i) => [await connect(ports.A!.pass), i] as const));
    await Promise.all(warm.map(async ([socket, i]) => expect((await exchangeStream(socket, 50 + i, 1000)).got.bytes).toBe(1000)));
    expect(await counter('C', 'kskup_tcp_flows_rate_limited_total{address="pass"}')).toBe(0);
    // Now maxFlows 1: a config change, applied to the running router.
    const seen = routers.C!.lines.length;
    await routers.C!.rewrite(config('C', 1));
    await waitFor('east to apply its new config', () => routers.C!.lines.slice(seen).find((line) => line.msg === 'configuration applied'));
    await waitFor('the warm flows ended at east', async () => ((await counter('C', 'kskup_tcp_flows_open{address="pass"}')) === 0 ? true : undefined));
    const held = await connect(ports.A!.pass); // east's one flow
    held.on('error', () => undefined);
    held.write('x');
    await echoed(held);
    const passedBefore = await counter('B', 'kskup_tcp_flows_opened_total{address="pass"}');
    // 50 kB and the FIN at once: on a reused pair they go right behind the flow-start, before east refuses; every byte must come back from middle.
    const results = await Promise.all([0, 1, 2].map(async (i) => {
      const socket = await connect(ports.A!.pass);
      return exchangeStream(socket, 60 + i, 50_000);
    }));
    for (const { sent, got } of results) {
      expect(got.bytes).toBe(50_000);
      expect(got.sha256).toBe(sent);
    }
    expect(await counter('C', 'kskup_tcp_flows_rate_limited_total{address="pass"}')).toBe(3);
    expect((await counter('B', 'kskup_tcp_flows_opened_total{address="pass"}')) - passedBefore).toBe(3);
    expect(await counter('A', 'kskup_tcp_flows_reused_links_total{address="pass"}')).toBeGreaterThanOrEqual(2);
    // What followed the refused flow-start was settled at east, not left in its session (which would hold every later delivery behind it).
    await waitFor('east to hold no incoming delivery', async () => ((await counter('C', 'kskup_inter_router_deliveries_held{direction="incoming"}')) === 0 ? true : undefined), 5_000);
    held.destroy();
  });

  /** One flow through the bulk tcpListener at `port`: `bytes` each way, every byte checked; the MiB that came each way in the first `seconds`. */
  async function bulkFlow(port: number, bytes: number, seconds: number): Promise<{ down: number; up: number }> {
    bulkBytes = bytes;
    const socket = await connect(port);
    const download: [number, number][] = [];
    const hash = createHash('sha256');
    let received = 0;
    const ended = new Promise<void>((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => {
        download.push([performance.now(), chunk.length]);
        hash.update(chunk);
        received += chunk.length;
      });
      socket.once('end', () => resolve());
      socket.once('error', reject);
    });
    const sent = await sendStream(socket, 8, bytes);
    await ended;
    await bulkUpload.done;
    expect(received).toBe(bytes);
    expect(hash.digest('hex')).toBe(sha256Of(7, bytes));
    expect(bulkUpload.bytes).toBe(bytes);
    expect(bulkUpload.hash.digest('hex')).toBe(sent);
    const inWindow = (times: [number, number][]) => {
      const first = times[0]![0];
      return times.filter(([t]) => t < first + seconds * 1000).reduce((sum, [, n]) => sum + n, 0) / MiB;
    };
    return { down: inWindow(download), up: inWindow(bulkUpload.times) };
  }

  it('bandwidth 1 MiB/s: 10 s each way over one flow within 10%, every byte', async () => {
    const { down, up } = await bulkFlow(ports.A!.bulk, 11 * MiB, 10);
    console.log(`bandwidth 1 MiB/s over 10 s: ${down.toFixed(3)} MiB down, ${up.toFixed(3)} MiB up`);
    expect(down).toBeGreaterThan(9);
    expect(down).toBeLessThan(11);
    expect(up).toBeGreaterThan(9);
    expect(up).toBeLessThan(11);
  });

  it('bandwidth 1 MiB/s for a client at the router of the target (spliced, no link in between): 5 s each way within 10%, every byte', async () => {
    const { down, up } = await bulkFlow(ports.C!.bulk, 6 * MiB, 5);
    console.log(`bandwidth 1 MiB/s over 5 s, client and target at one router: ${down.toFixed(3)} MiB down, ${up.toFixed(3)} MiB up`);
    expect(down).toBeGreaterThan(4.5);
    expect(down).toBeLessThan(5.5);
    expect(up).toBeGreaterThan(4.5);
    expect(up).toBeLessThan(5.5);
  });
});
