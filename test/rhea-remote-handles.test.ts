// rhea 3.0.5 keeps every link the peer ever attached in its session's table of
// the peer's handles, after the link is detached and removed; a router with a
// link pair per TCP flow kept thousands of dead links (router/peer/rhea-tuning.ts,
// forgetRemoteHandlesOfRemovedLinks). Checked here on a real AMQP connection
// between two rhea containers.
import type { Connection, Receiver, Sender } from 'rhea';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RheaPair, startRheaPair } from './helpers/rhea-pair.js';
import { waitFor } from './helpers/router-process.js';

interface SessionTables {
  links: Record<string, unknown>;
  remote: { handles: Record<number, unknown> };
  local: { handles: Record<number, unknown> };
}
const tablesOf = (link: Sender | Receiver) => link.session as unknown as SessionTables;
const entries = (table: Record<number, unknown>) => Object.values(table).filter((value) => value !== undefined).length;

let pair: RheaPair;
let client: Connection;
const accepted: Receiver[] = [];
const received: string[] = [];


beforeAll(async () => {
  pair = await startRheaPair((serverSide) => {
    serverSide.on('receiver_open', (context) => accepted.push(context.receiver!));
    // As the router's flows do: close our end when the peer detaches.
    serverSide.on('receiver_close', (context) => {
      if (!context.receiver!.is_closed()) context.receiver!.close();
    });
    serverSide.on('message', (context) => received.push(String(context.message?.body)));
  });
  client = pair.client;
});

afterAll(async () => {
  await pair?.close();
});

describe("the peer's handles of removed links", () => {
  it('are forgotten once the links are detached and removed, and a reused handle still reaches its new link', async () => {
    const senders = Array.from({ length: 200 }, (_, i) => client.open_sender(`queue-${i}`));
    await waitFor('200 links attached at the server', () => accepted.length === 200, 5000);
    // Closed only once attached at both ends: rhea reopens a link whose attach reply comes after its close.
    await waitFor('200 links attached at the client', () => senders.every((sender) => sender.is_open()), 5000);
    const serverSession = tablesOf(accepted[0]!);
    expect(entries(serverSession.remote.handles)).toBe(200);

    for (const sender of senders) sender.close();
    await waitFor('the server removed the 200 links', () => Object.keys(serverSession.links).length === 0, 5000);
    await waitFor("the client removed the 200 links", () => Object.keys(tablesOf(senders[0]!).links).length === 0, 5000);
    // rhea as released keeps all 200 here.
    expect(entries(serverSession.remote.handles)).toBe(0);
    expect(entries(serverSession.local.handles)).toBe(0);

    // The client's next link gets a handle number used before; its transfers reach it.
    const next = client.open_sender('queue-next');
    await waitFor('the next link is sendable', () => next.sendable(), 5000);
    next.send({ body: 'after' });
    await waitFor('the message on the next link arrived', () => received.includes('after'), 5000);
    expect(entries(serverSession.remote.handles)).toBe(1);
  });

  it("leave alone a handle number the peer has already given to another link", async () => {
    const first = client.open_sender('queue-first');
    await waitFor('attached at both ends', () => first.is_open() && accepted.some((link) => (link as unknown as { name: string }).name === (first as unknown as { name: string }).name), 5000);
    const mine = accepted.find((link) => (link as unknown as { name: string }).name === (first as unknown as { name: string }).name)!;
    const session = tablesOf(mine);
    const handle = Number(Object.entries(session.remote.handles).find(([, link]) => link === mine)![0]);
    // As when the peer attached a new link under the number in the same read as its
    // detach of this one, before rhea removes this one (a tick after the detach).
    const newcomer = { name: 'newcomer' };
    session.remote.handles[handle] = newcomer;
    (mine as unknown as { remove(): void }).remove();
    expect(session.remote.handles[handle]).toBe(newcomer);
    expect(session.links[(mine as unknown as { name: string }).name]).toBeUndefined();
    session.remote.handles[handle] = mine;
    first.close();
    await waitFor('the server removed the link', () => session.remote.handles[handle] === undefined, 5000);
  });
});
