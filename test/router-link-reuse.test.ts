// Link pairs carried over from one flow to the next (router/tcp/flow-protocol.ts,
// REUSE_PROPERTY; router/tcp/link-pair-pool.ts), between two real routers over
// mutual TLS:
//
//   client --> A [tcpListener] ==(AMQP, mTLS)==> B [tcpConnector] --> backend
//
// A flow that ends cleanly leaves its links attached, and the next flow to the
// same address starts on them with a flow-start message. Each test checks the
// bytes and how often a pair was reused (kskup_tcp_flows_reused_links_total at
// both ends), including the paths where a reused pair must not be trusted: a
// backend that is gone, a client that resets, a backend that speaks first.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createSecureContext, TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPki, type TestPki } from './helpers/test-pki.js';
import { freePort, metric, RouterProcess, routerLogsOnFailure, waitFor, type Entity } from './helpers/router-process.js';
import { connect, howItEnds, openAndWatchEnd, startEchoServer, startServer, type TestServer } from './helpers/tcp-tools.js';

let dir: string;
let pki: TestPki;
let a: RouterProcess;
let b: RouterProcess;
/** A second target for "twotarget", beside B. */
let c: RouterProcess;
const ports = { interRouter: 0, httpA: 0, httpB: 0, httpC: 0, echo: 0, banner: 0, flaky: 0, twoTarget: 0 };
/** B's backend for "twotarget": closed by a test while its pair waits. */
let twoTargetAtB: TestServer | undefined;
const servers: TestServer[] = [];
let flakyBackendPort = 0;
let flakyBackend: TestServer | undefined;
let configB: (change?: { twoTargetPort?: number; twoTargetTls?: boolean }) => Entity[];
/** Sockets the reset-watching backend has seen end, and how. */
const backendEnds: Promise<string>[] = [];

routerLogsOnFailure(() => [a, b, c]);

async function reused(port: number, address: string): Promise<number> {
  return (await metric(port, `kskup_tcp_flows_reused_links_total{address="${address}"}`)) ?? 0;
}

/** One whole flow: sends `bytes`, ends, reads everything back until the router's FIN; returns what came back. */
async function roundTrip(port: number, bytes: Buffer): Promise<Buffer> {
  const socket = await connect(port);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = howItEnds(socket);
  socket.end(bytes);
  expect(await ended).toBe('end');
  await new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));
  return Buffer.concat(chunks);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kskup-reuse-'));
  pki = await createTestPki(join(dir, 'pki'));
  for (const key of Object.keys(ports) as (keyof typeof ports)[]) ports[key] = await freePort();
  const echo = await startEchoServer();
  // Speaks first: a banner as soon as the connection is up, then echoes.
  const banner = await startServer((socket) => {
    socket.write('BANNER\n');
    socket.pipe(socket);
  });
  twoTargetAtB = await startEchoServer();
  const twoTargetPortAtB = twoTargetAtB.port;
  servers.push(echo, banner);
  flakyBackendPort = await freePort();
  flakyBackend = await startFlakyBackend(flakyBackendPort);

  const sslProfile = (cert: string, key: string): Entity => ['sslProfile', { name: 'inter-router', caCertFile: pki.caCert, certFile: cert, privateKeyFile: key }];
  a = await RouterProcess.start(dir, 'A', [
    ['router', { id: 'A', mode: 'interior' }],
    sslProfile(pki.serverCert, pki.serverKey),
    ['listener', { name: 'inter-router', role: 'inter-router', host: '127.0.0.1', port: ports.interRouter, sslProfile: 'inter-router', authenticatePeer: true, saslMechanisms: 'EXTERNAL' }],
    ['listener', { name: 'http', host: '127.0.0.1', port: ports.httpA, http: true }],
    ['tcpListener', { name: 'echo', host: '127.0.0.1', port: ports.echo, address: 'echo' }],
    ['tcpListener', { name: 'banner', host: '127.0.0.1', port: ports.banner, address: 'banner' }],
    ['tcpListener', { name: 'flaky', host: '127.0.0.1', port: ports.flaky, address: 'flaky' }],
    ['tcpListener', { name: 'twotarget', host: '127.0.0.1', port: ports.twoTarget, address: 'twotarget' }],
  ]);
  configB = (change = {}) => [
    ['router', { id: 'B', mode: 'interior' }],
    sslProfile(pki.clientCert, pki.clientKey),
    ['connector', { name: 'to-A', role: 'inter-router', host: 'localhost', port: ports.interRouter, sslProfile: 'inter-router', saslMechanisms: 'EXTERNAL' }],
    ['listener', { name: 'http', host: '127.0.0.1', port: ports.httpB, http: true }],
    ['tcpConnector', { name: 'echo', host: '127.0.0.1', port: echo.port, address: 'echo' }],
    ['tcpConnector', { name: 'banner', host: '127.0.0.1', port: banner.port, address: 'banner' }],
    ['tcpConnector', { name: 'flaky', host: '127.0.0.1', port: flakyBackendPort, address: 'flaky' }],
    ['sslProfile', { name: 'other-ca', caCertFile: pki.otherCaCert }],
    ['tcpConnector', { name: 'twotarget', host: '127.0.0.1', port: change.twoTargetPort ?? twoTargetPortAtB, address: 'twotarget', ...(change.twoTargetTls && { sslProfile: 'other-ca' }) }],
  ];
  b = await RouterProcess.start(dir, 'B', configB());
  c = await RouterProcess.start(dir, 'C', [
    ['router', { id: 'C', mode: 'interior' }],
    sslProfile(pki.clientCert, pki.clientKey),
    ['connector', { name: 'to-A', role: 'inter-router', host: 'localhost', port: ports.interRouter, sslProfile: 'inter-router', saslMechanisms: 'EXTERNAL' }],
    ['listener', { name: 'http', host: '127.0.0.1', port: ports.httpC, http: true }],
    ['tcpConnector', { name: 'twotarget', host: '127.0.0.1', port: echo.port, address: 'twotarget' }],
  ]);
  await waitFor('A to see two targets for "twotarget"', async () => ((await metric(ports.httpA, 'kskup_tcp_listener_routes{address="twotarget"}').catch(() => 0)) ?? 0) >= 2);
  for (const address of ['echo', 'banner', 'flaky']) {
    await waitFor(`A to see a route for "${address}"`, async () => ((await metric(ports.httpA, `kskup_tcp_listener_routes{address="${address}"}`).catch(() => 0)) ?? 0) >= 1);
  }
});

/** An echo server on a fixed port (so that it can come back on it) that records how each of its connections ended. */
async function startFlakyBackend(port: number): Promise<TestServer> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    backendEnds.push(howItEnds(socket));
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    server,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A backend that takes the TCP connection, waits 300 ms, then offers a certificate the connector's CA did not sign. */
async function startSlowUntrustedTls(): Promise<TestServer> {
  const secureContext = createSecureContext({ cert: await readFile(pki.serverCert), key: await readFile(pki.serverKey) });
  return startServer((socket) => {
    setTimeout(() => new TLSSocket(socket, { isServer: true, secureContext }).on('error', () => undefined), 300);
  });
}

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop(), c?.stop()]);
  await Promise.all([...servers, ...(flakyBackend ? [flakyBackend] : []), ...(twoTargetAtB ? [twoTargetAtB] : [])].map((s) => s.close()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('A==B: link pairs reused from flow to flow', () => {
  it('40 flows one after another: 39 start on the first flow\'s links, at both ends, every byte back', async () => {
    const before = { a: await reused(ports.httpA, 'echo'), b: await reused(ports.httpB, 'echo') };
    for (let i = 0; i < 40; i++) {
      const bytes = randomBytes(1 + ((i * 7919) % 200_000));
      const back = await roundTrip(ports.echo, bytes);
      expect(back.length).toBe(bytes.length);
      expect(createHash('sha256').update(back).digest('hex')).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
    expect((await reused(ports.httpA, 'echo')) - before.a).toBe(39);
    expect((await reused(ports.httpB, 'echo')) - before.b).toBe(39);
  });

  it('a backend that speaks first: on a reused pair its banner still comes first, then the echo', async () => {
    const before = await reused(ports.httpA, 'banner');
    for (let i = 0; i < 5; i++) {
      const back = await roundTrip(ports.banner, Buffer.from(`hello ${i}\n`));
      expect(back.toString()).toBe(`BANNER\nhello ${i}\n`);
    }
    expect((await reused(ports.httpA, 'banner')) - before).toBe(4);
  });

  it('50 flows at once, twice: the second round starts on pairs the first left, the pool stays bounded, every byte back', async () => {
    const round = () =>
      Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const bytes = randomBytes(10_000 + i);
          const back = await roundTrip(ports.echo, bytes);
          expect(back.equals(bytes)).toBe(true);
        }),
      );
    await round();
    const before = await reused(ports.httpA, 'echo');
    await round();
    const second = (await reused(ports.httpA, 'echo')) - before;
    // At most 16 idle pairs are kept per address and router (MAX_IDLE_PAIRS); the rest were detached.
    expect(second).toBeGreaterThanOrEqual(16);
    expect(second).toBeLessThanOrEqual(50);
    await waitFor('no flow open at A or B', async () =>
      (await metric(ports.httpA, 'kskup_tcp_flows_open{address="echo"}')) === 0 && (await metric(ports.httpB, 'kskup_tcp_flows_open{address="echo"}')) === 0,
    );
  });

  it('8 clients, each with 100 flows back to back: none fails, every byte back', async () => {
    // A race found by the connections/s bench: B's end-of-stream reached A, A
    // started the next flow on the pair, and B, still waiting for that
    // end-of-stream to be counted as written, took the flow-start for a protocol
    // error. It showed in about 1 of 700 flows with 8 concurrent clients on a
    // loaded machine, so this test can pass with the race in place; it checks
    // the concurrent back-to-back use of pairs as a whole.
    const before = await reused(ports.httpA, 'echo');
    const failures: string[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async (_, client) => {
        for (let i = 0; i < 100; i++) {
          const bytes = Buffer.from(`client ${client} flow ${i} `.repeat(4));
          const back = await roundTrip(ports.echo, bytes).catch((error: unknown) => Buffer.from(`failed: ${String(error)}`));
          if (!back.equals(bytes)) failures.push(`client ${client} flow ${i}: ${back.subarray(0, 80).toString()}`);
        }
      }),
    );
    expect(failures).toEqual([]);
    expect((await reused(ports.httpA, 'echo')) - before).toBeGreaterThan(700);
  });

  it('a client that resets on a reused pair resets the backend; the next flow is served', async () => {
    await roundTrip(ports.flaky, Buffer.from('warm'));
    const before = await reused(ports.httpA, 'flaky');
    const endsBefore = backendEnds.length;
    const socket = await connect(ports.flaky);
    socket.write('some bytes');
    await new Promise<void>((resolve) => socket.once('data', () => resolve()));
    expect((await reused(ports.httpA, 'flaky')) - before).toBe(1);
    socket.resetAndDestroy();
    await waitFor('the backend to see the flow end', () => (backendEnds.length > endsBefore ? true : undefined));
    expect(await backendEnds[endsBefore]).toMatch(/^error ECONNRESET|^closed/);
    expect((await roundTrip(ports.flaky, Buffer.from('after'))).toString()).toBe('after');
  });

  it('a backend gone while its pair waits: the flow on the reused pair is refused (reset, not a hang); back again, flows are served', async () => {
    expect((await roundTrip(ports.flaky, Buffer.from('once'))).toString()).toBe('once');
    await flakyBackend!.close();
    flakyBackend = undefined;
    const before = await reused(ports.httpA, 'flaky');
    const { socket, ended } = openAndWatchEnd(ports.flaky);
    socket.on('connect', () => socket.write('lost'));
    const end = await ended;
    expect(end.code).toBe('ECONNRESET');
    expect((await reused(ports.httpA, 'flaky')) - before).toBe(1);
    flakyBackend = await startFlakyBackend(flakyBackendPort);
    // The target is out of rotation for a while after the refusal, but it is the only one: clients still go to it.
    expect((await roundTrip(ports.flaky, Buffer.from('back'))).toString()).toBe('back');
  });

  it('a backend that fails at one of two targets: a client that sent everything at once on a reused pair gets it all back from the other target', async () => {
    // Warm pairs to both B and C, then B's backend becomes one whose TLS
    // handshake fails, 300 ms after the TCP connect. On a reused pair the
    // client's bytes and its end of stream go out at once, long before B
    // gives up on its backend; A sends them again to C.
    for (let i = 0; i < 6; i++) expect((await roundTrip(ports.twoTarget, Buffer.from(`warm ${i}`))).toString()).toBe(`warm ${i}`);
    const reusedBefore = await reused(ports.httpA, 'twotarget');
    const reusedAtC = await reused(ports.httpC, 'twotarget');
    const failing = await startSlowUntrustedTls();
    servers.push(failing);
    const applied = b.lines.length;
    await b.rewrite(configB({ twoTargetPort: failing.port, twoTargetTls: true }));
    await b.waitForLog('B to apply its new twotarget tcpConnector', (l) => b.lines.indexOf(l) >= applied && l.msg === 'configuration applied');
    const logStart = a.lines.length;
    for (let i = 0; i < 6; i++) {
      const bytes = randomBytes(50_000 + i);
      const back = await roundTrip(ports.twoTarget, bytes);
      expect(back.equals(bytes)).toBe(true);
    }
    const outOfRotation = a.lines.slice(logStart).filter((l) => String(l.msg).includes('target B for address twotarget is out of rotation'));
    expect(outOfRotation).toHaveLength(1);
    // Its bytes had gone to B already: the 50,000 and more that the client sent.
    expect(outOfRotation[0]!.resendBytes).toBeGreaterThanOrEqual(50_000);
    // The flow B refused had started on a reused pair (so its bytes had gone out early), and C took every flow after.
    expect((await reused(ports.httpA, 'twotarget')) - reusedBefore).toBeGreaterThanOrEqual(6);
    expect((await reused(ports.httpC, 'twotarget')) - reusedAtC).toBeGreaterThanOrEqual(4);
  });

  it('B restarted: pairs kept at A for the old connection are not used, and flows are served on the new one', async () => {
    await roundTrip(ports.echo, Buffer.from('before restart'));
    await b.stop();
    b = await RouterProcess.start(dir, 'B', configB());
    await waitFor('A to see B again', async () => ((await metric(ports.httpA, 'kskup_tcp_listener_routes{address="echo"}').catch(() => 0)) ?? 0) >= 1);
    for (let i = 0; i < 3; i++) expect((await roundTrip(ports.echo, Buffer.from(`after ${i}`))).toString()).toBe(`after ${i}`);
    // The new B counts from 0: the first flow attached a new pair, the next two reused it.
    expect(await reused(ports.httpB, 'echo')).toBe(2);
  });
});
