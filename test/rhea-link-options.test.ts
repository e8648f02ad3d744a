// router/peer/rhea-tuning.ts replaces rhea's attach_sender/attach_receiver so
// that the options of the links a router attaches share one prototype (and so
// their hidden classes), and leaves the options of links the peer attaches
// to rhea. Checked here on a real AMQP connection between two rhea containers.
import type { Connection, Receiver, Sender } from 'rhea';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHARED_LINK_OPTIONS } from '../router/peer/rhea-tuning.js';
import { type RheaPair, startRheaPair } from './helpers/rhea-pair.js';

interface WithOptions {
  options: Record<string, unknown>;
}

let pair: RheaPair;
let client: Connection;
const incoming: Array<Sender | Receiver> = [];
const received: string[] = [];

beforeAll(async () => {
  pair = await startRheaPair((serverSide) => {
    serverSide.on('sender_open', (context) => incoming.push(context.sender!));
    serverSide.on('receiver_open', (context) => incoming.push(context.receiver!));
    serverSide.on('message', (context) => received.push(String(context.message?.body)));
  });
  client = pair.client;
});

afterAll(async () => {
  await pair?.close();
});

describe('the options of attached links', () => {
  it('share the one frozen prototype, carry what was asked for, and the links work', async () => {
    const first = client.open_sender({ target: { address: 'a' }, properties: { 'x-one': 1 } });
    const second = client.open_sender('b');
    const receiver = client.open_receiver({ source: { address: 'c' }, credit_window: 0 });
    for (const link of [first, second, receiver]) expect(Object.getPrototypeOf((link as unknown as WithOptions).options)).toBe(SHARED_LINK_OPTIONS);
    expect(Object.isFrozen(SHARED_LINK_OPTIONS)).toBe(true);
    expect(Object.keys(SHARED_LINK_OPTIONS)).toEqual([]);
    expect((first as unknown as WithOptions).options).toMatchObject({ target: { address: 'a' }, properties: { 'x-one': 1 } });
    expect((second as unknown as WithOptions).options).toMatchObject({ target: { address: 'b' } });
    expect(typeof (first as unknown as WithOptions).options.name).toBe('string');
    expect((first as unknown as WithOptions).options.name).not.toBe((second as unknown as WithOptions).options.name);
    // What the peer sees: the addresses and properties asked for.
    await new Promise<void>((resolve) => first.once('sendable', () => resolve()));
    expect(incoming).toHaveLength(3);
    const byAddress = (address: string) => incoming.find((link) => ((link.is_receiver() ? link.target : link.source) as { address?: string }).address === address);
    expect(byAddress('a')?.properties).toEqual({ 'x-one': 1 });
    expect(byAddress('b')).toBeDefined();
    expect(byAddress('c')?.is_sender()).toBe(true);
    first.send({ body: 'hello' });
    await new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error('message not received in 5 s')), 5000);
      const poll = setInterval(() => {
        if (received.length > 0) {
          clearInterval(poll);
          clearTimeout(deadline);
          resolve();
        }
      }, 10);
    });
    expect(received).toEqual(['hello']);
  });

  it("links the peer attaches keep options of their own (rhea's), never the shared prototype", () => {
    expect(incoming.length).toBeGreaterThanOrEqual(3);
    const options = incoming.map((link) => (link as unknown as WithOptions).options);
    for (const each of options) expect(each).not.toBe(SHARED_LINK_OPTIONS);
    expect(new Set(options).size).toBe(options.length);
  });
});
