// Two real router processes whose inter-router link runs through a proxy that
// stands in for the network (test/helpers/link-proxy.ts): made slow, silent or
// cut while flows are open.
//
//   client --> A [tcpListener] ==(AMQP, mTLS)== proxy ==> B [tcpConnector] --> backend
//
// Holding the link silent for a moment also holds back the credit a new flow
// waits for before A reads its client: what the client does meanwhile is
// sitting unread in A's socket.
// A listens for the inter-router link, B dials it through the proxy. Routers
// keep the defaults: a hello every second, a neighbour lost after 3 s of silence.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LinkProxy } from './helpers/link-proxy.js';
import { freePort, keepRouterLogs, metric, RouterProcess, routerLogsOnFailure, waitFor, type Entity } from './helpers/router-process.js';
import { connect, howItEnds, receiveAll, sendStream, startServer, type TestServer } from './helpers/tcp-tools.js';
import { createTestPki, type TestPki } from './helpers/test-pki.js';

const MiB = 1024 * 1024;
const HELLO_MAX_AGE_MS = 3_000;

let dir: string;
let pki: TestPki;
let a: RouterProcess;
let b: RouterProcess;
let proxy: LinkProxy;
const ports = { interRouter: 0, httpA: 0, httpB: 0, bulk: 0, hold: 0 };
const servers: TestServer[] = [];
/** Backend connections of the "hold" service, newest last, with how each ended. */
const held: { socket: net.Socket; received: number; sawEnd: boolean; ended: Promise<string> }[] = [];

routerLogsOnFailure(() => [a, b]);

async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** What `router` has logged about its inter-router link going down, from line `from` on. */
function linkEvents(router: RouterProcess, from = 0): string[] {
  return router.lines.slice(from).filter((l) => /dropping inter-router connection|inter-router connection to .* is down|is down:/.test(l.msg)).map((l) => l.msg);
}

async function linkUp(): Promise<void> {
  await waitFor('the A==B link and a route for "hold"', async () => {
    const routes = (await metric(ports.httpA, 'kskup_tcp_listener_routes{address="hold"}').catch(() => 0)) ?? 0;
    const links = (await metric(ports.httpB, 'kskup_inter_router_connections').catch(() => 0)) ?? 0;
    return routes >= 1 && links === 1;
  }, 20_000);
}

/**
 * Whether B has reset the backend connection of a flow. A socket that has had
 * its peer's FIN reads no more, so it notices a reset only when it writes:
 * once B counts no open flow for "hold", the backend writes a byte, which must
 * fail. Resolves with how the write ended.
 */
async function backendReset(backend: (typeof held)[number], ms: number): Promise<string> {
  await waitFor('B to count no open flow for "hold"', async () => (await metric(ports.httpB, 'kskup_tcp_flows_open{address="hold"}')) === 0, ms);
  const written = new Promise<string>((resolve) => {
    backend.socket.once('error', (error: NodeJS.ErrnoException) => resolve(`error ${error.code ?? error.message}`));
    backend.socket.write('?', (error) => {
      if (!error) resolve('written: the connection is still up');
    });
  });
  return within(1_000, written, 'the backend to see its connection reset');
}

/** A client of "hold" that sends 256 KiB and shuts its write side; resolves once the backend has it all. */
async function halfClosedFlow(): Promise<{ client: net.Socket; clientEnded: Promise<string>; backend: (typeof held)[number] }> {
  const before = held.length;
  const client = await connect(ports.hold);
  const clientEnded = howItEnds(client);
  await sendStream(client, 5, 256 * 1024, true);
  const backend = await waitFor('the backend to have all 256 KiB and the FIN', () => {
    const newest = held[before];
    return newest?.received === 256 * 1024 && newest.sawEnd ? newest : undefined;
  });
  return { client, clientEnded, backend };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kskup-link-loss-'));
  pki = await createTestPki(join(dir, 'pki'));
  for (const key of Object.keys(ports) as (keyof typeof ports)[]) ports[key] = await freePort();

  // Reads the client's whole stream, then answers with its byte count and sha256.
  const bulk = await startServer((socket) => {
    void receiveAll(socket).then((got) => socket.end(`${got.bytes} ${got.sha256}`));
  });
  // Reads everything and never answers: the client waits for a reply after its half-close.
  const hold = await startServer((socket) => {
    const entry = { socket, received: 0, sawEnd: false, ended: howItEnds(socket) };
    socket.on('data', (chunk: Buffer) => (entry.received += chunk.length));
    void entry.ended.then((how) => (entry.sawEnd = how === 'end'));
    held.push(entry);
  });
  servers.push(bulk, hold);
  proxy = await LinkProxy.start(ports.interRouter);

  const sslProfile = (cert: string, key: string): Entity => ['sslProfile', { name: 'inter-router', caCertFile: pki.caCert, certFile: cert, privateKeyFile: key }];
  a = await RouterProcess.start(dir, 'A', [
    ['router', { id: 'A', mode: 'interior' }],
    sslProfile(pki.serverCert, pki.serverKey),
    ['listener', { name: 'inter-router', role: 'inter-router', host: '127.0.0.1', port: ports.interRouter, sslProfile: 'inter-router', authenticatePeer: true, saslMechanisms: 'EXTERNAL' }],
    ['listener', { name: 'http', host: '127.0.0.1', port: ports.httpA, http: true }],
    ['tcpListener', { name: 'bulk', host: '127.0.0.1', port: ports.bulk, address: 'bulk' }],
    ['tcpListener', { name: 'hold', host: '127.0.0.1', port: ports.hold, address: 'hold' }],
  ], ['--log-level', 'debug']);
  b = await RouterProcess.start(dir, 'B', [
    ['router', { id: 'B', mode: 'interior' }],
    sslProfile(pki.clientCert, pki.clientKey),
    ['connector', { name: 'to-A', role: 'inter-router', host: 'localhost', port: proxy.port, sslProfile: 'inter-router', saslMechanisms: 'EXTERNAL' }],
    ['listener', { name: 'http', host: '127.0.0.1', port: ports.httpB, http: true }],
    ['tcpConnector', { name: 'bulk', host: '127.0.0.1', port: bulk.port, address: 'bulk' }],
    ['tcpConnector', { name: 'hold', host: '127.0.0.1', port: hold.port, address: 'hold' }],
  ], ['--log-level', 'debug']);
  await linkUp().catch((error: unknown) => {
    keepRouterLogs('start of A==B through a proxy', [a, b]);
    throw error;
  });
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await proxy?.close();
  await Promise.all(servers.map((s) => s.close()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('A==B through a proxy', () => {
  it('A==B over a 512 KiB/s link: two flows keep it full for 8 s, hellos wait seconds behind their data, and the link stays up with every byte delivered', async () => {
    // Each flow may have 2 MiB in flight (32 credits of 64 KiB): with two of
    // them, a hello that A sends waits behind up to 4 MiB, 8 s at this rate,
    // far beyond helloMaxAge. The bytes before it show that A is there.
    proxy.limit(512 * 1024);
    // From here: B's first dial at start may have found the proxy up and A not yet.
    const [fromA, fromB] = [a.lines.length, b.lines.length];
    const started = Date.now();
    try {
      const flows = [31, 32].map(async (seed) => {
        const socket = await connect(ports.bulk);
        const text: Buffer[] = [];
        socket.on('data', (chunk: Buffer) => text.push(chunk));
        // Both at once, so that a reset fails this flow once, with nothing left unhandled.
        const [, sent] = await Promise.all([receiveAll(socket), sendStream(socket, seed, 2 * MiB, true)]);
        return { sent, reply: Buffer.concat(text).toString() };
      });
      for (const { sent, reply } of await Promise.all(flows)) expect(reply).toBe(`${2 * MiB} ${sent}`);
    } finally {
      proxy.limit(undefined);
    }
    // The link really was the bottleneck for longer than helloMaxAge.
    expect(Date.now() - started).toBeGreaterThan(2 * HELLO_MAX_AGE_MS);
    expect(linkEvents(a, fromA)).toEqual([]);
    expect(linkEvents(b, fromB)).toEqual([]);
    expect(await metric(ports.httpA, 'kskup_inter_router_connections')).toBe(1);
    expect(await metric(ports.httpB, 'kskup_inter_router_connections')).toBe(1);
  });

  it('A->B a client that writes and resets before A has read a byte: the backend sees the reset, not a clean end', async () => {
    // libuv reports a reset that finds unread data in the socket as an end of
    // stream; passed on as one, the backend would take the client's abort for a
    // request sent in full.
    await linkUp();
    const before = held.length;
    const fromA = a.lines.length;
    proxy.goSilent();
    try {
      const client = await connect(ports.hold);
      client.on('error', () => undefined);
      await new Promise<void>((resolve) => client.write('hello', () => resolve()));
      await new Promise((resolve) => setTimeout(resolve, 200));
      client.resetAndDestroy();
      // Well inside helloMaxAge: the link itself survives the silence.
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      proxy.speak();
    }
    const backend = await waitFor('the backend connection', () => held[before]);
    expect(await within(5_000, backend.ended, 'the backend to see the reset')).toBe('error ECONNRESET');
    expect(backend.sawEnd).toBe(false);
    expect(linkEvents(a, fromA)).toEqual([]);
  });

  it('A==B cut while a client that has shut its write side waits for the reply: the client and the backend are both reset at once', async () => {
    await linkUp();
    const { clientEnded, backend } = await halfClosedFlow();
    const cutAt = Date.now();
    proxy.cut();
    expect(await within(HELLO_MAX_AGE_MS, clientEnded, 'the client to see its flow end')).toBe('error ECONNRESET');
    expect(await backendReset(backend, HELLO_MAX_AGE_MS)).toMatch(/^error (ECONNRESET|EPIPE)$/);
    // A closed connection ends its flows at once; only a silent one waits for helloMaxAge.
    expect(Date.now() - cutAt).toBeLessThan(HELLO_MAX_AGE_MS);
  });

  it('A==B gone silent (nothing forwarded, connections left open) while a client waits for the reply: both routers drop the link after helloMaxAge and reset both ends of the flow', async () => {
    await linkUp();
    const { clientEnded, backend } = await halfClosedFlow();
    const silentAt = Date.now();
    proxy.goSilent();
    try {
      const allowed = HELLO_MAX_AGE_MS + 3_000;
      expect(await within(allowed, clientEnded, 'the client to see its flow end')).toBe('error ECONNRESET');
      expect(await backendReset(backend, allowed)).toMatch(/^error (ECONNRESET|EPIPE)$/);
      expect(Date.now() - silentAt).toBeLessThan(allowed);
      await a.waitForLog('A to drop silent B', (l) => l.msg.includes('nothing heard from B'), 2_000);
      await b.waitForLog('B to drop silent A', (l) => l.msg.includes('nothing heard from A'), 2_000);
    } finally {
      proxy.cut();
    }
    // B redials through the proxy, which forwards again.
    await linkUp();
  });
});
