// The service-sync client against a real router process whose local listener
// closes idle connections (idleTimeoutSeconds 1: rhea closes after 2 s without
// a frame, with amqp:resource-limit-exceeded "max idle time exceeded"):
//
//   test process (SyncClient, paused 3 s) --AMQP--> router R (normal listener, multicast kskup.sync)
//
// A pause of the client's process is what a SIGSTOPped site does: its own
// heartbeats stop, the router closes it, and the close is the first thing it
// reads when it resumes. It must reconnect and carry announcements again.
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYNC_PREFIX, type SiteAnnouncement } from '../service-controller/sync/announcement.js';
import { createServer, type Socket } from 'node:net';
import { IDLE_TIMEOUT_MS, OPEN_TIMEOUT_MS, SyncClient } from '../service-controller/sync/sync-client.js';
import { freePort, RouterProcess, useRouters, waitFor } from './helpers/router-process.js';
import { useTestFolder } from './helpers/temp-dir.js';

const folder = useTestFolder('sync-client');
const routers = useRouters();
let port: number;

beforeAll(async () => {
  port = await freePort();
  const router = await RouterProcess.start(folder.path, 'R', [
    ['router', { id: 'sync-R' }],
    ['listener', { name: 'amqp', host: '127.0.0.1', port, role: 'normal', idleTimeoutSeconds: 1 }],
    ['address', { prefix: SYNC_PREFIX, distribution: 'multicast' }],
  ]);
  routers.push(router);
  await router.waitForLog('the listener', (line) => /listener "amqp".*listening/.test(line.msg));
});

const clients: SyncClient[] = [];
afterAll(() => {
  for (const client of clients) client.close();
});

function announcement(name: string, seq: number): SiteAnnouncement {
  return { site: { id: `${name}-id`, name, platform: 'local', mode: 'interior' }, seq, final: false, links: [], services: [] };
}

/** A sync client that records what it hears, how often it got ready and lost its connection, and what it logged. */
function syncClient(name: string, to = port) {
  const heard: SiteAnnouncement[] = [];
  const logged: string[] = [];
  let ready = 0;
  let lost = 0;
  const log = pino({ level: 'info' }, { write: (line: string) => void logged.push(String((JSON.parse(line) as { msg: string }).msg)) });
  const client = new SyncClient({ port: to, containerId: `sync-test-${name}`, log, onAnnouncement: (a) => heard.push(a), onReady: () => ready++, onLost: () => lost++ });
  clients.push(client);
  return { client, heard, logged, ready: () => ready, lost: () => lost, isListening: () => client.isListening() };
}

/** Blocks this whole process, timers and sockets included, as SIGSTOP does to a site process. */
function pauseProcess(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

describe('SyncClient', () => {
  it('paused past the router idle timeout: closed with amqp:resource-limit-exceeded, it reconnects and sync carries on', async () => {
    const paused = syncClient('paused');
    const other = syncClient('other');
    await waitFor('both clients attached', () => paused.ready() >= 1 && other.ready() >= 1);

    pauseProcess(3_000);

    // Both clients live in this process, so both were paused and both were closed.
    await waitFor('both clients attached again', () => paused.ready() >= 2 && other.ready() >= 2, 10_000);
    expect(paused.logged.some((msg) => /lost its router connection \(closed by the router: amqp:resource-limit-exceeded \(max idle time exceeded\)\)/.test(msg))).toBe(true);
    expect(paused.logged).toContain('service sync has its router connection again');
    // Both directions work again: each hears what the other says (said again until heard, as heartbeats do).
    await waitFor('the paused client hears the other', () => {
      other.client.publish(announcement('other', 1));
      return paused.heard.find((a) => a.site.name === 'other');
    });
    await waitFor('the other hears the paused client', () => {
      paused.client.publish(announcement('paused', 1));
      return other.heard.find((a) => a.site.name === 'paused');
    });
    // One receiver per client, not one more per reconnect: each announcement arrives once.
    other.client.publish(announcement('other', 2));
    await waitFor('seq 2', () => paused.heard.find((a) => a.seq === 2));
    await sleep(200);
    expect(paused.heard.filter((a) => a.site.name === 'other' && a.seq === 2)).toHaveLength(1);
  });

  it('the router goes away and comes back on the same port: the client reconnects', async () => {
    const client = syncClient('restart');
    await waitFor('attached', () => client.ready() >= 1);
    const [router] = routers.splice(0, 1);
    expect(await router!.stop()).toBe(0);
    await waitFor('loss logged', () => client.logged.find((msg) => msg.startsWith('service sync lost its router connection')));
    const again = await RouterProcess.start(folder.path, 'R', [
      ['router', { id: 'sync-R' }],
      ['listener', { name: 'amqp', host: '127.0.0.1', port, role: 'normal', idleTimeoutSeconds: 1 }],
      ['address', { prefix: SYNC_PREFIX, distribution: 'multicast' }],
    ]);
    routers.push(again);
    await waitFor('attached again', () => client.ready() >= 2, 10_000);
  });

  it(`a router that takes the connection and never answers: the attempt is given up after ${OPEN_TIMEOUT_MS} ms and made again`, async () => {
    // What a router going away behind its Service can do: the TCP connection is accepted, the AMQP open never comes.
    const accepted: number[] = [];
    const sockets = new Set<Socket>();
    const mute = createServer((socket) => {
      accepted.push(Date.now());
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
    try {
      const client = syncClient('mute', (mute.address() as { port: number }).port);
      await waitFor('a second attempt', () => accepted.length >= 2, OPEN_TIMEOUT_MS + 5_000);
      const gap = accepted[1]! - accepted[0]!;
      expect(gap).toBeGreaterThanOrEqual(OPEN_TIMEOUT_MS - 50);
      expect(gap).toBeLessThan(OPEN_TIMEOUT_MS + 3_000);
      expect(client.logged).toContain(`service sync lost its router connection (no AMQP open from the router within ${OPEN_TIMEOUT_MS / 1000} s); reconnecting`);
      // It never attached, so it was never listening and never lost a connection it had.
      expect(client.ready()).toBe(0);
      expect(client.lost()).toBe(0);
    } finally {
      for (const socket of sockets) socket.destroy();
      mute.close();
    }
  }, 20_000);

  it('a router that stops answering on an open connection (SIGSTOP): the idle timeout asked of it ends the connection, onLost is called, and it attaches again on SIGCONT', async () => {
    const client = syncClient('silent');
    await waitFor('attached', () => client.ready() >= 1);
    expect(client.isListening()).toBe(true);
    const [router] = routers;
    const stoppedAt = Date.now();
    router!.signal('SIGSTOP');
    try {
      await waitFor('the silence noticed', () => client.lost() >= 1 || undefined, 2 * IDLE_TIMEOUT_MS + 4_000);
    } finally {
      router!.signal('SIGCONT');
    }
    const noticedMs = Date.now() - stoppedAt;
    // rhea closes after twice the idle timeout without a frame; the router sent one at most half of it before the stop.
    expect(noticedMs).toBeGreaterThanOrEqual(IDLE_TIMEOUT_MS);
    expect(client.isListening()).toBe(false);
    expect(client.logged.find((msg) => msg.startsWith('service sync lost its router connection'))).toBeDefined();
    await waitFor('attached again', () => client.ready() >= 2, 10_000);
    expect(client.isListening()).toBe(true);
  }, 30_000);
});
