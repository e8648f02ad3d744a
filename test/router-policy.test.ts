// Router-level policy: a tcpConnector's allowedSites (kskup's attribute, written
// by a site controller from its policy) serves flows only from routers of the
// sites it names. Real router processes on loopback, plain inter-router links.
//
//   west (A) ---- east (C) ---- middle (B)
//   A and B each have a hand-written tcpListener for "db"; C's tcpConnector for
//   "db" (an echo backend) allows site "west" only. A's clients get every byte
//   back; B's are reset, the backend never sees a connection, and C counts and
//   says why. Then C's config changes: a flow already open from A carries on,
//   a new one from A is refused, B is let in by its router id.
//
//   south (E), an edge router on C, and A refuse in bulk: 200 flows each that C
//   refuses (kskup:policy-denied; E also for "ghost", which no router serves:
//   amqp:not-found), some at once, while allowed flows for "open" (C's second
//   tcpConnector, no allowedSites) share the same inter-router connections.
//   Refusing a fresh link pair answers both attaches before the detaches; the
//   connections must stay up throughout (no reconnect) and "open" stay byte-exact.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManagementClient } from '../router/management/management-client.js';
import { freePort, metric, RouterProcess, routerLogsOnFailure, waitFor, type Entity } from './helpers/router-process.js';
import { connect, exchangeStream, howItEnds, openAndWatchEnd, startEchoServer, startServer, type TestServer } from './helpers/tcp-tools.js';

let dir: string;
let backend: TestServer;
let backendConnections = 0;
let openBackend: TestServer;
const routers: Record<string, RouterProcess> = {};
const ports: Record<string, { link: number; edge: number; http: number; amqp: number; db: number; open: number; ghost: number }> = {};

routerLogsOnFailure(() => Object.values(routers));

function config(name: 'A' | 'B' | 'C' | 'E', allowedSites: string | undefined): Entity[] {
  const site = { A: 'west', B: 'middle', C: 'east', E: 'south' }[name];
  const p = ports[name]!;
  const entities: Entity[] = [
    ['router', { id: `router-${name}`, mode: name === 'E' ? 'edge' : 'interior', helloIntervalSeconds: 1, helloMaxAgeSeconds: 3, metadata: JSON.stringify({ id: `router-${name}`, name: site }) }],
    ['listener', { name: 'amqp', host: '127.0.0.1', port: p.amqp }],
    ['listener', { name: 'http', host: '127.0.0.1', port: p.http, http: true, metrics: true }],
  ];
  if (name !== 'E') entities.push(['listener', { name: 'inter-router', role: 'inter-router', host: '127.0.0.1', port: p.link }]);
  if (name === 'C') {
    entities.push(['listener', { name: 'edge', role: 'edge', host: '127.0.0.1', port: p.edge }]);
    entities.push(['tcpConnector', { name: 'db', address: 'db', host: '127.0.0.1', port: backend.port, ...(allowedSites !== undefined && { allowedSites }) }]);
    entities.push(['tcpConnector', { name: 'open', address: 'open', host: '127.0.0.1', port: openBackend.port }]);
    return entities;
  }
  entities.push(name === 'E' ? ['connector', { name: 'uplink', role: 'edge', host: '127.0.0.1', port: ports.C!.edge }] : ['connector', { name: 'to-C', role: 'inter-router', host: '127.0.0.1', port: ports.C!.link }]);
  entities.push(['tcpListener', { name: 'db', address: 'db', host: '127.0.0.1', port: p.db }]);
  if (name !== 'B') entities.push(['tcpListener', { name: 'open', address: 'open', host: '127.0.0.1', port: p.open }]);
  if (name === 'E') entities.push(['tcpListener', { name: 'ghost', address: 'ghost', host: '127.0.0.1', port: p.ghost }]);
  return entities;
}

async function routes(name: string): Promise<number> {
  return (await metric(ports[name]!.http, 'kskup_tcp_listener_routes{address="db"}').catch(() => 0)) ?? 0;
}

async function echo(port: number, seed: number, bytes: number): Promise<void> {
  const socket = await connect(port);
  const { sent, got } = await exchangeStream(socket, seed, bytes);
  expect(got.bytes).toBe(bytes);
  expect(got.sha256).toBe(sent);
}

async function tcpConnectorRow(): Promise<Record<string, unknown>> {
  const client = await ManagementClient.connect({ host: '127.0.0.1', port: ports.C!.amqp }, { timeoutMs: 5_000 });
  try {
    const rows = await client.query('tcpConnector');
    return rows.find((row) => row.name === 'db') ?? {};
  } finally {
    await client.close();
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kskup-router-policy-'));
  backend = await startServer((socket) => {
    backendConnections++;
    socket.pipe(socket);
  });
  openBackend = await startEchoServer();
  for (const name of ['A', 'B', 'C', 'E']) {
    ports[name] = { link: await freePort(), edge: await freePort(), http: await freePort(), amqp: await freePort(), db: await freePort(), open: await freePort(), ghost: await freePort() };
  }
  routers.C = await RouterProcess.start(dir, 'C', config('C', 'west'), ['--log-level', 'info']);
  routers.A = await RouterProcess.start(dir, 'A', config('A', undefined), ['--log-level', 'info']);
  routers.B = await RouterProcess.start(dir, 'B', config('B', undefined), ['--log-level', 'info']);
  routers.E = await RouterProcess.start(dir, 'E', config('E', undefined), ['--log-level', 'info']);
  // Both listening routers know C serves "db": the refusal is C's, not a missing route.
  await waitFor('A and B to route db to C', async () => ((await routes('A')) >= 1 && (await routes('B')) >= 1 ? true : undefined), 20_000);
});

afterAll(async () => {
  await Promise.all(Object.values(routers).map((router) => router.stop()));
  await backend?.close();
  await openBackend?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('tcpConnector allowedSites: west -- east -- middle', () => {
  it('west (allowed) gets 1 MiB echoed byte for byte', async () => {
    await echo(ports.A!.db, 1, 1024 * 1024);
  });

  it('middle, with its own tcpListener for db, is reset; the backend sees nothing; east counts and says why', async () => {
    const before = backendConnections;
    for (let i = 0; i < 3; i++) {
      const { socket, ended } = openAndWatchEnd(ports.B!.db);
      socket.write('secret request');
      let got = 0;
      socket.on('data', (chunk: Buffer) => (got += chunk.length));
      const end = await ended;
      expect(end.code).toBe('ECONNRESET');
      expect(got).toBe(0);
    }
    expect(backendConnections).toBe(before);
    expect(await metric(ports.C!.http, 'kskup_tcp_flows_denied_total{address="db"}')).toBe(3);
    expect(await metric(ports.B!.http, 'kskup_tcp_flows_denied_total{address="db"}')).toBe(0);
    expect((await tcpConnectorRow()).flowsDenied).toBe(3);
    // Said once at each end, with the reason.
    const refusals = routers.C!.lines.filter((line) => line.msg.includes('are not allowed at router router-C'));
    expect(refusals).toHaveLength(1);
    expect(refusals[0]!.msg).toContain('site "middle" (router router-B)');
    const told = routers.B!.lines.filter((line) => line.msg.includes('was refused by its target'));
    expect(told).toHaveLength(1);
    expect(told[0]!.msg).toContain('policy: flows from site "middle"');
    // The listener side's flow records say denied, with the reason.
    const client = await ManagementClient.connect({ host: '127.0.0.1', port: ports.B!.amqp }, { timeoutMs: 5_000 });
    try {
      const records = (await client.query('kskup.flowRecord')).filter((row) => row.vanAddress === 'db');
      expect(records.length).toBe(3);
      for (const record of records) {
        expect(record.result).toBe('denied');
        expect(String(record.reason)).toContain('not allowed at router router-C');
      }
    } finally {
      await client.close();
    }
  });

  it('a change applies at once: the open flow from west finishes, a new one is refused; middle is let in by router id', async () => {
    // A flow from west, half sent, open while the policy changes.
    const open = await connect(ports.A!.db);
    const received: Buffer[] = [];
    open.on('data', (chunk: Buffer) => received.push(chunk));
    const first = Buffer.alloc(64 * 1024, 1);
    open.write(first);
    await waitFor('the first half back', () => (Buffer.concat(received).length === first.length ? true : undefined));

    const seen = routers.C!.lines.length;
    await routers.C!.rewrite(config('C', 'router-B'));
    await waitFor('east to apply its new config', () => routers.C!.lines.slice(seen).find((line) => line.msg === 'configuration applied'));
    const { ended } = openAndWatchEnd(ports.A!.db);
    expect((await ended).code).toBe('ECONNRESET');
    await echo(ports.B!.db, 2, 256 * 1024);

    const second = Buffer.alloc(64 * 1024, 2);
    const ends = howItEnds(open);
    open.end(second);
    expect(await ends).toBe('end');
    const all = Buffer.concat(received);
    expect(all.length).toBe(first.length + second.length);
    expect(all.equals(Buffer.concat([first, second]))).toBe(true);
  });
});

describe('refusals in bulk keep the inter-router connections up: west -- east <- south (edge)', () => {
  /** A refused flow: the client is reset without a byte back. */
  async function refused(port: number): Promise<void> {
    const { socket, ended } = openAndWatchEnd(port);
    socket.write('request');
    let got = 0;
    socket.on('data', (chunk: Buffer) => (got += chunk.length));
    const end = await ended;
    expect(end.code).toBe('ECONNRESET');
    expect(got).toBe(0);
  }

  /** Lines that say an inter-router or edge connection went down or came up again, or that something failed. */
  const connectionEvents = (router: RouterProcess, from: number) =>
    router.lines.slice(from).filter((line) => / is (down|up)\b|closes a connection|retrying/.test(line.msg) || line.level === 'error' || line.level === 'fatal');

  it('200 flows refused from west and 200 from south (policy), 200 from south for an address no router serves (not found), 20 at a time; "open" byte-exact alongside', async () => {
    const seen = routers.C!.lines.length;
    await routers.C!.rewrite(config('C', 'middle'));
    await waitFor('east to apply its new config', () => routers.C!.lines.slice(seen).find((line) => line.msg === 'configuration applied'));
    await waitFor('south to route through east', async () => ((await metric(ports.E!.http, 'kskup_tcp_listener_routes{address="db"}').catch(() => 0)) ?? 0) >= 1 ? true : undefined, 20_000);
    await echo(ports.A!.open, 20, 64 * 1024);
    await echo(ports.E!.open, 21, 64 * 1024);
    const marks = Object.fromEntries(Object.entries(routers).map(([name, router]) => [name, router.lines.length]));
    const deniedBefore = (await metric(ports.C!.http, 'kskup_tcp_flows_denied_total{address="db"}')) ?? 0;
    const ghostBefore = (await metric(ports.C!.http, 'kskup_tcp_flows_failed_total{address="ghost"}')) ?? 0;
    const connectionsBefore = backendConnections;

    // Allowed flows run the whole time on the same connections, each checked byte for byte.
    let stop = false;
    let allowed = 0;
    const failures: string[] = [];
    const alongside = (port: number, seed: number) =>
      (async () => {
        while (!stop) {
          await echo(port, seed + allowed, 32 * 1024);
          allowed++;
        }
      })().catch((error: unknown) => void failures.push(`an allowed flow on port ${port} failed: ${String(error)}`));
    const background = [alongside(ports.A!.open, 1_000), alongside(ports.E!.open, 2_000)];
    try {
      for (const port of [ports.A!.db, ports.E!.db, ports.E!.ghost]) {
        // 200 each: 100 one after another, then 100 in batches of 20 at once.
        for (let i = 0; i < 100; i++) await refused(port);
        for (let batch = 0; batch < 5; batch++) await Promise.all(Array.from({ length: 20 }, () => refused(port)));
      }
    } finally {
      stop = true;
      await Promise.all(background);
    }
    expect(failures).toEqual([]);
    expect(allowed).toBeGreaterThan(10);
    expect(backendConnections).toBe(connectionsBefore);
    expect(await metric(ports.C!.http, 'kskup_tcp_flows_denied_total{address="db"}')).toBe(deniedBefore + 400);
    expect(await metric(ports.C!.http, 'kskup_tcp_flows_failed_total{address="ghost"}')).toBe(ghostBefore + 200);
    for (const [name, router] of Object.entries(routers)) expect(connectionEvents(router, marks[name]!), `router ${name}`).toEqual([]);
    // And they still carry flows afterwards.
    await echo(ports.A!.open, 30, 256 * 1024);
    await echo(ports.E!.open, 31, 256 * 1024);
    await echo(ports.B!.db, 32, 256 * 1024);
  });
});
