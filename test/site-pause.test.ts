// A site process that is paused (SIGSTOP) and resumed (SIGCONT) carries on by
// itself: two local sites, east linked to west, a service exposed at west.
//
//   west (paused 4 s) <==link== east
//
// Every AMQP idle timeout is 1 s (KSKUP_IDLE_TIMEOUT_SECONDS: a connection is
// closed after 2 s without a frame) and the sync TTL 3 s, so during the pause
// east's router drops the link and east forgets west's services, and at
// resume west's own router has been silent past its timers too: the same
// path as a 40 s pause with the default 16 s timeout, in 4 s. Before the
// service-sync client handled a close from its router, west died here of
// "ConnectionError: max idle time exceeded".
import { request } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useKskupHome } from './helpers/kskup-cli.js';
import { waitFor } from './helpers/router-process.js';
import { connect, exchangeStream, sha256Of, startEchoServer, type TestServer } from './helpers/tcp-tools.js';

const TTL_MS = 3_000;
const PAUSE_MS = 4_000;
const home = useKskupHome('site-pause', {
  KSKUP_IDLE_TIMEOUT_SECONDS: '1',
  KSKUP_SYNC_HEARTBEAT_MS: '500',
  KSKUP_SYNC_TTL_MS: String(TTL_MS),
  KSKUP_SYNC_HEALTH_MS: '1000',
});

interface StatusJson {
  process: { running: boolean; pid: number };
  router: { reachable: boolean };
}
const status = (site: string) => home.json<StatusJson>('status', '-n', site);
interface ServiceJson {
  address: string;
  targets: { site: string }[];
  /** Bound listeners only (unbound ones are in notListening). */
  listeners: { host: string; port: number }[];
}
const serviceAt = async (site: string, address: string) => (await home.json<{ services: ServiceJson[] }>('service', 'status', '-n', site)).services.find((s) => s.address === address);
/** The port of `address`'s bound listener at `site`, once there is one. */
const listenerPort = (site: string, address: string) =>
  waitFor(`${address} listening at ${site}`, async () => (await serviceAt(site, address))?.listeners[0]?.port, 10_000);

/** The HTTP status the claims endpoint answers a GET with (405: claims are POSTed), or the error. */
function claimsAnswer(port: number): Promise<number | string> {
  return new Promise((resolve) => {
    const outgoing = request({ host: '127.0.0.1', port, path: '/claims/none', method: 'GET', rejectUnauthorized: false, timeout: 5_000 }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 'no status');
    });
    outgoing.on('timeout', () => outgoing.destroy(new Error('timed out')));
    outgoing.on('error', (error) => resolve(String(error)));
    outgoing.end();
  });
}

let echo: TestServer;
beforeAll(async () => {
  echo = await startEchoServer();
  await home.ok('init', '-n', 'west');
  await home.ok('init', '-n', 'east');
  const token = `${home.path}/west.token`;
  await home.ok('token', 'create', token, '-n', 'west');
  await home.ok('link', 'create', token, '-n', 'east');
  await home.ok('link', 'status', '-n', 'east', '--wait', '10');
  await home.ok('expose', 'host/127.0.0.1', '--port', String(echo.port), '--address', 'before-pause', '-n', 'west');
  await waitFor('before-pause at east', () => serviceAt('east', 'before-pause'), 10_000);
});
afterAll(() => echo?.close());

describe('a paused site', () => {
  it('SIGSTOP past the idle timeouts and the sync TTL, then SIGCONT: the process, its router and claims endpoint live, and service sync converges again', async () => {
    const { pid } = (await status('west')).process;
    const portBefore = await listenerPort('east', 'before-pause');
    await home.kill('west', 'SIGSTOP');
    try {
      await waitFor('east forgets before-pause', async () => ((await serviceAt('east', 'before-pause')) === undefined ? true : undefined), TTL_MS + 3_000);
      await sleep(Math.max(0, PAUSE_MS - TTL_MS));
    } finally {
      await home.kill('west', 'SIGCONT');
    }

    // Everything that fell due during the pause (idle timers, heartbeats, TTLs) runs now.
    await sleep(1_000);
    const after = await status('west');
    expect(after.process).toMatchObject({ running: true, pid });
    expect(after.router.reachable).toBe(true);
    const { ports } = (await home.folder('west').read()).site;
    expect(await claimsAnswer(ports.claims)).toBe(405);
    // East hears west again: the old service comes back, a new one arrives.
    await waitFor('before-pause back at east', () => serviceAt('east', 'before-pause'), 10_000);
    // At the port it had: clients that use it must not have to be told another one.
    expect(await listenerPort('east', 'before-pause')).toBe(portBefore);
    const { sent, got } = await exchangeStream(await connect(portBefore), 7, 256 * 1024);
    expect(got.sha256).toBe(sent);
    expect(sent).toBe(sha256Of(7, 256 * 1024));
    await home.ok('expose', 'host/127.0.0.1', '--port', String(echo.port), '--address', 'after-pause', '-n', 'west');
    await waitFor('after-pause at east', () => serviceAt('east', 'after-pause'), 10_000);
    await home.ok('link', 'status', '-n', 'east', '--wait', '10');
  });
});
