// router/peer/data-transfers.ts: a TCP flow's data messages go from the session
// straight to the flow, counted as rhea counts them; everything else goes to
// rhea's 'message' event, in arrival order. Unit checks of the rules, then a
// real AMQP connection between two rhea containers.
import type { Receiver, Sender } from 'rhea';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataSection } from '../router/amqp/data-section.js';
import { dataSectionOffset, setDataHandler, takeDataTransfer } from '../router/peer/data-transfers.js';
import { type RheaPair, startRheaPair } from './helpers/rhea-pair.js';
import { waitFor } from './helpers/router-process.js';

const section = (bytes: Buffer) => DataSection.of(bytes).toBuffer();

describe('dataSectionOffset', () => {
  it('finds the bytes of a payload that is exactly one data section, vbin32 or vbin8', () => {
    const bytes = Buffer.from('hello');
    expect(dataSectionOffset(section(bytes))).toBe(8);
    expect(dataSectionOffset(Buffer.concat([Buffer.from([0x00, 0x53, 0x75, 0xa0, 5]), bytes]))).toBe(5);
    expect(dataSectionOffset(section(Buffer.alloc(0)))).toBe(8);
  });

  it('refuses anything else: other sections, a length that is not the rest, other binaries', () => {
    expect(dataSectionOffset(Buffer.concat([section(Buffer.from('ab')), Buffer.from([0])]))).toBe(-1);
    expect(dataSectionOffset(section(Buffer.from('ab')).subarray(0, 9))).toBe(-1);
    expect(dataSectionOffset(Buffer.from([0x00, 0x53, 0x77, 0xa1, 1, 0x61]))).toBe(-1); // amqp-value "a"
    expect(dataSectionOffset(Buffer.from([0x00, 0x53, 0x74, 0xc1, 1, 0]))).toBe(-1); // application-properties
    expect(dataSectionOffset(Buffer.from([0x00, 0x53, 0x75, 0xa0, 3, 1, 2]))).toBe(-1);
    expect(dataSectionOffset(Buffer.alloc(3))).toBe(-1);
  });
});

describe('takeDataTransfer', () => {
  const make = () => {
    const got: string[] = [];
    let registered = 0;
    const link = { credit: 5, delivery_count: 10, _incomplete: undefined as unknown, connection: { _register: () => void registered++ } };
    const incoming = { next_transfer_id: 100, next_delivery_id: 7 as number | undefined };
    setDataHandler(link as unknown as Receiver, (bytes) => got.push(bytes.toString()));
    const frame = (performative: Record<string, unknown>, payload = section(Buffer.from('abc'))) => ({ performative: { delivery_id: 7, settled: true, ...performative }, payload });
    return { got, link, incoming, frame, registered: () => registered };
  };

  it('takes a whole pre-settled data message with the expected delivery id, and counts it as rhea would', () => {
    const { got, link, incoming, frame, registered } = make();
    expect(takeDataTransfer(incoming, frame({}), link)).toBe(true);
    expect(got).toEqual(['abc']);
    expect(incoming).toEqual({ next_transfer_id: 101, next_delivery_id: 8 });
    expect({ credit: link.credit, delivery_count: link.delivery_count }).toEqual({ credit: 4, delivery_count: 11 });
    expect(registered()).toBe(1);
    // The first transfer of a session sets the delivery id, as rhea does.
    const first = make();
    first.incoming.next_delivery_id = undefined;
    expect(takeDataTransfer(first.incoming, first.frame({ delivery_id: 42 }), first.link)).toBe(true);
    expect(first.incoming.next_delivery_id).toBe(43);
  });

  it('leaves everything else to rhea, untouched', () => {
    const cases: Array<[string, Record<string, unknown>, Buffer?]> = [
      ['not pre-settled', { settled: false }],
      ['settled absent', { settled: undefined }],
      ['more frames follow', { more: true }],
      ['another delivery id', { delivery_id: 8 }],
      ['no delivery id', { delivery_id: undefined }],
      ['another message format', { message_format: 1 }],
      ['not a data section', {}, Buffer.from([0x00, 0x53, 0x77, 0xa1, 1, 0x61])],
    ];
    for (const [what, performative, payload] of cases) {
      const { got, link, incoming, frame, registered } = make();
      expect([what, takeDataTransfer(incoming, frame(performative, payload), link)]).toEqual([what, false]);
      expect(got).toEqual([]);
      expect(incoming).toEqual({ next_transfer_id: 100, next_delivery_id: 7 });
      expect({ credit: link.credit, delivery_count: link.delivery_count, registered: registered() }).toEqual({ credit: 5, delivery_count: 10, registered: 0 });
    }
    const partway = make();
    partway.link._incomplete = {};
    expect(takeDataTransfer(partway.incoming, partway.frame({}), partway.link)).toBe(false);
    const without = make();
    setDataHandler(without.link as unknown as Receiver, undefined);
    expect(takeDataTransfer(without.incoming, without.frame({}), without.link)).toBe(false);
  });
});

describe('on a real connection', () => {
  let pair: RheaPair;
  let receiver: Receiver;
  let sender: Sender;

  beforeAll(async () => {
    let opened!: Promise<Receiver>;
    pair = await startRheaPair((serverSide) => {
      opened = new Promise<Receiver>((resolve) => serverSide.once('receiver_open', (context) => resolve(context.receiver!)));
    });
    sender = pair.client.open_sender({ target: { address: 'flow' }, snd_settle_mode: 1 });
    receiver = await opened;
  });

  afterAll(async () => {
    await pair?.close();
  });

  it('hands data messages to the handler and the rest to the message event, in the order sent, with credit as granted', async () => {
    const order: string[] = [];
    setDataHandler(receiver, (bytes) => order.push(`data:${bytes.toString()}`));
    receiver.on('message', (context) => order.push(`message:${JSON.stringify(context.message?.application_properties)}`));
    const creditOf = (link: Receiver | Sender) => (link as unknown as { credit: number }).credit;
    const credit = creditOf(receiver);
    const total = 1505; // under rhea's session buffer of 2048 unsent deliveries
    receiver.add_credit(total);
    await waitFor('the sender to have the credit granted', () => creditOf(sender) >= total, 5000);
    const expected: string[] = [];
    for (let i = 0; i < total; i++) {
      if (i % 500 === 499) {
        sender.send({ body: null, application_properties: { n: i } });
        expected.push(`message:${JSON.stringify({ n: i })}`);
      } else {
        sender.send(section(Buffer.from(`chunk ${i}`)) as unknown as Parameters<Sender['send']>[0], undefined, 0);
        expected.push(`data:chunk ${i}`);
      }
    }
    await waitFor(`all ${total} messages`, () => order.length === total, 5000);
    expect(order).toEqual(expected);
    expect(creditOf(receiver)).toBe(credit);
  });
});
