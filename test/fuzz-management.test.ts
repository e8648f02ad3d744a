// Property-based test (fast-check) of AMQP management requests to one real
// router process:
//
//   fuzz client --requests--> R: $management on listener "normal"
//   control client (ManagementClient) --> R: QUERY router after every case
//
// Requests have random operations (the ones R serves and others), entity types
// (every type of the schema, long and short names, and others), names and
// identities, application properties of any type, and bodies that are
// attribute maps (names from the schema or not; values of every type, hosts
// that resolve nowhere, ports that bind nothing of anyone else's) or not maps
// at all. Properties: every request gets a reply with the request's
// correlation id and a status of 2xx or 4xx, never 5xx; R stays up (crash
// watch); the control client's query answers; R's RSS grows by less than
// RSS_GROWTH_BOUND over the run.
import fc from 'fast-check';
import rhea, { type Message, type Receiver, type Sender } from 'rhea';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTER_SCHEMA } from '../router/config/index.js';
import { ManagementClient } from '../router/management/management-client.js';
import { fuzzParameters, fuzzTimeout } from './helpers/fuzz.js';
import { freePort, RouterProcess, routerLogsOnFailure, useRouters, waitFor } from './helpers/router-process.js';
import { useTestFolder } from './helpers/temp-dir.js';

const folder = useTestFolder('fuzz-management');
const routers = useRouters();
routerLogsOnFailure(() => routers);
const RSS_GROWTH_BOUND = 48 * 1024 * 1024;

let router: RouterProcess;
let control: ManagementClient;
let fuzzClient: { sender: Sender; replies: Map<string, (message: Message) => void>; replyTo: string; close(): void };
let ownPort: number;

beforeAll(async () => {
  const port = await freePort();
  // A port this test holds, for CREATE to name: a tcpListener made on it binds here and nowhere else.
  ownPort = await freePort();
  router = await RouterProcess.start(folder.path, 'R', [
    ['router', { id: 'fuzz-mgmt', mode: 'interior' }],
    ['listener', { name: 'normal', host: '127.0.0.1', port }],
    ['tcpListener', { name: 'existing', host: '127.0.0.1', port: 0, address: 'existing' }],
  ]);
  routers.push(router);
  await waitFor('the listener', () => router.lines.find((line) => line.msg.includes('listening')));
  control = await ManagementClient.connect({ host: '127.0.0.1', port }, { timeoutMs: 5_000 });
  const container = rhea.create_container({ id: 'fuzz-management-client' });
  const connection = container.connect({ host: '127.0.0.1', port, reconnect: false });
  connection.on('disconnected', () => undefined);
  const replies = new Map<string, (message: Message) => void>();
  const receiver: Receiver = connection.open_receiver({ source: { dynamic: true } as never });
  receiver.on('message', (context) => {
    const message = context.message!;
    replies.get(String(message.correlation_id))?.(message);
  });
  const replyTo = await new Promise<string>((resolve) => receiver.once('receiver_open', () => resolve((receiver.source as { address: string }).address)));
  const sender = connection.open_sender({ target: { address: '$management' } });
  await new Promise<void>((resolve) => sender.once('sendable', () => resolve()));
  fuzzClient = { sender, replies, replyTo, close: () => connection.close() };
});

afterAll(async () => {
  fuzzClient?.close();
  await control?.close();
});

const typeNames = ROUTER_SCHEMA.flatMap((type) => [type.name, `io.skupper.router.${type.managementName}`]);
const attributeNames = [...new Set(ROUTER_SCHEMA.flatMap((type) => Object.keys(type.attributes)))];

const scalarArb = (): fc.Arbitrary<unknown> =>
  fc.oneof(
    fc.constantFrom('127.0.0.1', 'fuzz.invalid', '', 'existing', 'amqp', 'tls', 'inter-router', 'edge', 'normal', 'yes', 'balanced', 'multicast'),
    fc.constantFrom(ownPort, String(ownPort), 0, -1, 65536, 'amqp', 1.5),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.string({ maxLength: 16 }),
  );
const valueArb = (): fc.Arbitrary<unknown> => fc.oneof({ weight: 5, arbitrary: scalarArb() }, fc.array(scalarArb(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 6 }), scalarArb(), { maxKeys: 2 }));
const bodyArb = (): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.dictionary(fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...attributeNames, 'attributeNames') }, fc.string({ maxLength: 10 })), valueArb(), { maxKeys: 6 }) },
    fc.constant({ attributeNames: ['name', 'port'] }),
    fc.record({ attributeNames: fc.array(fc.oneof(fc.constantFrom(...attributeNames), fc.string({ maxLength: 6 }), fc.integer()), { maxLength: 4 }) }),
    scalarArb(),
    fc.array(scalarArb(), { maxLength: 3 }),
  );
const nameArb = fc.oneof(fc.constantFrom('f1', 'f2', 'existing', 'normal', 'fuzz-mgmt', ''), fc.string({ maxLength: 12 }), fc.integer());
const requestArb = () =>
  fc.record(
    {
      operation: fc.oneof({ weight: 8, arbitrary: fc.constantFrom('QUERY', 'READ', 'CREATE', 'UPDATE', 'DELETE', 'GET-TYPES', 'GET-ATTRIBUTES') }, fc.constantFrom('GET-OPERATIONS', 'GET-MGMT-NODES', 'query', ''), fc.string({ maxLength: 8 }), fc.integer(), fc.constant(null)),
      type: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...typeNames, 'tcpListener', 'tcpConnector', 'sslProfile', 'connector') }, fc.string({ maxLength: 12 }), fc.integer(), fc.constant(null)),
      entityType: fc.oneof(fc.constantFrom(...typeNames), fc.string({ maxLength: 12 }), fc.constant(null)),
      name: nameArb,
      identity: nameArb,
      extra: fc.dictionary(fc.string({ maxLength: 6 }), scalarArb(), { maxKeys: 2 }),
    },
    { requiredKeys: ['operation'] },
  );

let nextId = 0;
/** Sends one request; resolves with the reply, or undefined after 5 s. */
function send(properties: Record<string, unknown>, body: unknown): Promise<Message | undefined> {
  const id = `fuzz-${++nextId}`;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      fuzzClient.replies.delete(id);
      resolve(undefined);
    }, 5_000);
    fuzzClient.replies.set(id, (message) => {
      clearTimeout(timer);
      fuzzClient.replies.delete(id);
      resolve(message);
    });
    fuzzClient.sender.send({ message_id: id, correlation_id: id, reply_to: fuzzClient.replyTo, application_properties: properties, body });
  });
}

describe('AMQP management requests (fast-check)', () => {
  it(
    'any request gets a reply with its correlation id and a 2xx or 4xx status; R stays up and serves the control client',
    async () => {
      const rssBefore = router.rssBytes();
      await fc.assert(
        fc.asyncProperty(requestArb(), bodyArb(), async (request, body) => {
          const { extra = {}, ...named } = request;
          const properties = Object.fromEntries(Object.entries({ ...extra, ...named }).filter(([, value]) => value !== undefined));
          const reply = await send(properties, body);
          expect(reply, `no reply to ${JSON.stringify(properties)} ${JSON.stringify(body)}`).toBeDefined();
          const status = Number((reply!.application_properties as Record<string, unknown> | undefined)?.statusCode);
          const description = String((reply!.application_properties as Record<string, unknown> | undefined)?.statusDescription);
          expect(status >= 200 && status < 500, `status ${status} (${description}) for ${JSON.stringify(properties)} ${JSON.stringify(body)}`).toBe(true);
          expect(router.child.exitCode).toBeNull();
          expect(await control.query('router', ['id'])).toEqual([{ id: 'fuzz-mgmt' }]);
        }),
        fuzzParameters('management requests', 300),
      );
      const growth = router.rssBytes() - rssBefore;
      expect(growth, `RSS grew by ${Math.round(growth / 1024 / 1024)} MiB`).toBeLessThan(RSS_GROWTH_BOUND);
    },
    fuzzTimeout(90_000),
  );
});
