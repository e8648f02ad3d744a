// Property-based tests (fast-check) of AMQP bytes a router must survive, sent
// to one real router process:
//
//   raw client --(plain)--------------------> R: listener "normal"       (SASL ANONYMOUS or none)
//   raw client --(mutual TLS, SASL EXTERNAL)-> R: listener "inter-router"
//   raw client --(mutual TLS, SASL EXTERNAL)-> R: listener "edge"
//   control client --> R "normal": a management query after every case
//
// Each case is the bytes a real client sent (recorded on the way to R: SASL
// header and init, AMQP header, open, begin, attach, flow, transfer), mutated
// (bits flipped, bytes set or inserted, frames cut, dropped, repeated or given
// another size), or random bytes, sent before SASL is done or after it.
// Properties: R is alive and wrote no crash trace (crash-watch); when R hangs
// up, the last thing it said is a clear rejection (a close with an error
// condition, a failed sasl-outcome, or its own protocol header for a header it
// does not speak), and a frame announcing a size R cannot take (under 8
// bytes, over the listener's maxFrameSize, over 512 for SASL) is refused at
// once, never waited for; the control client gets its answer; and after all
// cases R's connections are back to those before and its RSS grew by less
// than RSS_GROWTH_BOUND.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import rhea from 'rhea';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientConnectionOptions } from '../router/amqp/client-options.js';
import { ManagementClient } from '../router/management/management-client.js';
import { AMQP_HEADER, exchange, firstBadFrameSize, SASL_HEADER, performativeOf, recordClientBytes, splitSegments, type Segment, type WireExchange, type WireTarget } from './helpers/amqp-wire.js';
import { fuzzParameters, fuzzTimeout } from './helpers/fuzz.js';
import { freePort, RouterProcess, routerLogsOnFailure, useRouters, waitFor } from './helpers/router-process.js';
import { useTestFolder } from './helpers/temp-dir.js';

const folder = useTestFolder('fuzz-amqp', { withPki: true });
const routers = useRouters();
routerLogsOnFailure(() => routers);

/** The listeners' maxFrameSize (skupper-router's default). */
const MAX_FRAME_SIZE = 16_384;
/** Growth of R's resident memory over all cases of one property that still counts as bounded. */
const RSS_GROWTH_BOUND = 48 * 1024 * 1024;

type ListenerName = 'normal' | 'inter-router' | 'edge';
const targets = {} as Record<ListenerName, WireTarget>;
/** Recorded client bytes per listener, cut into headers and frames; `saslEnd` is the index after the SASL exchange. */
const recorded = {} as Record<ListenerName, { segments: Segment[]; saslEnd: number }>;
let control: ManagementClient;
let router: RouterProcess;

beforeAll(async () => {
  const ports = { normal: await freePort(), interRouter: await freePort(), edge: await freePort() };
  const pki = folder.pki;
  router = await RouterProcess.start(folder.path, 'R', [
    ['router', { id: 'fuzz-R', mode: 'interior' }],
    ['sslProfile', { name: 'tls', caCertFile: pki.caCert, certFile: pki.bothCert, privateKeyFile: pki.bothKey }],
    ['listener', { name: 'normal', host: '127.0.0.1', port: ports.normal }],
    ['listener', { name: 'inter-router', role: 'inter-router', host: '127.0.0.1', port: ports.interRouter, sslProfile: 'tls', authenticatePeer: true }],
    ['listener', { name: 'edge', role: 'edge', host: '127.0.0.1', port: ports.edge, sslProfile: 'tls', authenticatePeer: true }],
  ]);
  routers.push(router);
  await waitFor('three listeners', () => router.lines.filter((line) => line.msg.includes('listening')).length === 3 || undefined);
  const clientTls = { ca: readFileSync(pki.caCert), cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) };
  const relayTls = { cert: readFileSync(pki.bothCert), key: readFileSync(pki.bothKey) };
  targets.normal = { port: ports.normal };
  targets['inter-router'] = { port: ports.interRouter, tls: clientTls };
  targets.edge = { port: ports.edge, tls: clientTls };

  // The normal listener: a management client's connection, request and reply.
  recorded.normal = cut(
    await recordClientBytes(targets.normal, undefined, async (relayPort) => {
      const client = await ManagementClient.connect({ host: '127.0.0.1', port: relayPort }, { timeoutMs: 5_000 });
      await client.query('router');
      await client.getTypes();
      await sleep(50);
    }),
  );
  // The inter-router and edge listeners: a peer with a client certificate
  // (SASL EXTERNAL) that opens a control link, gets credit and sends on it.
  for (const name of ['inter-router', 'edge'] as const) {
    recorded[name] = cut(
      await recordClientBytes(targets[name], relayTls, (relayPort) => controlLinkPeer(relayPort, clientTls)),
    );
  }
  control = await ManagementClient.connect({ host: '127.0.0.1', port: ports.normal }, { timeoutMs: 5_000 });
});

afterAll(async () => {
  await control?.close();
});

/** A raw rhea peer on a link listener: open, a sender on the control address, one message once it has credit. */
async function controlLinkPeer(port: number, clientTls: { ca: Buffer; cert: Buffer; key: Buffer }): Promise<void> {
  const container = rhea.create_container({ id: `fuzz-peer-${Math.random().toString(36).slice(2)}` });
  const connection = container.connect(
    clientConnectionOptions({ host: '127.0.0.1', port, tls: clientTls }, container, { reconnect: false, properties: { product: 'kskup', mode: 'interior' } }),
  );
  connection.on('disconnected', () => undefined);
  connection.on('error', () => undefined);
  const sender = connection.open_sender({ target: { address: '_kskup/control' } });
  await Promise.race([new Promise<void>((resolve) => sender.once('sendable', () => resolve())), sleep(2_000)]);
  if (sender.sendable()) sender.send({ subject: 'fuzz', body: { type: 'fuzz' } });
  await sleep(100);
  connection.close();
}

function cut(stream: Buffer): { segments: Segment[]; saslEnd: number } {
  const segments = splitSegments(stream);
  // The second protocol header (AMQP after SASL) starts the AMQP part.
  const amqpHeader = segments.findIndex((segment, i) => i > 0 && segment.kind === 'header');
  expect(amqpHeader, 'the recorded client did SASL, then AMQP').toBeGreaterThan(0);
  expect(segments.some((segment) => segment.kind === 'frame' && performativeOf(segment.bytes) === 'transfer'), 'the recording has a transfer').toBe(true);
  return { segments, saslEnd: amqpHeader };
}

// ---------------------------------------------------------------------------
// Cases

const mutationArb = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({
    op: fc.constant('size' as const),
    value: fc.oneof(fc.constantFrom(0, 1, 4, 7, 8, 511, 513, MAX_FRAME_SIZE, MAX_FRAME_SIZE + 1, 0x7fffffff, 0xffffffff), fc.nat({ max: 0xffffffff })),
  }),
  fc.record({ op: fc.constant('repeat' as const), times: fc.integer({ min: 2, max: 20 }) }),
  fc.record({ op: fc.constant('drop' as const) }),
);
type Mutation = typeof mutationArb extends fc.Arbitrary<infer M> ? M : never;

function mutate(bytes: Buffer, mutation: Mutation): Buffer {
  const copy = Buffer.from(bytes);
  const at = (n: number) => (copy.length === 0 ? 0 : n % copy.length);
  switch (mutation.op) {
    case 'flip':
      if (copy.length > 0) copy[at(mutation.at)]! ^= 1 << mutation.bit;
      return copy;
    case 'set':
      if (copy.length > 0) copy[at(mutation.at)] = mutation.value;
      return copy;
    case 'truncate':
      return copy.subarray(0, at(mutation.at));
    case 'insert':
      return Buffer.concat([copy.subarray(0, at(mutation.at)), Buffer.from(mutation.bytes), copy.subarray(at(mutation.at))]);
    case 'size':
      if (copy.length >= 4) copy.writeUInt32BE(mutation.value, 0);
      return copy;
    case 'repeat':
      return Buffer.concat(Array.from({ length: mutation.times }, () => copy));
    case 'drop':
      return Buffer.alloc(0);
  }
}

interface WireCase {
  readonly phases: Buffer[];
  readonly what: string;
}

/** The recorded bytes with 1 to 3 mutations on frames before the end of SASL (`before`) or after it. */
function mutatedArb(listener: ListenerName, where: 'before' | 'after'): fc.Arbitrary<WireCase> {
  return fc.record({ target: fc.nat(), mutations: fc.array(mutationArb, { minLength: 1, maxLength: 3 }) }).map(({ target, mutations }) => {
    const { segments, saslEnd } = recorded[listener];
    const [from, count] = where === 'before' ? [0, saslEnd] : [saslEnd, segments.length - saslEnd];
    const index = from + (target % count);
    const bytes = segments.map((segment) => segment.bytes);
    bytes[index] = mutations.reduce(mutate, bytes[index]!);
    return {
      phases: [Buffer.concat(bytes.slice(0, saslEnd)), Buffer.concat(bytes.slice(saslEnd))],
      what: `${listener}: segment ${index} (${performativeOf(segments[index]!.bytes) ?? segments[index]!.kind}) ${JSON.stringify(mutations)}`,
    };
  });
}

/** Random bytes, alone, after a protocol header, after the whole SASL exchange, or as a frame with a true size. */
function randomArb(listener: ListenerName): fc.Arbitrary<WireCase> {
  const frameArb = fc.record({ type: fc.constantFrom(0, 1, 2, 0xff), channel: fc.nat({ max: 0xffff }), doff: fc.constantFrom(2, 2, 0, 1, 3, 0xff), body: fc.uint8Array({ maxLength: 256 }) }).map(({ type, channel, doff, body }) => {
    const frame = Buffer.alloc(8 + body.length);
    frame.writeUInt32BE(frame.length, 0);
    frame.writeUInt8(doff, 4);
    frame.writeUInt8(type, 5);
    frame.writeUInt16BE(channel, 6);
    Buffer.from(body).copy(frame, 8);
    return frame;
  });
  const garbage = fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 512 }).map((bytes) => Buffer.from(bytes)), frameArb);
  return fc.record({ prefix: fc.constantFrom('none', 'amqp-header', 'sasl-header', 'after-sasl', 'after-open'), garbage }).map(({ prefix, garbage }) => {
    const { segments, saslEnd } = recorded[listener];
    const saslPart = Buffer.concat(segments.slice(0, saslEnd).map((segment) => segment.bytes));
    // The AMQP header and the open frame that follow SASL.
    const openPart = Buffer.concat(segments.slice(saslEnd, saslEnd + 2).map((segment) => segment.bytes));
    const phases: Record<typeof prefix, Buffer[]> = {
      none: [garbage],
      'amqp-header': [Buffer.concat([segments[saslEnd]!.bytes, garbage])],
      'sasl-header': [Buffer.concat([segments[0]!.bytes, garbage])],
      'after-sasl': [saslPart, garbage],
      'after-open': [saslPart, Buffer.concat([openPart, garbage])],
    };
    return { phases: phases[prefix], what: `${listener}: ${garbage.length} random bytes after ${prefix}` };
  });
}

// ---------------------------------------------------------------------------
// Properties

/** What each case must show; returns why not, or undefined. */
function verdict(wireCase: WireCase, result: WireExchange): string | undefined {
  const { reply } = result;
  if (reply.unparsed > 0) return `R sent ${reply.unparsed} bytes that are not AMQP frames`;
  const sent = Buffer.concat(wireCase.phases);
  const badSize = firstBadFrameSize(sent, MAX_FRAME_SIZE);
  if (badSize !== undefined && !result.routerHungUp) return `R waited for a frame of ${badSize} bytes instead of refusing it`;
  if (!result.routerHungUp) return undefined;
  const last = reply.sequence.at(-1);
  const clientClosed = splitSegments(sent).some((segment) => segment.kind === 'frame' && performativeOf(segment.bytes) === 'close');
  if (last === undefined) return 'R hung up without a word';
  if (last === 'header') return undefined;
  if (last === 'close') return reply.errors.length > 0 || clientClosed ? undefined : 'R closed without an error condition';
  if (last === 'sasl-outcome') return reply.saslOutcomes.at(-1) !== 0 ? undefined : 'R hung up after a successful SASL outcome';
  return `R hung up after "${last}" without a close`;
}

async function controlRoundTrip(): Promise<void> {
  const rows = await control.query('router', ['id']);
  expect(rows).toEqual([{ id: 'fuzz-R' }]);
}

async function connectionCount(): Promise<number> {
  return (await control.query('connection', ['identity'])).length;
}

async function runProperty(name: string, arb: fc.Arbitrary<WireCase>, listener: ListenerName, runs: number): Promise<void> {
  const connectionsBefore = await connectionCount();
  const rssBefore = router.rssBytes();
  await fc.assert(
    fc.asyncProperty(arb, async (wireCase) => {
      const rssAtCase = router.rssBytes();
      const result = await exchange(targets[listener], wireCase.phases);
      // One case that alone costs a large part of the bound fails here, so that fast-check shrinks it to the bytes responsible.
      const caseGrowth = router.rssBytes() - rssAtCase;
      if (caseGrowth > RSS_GROWTH_BOUND / 2) throw new Error(`R's RSS grew by ${Math.round(caseGrowth / 1048576)} MiB in one case: ${wireCase.what}`);
      const problem = verdict(wireCase, result);
      if (problem) throw new Error(`${problem}; case ${wireCase.what}; R said ${JSON.stringify(result.reply)}`);
      expect(router.child.exitCode).toBeNull();
      await controlRoundTrip();
    }),
    fuzzParameters(name, runs),
  );
  // Every connection of the cases is gone at R too (some close only when R's answer was read).
  await waitFor('the cases\' connections to be gone', async () => ((await connectionCount()) <= connectionsBefore ? true : undefined), 10_000);
  const growth = router.rssBytes() - rssBefore;
  console.log(`RSS of R: ${Math.round(rssBefore / 1048576)} MiB before, ${Math.round(router.rssBytes() / 1048576)} MiB after "${name}"`);
  expect(growth, `RSS grew by ${Math.round(growth / 1024 / 1024)} MiB`).toBeLessThan(RSS_GROWTH_BOUND);
  await controlRoundTrip();
}

describe('AMQP bytes a router must survive (fast-check)', () => {
  for (const listener of ['normal', 'inter-router', 'edge'] as const) {
    it(
      `${listener} listener: recorded frames mutated before and after SASL, and random bytes: R rejects clearly, stays up, serves the control client`,
      async () => {
        const arb = fc.oneof(mutatedArb(listener, 'before'), mutatedArb(listener, 'after'), mutatedArb(listener, 'after'), randomArb(listener));
        await runProperty(`amqp frames, ${listener} listener`, arb, listener, listener === 'normal' ? 60 : 40);
      },
      fuzzTimeout(60_000),
    );
  }

  it('a fresh TLS peer still opens on the inter-router listener after the cases', async () => {
    const opened = await exchange(targets['inter-router'], [Buffer.concat(recorded['inter-router'].segments.slice(0, recorded['inter-router'].saslEnd).map((s) => s.bytes))]);
    expect(opened.reply.saslOutcomes).toEqual([0]);
  });
});

// Faults the properties above found, kept as plain cases: rhea hung up on
// these without a word, and waited for the bytes of any frame size announced.
describe('clear rejections of unreadable AMQP', () => {
  const saslPart = (listener: ListenerName) => Buffer.concat(recorded[listener].segments.slice(0, recorded[listener].saslEnd).map((s) => s.bytes));
  const frameHeader = (size: number, type = 0) => Buffer.from([(size >>> 24) & 0xff, (size >>> 16) & 0xff, (size >>> 8) & 0xff, size & 0xff, 2, type, 0, 0]);

  it('a protocol header with a byte in front: R answers with the header it speaks, then hangs up', async () => {
    const { reply, routerHungUp } = await exchange(targets.normal, [Buffer.concat([Buffer.from([0]), SASL_HEADER, SASL_HEADER])]);
    expect({ sequence: reply.sequence, headers: reply.headers, routerHungUp }).toEqual({ sequence: ['header'], headers: ['AMQP 0.1.0.0'], routerHungUp: true });
  });

  it('an AMQP header where SASL is required (inter-router): R answers with the SASL header, then hangs up', async () => {
    const { reply, routerHungUp } = await exchange(targets['inter-router'], [AMQP_HEADER]);
    expect({ headers: reply.headers, routerHungUp }).toEqual({ headers: ['AMQP 3.1.0.0'], routerHungUp: true });
  });

  it('a SASL frame announcing 4096 bytes (over 512): sasl-outcome sys-perm at once', async () => {
    const { reply, routerHungUp } = await exchange(targets.normal, [Buffer.concat([SASL_HEADER, frameHeader(4096, 1), Buffer.alloc(16)])]);
    expect({ outcomes: reply.saslOutcomes, last: reply.sequence.at(-1), routerHungUp }).toEqual({ outcomes: [3], last: 'sasl-outcome', routerHungUp: true });
  });

  it.each([
    ['2 GiB', 0x7fffffff],
    ['one byte over maxFrameSize', MAX_FRAME_SIZE + 1],
    ['4 bytes (less than its own header)', 4],
  ])('after SASL and open, a frame announcing %s: a close with amqp:connection:framing-error at once, over TLS too', async (_what, size) => {
    for (const listener of ['normal', 'inter-router'] as const) {
      const { segments, saslEnd } = recorded[listener];
      const headerAndOpen = Buffer.concat(segments.slice(saslEnd, saslEnd + 2).map((s) => s.bytes));
      const { reply, routerHungUp } = await exchange(targets[listener], [saslPart(listener), Buffer.concat([headerAndOpen, frameHeader(size), Buffer.alloc(64)])]);
      expect({ listener, errors: reply.errors, last: reply.sequence.at(-1), routerHungUp }).toEqual({ listener, errors: ['amqp:connection:framing-error'], last: 'close', routerHungUp: true });
    }
  });

  it('an open whose fields do not decode (type code 0xff): R sends its open, then a close with amqp:decode-error', async () => {
    const badOpen = Buffer.concat([frameHeader(13), Buffer.from([0x00, 0x53, 0x10, 0xc0, 0x02, 0x01, 0xff])]).subarray(0, 15);
    badOpen.writeUInt32BE(badOpen.length, 0);
    const { reply, routerHungUp } = await exchange(targets.normal, [Buffer.concat([AMQP_HEADER, badOpen])]);
    expect({ sequence: reply.sequence, errors: reply.errors, routerHungUp }).toEqual({ sequence: ['header', 'open', 'close'], errors: ['amqp:decode-error'], routerHungUp: true });
  });
});
