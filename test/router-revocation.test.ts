// Certificate revocation on mutual-TLS listeners (sslProfile revokedSerials),
// first as config, then on real router processes:
//
//   B [connector, cert B] ==mTLS==>  A [inter-router listener, trusts the CA]
//   C [connector, cert C] ==mTLS==>  A                    client --> A [tcpListener] --> C [tcpConnector] --> echo
//   D [connector wss, cert D] ==mTLS over WebSocket==> A [http listener, same sslProfile]
//
// A's config file is rewritten to revoke B's serial: B's link is dropped at
// once and refused from then on, with the reason in B's connector status,
// while C's connection (and a flow through it) and D's carry on untouched.
// Un-revoking lets B back in; revoking D drops the WebSocket link likewise.
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type net from 'node:net';
import rhea, { type Connection, type Message, type Source } from 'rhea';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  diffRouterConfig,
  formatProblem,
  onlyRevokedSerialsChanged,
  parseRouterConfig,
  serialiseRouterConfig,
  type SslProfileEntity,
} from '../router/config/index.js';
import { certificateInfo, createCertificateAuthority, issueCertificate } from '../site-controller/pki/index.js';
import { useTestFolder } from './helpers/temp-dir.js';
import { freePort, metric, RouterProcess, waitFor, type Entity } from './helpers/router-process.js';
import { connect, receiveAll, startEchoServer, type TestServer } from './helpers/tcp-tools.js';

const REVOKED = 'TLS: client certificate has been revoked';

function profileOf(revokedSerials: unknown): SslProfileEntity | undefined {
  const text = JSON.stringify([
    ['router', { id: 'r', mode: 'interior' }],
    ['sslProfile', { name: 'links', caCertFile: 'ca.crt', revokedSerials }],
  ]);
  return parseRouterConfig(text).config.sslProfiles.get('links');
}

function problemsOf(revokedSerials: unknown): string[] {
  try {
    profileOf(revokedSerials);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map(formatProblem);
    throw error;
  }
  return [];
}

describe('sslProfile revokedSerials (config)', () => {
  it.each<[string, string, string[] | undefined]>([
    ['spaces, commas, colons, case, leading zeros and duplicates', '0A:1B:2C  00ff,3d4e5f, 0a1b2c', ['3d4e5f', 'a1b2c', 'ff']],
    ['one serial', '7F3A', ['7f3a']],
    ['zero', '00:00', ['0']],
    ['an empty list, the same as none', ' , ', undefined],
  ])('accepts %s', (_what, written, expected) => {
    expect(profileOf(written)?.revokedSerials).toEqual(expected);
  });

  it.each<[string, unknown, string]>([
    ['a non-hex item', '0a1b zz12', 'sslProfile "links": revokedSerials "zz12" is not a hex certificate serial number'],
    ['several bad items at once', 'g1 0a 3d:4e: 0x1f', 'sslProfile "links": revokedSerials "g1", "3d:4e:", "0x1f" are not hex certificate serial numbers'],
    ['a number', 1234, 'sslProfile "links": revokedSerials 1234 is not a string of hex serial numbers'],
  ])('rejects %s, naming the attribute and the bad items', (_what, written, says) => {
    const problems = problemsOf(written);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(says);
  });

  it('serialises as one string that parses back to the same config', () => {
    const text = JSON.stringify([
      ['router', { id: 'r', mode: 'interior' }],
      ['sslProfile', { name: 'links', caCertFile: 'ca.crt', revokedSerials: 'FF 0a:1b' }],
    ]);
    const config = parseRouterConfig(text).config;
    const serialised = serialiseRouterConfig(config);
    expect(serialised.find(([type]) => type === 'sslProfile')?.[1]).toMatchObject({ revokedSerials: 'a1b ff' });
    expect(parseRouterConfig(JSON.stringify(serialised)).config).toEqual(config);
  });

  it('a change of revokedSerials alone is told apart from other changes; reordering is no change', () => {
    const base = { name: 'links', caCertFile: 'ca.crt', certFile: 'a.crt', privateKeyFile: 'a.key' };
    const parse = (profile: object) => parseRouterConfig(JSON.stringify([['router', { id: 'r', mode: 'interior' }], ['sslProfile', profile]])).config;
    const before = parse({ ...base, revokedSerials: 'aa bb' });
    expect(diffRouterConfig(before, parse({ ...base, revokedSerials: 'BB,AA' })).empty).toBe(true);

    const revoked = diffRouterConfig(before, parse({ ...base, revokedSerials: 'aa bb cc' })).sslProfiles.changed[0];
    expect(revoked && onlyRevokedSerialsChanged(revoked.before, revoked.after)).toBe(true);
    const unrevoked = diffRouterConfig(before, parse(base)).sslProfiles.changed[0];
    expect(unrevoked && onlyRevokedSerialsChanged(unrevoked.before, unrevoked.after)).toBe(true);
    const newCert = diffRouterConfig(before, parse({ ...base, certFile: 'b.crt', revokedSerials: 'aa' })).sslProfiles.changed[0];
    expect(newCert && onlyRevokedSerialsChanged(newCert.before, newCert.after)).toBe(false);
  });
});

// ---------------------------------------------------------------------------
// Real routers.

const folder = useTestFolder('revocation');
const routers: RouterProcess[] = [];
let echo: TestServer;
let a: RouterProcess;
let aBase: (revokedSerials?: string) => Entity[];
const ports = { link: 0, https: 0, amqpA: 0, httpA: 0, tcpA: 0, amqpB: 0, amqpD: 0 };
const serials = { b: '', c: '', d: '' };
const clients: ManagementClient[] = [];
let managementA: ManagementClient;
let managementB: ManagementClient;
let managementD: ManagementClient;

/** The way a serial is often copied from `openssl x509 -serial`: upper case, colons, and here a leading zero byte. */
function opensslStyle(serialHex: string): string {
  return `00:${(serialHex.toUpperCase().match(/../g) ?? []).join(':')}`;
}

async function writeCertificates(): Promise<Record<'ca' | 'a' | 'aKey' | 'b' | 'bKey' | 'c' | 'cKey' | 'd' | 'dKey', string>> {
  const ca = await createCertificateAuthority({ commonName: 'revocation-test-ca' });
  const [certA, certB, certC, certD] = await Promise.all([
    issueCertificate(ca, { commonName: 'A', hosts: ['localhost', '127.0.0.1'], usage: 'both' }),
    issueCertificate(ca, { commonName: 'B', usage: 'client' }),
    issueCertificate(ca, { commonName: 'C', usage: 'client' }),
    issueCertificate(ca, { commonName: 'D', usage: 'client' }),
  ]);
  serials.b = certificateInfo(certB.certPem).serialHex;
  serials.c = certificateInfo(certC.certPem).serialHex;
  serials.d = certificateInfo(certD.certPem).serialHex;
  const write = async (name: string, pem: string) => {
    const path = join(folder.path, name);
    await writeFile(path, pem, { mode: 0o600 });
    return path;
  };
  return {
    ca: await write('ca.crt', ca.certPem),
    a: await write('a.crt', certA.certPem),
    aKey: await write('a.key', certA.keyPem),
    b: await write('b.crt', certB.certPem),
    bKey: await write('b.key', certB.keyPem),
    c: await write('c.crt', certC.certPem),
    cKey: await write('c.key', certC.keyPem),
    d: await write('d.crt', certD.certPem),
    dKey: await write('d.key', certD.keyPem),
  };
}

beforeAll(async () => {
  const files = await writeCertificates();
  echo = await startEchoServer();
  for (const key of Object.keys(ports) as (keyof typeof ports)[]) ports[key] = await freePort();
  aBase = (revokedSerials) => [
    ['router', { id: 'A', mode: 'interior' }],
    ['sslProfile', { name: 'links', caCertFile: files.ca, certFile: files.a, privateKeyFile: files.aKey, ...(revokedSerials === undefined ? {} : { revokedSerials }) }],
    ['listener', { name: 'inter-router', role: 'inter-router', host: '127.0.0.1', port: ports.link, sslProfile: 'links', authenticatePeer: true }],
    ['listener', { name: 'wss', role: 'inter-router', host: '127.0.0.1', port: ports.https, sslProfile: 'links', authenticatePeer: true, http: true }],
    ['listener', { name: 'amqp', host: '127.0.0.1', port: ports.amqpA }],
    ['listener', { name: 'http', host: '127.0.0.1', port: ports.httpA, http: true }],
    ['tcpListener', { name: 'echo', host: '127.0.0.1', port: ports.tcpA, address: 'echo-at-c' }],
  ];
  const dialler = (id: string, cert: string, key: string, connector: Record<string, unknown>, extra: Entity[] = []): Entity[] => [
    ['router', { id, mode: 'interior' }],
    ['sslProfile', { name: 'to-a', caCertFile: files.ca, certFile: cert, privateKeyFile: key }],
    ['connector', { name: 'to-a', role: 'inter-router', host: '127.0.0.1', sslProfile: 'to-a', ...connector }],
    ...extra,
  ];
  a = await RouterProcess.start(folder.path, 'A', aBase());
  const b = await RouterProcess.start(folder.path, 'B', dialler('B', files.b, files.bKey, { port: ports.link }, [['listener', { name: 'amqp', host: '127.0.0.1', port: ports.amqpB }]]));
  const c = await RouterProcess.start(folder.path, 'C', dialler('C', files.c, files.cKey, { port: ports.link }, [['tcpConnector', { name: 'echo', host: '127.0.0.1', port: echo.port, address: 'echo-at-c' }]]));
  const d = await RouterProcess.start(
    folder.path,
    'D',
    dialler('D', files.d, files.dKey, { port: ports.https, protocol: 'wss' }, [['listener', { name: 'amqp', host: '127.0.0.1', port: ports.amqpD }]]),
  );
  routers.push(a, b, c, d);
  await waitFor('A linked to B, C and D', async () => (await interRouterConnections()) === 3);
  managementA = await ManagementClient.connect(ports.amqpA);
  managementB = await ManagementClient.connect(ports.amqpB);
  managementD = await ManagementClient.connect(ports.amqpD);
  clients.push(managementA, managementB, managementD);
});

afterAll(async () => {
  for (const client of clients) client.close();
  await Promise.all(routers.map((r) => r.stop()));
  await echo?.close();
});

async function interRouterConnections(): Promise<number> {
  return (await metric(ports.httpA, 'kskup_inter_router_connections').catch(() => -1)) ?? -1;
}

/** A's open inter-router connections from one peer, by management identity. */
async function connectionsFrom(peer: string): Promise<unknown[]> {
  const rows = await managementA.query('connection');
  return rows.filter((row) => row.role === 'inter-router' && row.container === peer && row.opened === true).map((row) => row.identity);
}

async function connectorStatus(client: ManagementClient): Promise<{ connectionStatus: unknown; connectionMsg: unknown }> {
  const [row] = await client.query('connector');
  return { connectionStatus: row?.connectionStatus, connectionMsg: row?.connectionMsg };
}

describe('A revokes the links it granted', () => {
  it('A<==B revoked: B is dropped within seconds and stays down saying why; A<==C and a flow through it carry on; A<==D (wss) too', async () => {
    await waitFor('a route to C', async () => ((await metric(ports.httpA, 'kskup_tcp_listener_routes{address="echo-at-c"}')) ?? 0) >= 1);
    const [cBefore, dBefore] = [await connectionsFrom('C'), await connectionsFrom('D')];
    expect(cBefore).toHaveLength(1);
    expect(dBefore).toHaveLength(1);

    // A flow through C, half sent before the change and half after.
    const flow = await connect(ports.tcpA);
    const echoed = receiveAll(flow);
    let echoedBytes = 0;
    flow.on('data', (chunk: Buffer) => (echoedBytes += chunk.length));
    const [firstHalf, secondHalf] = [randomBytes(256 * 1024), randomBytes(256 * 1024)];
    await writeAll(flow, firstHalf);
    await waitFor('the first half echoed', () => echoedBytes === firstHalf.length);

    await a.rewrite(aBase(`dead, ${opensslStyle(serials.b)}  beef`));
    await waitFor('B dropped', async () => (await interRouterConnections()) === 2, 5_000);
    await waitFor('B to say it is revoked', async () => {
      const status = await connectorStatus(managementB);
      return status.connectionStatus === 'down' && String(status.connectionMsg).includes(REVOKED);
    }, 5_000);
    expect(a.lines.some((line) => String(line.msg).includes(`listener "inter-router" dropped 1 connection: ${REVOKED}`))).toBe(true);

    // Backoff starts at 250 ms: 3 s is several attempts, each refused.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await interRouterConnections()).toBe(2);
    expect(await connectorStatus(managementB)).toEqual({ connectionStatus: 'down', connectionMsg: `closed by peer: ${REVOKED}` });
    const refusals = a.lines.filter((line) => String(line.msg).includes('refused a connection'));
    expect(refusals.map((line) => line.reason)).toEqual([REVOKED]);

    // C and D: the very same connections, never down, and the flow is byte-exact.
    expect(await connectionsFrom('C')).toEqual(cBefore);
    expect(await connectionsFrom('D')).toEqual(dBefore);
    expect(a.lines.filter((line) => /inter-router connection to [CD] is down/.test(String(line.msg)))).toEqual([]);
    await writeAll(flow, secondHalf);
    flow.end();
    const received = await echoed;
    expect(received.bytes).toBe(firstHalf.length + secondHalf.length);
    expect(received.sha256).toBe(createHash('sha256').update(firstHalf).update(secondHalf).digest('hex'));
    // The profile was not reloaded: no listener was restarted.
    expect(a.lines.filter((line) => /listener "inter-router".*(listening|bound)/i.test(String(line.msg)))).toHaveLength(1);
  });

  it('A<==B un-revoked: B links again', async () => {
    await a.rewrite(aBase());
    await waitFor('B linked again', async () => (await interRouterConnections()) === 3, 10_000);
    await waitFor('B up', async () => (await connectorStatus(managementB)).connectionStatus === 'up');
  });

  it('A<==D (wss) revoked: the WebSocket link is dropped and its upgrade refused with the reason', async () => {
    const cBefore = await connectionsFrom('C');
    await a.rewrite(aBase(serials.d.toUpperCase()));
    await waitFor('D dropped', async () => (await connectionsFrom('D')).length === 0, 5_000);
    await waitFor('D to say it is revoked', async () => {
      const status = await connectorStatus(managementD);
      return status.connectionStatus === 'down' && String(status.connectionMsg) === `WebSocket upgrade refused: HTTP 403 (${REVOKED})`;
    }, 10_000);
    expect(await connectionsFrom('C')).toEqual(cBefore);
    expect(await interRouterConnections()).toBe(2);
  });
});

function writeAll(socket: net.Socket, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => socket.write(data, (error) => (error ? reject(error) : resolve())));
}

/** Just enough of an AMQP management client for QUERY (docs/management.md). */
class ManagementClient {
  private readonly pending = new Map<string, (message: Message) => void>();
  private next = 0;

  private constructor(
    private readonly connection: Connection,
    private readonly send: (message: Message) => void,
    private readonly replyTo: string,
  ) {}

  static async connect(port: number): Promise<ManagementClient> {
    const connection = rhea.create_container({ id: `revocation-test-${port}` }).connect({ host: '127.0.0.1', port, reconnect: false } as never);
    connection.on('disconnected', () => undefined);
    const replies = connection.open_receiver({ source: { dynamic: true } as Source });
    const replyTo = await new Promise<string>((resolve) =>
      replies.once('receiver_open', () => resolve(String((replies.source as { address: string }).address))),
    );
    const sender = connection.open_sender('$management');
    const client = new ManagementClient(connection, (message) => sender.send(message), replyTo);
    replies.on('message', (context) => client.onReply(context.message));
    return client;
  }

  async query(entityType: string): Promise<Record<string, unknown>[]> {
    const reply = await this.request({ operation: 'QUERY', type: 'org.amqp.management', entityType }, { attributeNames: [] });
    const { attributeNames, results } = reply.body as { attributeNames: string[]; results: unknown[][] };
    return results.map((row) => Object.fromEntries(attributeNames.map((name, i) => [name, row[i]])));
  }

  close(): void {
    this.connection.close();
  }

  private request(properties: Record<string, unknown>, body: unknown): Promise<Message> {
    const id = `r${this.next++}`;
    return new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${JSON.stringify(properties)}`)), 5_000);
      this.pending.set(id, (message) => {
        clearTimeout(timer);
        resolve(message);
      });
      this.send({ reply_to: this.replyTo, correlation_id: id, application_properties: properties, body });
    });
  }

  private onReply(message: Message | undefined): void {
    const id = String(message?.correlation_id);
    if (message) this.pending.get(id)?.(message);
    this.pending.delete(id);
  }
}
