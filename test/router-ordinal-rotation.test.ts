// Certificate rotation with skupper-router 3's sslProfile `ordinal` and
// `oldestValidOrdinal`, first as config, then on real router processes:
//
//   B [connector "to-a", sslProfile "links" in b/] ==mTLS==> A [inter-router listener, sslProfile "links" in a/]
//   client --> A [tcpListener "to-b"] --> B [tcpConnector] --> echo
//   client --> B [tcpListener "to-a"] --> A [tcpConnector] --> echo
//
// Both routers start on certificates of CA 1. The files are then replaced by
// certificates of CA 2 (each side trusting CA 2 only) and the ordinal raised
// to 1: the old link stays, with a flow through it, and B opens a second
// connection with the new files, which A accepts against CA 2. Flows opened
// then take the new connection. Raising oldestValidOrdinal to 1 at A (by
// management UPDATE) closes the old connection: its flow ends, the new flows
// carry on byte-exact. Raising both to 2 at once closes the link and it comes
// back made with ordinal 2.
import { X509Certificate } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import type net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, formatProblem, parseRouterConfig } from '../router/config/index.js';
import { longEntityType, ManagementClient, ManagementStatusError } from '../router/management/management-client.js';
import { createCertificateAuthority, issueCertificate } from '../site-controller/pki/index.js';
import { freePort, RouterProcess, routerLogsOnFailure, waitFor, type Entity } from './helpers/router-process.js';
import { connect, howItEnds, startEchoServer, type TestServer } from './helpers/tcp-tools.js';
import { useTestFolder } from './helpers/temp-dir.js';

function problemsOf(profile: Record<string, unknown>): string[] {
  try {
    parseRouterConfig(JSON.stringify([['router', { id: 'r', mode: 'interior' }], ['sslProfile', { name: 'links', ...profile }]]));
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map(formatProblem);
    throw error;
  }
  return [];
}

describe('sslProfile ordinal and oldestValidOrdinal (config)', () => {
  it('default to 0 and are held as written, from strings too', () => {
    const parse = (profile: object) =>
      parseRouterConfig(JSON.stringify([['router', { id: 'r', mode: 'interior' }], ['sslProfile', { name: 'links', ...profile }]])).config.sslProfiles.get('links');
    expect(parse({})).toMatchObject({ ordinal: 0, oldestValidOrdinal: 0 });
    expect(parse({ ordinal: '7', oldestValidOrdinal: 3 })).toMatchObject({ ordinal: 7, oldestValidOrdinal: 3 });
    expect(parse({ ordinal: 2, oldestValidOrdinal: 2 })).toMatchObject({ ordinal: 2, oldestValidOrdinal: 2 });
  });

  it.each<[string, Record<string, unknown>, string]>([
    // skupper-router: "ordinal must be >= oldestValidOrdinal (sslProfile 'links')".
    ['oldestValidOrdinal above ordinal', { ordinal: 1, oldestValidOrdinal: 2 }, 'sslProfile "links": oldestValidOrdinal 2 is above ordinal 1: ordinal must be >= oldestValidOrdinal'],
    ['oldestValidOrdinal with no ordinal', { oldestValidOrdinal: 1 }, 'sslProfile "links": oldestValidOrdinal 1 is above ordinal 0'],
    // skupper-router: "Negative ordinal field values are invalid".
    ['a negative ordinal', { ordinal: -1 }, 'sslProfile "links": ordinal -1 must be at least 0'],
    ['a negative oldestValidOrdinal', { ordinal: 1, oldestValidOrdinal: -1 }, 'sslProfile "links": oldestValidOrdinal -1 must be at least 0'],
    ['a fraction', { ordinal: 1.5 }, 'sslProfile "links": ordinal 1.5 is not an integer'],
  ])('refuses %s, naming the attribute', (_what, profile, says) => {
    const problems = problemsOf(profile);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(says);
  });
});

// ---------------------------------------------------------------------------
// Real routers.

const folder = useTestFolder('ordinal');
const routers: RouterProcess[] = [];
const clients: ManagementClient[] = [];
const sockets: net.Socket[] = [];
routerLogsOnFailure(() => routers);
let echo: TestServer;
let a: RouterProcess;
let b: RouterProcess;
let managementA: ManagementClient;
let managementB: ManagementClient;
const ports = { link: 0, amqpA: 0, amqpB: 0, toB: 0, toA: 0 };
/** Serial numbers (hex, as node:crypto writes them) of A's certificates of CA 1 and CA 2. */
const servedBy = { old: '', new: '' };
interface Rotation {
  readonly ca: string;
  readonly a: { cert: string; key: string };
  readonly b: { cert: string; key: string };
}
let rotations: [Rotation, Rotation];

async function makeRotation(name: string): Promise<Rotation> {
  const ca = await createCertificateAuthority({ commonName: `ordinal-test-${name}` });
  const [certA, certB] = await Promise.all([
    issueCertificate(ca, { commonName: 'A', hosts: ['localhost', '127.0.0.1'], usage: 'both' }),
    issueCertificate(ca, { commonName: 'B', usage: 'client' }),
  ]);
  return { ca: ca.certPem, a: { cert: certA.certPem, key: certA.keyPem }, b: { cert: certB.certPem, key: certB.keyPem } };
}

/** Writes a router's three files as a careful writer does: beside, then renamed into place. */
async function install(dir: string, rotation: Rotation, side: 'a' | 'b'): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [file, pem] of [['ca.crt', rotation.ca], ['tls.key', rotation[side].key], ['tls.crt', rotation[side].cert]] as const) {
    await writeFile(join(dir, `${file}.next`), pem, { mode: 0o600 });
    await rename(join(dir, `${file}.next`), join(dir, file));
  }
}

function profile(dir: string, ordinals: { ordinal?: number; oldestValidOrdinal?: number } = {}): Entity {
  return ['sslProfile', { name: 'links', caCertFile: join(dir, 'ca.crt'), certFile: join(dir, 'tls.crt'), privateKeyFile: join(dir, 'tls.key'), ...ordinals }];
}

function configB(ordinals: { ordinal?: number; oldestValidOrdinal?: number } = {}): Entity[] {
  return [
    ['router', { id: 'B', mode: 'interior' }],
    profile(join(folder.path, 'b'), ordinals),
    ['connector', { name: 'to-a', role: 'inter-router', host: '127.0.0.1', port: ports.link, sslProfile: 'links' }],
    ['listener', { name: 'amqp', host: '127.0.0.1', port: ports.amqpB }],
    ['tcpListener', { name: 'to-a', host: '127.0.0.1', port: ports.toA, address: 'echo-at-a' }],
    ['tcpConnector', { name: 'echo', host: '127.0.0.1', port: echo.port, address: 'echo-at-b' }],
  ];
}

beforeAll(async () => {
  rotations = await Promise.all([makeRotation('ca-1'), makeRotation('ca-2')]);
  servedBy.old = new X509Certificate(rotations[0].a.cert).serialNumber;
  servedBy.new = new X509Certificate(rotations[1].a.cert).serialNumber;
  echo = await startEchoServer();
  for (const key of Object.keys(ports) as (keyof typeof ports)[]) ports[key] = await freePort();
  await install(join(folder.path, 'a'), rotations[0], 'a');
  await install(join(folder.path, 'b'), rotations[0], 'b');
  a = await RouterProcess.start(folder.path, 'A', [
    ['router', { id: 'A', mode: 'interior' }],
    profile(join(folder.path, 'a')),
    ['listener', { name: 'inter-router', role: 'inter-router', host: '127.0.0.1', port: ports.link, sslProfile: 'links', authenticatePeer: true }],
    ['listener', { name: 'amqp', host: '127.0.0.1', port: ports.amqpA }],
    ['tcpListener', { name: 'to-b', host: '127.0.0.1', port: ports.toB, address: 'echo-at-b' }],
    ['tcpConnector', { name: 'echo', host: '127.0.0.1', port: echo.port, address: 'echo-at-a' }],
  ]);
  b = await RouterProcess.start(folder.path, 'B', configB());
  routers.push(a, b);
  managementA = await waitFor('A management', () => ManagementClient.connect({ host: '127.0.0.1', port: ports.amqpA }, { timeoutMs: 5_000 }).catch(() => undefined));
  managementB = await waitFor('B management', () => ManagementClient.connect({ host: '127.0.0.1', port: ports.amqpB }, { timeoutMs: 5_000 }).catch(() => undefined));
  clients.push(managementA, managementB);
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await Promise.all(clients.map((client) => client.close()));
  await Promise.all(routers.map((router) => router.stop()));
  await echo?.close();
});

interface LinkRow {
  identity: string;
  tlsOrdinal: unknown;
  groupOrdinal: unknown;
  ssl: unknown;
}

/** One side's open inter-router connections, oldest first. */
async function links(client: ManagementClient): Promise<LinkRow[]> {
  const rows = await client.query('connection');
  return rows
    .filter((row) => row.role === 'inter-router' && row.opened === true)
    .map((row) => ({ identity: String(row.identity), tlsOrdinal: row.tlsOrdinal, groupOrdinal: row.groupOrdinal, ssl: row.ssl }))
    .sort((x, y) => Number(x.identity) - Number(y.identity));
}

/** Waits until both sides see exactly these tlsOrdinals on their open inter-router connections. */
async function waitForLinkOrdinals(expected: number[], timeoutMs = 15_000): Promise<{ atA: LinkRow[]; atB: LinkRow[] }> {
  return waitFor(
    `inter-router connections with tlsOrdinals ${expected.join(', ')} at A and B`,
    async () => {
      const [atA, atB] = [await links(managementA), await links(managementB)];
      const same = (rows: LinkRow[]) => JSON.stringify(rows.map((row) => row.tlsOrdinal)) === JSON.stringify(expected);
      return same(atA) && same(atB) ? { atA, atB } : undefined;
    },
    timeoutMs,
  );
}

/** A flow through a tcpListener to the echo server, used one round at a time. */
async function openFlow(port: number): Promise<net.Socket> {
  const socket = await connect(port);
  sockets.push(socket);
  // A flow whose link is closed under it is reset: echoRound and howItEnds tell; nothing else must throw.
  socket.on('error', () => undefined);
  return socket;
}

let round = 0;
/** Sends bytes no other round sends and waits for exactly them back. */
async function echoRound(socket: net.Socket): Promise<void> {
  const sent = Buffer.from(`round ${++round} from ${socket.localPort}: ${'x'.repeat(round * 7)}\n`);
  const got: Buffer[] = [];
  let length = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no echo of round ${round} within 5 s (got ${length} of ${sent.length} bytes)`)), 5_000);
    const onData = (chunk: Buffer) => {
      got.push(chunk);
      length += chunk.length;
      if (length >= sent.length) {
        clearTimeout(timer);
        socket.off('data', onData);
        resolve();
      }
    };
    socket.on('data', onData);
    socket.write(sent);
  });
  expect(Buffer.concat(got).equals(sent)).toBe(true);
}

/** The serial of the certificate A's inter-router listener serves now, to a client trusting `ca`. */
function servedSerial(ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: ports.link, ca, servername: 'localhost' }, () => {
      resolve(socket.getPeerX509Certificate()?.serialNumber ?? '');
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

function updateProfileAtA(attributes: Record<string, unknown>) {
  return managementA.request({ operation: 'UPDATE', type: longEntityType('sslProfile'), name: 'links', body: attributes });
}

describe('A <==mTLS== B: certificate rotation by ordinal', () => {
  // The steps depend on each other: one test, each step named in its assertions.
  it('A<-B raise ordinal: old link stays, a new one on the new files takes new flows; raise oldestValidOrdinal: the old one closes; raise both: the link comes back on ordinal 2', async () => {
    const { atA: [first] } = await waitForLinkOrdinals([0]);
    expect(first).toMatchObject({ ssl: true, tlsOrdinal: 0, groupOrdinal: 0 });
    expect(await servedSerial(rotations[0].ca)).toBe(servedBy.old);
    const oldFlows = [await openFlow(ports.toB), await openFlow(ports.toA)];
    for (const flow of oldFlows) await echoRound(flow);

    // Rotate: new files (CA 2 only) on both sides, then ordinal 1 in both config files.
    await install(join(folder.path, 'a'), rotations[1], 'a');
    await install(join(folder.path, 'b'), rotations[1], 'b');
    await waitFor('A to serve the new certificate', async () => (await servedSerial(rotations[1].ca).catch(() => '')) === servedBy.new);
    await a.rewrite([
      ['router', { id: 'A', mode: 'interior' }],
      profile(join(folder.path, 'a'), { ordinal: 1 }),
      ['listener', { name: 'inter-router', role: 'inter-router', host: '127.0.0.1', port: ports.link, sslProfile: 'links', authenticatePeer: true }],
      ['listener', { name: 'amqp', host: '127.0.0.1', port: ports.amqpA }],
      ['tcpListener', { name: 'to-b', host: '127.0.0.1', port: ports.toB, address: 'echo-at-b' }],
      ['tcpConnector', { name: 'echo', host: '127.0.0.1', port: echo.port, address: 'echo-at-a' }],
    ]);
    await waitFor('A to hold ordinal 1', async () => (await managementA.read('sslProfile', 'links')).ordinal === 1);
    await b.rewrite(configB({ ordinal: 1 }));
    const { atA: both, atB } = await waitForLinkOrdinals([0, 1]);
    // The first link is still the same connection; the second was accepted against CA 2 only.
    expect(both.map((row) => row.identity)[0]).toBe(first!.identity);
    expect(both[1]).toMatchObject({ ssl: true, tlsOrdinal: 1, groupOrdinal: 1 });
    expect(atB.map((row) => row.groupOrdinal)).toEqual([0, 1]);
    await b.waitForLog('B opening the ordinal 1 connection', (line) => /opens a connection with sslProfile ordinal 1/.test(line.msg));
    // The flows through the old link still run.
    for (const flow of oldFlows) await echoRound(flow);
    const newFlows = [await openFlow(ports.toB), await openFlow(ports.toA)];
    for (const flow of newFlows) await echoRound(flow);

    // oldestValidOrdinal 1 at A (management UPDATE): the ordinal 0 connection goes, and the flows on it.
    const ends = oldFlows.map((flow) => howItEnds(flow));
    const updated = await updateProfileAtA({ oldestValidOrdinal: 1 });
    expect(updated.body).toMatchObject({ ordinal: 1, oldestValidOrdinal: 1 });
    const { atA: after } = await waitForLinkOrdinals([1]);
    expect(after[0]!.identity).toBe(both[1]!.identity);
    await a.waitForLog('A closing the expired connection', (line) => /closes a connection: TLS credentials expired: .*ordinal 0, below oldestValidOrdinal 1/.test(line.msg));
    const endings = await waitFor('the flows of the old link to end', () => Promise.race([Promise.all(ends), new Promise<undefined>((resolve) => setTimeout(resolve, 100))]));
    expect(endings).toHaveLength(2);
    // The flows opened after the rotation took the new connection: they carry on.
    for (const flow of newFlows) await echoRound(flow);
    for (const flow of [await openFlow(ports.toB), await openFlow(ports.toA)]) await echoRound(flow);
    // B's retired connector does not come back: still one link a second later.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await links(managementA)).map((row) => row.identity)).toEqual([both[1]!.identity]);

    // Both raised to 2 at once, B by its file, A by management: the link closes and comes back on ordinal 2.
    await updateProfileAtA({ ordinal: 2, oldestValidOrdinal: 2 });
    await b.rewrite(configB({ ordinal: 2, oldestValidOrdinal: 2 }));
    const { atA: third } = await waitForLinkOrdinals([2]);
    expect(third[0]).toMatchObject({ ssl: true, tlsOrdinal: 2, groupOrdinal: 2 });
    expect(third[0]!.identity).not.toBe(both[1]!.identity);
    for (const flow of [await openFlow(ports.toB), await openFlow(ports.toA)]) await echoRound(flow);
  });

  it('A: oldestValidOrdinal above ordinal or negative is refused by UPDATE, naming it; a lower oldestValidOrdinal closes nothing and reopens nothing', async () => {
    const [link] = await links(managementA);
    const refused = await updateProfileAtA({ oldestValidOrdinal: 3 }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ManagementStatusError);
    expect((refused as ManagementStatusError).statusCode).toBe(400);
    expect((refused as ManagementStatusError).statusDescription).toContain('oldestValidOrdinal 3 is above ordinal 2: ordinal must be >= oldestValidOrdinal');
    const negative = await updateProfileAtA({ ordinal: -1 }).catch((error: unknown) => error);
    expect((negative as ManagementStatusError).statusDescription).toContain('ordinal -1 must be at least 0');
    expect(await managementA.read('sslProfile', 'links')).toMatchObject({ ordinal: 2, oldestValidOrdinal: 2 });

    // As skupper-router: only a raise acts. Lowered, the connection made with ordinal 2 stays, alone.
    await updateProfileAtA({ ordinal: 2, oldestValidOrdinal: 0 });
    expect(await managementA.read('sslProfile', 'links')).toMatchObject({ ordinal: 2, oldestValidOrdinal: 0 });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await links(managementA)).toEqual([link]);
  });
});
