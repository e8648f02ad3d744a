// A router process that is paused does not blame its clients for its own
// silence:
//
//   rhea client (heartbeats every 500 ms) --AMQP--> R (listener idleTimeoutSeconds 1: idle after 2 s), R paused 3 s
//
// While R is stopped the client goes on sending heartbeats, which wait in R's
// socket buffer. At SIGCONT R's idle timer is long overdue and fires on the
// first turn of its event loop; R must read the waiting heartbeats before it
// judges the connection idle (router/peer/rhea-tuning.ts readBeforeIdleClose).
// Before, R closed the client with amqp:resource-limit-exceeded.
import rhea, { type Connection } from 'rhea';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { freePort, RouterProcess, useRouters, waitFor } from './helpers/router-process.js';
import { useTestFolder } from './helpers/temp-dir.js';

const folder = useTestFolder('router-pause');
const routers = useRouters();
let router: RouterProcess;
let port: number;

beforeAll(async () => {
  port = await freePort();
  router = await RouterProcess.start(folder.path, 'R', [
    ['router', { id: 'pause-R' }],
    ['listener', { name: 'amqp', host: '127.0.0.1', port, role: 'normal', idleTimeoutSeconds: 1 }],
  ]);
  routers.push(router);
  await router.waitForLog('the listener', (line) => line.msg.includes('listening'));
});

describe('a paused router', () => {
  it('R paused 3 s past its 2 s idle limit: at SIGCONT it reads the client heartbeats that waited and keeps the connection', async () => {
    const events: string[] = [];
    const connection: Connection = rhea.create_container({ id: 'pause-client' }).connect({ host: '127.0.0.1', port, reconnect: false });
    connection.on('connection_open', () => events.push('open'));
    connection.on('connection_close', () => events.push(`closed: ${String((connection.error as { condition?: string } | undefined)?.condition ?? 'no error')}`));
    connection.on('connection_error', () => undefined);
    connection.on('disconnected', () => events.push('disconnected'));
    try {
      await waitFor('the connection to open', () => events.includes('open') || undefined);
      router.signal('SIGSTOP');
      await sleep(3_000);
      router.signal('SIGCONT');
      // Twice the idle limit after the resume: an idle close would have come by now.
      await sleep(2_000);
      expect(events).toEqual(['open']);
    } finally {
      connection.close();
    }
  });
});
