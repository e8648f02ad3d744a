// Routers in networks of more than two, real processes on loopback. Links are
// plain AMQP here (TLS is covered by router-link and router-tls tests).
//
//   line:  A -- B -- C            service on C, clients at A
//   ring:  A -- B                 service "ring-svc" on C, clients at A;
//          |    |                 A-B cut: A-D-C is the only way, restored: A-B-C or A-D-C
//          D -- C                 (equal cost; the tie-break picks one)
//   two:   A -- B -- C            "twice" served at B and at C: balanced from A
//   edge:  E ==> A1 -- B          E is an edge router with uplinks A1 (first) and A2;
//            ==> A2 -- B          E's clients reach a service on B, B's clients one on E;
//                                 A1 stopped: E fails over to A2
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, metric, RouterProcess, waitFor, type Entity } from './helpers/router-process.js';
import { connect, exchangeStream, startEchoServer, startServer, type TestServer } from './helpers/tcp-tools.js';

const MiB = 1024 * 1024;
let dir: string;
const servers: TestServer[] = [];
const routers: RouterProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kskup-net-'));
});
afterAll(async () => {
  await Promise.all(routers.map((r) => r.stop()));
  await Promise.all(servers.map((s) => s.close()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Node {
  name: string;
  mode?: 'interior' | 'edge';
  link: number;
  http: number;
  extra: Entity[];
  dials: { to: Node; cost?: number }[];
  /** Port of an edge listener, when the node has one. */
  edge?: number;
  process?: RouterProcess;
}

async function node(name: string): Promise<Node> {
  return { name, link: await freePort(), http: await freePort(), extra: [], dials: [] };
}

function config(n: Node): Entity[] {
  return [
    ['router', { id: n.name, mode: n.mode ?? 'interior', helloIntervalSeconds: 1, helloMaxAgeSeconds: 3 }],
    ...(n.mode === 'edge' ? [] : ([['listener', { name: 'inter-router', role: 'inter-router', host: '127.0.0.1', port: n.link }]] as Entity[])),
    ['listener', { name: 'http', host: '127.0.0.1', port: n.http, http: true }],
    ...n.dials.map(({ to, cost }): Entity => [
      'connector',
      { name: `to-${to.name}`, role: n.mode === 'edge' ? 'edge' : 'inter-router', host: '127.0.0.1', port: n.mode === 'edge' ? to.edge! : to.link, cost: cost ?? 1 },
    ]),
    ...n.extra,
  ];
}

async function start(nodes: Node[]): Promise<void> {
  for (const n of nodes) {
    n.process = await RouterProcess.start(dir, n.name, config(n), ['--log-level', 'info']);
    routers.push(n.process);
  }
}

async function routesTo(n: Node, address: string): Promise<number> {
  return (await metric(n.http, `kskup_tcp_listener_routes{address="${address}"}`).catch(() => 0)) ?? 0;
}

async function echoThrough(port: number, seed: number, bytes: number): Promise<void> {
  const socket = await connect(port);
  const { sent, got } = await exchangeStream(socket, seed, bytes);
  expect(got.bytes).toBe(bytes);
  expect(got.sha256).toBe(sent);
}

describe('line A--B--C', () => {
  it('A->B->C: flows from A reach a service on C through B, byte-exact, 20 at once; B restarted, the line heals', async () => {
    const echo = await startEchoServer();
    servers.push(echo);
    const [a, b, c] = [await node('line-A'), await node('line-B'), await node('line-C')];
    const port = await freePort();
    a.extra.push(['tcpListener', { name: 'svc', host: '127.0.0.1', port, address: 'line-svc' }]);
    c.extra.push(['tcpConnector', { name: 'svc', host: '127.0.0.1', port: echo.port, address: 'line-svc' }]);
    b.dials.push({ to: a });
    c.dials.push({ to: b });
    await start([a, b, c]);
    await waitFor('A to learn a route to C', async () => (await routesTo(a, 'line-svc')) >= 1, 15_000);
    await echoThrough(port, 1, 16 * MiB);
    await Promise.all(Array.from({ length: 20 }, (_, i) => echoThrough(port, 10 + i, 512 * 1024)));
    // B carried them without a tcpListener or tcpConnector of its own.
    expect(await metric(b.http, 'kskup_inter_router_connections')).toBe(2);
    const routes = a.process!.lines.filter((l) => l.msg === 'routes changed').at(-1);
    expect(routes?.routes).toMatchObject({ 'line-B': 'line-B/1', 'line-C': 'line-B/2' });

    // B restarts (a new process, a new link-state epoch): the line heals with no manual step.
    expect(await b.process!.stop()).toBe(0);
    await waitFor('A to lose the route', async () => (await routesTo(a, 'line-svc')) === 0, 10_000);
    b.process = await RouterProcess.start(dir, b.name, config(b), ['--log-level', 'info']);
    routers.push(b.process);
    await waitFor('A to route to C again', async () => (await routesTo(a, 'line-svc')) >= 1, 15_000);
    await echoThrough(port, 99, 1 * MiB);
  });
});

describe('ring A--B--C--D--A', () => {
  it('A->?->C: the A-B link cut, flows go A-D-C within helloMaxAge + 1 s; restored, A-B is used again', async () => {
    const echo = await startEchoServer();
    servers.push(echo);
    const [a, b, c, d] = [await node('ring-A'), await node('ring-B'), await node('ring-C'), await node('ring-D')];
    const port = await freePort();
    a.extra.push(['tcpListener', { name: 'svc', host: '127.0.0.1', port, address: 'ring-svc' }]);
    c.extra.push(['tcpConnector', { name: 'svc', host: '127.0.0.1', port: echo.port, address: 'ring-svc' }]);
    a.dials.push({ to: b });
    b.dials.push({ to: c });
    c.dials.push({ to: d });
    d.dials.push({ to: a });
    await start([a, b, c, d]);
    await waitFor('A to route to C', async () => (await routesTo(a, 'ring-svc')) >= 1, 15_000);
    await waitFor('all four links', async () => (await metric(a.http, 'kskup_inter_router_connections')) === 2 && (await metric(c.http, 'kskup_inter_router_connections')) === 2);
    await echoThrough(port, 1, 1 * MiB);

    // A flow that is open while the link goes: it must end (at both ends), not hang, if it used A-B.
    const open = await connect(port);
    const openEnded = new Promise<void>((resolve) => {
      open.on('error', () => undefined);
      open.once('close', () => resolve());
      open.once('end', () => resolve());
    });
    open.write('x');

    // Cut A-B: A stops dialling B.
    a.dials = [];
    const cutAt = Date.now();
    await a.process!.rewrite(config(a));
    const lastRoutes = () => a.process!.lines.filter((l) => l.msg === 'routes changed').at(-1)?.routes as Record<string, string> | undefined;
    await waitFor('A to route to C via D', () => lastRoutes()?.['ring-C'] === 'ring-D/2', 10_000);
    await waitFor('a flow through the other side', async () => {
      try {
        await echoThrough(port, 2, 64 * 1024);
        return true;
      } catch {
        return undefined;
      }
    }, 10_000);
    expect(Date.now() - cutAt).toBeLessThan(3_000 + 1_000);

    // The flow via B (if it went that way) was closed; via D it still works: either way, no hang.
    const usedB = a.process!.lines.some((l) => l.msg === 'routes changed' && (l.routes as Record<string, string>)['ring-C'] === 'ring-B/2');
    if (usedB) await openEnded;
    open.destroy();

    // Restore A-B.
    a.dials = [{ to: b }];
    await a.process!.rewrite(config(a));
    await waitFor('A to see B again', async () => (await metric(a.http, 'kskup_inter_router_connections')) === 2, 10_000);
    await waitFor('the direct route to B again', () => lastRoutes()?.['ring-B'] === 'ring-B/1');
    await echoThrough(port, 3, 1 * MiB);
  });
});

describe('ring A--B--C--D--A, a router freezes', () => {
  it('A->B->C with B stopped (SIGSTOP): A drops B within helloMaxAge and new flows go A-D-C; B resumed rejoins', async () => {
    const echo = await startEchoServer();
    servers.push(echo);
    const [a, b, c, d] = [await node('frz-A'), await node('frz-B'), await node('frz-C'), await node('frz-D')];
    const port = await freePort();
    a.extra.push(['tcpListener', { name: 'svc', host: '127.0.0.1', port, address: 'frz-svc' }]);
    c.extra.push(['tcpConnector', { name: 'svc', host: '127.0.0.1', port: echo.port, address: 'frz-svc' }]);
    a.dials.push({ to: b });
    b.dials.push({ to: c });
    c.dials.push({ to: d });
    d.dials.push({ to: a });
    await start([a, b, c, d]);
    const lastRoutes = () => a.process!.lines.filter((l) => l.msg === 'routes changed').at(-1)?.routes as Record<string, string> | undefined;
    // Equal cost both ways round: the tie-break (lowest next-hop id) sends A's flows to C via B.
    await waitFor('A to route to C via B', () => lastRoutes()?.['frz-C'] === 'frz-B/2', 15_000);
    await echoThrough(port, 1, 256 * 1024);

    b.process!.child.kill('SIGSTOP');
    const frozenAt = Date.now();
    try {
      await waitFor('A to route to C via D', () => lastRoutes()?.['frz-C'] === 'frz-D/2', 10_000);
      await echoThrough(port, 2, 256 * 1024);
      // helloMaxAgeSeconds is 3: the silent neighbour is dropped by then, plus a hello round.
      expect(Date.now() - frozenAt).toBeLessThan(3_000 + 1_000 + 500);
      // C may notice first (its ad then takes B-C out of every route); A notices too.
      await a.process!.waitForLog('A to drop silent B', (l) => String(l.msg).includes('nothing heard from frz-B'), 2_000);
    } finally {
      b.process!.child.kill('SIGCONT');
    }
    await waitFor('B to rejoin: A routes via B again', () => lastRoutes()?.['frz-C'] === 'frz-B/2', 15_000);
    await echoThrough(port, 3, 256 * 1024);
  });
});

describe('one address at two sites', () => {
  it('A->{B,C}: 100 flows to an address served at B and at C spread over both', async () => {
    const counts = { B: 0, C: 0 };
    const serverAt = (site: 'B' | 'C') =>
      startServer((socket) => {
        counts[site]++;
        socket.pipe(socket);
      });
    const [atB, atC] = [await serverAt('B'), await serverAt('C')];
    servers.push(atB, atC);
    const [a, b, c] = [await node('two-A'), await node('two-B'), await node('two-C')];
    const port = await freePort();
    a.extra.push(['tcpListener', { name: 'svc', host: '127.0.0.1', port, address: 'twice' }]);
    b.extra.push(['tcpConnector', { name: 'svc', host: '127.0.0.1', port: atB.port, address: 'twice' }]);
    c.extra.push(['tcpConnector', { name: 'svc', host: '127.0.0.1', port: atC.port, address: 'twice' }]);
    b.dials.push({ to: a });
    c.dials.push({ to: b });
    await start([a, b, c]);
    await waitFor('A to see both targets', async () => (await routesTo(a, 'twice')) === 2, 15_000);
    // 100 flows, 10 at a time, each held open while its batch runs: the choice is by
    // open flows plus path cost (B at 1, C at 2), so both get a share.
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(Array.from({ length: 10 }, (_, i) => echoThrough(port, batch * 10 + i, 16 * 1024)));
    }
    expect(counts.B + counts.C).toBe(100);
    // Stated split: B (nearer) gets at least as many as C, and C gets at least 20.
    expect(counts.B).toBeGreaterThanOrEqual(counts.C);
    expect(counts.C).toBeGreaterThanOrEqual(20);
  });
});

describe('one address at two sites, one backend dead', () => {
  it('A->{B dead, C}: every client is served; B is taken out of rotation after its first refusal', async () => {
    const atC = await startEchoServer();
    servers.push(atC);
    const deadPort = await freePort(); // nothing listens there
    const [a, b, c] = [await node('dead-A'), await node('dead-B'), await node('dead-C')];
    const port = await freePort();
    a.extra.push(['tcpListener', { name: 'svc', host: '127.0.0.1', port, address: 'half-dead' }]);
    b.extra.push(['tcpConnector', { name: 'svc', host: '127.0.0.1', port: deadPort, address: 'half-dead' }]);
    c.extra.push(['tcpConnector', { name: 'svc', host: '127.0.0.1', port: atC.port, address: 'half-dead' }]);
    b.dials.push({ to: a });
    c.dials.push({ to: a });
    await start([a, b, c]);
    await waitFor('A to see both targets', async () => (await routesTo(a, 'half-dead')) === 2, 15_000);
    for (let i = 0; i < 20; i++) await echoThrough(port, 500 + i, 32 * 1024);
    const outOfRotation = a.process!.lines.filter((l) => String(l.msg).startsWith('target dead-B for address half-dead is out of rotation'));
    expect(outOfRotation.length).toBe(1);
    expect(String(outOfRotation[0]!.reason)).toContain('connect to backend failed: ECONNREFUSED');
  });
});

describe('one address at two sites, one backend resets', () => {
  it('A->{B resets, C}: after B\'s first reset, B is out of rotation and clients are served by C', async () => {
    const atC = await startEchoServer();
    const resetting = await startServer((socket) => socket.resetAndDestroy());
    servers.push(atC, resetting);
    const [a, b, c] = [await node('rst-A'), await node('rst-B'), await node('rst-C')];
    const port = await freePort();
    a.extra.push(['tcpListener', { name: 'svc', host: '127.0.0.1', port, address: 'flaky' }]);
    b.extra.push(['tcpConnector', { name: 'svc', host: '127.0.0.1', port: resetting.port, address: 'flaky' }]);
    c.extra.push(['tcpConnector', { name: 'svc', host: '127.0.0.1', port: atC.port, address: 'flaky' }]);
    b.dials.push({ to: a });
    c.dials.push({ to: a });
    await start([a, b, c]);
    await waitFor('A to see both targets', async () => (await routesTo(a, 'flaky')) === 2, 15_000);
    // Until B has reset one client, a client may land there and be reset (its bytes were already sent).
    await waitFor('B out of rotation', async () => {
      await echoThrough(port, 700, 1024).catch(() => undefined);
      return a.process!.lines.some((l) => String(l.msg).startsWith('target rst-B for address flaky is out of rotation')) || undefined;
    }, 10_000);
    for (let i = 0; i < 10; i++) await echoThrough(port, 710 + i, 32 * 1024);
    const line = a.process!.lines.find((l) => String(l.msg).startsWith('target rst-B for address flaky is out of rotation'));
    expect(String(line?.reason)).toContain('ECONNRESET');
  });
});

describe('edge router with two uplinks', () => {
  it('E=>A1--B: E reaches a service on B and B one on E; A1 stopped, E fails over to A2', async () => {
    const [onB, onE] = [await startEchoServer(), await startEchoServer()];
    servers.push(onB, onE);
    const [e, a1, a2, b] = [await node('edg-E'), await node('edg-A1'), await node('edg-A2'), await node('edg-B')];
    e.mode = 'edge';
    a1.edge = await freePort();
    a2.edge = await freePort();
    for (const uplink of [a1, a2]) uplink.extra.push(['listener', { name: 'edge', role: 'edge', host: '127.0.0.1', port: uplink.edge }]);
    const [atE, atB] = [await freePort(), await freePort()];
    e.extra.push(['tcpListener', { name: 'to-b', host: '127.0.0.1', port: atE, address: 'svc-on-b' }]);
    e.extra.push(['tcpConnector', { name: 'here', host: '127.0.0.1', port: onE.port, address: 'svc-on-e' }]);
    b.extra.push(['tcpListener', { name: 'to-e', host: '127.0.0.1', port: atB, address: 'svc-on-e' }]);
    b.extra.push(['tcpConnector', { name: 'here', host: '127.0.0.1', port: onB.port, address: 'svc-on-b' }]);
    a1.dials.push({ to: b });
    a2.dials.push({ to: b });
    await start([b, a1, a2]);
    e.dials.push({ to: a1 }, { to: a2 });
    await start([e]);
    await waitFor('B to route to the edge service', async () => (await routesTo(b, 'svc-on-e')) >= 1, 15_000);
    await waitFor('E to have an uplink', async () => (await routesTo(e, 'svc-on-b')) >= 1, 15_000);
    await echoThrough(atE, 1, 2 * MiB);
    await echoThrough(atB, 2, 2 * MiB);
    // One uplink at a time: only the active one advertises E's address.
    const uplinkLine = await e.process!.waitForLog('the uplink', (l) => String(l.msg).startsWith('edge uplink is'));
    const active = uplinkLine.uplink === a1.name ? a1 : a2;
    const standby = active === a1 ? a2 : a1;

    expect(await active.process!.stop()).toBe(0);
    await e.process!.waitForLog('the standby uplink', (l) => l.msg === `edge uplink is ${standby.name}`, 10_000);
    await waitFor('B to route to E via the standby', async () => {
      try {
        await echoThrough(atB, 3, 256 * 1024);
        return true;
      } catch {
        return undefined;
      }
    }, 10_000);
    await echoThrough(atE, 4, 256 * 1024);
  });
});
