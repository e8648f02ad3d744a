// AMQP management ($management) of a real router in a line of three:
//
//   test client (rhea) --amqp--> A [normal listener] -- B -- C [tcpConnector "mgmt-svc" -> echo]
//
// QUERY shows the network as A sees it; CREATE of a tcpListener opens its port
// at once and carries a flow; DELETE closes it; bad requests get 4xx statuses.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import rhea, { type Connection, type Message, type Source } from 'rhea';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, metric, RouterProcess, waitFor, type Entity } from './helpers/router-process.js';
import { connect, exchangeStream, receiveAll, sendStream, startEchoServer, startServer, type TestServer } from './helpers/tcp-tools.js';
import { run } from '../cli/run.js';

let dir: string;
let echo: TestServer;
const routers: RouterProcess[] = [];
let amqpPort = 0;
let httpA = 0;
let connection: Connection;
let request: (properties: Record<string, unknown>, body?: unknown) => Promise<Message>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kskup-mgmt-'));
  echo = await startEchoServer();
  const [linkA, linkB] = [await freePort(), await freePort()];
  [amqpPort, httpA] = [await freePort(), await freePort()];
  const base = (id: string, link: number): Entity[] => [
    ['router', { id, mode: 'interior' }],
    ['listener', { name: 'inter-router', role: 'inter-router', host: '127.0.0.1', port: link }],
  ];
  routers.push(
    await RouterProcess.start(dir, 'A', [
      ...base('mgmt-A', linkA),
      ['listener', { name: 'amqp', host: '127.0.0.1', port: amqpPort }],
      ['listener', { name: 'http', host: '127.0.0.1', port: httpA, http: true }],
    ]),
    await RouterProcess.start(dir, 'B', [...base('mgmt-B', linkB), ['connector', { name: 'to-a', role: 'inter-router', host: '127.0.0.1', port: linkA }]]),
    await RouterProcess.start(dir, 'C', [
      ['router', { id: 'mgmt-C', mode: 'interior' }],
      ['connector', { name: 'to-b', role: 'inter-router', host: '127.0.0.1', port: linkB }],
      ['tcpConnector', { name: 'svc', host: '127.0.0.1', port: echo.port, address: 'mgmt-svc' }],
    ]),
  );
  await waitFor('A to know all three routers', async () => (await metric(httpA, 'kskup_inter_router_connections').catch(() => 0)) === 1);

  const container = rhea.create_container({ id: 'mgmt-test' });
  connection = container.connect({ host: '127.0.0.1', port: amqpPort, reconnect: false } as never);
  connection.on('disconnected', () => undefined);
  const replies = connection.open_receiver({ source: { dynamic: true } as Source });
  const replyTo = await new Promise<string>((resolve) => replies.once('receiver_open', () => resolve(String((replies.source as { address: string }).address))));
  const sender = connection.open_sender('$management');
  const pending = new Map<string, (message: Message) => void>();
  replies.on('message', (context) => {
    const id = String(context.message?.correlation_id);
    pending.get(id)?.(context.message!);
    pending.delete(id);
  });
  let next = 0;
  request = (properties, body = {}) =>
    new Promise<Message>((resolve, reject) => {
      const id = `r${next++}`;
      pending.set(id, resolve);
      setTimeout(() => reject(new Error(`no reply to ${JSON.stringify(properties)}`)), 5_000);
      sender.send({ reply_to: replyTo, correlation_id: id, application_properties: properties, body });
    });
});

afterAll(async () => {
  connection?.close();
  await Promise.all(routers.map((r) => r.stop()));
  await echo?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function status(reply: Message): number {
  return Number((reply.application_properties as Record<string, unknown>).statusCode);
}

async function query(entityType: string): Promise<Record<string, unknown>[]> {
  const reply = await request({ operation: 'QUERY', type: 'org.amqp.management', entityType }, { attributeNames: [] });
  expect(status(reply)).toBe(200);
  const { attributeNames, results } = reply.body as { attributeNames: string[]; results: unknown[][] };
  return results.map((row) => Object.fromEntries(attributeNames.map((name, i) => [name, row[i]])));
}

describe('management on $management', () => {
  it('GET-TYPES lists the entity types in long form', async () => {
    const reply = await request({ operation: 'GET-TYPES', type: 'org.amqp.management' });
    expect(status(reply)).toBe(200);
    expect(Object.keys(reply.body as object)).toEqual(expect.arrayContaining(['io.skupper.router.router.node', 'io.skupper.router.tcpListener']));
    // From the schema: every skupper-router 3 type, each with its base types, as skupper-router answers.
    const types = reply.body as Record<string, string[]>;
    expect(types['io.skupper.router.network']).toEqual(['io.skupper.router.configurationEntity', 'io.skupper.router.entity']);
    expect(types['io.skupper.router.router.config.address']).toEqual(['io.skupper.router.configurationEntity', 'io.skupper.router.entity']);
    expect(types['io.skupper.router.connection']).toEqual(['io.skupper.router.operationalEntity', 'io.skupper.router.entity']);
    expect(Object.keys(types)).toEqual(expect.arrayContaining(['io.skupper.router.proxyProfile', 'io.skupper.router.listenerAddress']));
  });

  it('GET-ATTRIBUTES lists each type\'s attributes from the schema', async () => {
    const reply = await request({ operation: 'GET-ATTRIBUTES', type: 'org.amqp.management' });
    expect(status(reply)).toBe(200);
    const attributes = reply.body as Record<string, string[]>;
    expect(attributes['io.skupper.router.tcpListener']).toEqual(expect.arrayContaining(['name', 'address', 'port', 'backlog', 'multiAddressStrategy', 'operStatus']));
    expect(attributes['io.skupper.router.router']).toEqual(expect.arrayContaining(['id', 'mode', 'dropTcpConnections', 'unreachableHoldoffSeconds']));
    expect(attributes['io.skupper.router.tcpListener']).not.toContain('bogus');
  });

  it('QUERY naming an attribute the type does not have gets 404, as from skupper-router; a known type with no entities gets no rows', async () => {
    const bad = await request({ operation: 'QUERY', type: 'org.amqp.management', entityType: 'tcpListener' }, { attributeNames: ['name', 'bogus'] });
    expect(status(bad)).toBe(404);
    expect(String((bad.application_properties as Record<string, unknown>).statusDescription)).toBe('tcpListener has no attribute "bogus"');
    const good = await request({ operation: 'QUERY', type: 'org.amqp.management', entityType: 'io.skupper.router.listener' }, { attributeNames: ['name', 'port', 'failoverUrls'] });
    expect(status(good)).toBe(200);
    expect((good.body as { results: unknown[][] }).results).toEqual(expect.arrayContaining([['amqp', amqpPort, null]]));
    const none = await request({ operation: 'QUERY', type: 'org.amqp.management', entityType: 'network' }, { attributeNames: [] });
    expect(status(none)).toBe(200);
    expect((none.body as { results: unknown[][] }).results).toEqual([]);
  });

  it('QUERY router.node and router.address show the A-B-C line as A sees it', async () => {
    await waitFor('all three routers', async () => (await query('io.skupper.router.router.node')).length === 3);
    const nodes = Object.fromEntries((await query('router.node')).map((n) => [n.id, n]));
    expect(nodes['mgmt-A']).toMatchObject({ nextHop: '(self)', cost: 0 });
    expect(nodes['mgmt-B']).toMatchObject({ nextHop: 'mgmt-B', cost: 1 });
    expect(nodes['mgmt-C']).toMatchObject({ nextHop: 'mgmt-B', cost: 2, addresses: ['mgmt-svc'] });
    const addresses = await query('router.address');
    expect(addresses.find((a) => a.name === 'mgmt-svc')).toMatchObject({ remoteRouters: ['mgmt-C'], routes: 1 });
    const connections = await query('connection');
    expect(connections.some((c) => c.role === 'inter-router' && c.container === 'mgmt-B' && c.opened === true)).toBe(true);
  });

  it('CREATE tcpListener opens its port at once and carries a flow to C; DELETE closes it', async () => {
    const port = await freePort();
    const created = await request({ operation: 'CREATE', type: 'io.skupper.router.tcpListener', name: 'made' }, { host: '127.0.0.1', port, address: 'mgmt-svc' });
    expect(status(created)).toBe(201);
    expect(created.body).toMatchObject({ name: 'made', port, address: 'mgmt-svc' });
    const socket = await connect(port);
    const { sent, got } = await exchangeStream(socket, 1, 1024 * 1024);
    expect(got.sha256).toBe(sent);

    // UPDATE moves it to another port at once.
    const movedTo = await freePort();
    const updated = await request({ operation: 'UPDATE', type: 'tcpListener', name: 'made' }, { port: movedTo });
    expect(status(updated)).toBe(200);
    expect(updated.body).toMatchObject({ name: 'made', port: movedTo, address: 'mgmt-svc' });
    const moved = await connect(movedTo);
    const movedReceived = receiveAll(moved);
    const movedSent = await sendStream(moved, 2, 64 * 1024);
    expect((await movedReceived).sha256).toBe(movedSent);

    const deleted = await request({ operation: 'DELETE', type: 'tcpListener', name: 'made' });
    expect(status(deleted)).toBe(204);
    await waitFor('the port to close', async () => connect(movedTo).then((s) => (s.destroy(), undefined), () => true));
  });

  it('a tcpListener whose port another program holds: CREATE answers, operStatus is down with the reason, and up once the port is free', async () => {
    const squatter = await startServer((socket) => socket.end('squatter\n'));
    let squatterOpen = true;
    try {
      const created = await request({ operation: 'CREATE', type: 'tcpListener', name: 'taken' }, { host: '127.0.0.1', port: squatter.port, address: 'mgmt-svc' });
      expect(status(created)).toBe(201);
      expect(created.body).toMatchObject({ name: 'taken', port: squatter.port, operStatus: 'down', operStatusMsg: 'address already in use (EADDRINUSE)' });
      const row = (await query('tcpListener')).find((listener) => listener.name === 'taken');
      expect(row).toMatchObject({ operStatus: 'down', operStatusMsg: 'address already in use (EADDRINUSE)' });
      // The router keeps trying the port its config names, and says so in its log.
      await routers[0]!.waitForLog('the bind error', (line) => line.level === 'error' && line.msg.includes(`cannot listen on 127.0.0.1:${squatter.port}: address already in use (EADDRINUSE)`));
      await squatter.close();
      squatterOpen = false;
      const up = await waitFor('the listener to bind the freed port', async () => {
        const current = (await query('tcpListener')).find((listener) => listener.name === 'taken');
        return current?.operStatus === 'up' ? current : undefined;
      }, 5_000);
      expect(up.operStatusMsg).toBe('');
      const { sent, got } = await exchangeStream(await connect(squatter.port), 3, 64 * 1024);
      expect(got.sha256).toBe(sent);
    } finally {
      if (squatterOpen) await squatter.close();
      await request({ operation: 'DELETE', type: 'tcpListener', name: 'taken' });
    }
  });

  it.each([
    { what: 'a bad port', properties: { operation: 'CREATE', type: 'tcpListener', name: 'bad' }, body: { port: 'eighty', address: 'x' }, code: 400, says: 'port "eighty" is neither a port number nor a known service name' },
    { what: 'an existing name', properties: { operation: 'CREATE', type: 'listener', name: 'amqp' }, body: {}, code: 405, says: 'CREATE is not supported for listener' },
    { what: 'an unknown entity', properties: { operation: 'READ', type: 'tcpConnector', name: 'nope' }, body: {}, code: 404, says: 'no tcpConnector named "nope"' },
    { what: 'an unknown operation', properties: { operation: 'EXPLODE', type: 'router' }, body: {}, code: 405, says: 'operation "EXPLODE" is not supported' },
  ])('$what gets $code with the reason', async ({ properties, body, code, says }) => {
    const reply = await request(properties, body);
    expect(status(reply)).toBe(code);
    expect(String((reply.application_properties as Record<string, unknown>).statusDescription)).toContain(says);
  });
});

describe('kskup router stat against the real line A-B-C', () => {
  async function stat(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const code = await run(['router', 'stat', '--port', String(amqpPort), ...args], {
      stdout: { write: (text: string) => (out += text) },
      stderr: { write: (text: string) => (err += text) },
    });
    return { code, out, err };
  }

  it('-n shows the three routers with next hops and costs, as text and JSON', async () => {
    const text = await stat('-n');
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/mgmt-A\s+\(self\)\s+0/);
    expect(text.out).toMatch(/mgmt-C\s+mgmt-B\s+2/);
    const json = await stat('-n', '-o', 'json');
    const nodes = (JSON.parse(json.out) as { entities: { id: string; nextHop: string; cost: number }[] }).entities;
    expect(nodes.map((n) => n.id).sort()).toEqual(['mgmt-A', 'mgmt-B', 'mgmt-C']);
  });

  it('-a shows the address served at C, and -g the router', async () => {
    const addresses = await stat('-a', '-o', 'json');
    expect(addresses.code).toBe(0);
    const entities = (JSON.parse(addresses.out) as { entities: { name: string; remoteRouters: string[] }[] }).entities;
    expect(entities.find((a) => a.name === 'mgmt-svc')?.remoteRouters).toEqual(['mgmt-C']);
    const general = await stat('-g');
    expect(general.code).toBe(0);
    expect(general.out).toContain('mgmt-A');
  });

  it('an unreachable router exits 1 with one line', async () => {
    const result = await run(['router', 'stat', '--port', String(await freePort()), '--timeout', '2'], {
      stdout: { write: () => undefined },
      stderr: { write: (text: string) => void (lastError = text) },
    });
    expect(result).toBe(1);
    expect(lastError).toMatch(/cannot reach router at 127\.0\.0\.1:\d+: connection refused/);
  });
});

let lastError = '';
