// Service rate limits end to end (docs/traffic.md#rate-limits): set with
// `kskup expose --flows-per-second ...` or `kskup service limit` at any site,
// carried by service sync, written into the tcpConnectors of every exposing
// site (each its equal share), enforced by its router. Two real sites on the
// local platform, real sockets, every byte checked.
//
//   client -> west listener -> west router -> east router -> east backend
//   (later west exposes "web" too: each site then takes half of each limit)
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useKskupHome } from './helpers/kskup-cli.js';
import { waitFor } from './helpers/router-process.js';
import { connect, echoOrRefused, startEchoServer, type TestServer } from './helpers/tcp-tools.js';

const home = useKskupHome('service-limits', { KSKUP_SYNC_HEARTBEAT_MS: '500', KSKUP_SYNC_TTL_MS: '3000' });

interface LimitsJson {
  maxFlows?: number;
  flowsPerSecond?: number;
  flowQueue?: number;
  setBy: string;
  here?: { share: Record<string, number>; waiting: number; refused: number };
}
interface ServiceJson {
  address: string;
  listeners: { port: number }[];
  limits?: LimitsJson;
}

const service = async (site: string, address: string) => (await home.json<{ services: ServiceJson[] }>('service', 'status', '-n', site)).services.find((s) => s.address === address);

/** The limit attributes of the site router's tcpConnectors for `web:PORT`, as the site process wrote them. */
async function connectorLimits(site: string): Promise<Record<string, unknown>[]> {
  const entities = JSON.parse(await readFile(join(home.path, 'home', site, 'router.json'), 'utf8')) as [string, Record<string, unknown>][];
  return entities
    .filter(([type, e]) => type === 'tcpConnector' && String(e.address).startsWith('web:'))
    .map(([, e]) => Object.fromEntries(Object.entries(e).filter(([key]) => ['maxFlows', 'flowsPerSecond', 'flowBurst', 'bandwidth', 'flowQueue', 'flowQueueTimeoutMs'].includes(key))));
}

describe('bad limits are usage errors naming the flag', () => {
  it.each([
    [['service', 'limit', 'web', '--max-flows', '0'], /--max-flows "0" is not a whole number from 1/],
    [['service', 'limit', 'web', '--flows-per-second', '2.5'], /--flows-per-second "2.5" is not a whole number/],
    [['service', 'limit', 'web', '--bandwidth', '10 furlongs'], /--bandwidth "10 furlongs" is not a rate of at least 1KiB\/s/],
    [['service', 'limit', 'web', '--bandwidth', '100B/s'], /--bandwidth "100B\/s" is not a rate of at least 1KiB\/s/],
    [['service', 'limit', 'web', '--burst', '5'], /--burst needs --flows-per-second/],
    [['service', 'limit', 'web', '--bandwidth', '1MiB/s', '--queue', '3'], /--queue needs --max-flows or --flows-per-second/],
    [['service', 'limit', 'web', '--max-flows', '3', '--queue-timeout', 'soon'], /--queue-timeout "soon" is not a duration/],
    [['service', 'limit', 'web'], /give at least one of --max-flows, --flows-per-second, --bandwidth, or --clear/],
    [['service', 'limit', 'web', '--clear', '--max-flows', '3'], /--clear takes no limit options/],
    [['expose', 'host/127.0.0.1', '--port', '80', '--address', 'x', '--burst', '3'], /--burst needs --flows-per-second/],
  ])('kskup %j', async (argv, message) => {
    const result = await home.kskup(...argv, '-n', 'nosuchsite');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });
});

describe('service limits across two sites: east - west', () => {
  let eastBackend: TestServer;
  let westBackend: TestServer;
  const WEB_PORT = 7401;
  let listener = 0;

  beforeAll(async () => {
    for (const site of ['west', 'east']) await home.ok('init', '-n', site);
    const file = `${home.path}/west-east.token`;
    await home.ok('token', 'create', file, '-n', 'west');
    await home.ok('link', 'create', file, '-n', 'east');
    await home.ok('link', 'status', '-n', 'east', '--wait', '5');
    [eastBackend, westBackend] = await Promise.all([startEchoServer(), startEchoServer()]);
  });
  afterAll(async () => {
    await eastBackend?.close();
    await westBackend?.close();
  });

  it('expose --flows-per-second 5 --queue 0 at east: 20 clients at once at west get 5 served, the rest refused at once; service status counts them', async () => {
    const exposed = await home.ok('expose', 'host/127.0.0.1', '--port', String(WEB_PORT), '--target-port', String(eastBackend.port), '--address', 'web', '--flows-per-second', '5', '--queue', '0', '-n', 'east');
    expect(exposed.stdout).toContain('Limits of "web", network-wide: 5 new flow(s)/s (burst 5); over it a flow waits (up to 0 at each target site');
    listener = await waitFor('web listener at west', async () => (await service('west', 'web'))?.listeners[0]?.port, 10_000);
    expect(await connectorLimits('east')).toEqual([{ flowsPerSecond: 5, flowQueue: 0 }]);
    // The route from west to east first (a client before it is reset for want of one); then the bucket is full again.
    await waitFor('west to reach east', async () => ((await echoOrRefused(listener, 0, 1_000)) === 'served' ? true : undefined), 10_000);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const started = Date.now();
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => echoOrRefused(listener, i + 1, 1_000)));
    const elapsed = Date.now() - started;
    const served = outcomes.filter((o) => o === 'served').length;
    console.log(`20 clients at once, 5 flows/s and no queue: ${served} served, ${20 - served} refused in ${elapsed} ms`);
    expect(served).toBeGreaterThanOrEqual(5);
    expect(served).toBeLessThanOrEqual(5 + Math.floor((5 * elapsed) / 1000) + 1);
    const status = await service('east', 'web');
    expect(status?.limits).toMatchObject({ flowsPerSecond: 5, flowQueue: 0, setBy: 'east', here: { waiting: 0, refused: 20 - served } });
    // West, which set nothing, shows the limits in force too.
    expect((await service('west', 'web'))?.limits).toMatchObject({ flowsPerSecond: 5, setBy: 'east' });
    expect((await home.ok('service', 'status', '-n', 'east')).stdout).toMatch(new RegExp(`limits here: +5 new flow\\(s\\)/s \\(burst 5\\).*; 0 flow\\(s\\) waiting, ${20 - served} refused`));
  });

  it('service limit at west replaces it network-wide: --max-flows 1 lets one flow in at east, the next waits and is served when the first ends', async () => {
    const set = await home.ok('service', 'limit', 'web', '--max-flows', '1', '--queue-timeout', '3s', '-n', 'west');
    expect(set.stdout).toContain('Limits of "web": at most 1 flow(s) open; over it a flow waits (up to 100 at each target site, for 3 s)');
    await waitFor('east to take the limits set at west', async () => (JSON.stringify(await connectorLimits('east')) === JSON.stringify([{ maxFlows: 1, flowQueueTimeoutMs: 3000 }]) ? true : undefined), 10_000);
    const first = await connect(listener);
    first.on('error', () => undefined);
    first.write('a');
    await new Promise<void>((resolve) => first.once('data', () => resolve()));
    const second: Socket = await connect(listener);
    let got = '';
    second.on('data', (chunk: Buffer) => (got += chunk.toString()));
    second.write('b');
    await waitFor('the second to wait at east', async () => ((await service('east', 'web'))?.limits?.here?.waiting === 1 ? true : undefined), 5_000);
    expect(got).toBe('');
    first.end();
    await waitFor('the second served', () => (got === 'b' ? true : undefined), 5_000);
    second.end();
    await waitFor('east\'s status to show the limits set at west', async () => ((await service('east', 'web'))?.limits?.setBy === 'west' ? true : undefined), 10_000);
    expect((await service('east', 'web'))?.limits).toMatchObject({ maxFlows: 1, setBy: 'west' });
  });

  it('exposed at both sites: each takes half of each limit; --clear drops them everywhere', async () => {
    await home.ok('service', 'limit', 'web', '--max-flows', '8', '--flows-per-second', '20', '-n', 'east');
    await home.ok('expose', 'host/127.0.0.1', '--port', String(WEB_PORT), '--target-port', String(westBackend.port), '--address', 'web', '-n', 'west');
    for (const site of ['east', 'west']) {
      await waitFor(`${site} to take half`, async () => (JSON.stringify(await connectorLimits(site)) === JSON.stringify([{ maxFlows: 4, flowsPerSecond: 10 }]) ? true : undefined), 10_000);
    }
    // Status reads the snapshot the site writes after its pass: west's share shows once west is in it as an exposing site.
    const share = await waitFor('west\'s share in its status', async () => (await service('west', 'web'))?.limits?.here?.share, 10_000);
    expect(share).toEqual({ maxFlows: 4, flowsPerSecond: 10 });
    await home.ok('service', 'limit', 'web', '--clear', '-n', 'west');
    for (const site of ['east', 'west']) await waitFor(`${site} without limits`, async () => (JSON.stringify(await connectorLimits(site)) === '[{}]' ? true : undefined), 10_000);
    await waitFor('east\'s status without limits', async () => ((await service('east', 'web'))?.limits === undefined ? true : undefined), 10_000);
  });
});
