// `kskup flow list` and the network-wide totals of `kskup service status` on
// two local sites, west - east (real site processes): a "doubler" (answers
// twice the bytes it got, after the client's FIN) exposed at east as "web",
// and a port nobody listens on exposed as "dead"; clients at west's listeners.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlowRow } from '../cli/site/flow-list-command.js';
import { useKskupHome } from './helpers/kskup-cli.js';
import { freePort, waitFor } from './helpers/router-process.js';
import { connect, openAndWatchEnd, startServer, type TestServer } from './helpers/tcp-tools.js';

const home = useKskupHome('site-flow-list', { KSKUP_SYNC_HEARTBEAT_MS: '500' });
let doubler: TestServer;

interface ServiceJson {
  address: string;
  listeners: { port: number }[];
  targets: { healthy: boolean }[];
  network?: { opened: number; failed: number; requestBytes: number; responseBytes: number; routers: number; missing: number };
}
const service = async (site: string, address: string) =>
  (await home.json<{ services: ServiceJson[] }>('service', 'status', '-n', site)).services.find((s) => s.address === address);
const flows = async (...args: string[]) => home.json<{ flows: FlowRow[]; more: number; routers: { router: string; state: string }[] }>('flow', 'list', ...args, '-o', 'json');

/** Sends `bytes`, ends, and counts what comes back until the far end closes. */
async function roundTrip(port: number, bytes: number): Promise<number> {
  const socket = await connect(port);
  return new Promise((resolve, reject) => {
    // A flow that never ends fails the attempt instead of holding the test.
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no end from port ${port} within 5 s`));
    }, 5_000);
    socket.on('close', () => clearTimeout(timer));
    let back = 0;
    socket.on('data', (chunk: Buffer) => (back += chunk.length));
    socket.on('end', () => resolve(back));
    socket.on('error', reject);
    socket.end(Buffer.alloc(bytes, 1));
  });
}

beforeAll(async () => {
  doubler = await startServer((socket) => {
    let got = 0;
    socket.on('data', (chunk: Buffer) => (got += chunk.length));
    socket.on('end', () => socket.end(Buffer.alloc(got * 2, 7)));
  });
  for (const site of ['west', 'east']) await home.ok('init', '-n', site);
  const token = `${home.path}/west.token`;
  await home.ok('token', 'create', token, '-n', 'west');
  await home.ok('link', 'create', token, '-n', 'east');
  await home.ok('link', 'status', '-n', 'east', '--wait', '10');
  await home.ok('expose', 'host/127.0.0.1', '--port', String(doubler.port), '--address', 'web', '-n', 'east');
  // A target port nobody listens on, apart from the service port: west listens on the service port itself when it is free.
  await home.ok('expose', 'host/127.0.0.1', '--port', String(await freePort()), '--target-port', String(await freePort()), '--address', 'dead', '-n', 'east');
}, 60_000);
afterAll(async () => {
  await doubler?.close();
});

describe('kskup flow list, two local sites west - east', () => {
  it('west->east: a clean flow and a refused one, listed byte-exact with both sites, asked at either site; service status has the network totals', async () => {
    const web = await waitFor('web listening and routed at west', async () => {
      const s = await service('west', 'web');
      return s?.listeners[0] && s.targets[0]?.healthy ? s.listeners[0].port : undefined;
    }, 15_000);
    await waitFor('a flow through web', async () => ((await roundTrip(web, 12_345).catch(() => 0)) === 24_690 ? true : undefined), 15_000);
    const dead = await waitFor('dead listening at west', async () => (await service('west', 'dead'))?.listeners[0]?.port, 10_000);
    expect((await openAndWatchEnd(dead).ended).code).toBe('ECONNRESET');

    for (const site of ['west', 'east']) {
      const listed = await waitFor(`both flows ended, asked at ${site}`, async () => {
        const got = await flows('-n', site);
        return got.flows.some((f) => f.service.startsWith('dead:') && f.result !== 'open') && got.flows.some((f) => f.service.startsWith('web:') && f.result === 'closed') ? got : undefined;
      });
      expect(listed.routers.map((r) => r.state)).toEqual(['answered', 'answered']);
      const clean = listed.flows.find((f) => f.service.startsWith('web:') && f.octets === 12_345)!;
      expect(clean).toMatchObject({ listenerSite: 'west', connectorSite: 'east', octetsReverse: 24_690, result: 'closed', target: `127.0.0.1:${doubler.port}` });
      expect(clean.client).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(clean.durationMs).toBeGreaterThanOrEqual(0);
      const refused = listed.flows.find((f) => f.service.startsWith('dead:'))!;
      expect(refused).toMatchObject({ listenerSite: 'west', connectorSite: 'east', result: 'refused', octets: 0, octetsReverse: 0 });
      expect(refused.reason).toContain('ECONNREFUSED');
    }

    const errors = await flows('-n', 'east', '--errors');
    expect(errors.flows.length).toBeGreaterThan(0);
    expect(errors.flows.every((f) => f.result !== 'closed' && f.result !== 'open')).toBe(true);
    expect((await flows('-n', 'west', '--service', 'dead')).flows.every((f) => f.service.startsWith('dead:'))).toBe(true);
    expect((await flows('-n', 'west', '--site', 'nowhere')).flows).toEqual([]);
    const one = await flows('-n', 'west', '--limit', '1');
    expect(one.flows.length).toBe(1);
    expect(one.more).toBeGreaterThan(0);

    const text = (await home.ok('flow', 'list', '-n', 'west', '--limit', '1')).stdout;
    expect(text).toMatch(/^TIME\s+SERVICE\s+CLIENT\s+LISTENER SITE\s+TARGET SITE\s+TARGET\s+BYTES IN\s+BYTES OUT\s+DURATION\s+OUTCOME/);
    expect(text).toMatch(/Note: \d+ more flow record\(s\) matched; raise --limit/);

    const network = (await service('east', 'web'))?.network;
    expect(network).toMatchObject({ routers: 2, missing: 0 });
    expect(network!.opened).toBeGreaterThanOrEqual(1);
    expect(network!.requestBytes % 12_345).toBe(0);
    expect(network!.responseBytes).toBe(2 * network!.requestBytes);
    expect((await service('west', 'dead'))?.network?.failed).toBe(1);
  });

  it.each([
    [['--limit', '0'], "option '--limit <n>' argument '0' is invalid. must be a whole number from 1 to 1000"],
    [['--limit', 'ten'], "option '--limit <n>' argument 'ten' is invalid"],
    [['--bogus'], "unknown option '--bogus'"],
  ])('flow list %j is a usage error (exit 2) that names the flag', async (args, message) => {
    const result = await home.kskup('flow', 'list', '-n', 'west', ...args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });
});
