// AMQP messaging for clients across the network, real router processes:
//
//   ring:  A -- B        anycast: a sender at A, a receiver at C: each message arrives once,
//          |    |        in order, and its "accepted" comes back to the sender.
//          D -- C        multicast ("mc" prefix): receivers at B, C and D each get every
//                        message exactly once, though the ring offers two paths to C.
//   Qpid Proton's Python binding sends at A and receives at C (standard client interop).
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection, EventContext, Sender } from 'rhea';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectMessages, dropSocket, useAmqpClients } from './helpers/amqp-clients.js';
import { freePort, metric, RouterProcess, waitFor, type Entity } from './helpers/router-process.js';

/** Debian's python3-qpid-proton installs for the system Python, which may not be first on PATH. */
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
let dir: string;
const routers: RouterProcess[] = [];
const ports: Record<string, { link: number; amqp: number; http: number }> = {};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kskup-msg-'));
  for (const name of ['A', 'B', 'C', 'D']) ports[name] = { link: await freePort(), amqp: await freePort(), http: await freePort() };
  const dials: Record<string, string> = { A: 'B', B: 'C', C: 'D', D: 'A' };
  for (const name of ['A', 'B', 'C', 'D']) {
    const p = ports[name]!;
    const entities: Entity[] = [
      ['router', { id: `msg-${name}`, mode: 'interior' }],
      ['listener', { name: 'inter-router', role: 'inter-router', host: '127.0.0.1', port: p.link }],
      ['listener', { name: 'amqp', host: '127.0.0.1', port: p.amqp }],
      ['listener', { name: 'http', host: '127.0.0.1', port: p.http, http: true }],
      ['connector', { name: 'next', role: 'inter-router', host: '127.0.0.1', port: ports[dials[name]!]!.link }],
      ['address', { prefix: 'mc', distribution: 'multicast' }],
    ];
    routers.push(await RouterProcess.start(dir, name, entities));
  }
  for (const name of ['A', 'B', 'C', 'D']) {
    await waitFor(`${name}'s two links`, async () => (await metric(ports[name]!.http, 'kskup_inter_router_connections').catch(() => 0)) === 2, 15_000);
  }
});

afterAll(async () => {
  await Promise.all(routers.map((r) => r.stop()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

const connectTo = useAmqpClients();
const client = (router: string): Connection => connectTo(ports[router]!.amqp, router);

/** Opens a receiver and resolves once the router has attached it. */
const receiverAt = (router: string, address: string, got: string[]): Promise<void> => collectMessages(client(router), address, got);

type Outcome = 'accepted' | 'released' | 'rejected' | 'modified';

/** Sends one message and resolves with its outcome (with the modified state), or 'none' after timeoutMs. */
function sendForOutcome(sender: Sender, body: string, timeoutMs = 5_000): Promise<{ outcome: Outcome | 'none'; deliveryFailed?: boolean }> {
  return new Promise((resolve) => {
    const delivery = sender.send({ body });
    const events: Outcome[] = ['accepted', 'released', 'rejected', 'modified'];
    const handlers = events.map((outcome) => {
      const handler = (context: EventContext) => {
        if (context.delivery !== delivery) return;
        const state = (context.delivery as unknown as { remote_state?: { delivery_failed?: boolean } }).remote_state;
        done({ outcome, ...(outcome === 'modified' ? { deliveryFailed: state?.delivery_failed === true } : {}) });
      };
      sender.on(outcome, handler);
      return [outcome, handler] as const;
    });
    const timer = setTimeout(() => done({ outcome: 'none' }), timeoutMs);
    const done = (result: { outcome: Outcome | 'none'; deliveryFailed?: boolean }) => {
      clearTimeout(timer);
      for (const [outcome, handler] of handlers) sender.off(outcome, handler);
      resolve(result);
    };
  });
}

describe('messaging', () => {
  it('A->C anycast: each message once, in order, and accepted back at the sender', async () => {
    const got: string[] = [];
    await receiverAt('C', 'greetings', got);
    const sender = client('A').open_sender({ target: { address: 'greetings' } });
    const outcomes: string[] = [];
    sender.on('accepted', () => outcomes.push('accepted'));
    sender.on('released', () => outcomes.push('released'));
    // Until C's consumer is known at A, messages are released: send when A routes it.
    await waitFor('A to learn the consumer at C', async () => ((await sendForOutcome(sender, 'probe')).outcome === 'accepted' ? true : undefined));
    got.length = 0;
    outcomes.length = 0;
    for (let i = 0; i < 20; i++) sender.send({ body: `hello ${i}` });
    await waitFor('20 messages and 20 outcomes', () => got.length === 20 && outcomes.length === 20);
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => `hello ${i}`));
    expect(outcomes.every((o) => o === 'accepted')).toBe(true);
  });

  it('A->{B,C,D} multicast in the ring: every receiver gets every message exactly once', async () => {
    const got: Record<string, string[]> = { B: [], C: [], D: [] };
    for (const name of ['B', 'C', 'D']) await receiverAt(name, 'mc/news', got[name]!);
    // Link state carries the consumers to A: probe until a copy reaches all three.
    const sender = client('A').open_sender({ target: { address: 'mc/news' } });
    await waitFor('a probe to reach all three', async () => {
      sender.send({ body: 'probe' });
      await new Promise((r) => setTimeout(r, 100));
      return ['B', 'C', 'D'].every((n) => got[n]!.includes('probe')) ? true : undefined;
    });
    await new Promise((r) => setTimeout(r, 200));
    for (const name of ['B', 'C', 'D']) got[name]!.length = 0;
    for (let i = 0; i < 30; i++) sender.send({ body: `news ${i}` });
    await waitFor('30 at each', () => ['B', 'C', 'D'].every((n) => got[n]!.length >= 30));
    await new Promise((r) => setTimeout(r, 300)); // duplicates would arrive by now
    for (const name of ['B', 'C', 'D']) expect(got[name]).toEqual(Array.from({ length: 30 }, (_, i) => `news ${i}`));
    // Copies between routers go pre-settled; each must still be settled where it
    // arrives, or rhea keeps it, and every later delivery on that connection (TCP
    // flows' bytes included), until the session's buffer overflows.
    for (const name of ['B', 'C', 'D']) {
      expect(await metric(ports[name]!.http, 'kskup_inter_router_deliveries_held{direction="incoming"}')).toBeLessThan(5);
    }
  });

  it('a receiver whose client connection drops stops being a consumer: A->C messages are then released', async () => {
    const got: string[] = [];
    const connection = client('C');
    const receiver = connection.open_receiver({ source: { address: 'gone-q' }, credit_window: 10 });
    receiver.on('message', (context) => got.push(String(context.message?.body)));
    await new Promise<void>((resolve) => receiver.once('receiver_open', () => resolve()));
    const sender = client('A').open_sender({ target: { address: 'gone-q' } });
    const outcome = async () => (await sendForOutcome(sender, 'ping')).outcome;
    await waitFor('the consumer to be reachable', async () => ((await outcome()) === 'accepted' ? true : undefined));
    // Drop the client's socket without closing its links.
    dropSocket(connection);
    await waitFor('messages to be released', async () => ((await outcome()) === 'released' ? true : undefined));
    expect(got.length).toBeGreaterThan(0);
  });

  for (const where of ['A', 'C'] as const) {
    it(`a receiver at ${where} that drops its connection holding an unsettled message: the sender at A gets modified (delivery-failed), not silence`, async () => {
      const address = `held-${where}`;
      const connection = client(where);
      const receiver = connection.open_receiver({ source: { address }, credit_window: 0, autoaccept: false });
      let holding = false;
      receiver.on('message', (context) => {
        if (String(context.message?.body) !== 'hold me') return void context.delivery?.accept();
        // Received, never settled: then the connection is gone.
        holding = true;
        dropSocket(connection);
      });
      await new Promise<void>((resolve) => receiver.once('receiver_open', () => resolve()));
      receiver.add_credit(1000);
      const sender = client('A').open_sender({ target: { address } });
      await waitFor('the consumer to be reachable', async () => ((await sendForOutcome(sender, 'probe')).outcome === 'accepted' ? true : undefined));
      const result = await sendForOutcome(sender, 'hold me', 10_000);
      expect(holding).toBe(true);
      expect(result).toEqual({ outcome: 'modified', deliveryFailed: true });
      // The router lost the consumer with it: the next message is released at once.
      await waitFor('later messages to be released', async () => ((await sendForOutcome(sender, 'after')).outcome === 'released' ? true : undefined));
    });
  }

  const proton = spawnSync(PYTHON, ['-c', 'import proton'], { stdio: 'ignore' }).status === 0;
  it('Qpid Proton (Python) sends at A and receives at C', async () => {
    expect(proton, 'python3-qpid-proton must be installed (.ci/run installs it)').toBe(true);
    const script = join(dir, 'proton_client.py');
    await writeFile(
      script,
      `import sys
from proton import Message
from proton.utils import BlockingConnection
mode, port, address, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
connection = BlockingConnection("127.0.0.1:%d" % port, timeout=20)
if mode == "receive":
    receiver = connection.create_receiver(address, credit=count)
    print("ready", flush=True)
    for i in range(count):
        message = receiver.receive(timeout=20)
        print(message.body, flush=True)
        receiver.accept()
else:
    sender = connection.create_sender(address)
    for i in range(count):
        sender.send(Message(body="proton %d" % i), timeout=20)
    print("sent", flush=True)
connection.close()
`,
    );
    const receiving = new Promise<string>((resolve, reject) =>
      execFile(PYTHON, [script, 'receive', String(ports.C!.amqp), 'proton-q', '5'], { timeout: 60_000 }, (error, stdout) =>
        error ? reject(error) : resolve(stdout),
      ),
    );
    // The receiver must be known at A before the sender's messages are routed (else released: Proton would raise).
    await waitFor('the proton receiver to be advertised', async () => {
      const probe = client('A').open_sender({ target: { address: 'proton-q' } });
      const outcome = await new Promise<string>((resolve) => {
        probe.once('sendable', () => {
          const d = probe.send({ body: 'skip' });
          probe.once('accepted', (c) => c.delivery === d && resolve('accepted'));
          probe.once('released', (c) => c.delivery === d && resolve('released'));
        });
      });
      probe.close();
      return outcome === 'released' ? undefined : true;
    });
    const sent = await new Promise<string>((resolve, reject) =>
      execFile(PYTHON, [script, 'send', String(ports.A!.amqp), 'proton-q', '4'], { timeout: 60_000 }, (error, stdout) =>
        error ? reject(error) : resolve(stdout),
      ),
    );
    expect(sent.trim()).toBe('sent');
    const lines = (await receiving).trim().split('\n');
    expect(lines).toEqual(['ready', 'skip', 'proton 0', 'proton 1', 'proton 2', 'proton 3']);
  });
});
