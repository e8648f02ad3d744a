// `kskup router stat`, run in-process against a fake router: a small rhea
// server that speaks the management protocol of docs/management.md (dynamic
// reply address, `$management`, QUERY with correlation_id) and answers with
// canned entities. Checks the requests the CLI sends, its tables and JSON, and
// its exit codes and one-line errors.
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import rhea, { type EventContext, type Message, type Sender } from 'rhea';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pickNormalListener } from '../cli/config-listener.js';
import { run } from '../cli/run.js';
import { freePort } from './helpers/router-process.js';
import { createTestPki } from './helpers/test-pki.js';

type Entity = Record<string, unknown>;

const ENTITIES: Record<string, Entity[]> = {
  'io.skupper.router.router': [
    {
      id: 'site-a', mode: 'interior', version: '0.1.0', helloIntervalSeconds: 1, helloMaxAgeSeconds: 3,
      connectionCount: 2, nodeCount: 3, addrCount: 2, linkCount: 4, flowCount: 2, uptimeSeconds: 42,
    },
  ],
  'io.skupper.router.router.node': [
    { id: 'site-c', nextHop: 'site-b', cost: 2, hops: 2, mode: 'interior', addresses: [] },
    { id: 'site-a', nextHop: null, cost: 0, hops: 0, mode: 'interior', addresses: ['backend:8080'] },
    { id: 'site-b', nextHop: null, cost: 1, hops: 1, mode: 'interior', addresses: ['db:5432'] },
  ],
  'io.skupper.router.connection': [
    { identity: 'conn-2', host: '127.0.0.1:40312', role: 'normal', dir: 'in', container: 'kskup-cli-1', opened: true, via: 'amqp' },
    { identity: 'conn-1', host: '10.0.0.2:55671', role: 'inter-router', dir: 'out', container: 'site-b', opened: true, via: 'to-b' },
  ],
  'io.skupper.router.router.address': [
    { name: 'db:5432', distribution: 'balanced', localTargets: 0, remoteRouters: ['site-b'], routes: 1 },
    { name: 'backend:8080', distribution: 'balanced', localTargets: 1, remoteRouters: [], routes: 1 },
  ],
  'io.skupper.router.flow': [
    { identity: 'flow-10', address: 'backend:8080', state: 'open', bytesIn: 2048, bytesOut: 1024, role: 'connector-side' },
    { identity: 'flow-9', address: 'db:5432', state: 'open', bytesIn: 10, bytesOut: 20, role: 'listener-side' },
  ],
};

interface Reply {
  statusCode: number;
  statusDescription: string;
  body?: unknown;
}

interface FakeRouterOptions {
  /** Answers a request itself instead of the canned QUERY answers. */
  answer?: (request: Message) => Reply | undefined;
  /** Detaches the `$management` link with this error, as a router without management would. */
  refuseManagementLink?: string;
  /** Mutual TLS with SASL EXTERNAL as the only mechanism, like an authenticatePeer listener. */
  tls?: { cert: Buffer; key: Buffer; ca: Buffer };
}

interface FakeRouter {
  readonly port: number;
  readonly requests: Message[];
  readonly replyAddresses: string[];
  close(): Promise<void>;
}

async function startFakeRouter(options: FakeRouterOptions = {}): Promise<FakeRouter> {
  const container = rhea.create_container({ id: 'fake-router' });
  const requests: Message[] = [];
  const replyAddresses: string[] = [];
  const replySenders = new Map<string, Sender>();

  // The CLI's reply receiver is, from here, a sender whose source is dynamic:
  // give it an address, which the CLI learns from our attach.
  container.on('sender_open', (context: EventContext) => {
    const sender = context.sender!;
    if (!sender.source?.dynamic) return;
    const address = `reply-${replyAddresses.length + 1}`;
    sender.set_source({ address });
    replyAddresses.push(address);
    replySenders.set(address, sender);
  });
  container.on('receiver_open', (context: EventContext) => {
    const receiver = context.receiver!;
    const address = receiver.target?.address;
    if (address !== '$management') receiver.close({ condition: 'amqp:not-found', description: `no node ${String(address)}` });
    else if (options.refuseManagementLink) receiver.close({ condition: 'amqp:not-implemented', description: options.refuseManagementLink });
  });
  container.on('message', (context: EventContext) => {
    const request = context.message!;
    requests.push(request);
    const reply = options.answer?.(request) ?? answerQuery(request);
    const sender = replySenders.get(String(request.reply_to));
    sender?.send({
      to: request.reply_to,
      correlation_id: request.correlation_id,
      application_properties: { statusCode: reply.statusCode, statusDescription: reply.statusDescription },
      body: reply.body ?? {},
    });
  });
  // Connections end with the test: a CLI that failed may leave one open.
  container.on('disconnected', () => undefined);

  const server = options.tls
    ? container.listen({
        port: 0,
        host: '127.0.0.1',
        transport: 'tls',
        ...options.tls,
        requestCert: true,
        rejectUnauthorized: true,
        // rhea offers EXTERNAL alone to a verified client with these, and insists on SASL.
        enable_sasl_external: true,
        require_sasl: true,
      } as Parameters<typeof container.listen>[0])
    : container.listen({ port: 0, host: '127.0.0.1' });
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    replyAddresses,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** QUERY as docs/management.md has it: `{attributeNames, results}`, all attributes when none are named. */
function answerQuery(request: Message): Reply {
  const properties = request.application_properties ?? {};
  if (properties['operation'] !== 'QUERY') return { statusCode: 405, statusDescription: `${String(properties['operation'])} not supported` };
  const entities = ENTITIES[String(properties['entityType'])];
  if (!entities) return { statusCode: 404, statusDescription: `unknown entity type ${String(properties['entityType'])}` };
  const asked = (request.body as { attributeNames?: string[] }).attributeNames ?? [];
  const attributeNames = asked.length > 0 ? asked : Object.keys(entities[0] ?? {});
  const results = entities.map((entity) => attributeNames.map((name) => entity[name] ?? null));
  return { statusCode: 200, statusDescription: 'OK', body: { attributeNames, results } };
}

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function kskup(...argv: string[]): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
  });
  return { code, stdout, stderr };
}

function expectOneLineError(outcome: Outcome, code: number, message: string | RegExp): void {
  expect(outcome.code).toBe(code);
  expect(outcome.stdout).toBe('');
  expect(outcome.stderr.split('\n')).toHaveLength(2); // one line and its newline
  expect(outcome.stderr).toMatch(message);
  expect(outcome.stderr).not.toMatch(/\n\s+at /);
}

let dir: string;
let fake: FakeRouter | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kskup-stat-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function stat(...args: string[]): Promise<Outcome> {
  fake ??= await startFakeRouter();
  return kskup('router', 'stat', '--port', String(fake.port), ...args);
}

describe('kskup router stat against a fake router', () => {
  it('-g prints the router attributes as an attribute/value list, and is the default', async () => {
    const expected = [
      'attribute             value',
      'id                    site-a',
      'mode                  interior',
      'version               0.1.0',
      'helloIntervalSeconds  1',
      'helloMaxAgeSeconds    3',
      'connectionCount       2',
      'nodeCount             3',
      'addrCount             2',
      'linkCount             4',
      'flowCount             2',
      'uptimeSeconds         42',
      '',
    ].join('\n');
    expect(await stat('-g')).toEqual({ code: 0, stdout: expected, stderr: '' });
    expect(await stat()).toEqual({ code: 0, stdout: expected, stderr: '' });
  });

  it('sends QUERY requests in the form docs/management.md gives', async () => {
    await stat('-n');
    const router = fake!;
    expect(router.replyAddresses).toEqual(['reply-1']);
    expect(router.requests).toHaveLength(2);
    for (const request of router.requests) {
      expect(request.reply_to).toBe('reply-1');
      expect(typeof request.correlation_id).toBe('string');
      expect(request.application_properties).toMatchObject({ operation: 'QUERY', type: 'org.amqp.management' });
    }
    const ids = router.requests.map((request) => request.correlation_id);
    expect(new Set(ids).size).toBe(2);
    const byType = Object.fromEntries(router.requests.map((r) => [r.application_properties?.['entityType'], r.body]));
    // Long entity type names; all attributes of the nodes, only the id of the router (to spot "self").
    expect(byType).toEqual({
      'io.skupper.router.router.node': { attributeNames: [] },
      'io.skupper.router.router': { attributeNames: ['id'] },
    });
  });

  it('-n lists the routers, this one with (self) as next hop', async () => {
    expect((await stat('-n')).stdout).toBe(
      [
        'router-id  next-hop  cost  hops  mode',
        'site-a     (self)    0     0     interior',
        'site-b     -         1     1     interior',
        'site-c     site-b    2     2     interior',
        '',
      ].join('\n'),
    );
  });

  it('-c lists the connections', async () => {
    expect((await stat('--connections')).stdout).toBe(
      [
        'id      host             container    role          dir  via   opened',
        'conn-1  10.0.0.2:55671   site-b       inter-router  out  to-b  true',
        'conn-2  127.0.0.1:40312  kskup-cli-1  normal        in   amqp  true',
        '',
      ].join('\n'),
    );
  });

  it('-a lists the addresses', async () => {
    expect((await stat('-a')).stdout).toBe(
      [
        'address       distribution  local  remote-routers  routes',
        'backend:8080  balanced      1      -               1',
        'db:5432       balanced      0      site-b          1',
        '',
      ].join('\n'),
    );
  });

  it.each([['--flows'], ['-l'], ['--links']])('%s lists the open flows', async (flag) => {
    expect((await stat(flag)).stdout).toBe(
      [
        'id       address       state  bytes-in  bytes-out  role',
        'flow-9   db:5432       open   10        20         listener-side',
        'flow-10  backend:8080  open   2048      1024       connector-side',
        '',
      ].join('\n'),
    );
  });

  it('-o json prints the router object for -g', async () => {
    const outcome = await stat('-g', '-o', 'json');
    expect(outcome.code).toBe(0);
    expect(JSON.parse(outcome.stdout)).toEqual(ENTITIES['io.skupper.router.router']![0]);
  });

  it.each([
    ['-n', 'io.skupper.router.router.node', 'id'],
    ['-c', 'io.skupper.router.connection', 'identity'],
    ['-a', 'io.skupper.router.router.address', 'name'],
    ['--flows', 'io.skupper.router.flow', 'identity'],
  ])('-o json prints {entities} for %s, every attribute of each', async (flag, type, key) => {
    const outcome = await stat(flag, '--output', 'json');
    expect(outcome.code).toBe(0);
    const { entities } = JSON.parse(outcome.stdout) as { entities: Entity[] };
    const sortKey = (entity: Entity) => String(entity[key]);
    expect([...entities].sort((a, b) => sortKey(a).localeCompare(sortKey(b)))).toEqual(
      [...ENTITIES[type]!].sort((a, b) => sortKey(a).localeCompare(sortKey(b))),
    );
  });

  it('--config picks the first normal listener of the router config file', async () => {
    fake = await startFakeRouter();
    const file = join(dir, 'router.json');
    const config = [
      ['router', { id: 'site-a', mode: 'interior' }],
      ['listener', { name: 'inter-router', role: 'inter-router', host: '0.0.0.0', port: 1 }],
      ['listener', { name: 'http', host: '127.0.0.1', port: 2, http: true }],
      ['listener', { name: 'amqp', host: '', port: String(fake.port) }],
      ['listener', { name: 'later', role: 'normal', host: '127.0.0.1', port: 3 }],
    ];
    await writeFile(file, JSON.stringify(config));
    const outcome = await kskup('router', 'stat', '-n', '--config', file);
    expect(outcome.stderr).toBe('');
    expect(outcome.code).toBe(0);
    expect(outcome.stdout).toContain('site-a     (self)');
    expect(fake.requests.length).toBeGreaterThan(0);
  });

  it('--ssl-ca/--ssl-cert/--ssl-key connect with TLS and authenticate with SASL EXTERNAL', async () => {
    const pki = await createTestPki(join(dir, 'pki'));
    const [cert, key, ca] = await Promise.all([readFile(pki.serverCert), readFile(pki.serverKey), readFile(pki.caCert)]);
    fake = await startFakeRouter({ tls: { cert, key, ca } });
    const tlsArgs = ['--ssl-ca', pki.caCert, '--ssl-cert', pki.clientCert, '--ssl-key', pki.clientKey];
    const outcome = await stat('-n', ...tlsArgs);
    expect(outcome.stderr).toBe('');
    expect(outcome.stdout).toContain('site-a     (self)');
    // Without TLS the router (SASL required, TLS only) is not reachable: the test above is not vacuous.
    expect((await stat('-n')).code).toBe(1);
  });

  it('a management error status exits 1 with its description', async () => {
    fake = await startFakeRouter({
      answer: (request) =>
        request.application_properties?.['entityType'] === 'io.skupper.router.flow'
          ? { statusCode: 500, statusDescription: 'flow table unavailable' }
          : undefined,
    });
    expectOneLineError(
      await stat('--flows'),
      1,
      `kskup: router at 127.0.0.1:${fake.port} refused QUERY io.skupper.router.flow: flow table unavailable (status 500)\n`,
    );
  });

  it('a refused $management link exits 1 with the reason', async () => {
    fake = await startFakeRouter({ refuseManagementLink: 'management is not available' });
    expectOneLineError(await stat(), 1, /kskup: router at 127\.0\.0\.1:\d+ closed the link to \$management: management is not available/);
  });
});

describe('kskup router stat failures', () => {
  it('exits 1 with one line when nothing listens', async () => {
    const port = await freePort();
    expectOneLineError(
      await kskup('router', 'stat', '--port', String(port)),
      1,
      `kskup: cannot reach router at 127.0.0.1:${port}: connection refused\n`,
    );
  });

  it('--debug adds the stack trace', async () => {
    const port = await freePort();
    const outcome = await kskup('router', 'stat', '--port', String(port), '--debug');
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toMatch(/^kskup: cannot reach router at 127\.0\.0\.1:\d+: connection refused\n/);
    expect(outcome.stderr).toMatch(/\n\s+at /);
  });

  it('times out after --timeout naming the router when it never answers', async () => {
    const silent = net.createServer(() => undefined);
    const sockets = new Set<net.Socket>();
    silent.on('connection', (socket) => sockets.add(socket));
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as AddressInfo;
    try {
      const started = Date.now();
      const outcome = await kskup('router', 'stat', '--port', String(port), '--timeout', '0.3');
      expectOneLineError(outcome, 1, `kskup: cannot reach router at 127.0.0.1:${port}: no answer within 0.3 s\n`);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('a config file without a normal listener exits 1', async () => {
    const file = join(dir, 'no-normal.json');
    await writeFile(file, JSON.stringify([['listener', { role: 'inter-router', port: 5671 }]]));
    expectOneLineError(await kskup('router', 'stat', '--config', file), 1, `kskup: router config ${file} has no normal AMQP listener`);
  });

  it.each([
    { args: ['--bogus'], says: "kskup: unknown option '--bogus'" },
    { args: ['-n', '-c'], says: /option '-c, --connections' cannot be used with option '-n, --nodes'|option '-n, --nodes' cannot be used with option '-c, --connections'/ },
    { args: ['-g', '--flows'], says: /'-g, --general'.*'--flows'|'--flows'.*'-g, --general'/ },
    { args: ['-o', 'xml'], says: "kskup: option '-o, --output <format>' argument 'xml' is invalid" },
    { args: ['--port', 'amqp'], says: "kskup: option '--port <port>' argument 'amqp' is invalid. not a port number" },
    { args: ['--port', '70000'], says: "option '--port <port>' argument '70000' is invalid" },
    { args: ['--timeout', '-1'], says: "option '--timeout <seconds>'" },
    { args: ['--config', 'r.json', '--host', 'a'], says: "option '--config <file>' cannot be used with option '--host <host>'" },
    { args: ['--ssl-cert', 'me.crt'], says: 'kskup: option --ssl-cert needs --ssl-key' },
    { args: ['--host'], says: "option '--host <host>' argument missing" },
    { args: ['--platform', 'kubernetes'], says: 'kskup: options --platform, --kubeconfig and --context choose the site of --site (or of -n before "router stat"); give one' },
    { args: ['--site', 'west', '--platform', 'cloud'], says: 'kskup: option --platform must be kubernetes or local, not "cloud"' },
  ])('usage error $args exits 2 naming the flag', async ({ args, says }) => {
    expectOneLineError(await kskup('router', 'stat', ...args), 2, says);
  });
});

describe('kskup help', () => {
  it('kskup --help lists the router command with an example', async () => {
    const outcome = await kskup('--help');
    expect(outcome.code).toBe(0);
    expect(outcome.stdout).toMatch(/^\s+router\s/m);
    expect(outcome.stdout).toContain('kskup router stat');
  });

  it('kskup router stat --help shows examples', async () => {
    const outcome = await kskup('router', 'stat', '--help');
    expect(outcome.code).toBe(0);
    expect(outcome.stdout).toContain('Usage: kskup router stat');
    expect(outcome.stdout).toContain('Examples:');
    expect(outcome.stdout).toContain('--config router.json');
  });

  it('--version prints the version', async () => {
    expect(await kskup('--version')).toMatchObject({ code: 0, stdout: expect.stringMatching(/^\d+\.\d+\.\d+\n$/) });
  });
});

describe('pickNormalListener', () => {
  it.each([
    { listener: { port: 'amqp' }, host: '127.0.0.1', port: 5672 },
    { listener: { host: '0.0.0.0', port: 'amqps', sslProfile: 'tls' }, host: '127.0.0.1', port: 5671 },
    { listener: { host: '::', port: '5673' }, host: '::1', port: 5673 },
    { listener: { host: 'router.example', port: 5674, role: 'normal' }, host: 'router.example', port: 5674 },
  ])('$listener -> $host:$port', ({ listener, host, port }) => {
    expect(pickNormalListener([['listener', listener]], 'router.json')).toMatchObject({ host, port });
  });
});
