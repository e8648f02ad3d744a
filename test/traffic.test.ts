// Weighted routing and active health checks (docs/traffic.md), end to end on
// the local platform: two real sites, east - west, each with a backend of its
// own for the same address, clients at west's listener, real sockets.
//
//   client -> west listener -> west router -+-> west backend "W"
//                                           +-> east router -> east backend "E"
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useKskupHome } from './helpers/kskup-cli.js';
import { waitFor } from './helpers/router-process.js';
import { openNamed, startNamedEcho, whoAnswers, type TestServer } from './helpers/tcp-tools.js';

const home = useKskupHome('traffic', { KSKUP_SYNC_HEARTBEAT_MS: '500', KSKUP_SYNC_TTL_MS: '3000', KSKUP_SYNC_HEALTH_MS: '1000' });

interface ServiceJson {
  address: string;
  state: 'up' | 'down';
  down?: string;
  listeners: { port: number; servicePort: number }[];
  targets: { site: string; port: number; healthy: boolean; weight?: number }[];
  split?: { site: string; flows: number; percent: number }[];
  targetsHere: { ports: { health: string; takesFlows: boolean; reason?: string }[] }[];
}

const service = async (site: string, address: string) => (await home.json<{ services: ServiceJson[] }>('service', 'status', '-n', site)).services.find((s) => s.address === address);

async function linkSites(issuer: string, linker: string): Promise<void> {
  const file = `${home.path}/${issuer}-${linker}.token`;
  await home.ok('token', 'create', file, '-n', issuer);
  await home.ok('link', 'create', file, '-n', linker);
  await home.ok('link', 'status', '-n', linker, '--wait', '5');
}

/** An HTTP backend that names itself on GET / and answers GET /healthz with `status.code`. */
async function startHttpBackend(name: string): Promise<{ server: Server; port: number; status: { code: number } }> {
  const status = { code: 200 };
  const server = createServer((request, response) => {
    if (request.url === '/healthz') response.writeHead(status.code).end();
    else response.writeHead(200, { 'content-type': 'text/plain' }).end(name);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, status };
}

function httpName(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/', agent: false }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

describe('bad weights and health checks are usage errors naming the flag', () => {
  it.each([
    [['expose', 'host/127.0.0.1', '--port', '80', '--address', 'x', '--weight', '-1'], /--weight.*not a weight: give a whole number from 0 \(drain\) to 1000000/],
    [['expose', 'host/127.0.0.1', '--port', '80', '--address', 'x', '--weight', '1000001'], /--weight.*"1000001" is not a weight/],
    [['expose', 'host/127.0.0.1', '--port', '80', '--address', 'x', '--health', 'http:healthz'], /--health.*"http:healthz" is not a health check: give tcp, or http:\/PATH/],
    [['expose', 'host/127.0.0.1', '--port', '80', '--address', 'x', '--health', 'tcp', '--health-interval', '5m'], /--health-interval "5m" is not a duration/],
    [['expose', 'host/127.0.0.1', '--port', '80', '--address', 'x', '--health-interval', '2s'], /--health-interval needs --health/],
    [['expose', 'host/127.0.0.1', '--port', '80', '--address', 'x', '--health', 'tcp', '--health-interval', '1s', '--health-timeout', '2s'], /--health-timeout \(2000 ms\) is longer than --health-interval/],
    [['service', 'weights', 'web', 'east:90'], /"east:90" is not site=weight/],
    [['service', 'weights', 'web', 'east=ninety'], /"east=ninety": "ninety" is not a weight/],
    [['service', 'weights', 'web', 'east=1', 'east=2'], /site "east" is given twice/],
    [['service', 'weights', 'web'], /give at least one site=weight/],
  ])('kskup %j', async (argv, message) => {
    const result = await home.kskup(...argv, '-n', 'nosuchsite');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });
});

describe('weights and health checks across two sites: east - west', () => {
  let east: TestServer;
  let west: TestServer;
  /** The service port of "web"; each backend listens on a port of its own. */
  const WEB_PORT = 7301;

  beforeAll(async () => {
    for (const site of ['west', 'east']) await home.ok('init', '-n', site);
    await linkSites('west', 'east');
    [east, west] = await Promise.all([startNamedEcho('E'), startNamedEcho('W')]);
  });
  afterAll(async () => {
    await east?.close();
    await west?.close();
  });

  let listener = 0;

  it('1,000 flows split 90/10 by --weight land within ±5% of the weights, and service status shows weights and the split', async () => {
    await home.ok('expose', 'host/127.0.0.1', '--port', String(WEB_PORT), '--target-port', String(east.port), '--address', 'web', '--weight', '90', '-n', 'east');
    await home.ok('expose', 'host/127.0.0.1', '--port', String(WEB_PORT), '--target-port', String(west.port), '--address', 'web', '--weight', '10', '-n', 'west');
    listener = await waitFor('web listener at west', async () => (await service('west', 'web'))?.listeners[0]?.port, 10_000);
    await waitFor('both weights announced', async () => {
      const weights = (await service('west', 'web'))?.targets.map((t) => `${t.site}=${t.weight}`).sort().join(' ');
      return weights === 'east=90 west=10' || undefined;
    }, 10_000);
    // The routers have the weights once east's ad reached west: until then flows may go by the old rule.
    // Before the routers have east's route, a client is reset (no route): tolerated here only.
    await waitFor('weights in west router', async () => {
      const seen = await Promise.all(Array.from({ length: 10 }, () => whoAnswers(listener).catch(() => 'reset')));
      return seen.filter((n) => n === 'W').length === 1 && seen.filter((n) => n === 'E').length === 9 ? true : undefined;
    }, 10_000);
    const counts: Record<string, number> = { E: 0, W: 0 };
    const failures: string[] = [];

    for (let batch = 0; batch < 100; batch++) {
      const names = await Promise.all(Array.from({ length: 10 }, (_, i) => whoAnswers(listener).catch((error: Error) => (failures.push(`flow ${batch * 10 + i}: ${error.message}`), 'failed'))));
      for (const name of names) counts[name] = (counts[name] ?? 0) + 1;
    }
    console.log(`1,000 flows at 90/10: east ${counts.E}, west ${counts.W}`);
    expect(failures).toEqual([]);
    expect(counts.E! + counts.W!).toBe(1000);
    expect(Math.abs(counts.E! - 900)).toBeLessThanOrEqual(50);
    expect(Math.abs(counts.W! - 100)).toBeLessThanOrEqual(50);

    const status = await service('west', 'web');
    expect(status?.state).toBe('up');
    const split = Object.fromEntries((status?.split ?? []).map((s) => [s.site, s.percent]));
    expect(split.east).toBeGreaterThan(85);
    expect(split.west).toBeLessThan(15);
    const text = (await home.ok('service', 'status', '-n', 'west')).stdout;
    expect(text).toMatch(/weight 90/);
    expect(text).toMatch(/split: +east \d+ \(\d+(\.\d)?%\), west/);
  });

  it('blue-green: service weights 100/0 -> 0/100 moves new flows within 1 s with no client error; a flow open at the drained side finishes byte-exact', async () => {
    await home.ok('service', 'weights', 'web', 'east=100', 'west=0', '-n', 'west');
    await waitFor('all to east', async () => {
      const seen = await Promise.all(Array.from({ length: 10 }, () => whoAnswers(listener)));
      return seen.every((n) => n === 'E') || undefined;
    }, 10_000);
    const open = await openNamed(listener);
    expect(open.name).toBe('E');

    await home.ok('service', 'weights', 'web', 'east=0', 'west=100', '-n', 'east');
    const switchedAt = Date.now();
    let lastEast = 0;
    let errors = 0;
    let flows = 0;
    // New flows every 20 ms for 2 s: every one must get a backend's name (no reset), and east's must stop within 1 s.
    while (Date.now() - switchedAt < 2_000) {
      const name = await whoAnswers(listener).catch(() => 'error');
      flows++;
      if (name === 'error') errors++;
      if (name === 'E') lastEast = Date.now() - switchedAt;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    console.log(`blue-green: last new flow to east ${lastEast} ms after the switch; ${flows} flows, ${errors} client errors`);
    expect(errors).toBe(0);
    expect(lastEast).toBeLessThan(1_000);

    // The flow opened before the switch still goes to east, and carries 256 KiB both ways byte-exact.
    const data = Buffer.alloc(256 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 9)) & 0xff;
    open.socket.write(data);
    await waitFor('echo of the open flow', () => (Buffer.concat(open.rest).length >= data.length ? true : undefined), 10_000);
    expect(Buffer.concat(open.rest).equals(data)).toBe(true);
    open.socket.destroy();
    await home.ok('service', 'weights', 'web', '--clear', '-n', 'west');
  });

  it('http health check: a target answering 503 leaves rotation everywhere within two intervals, and returns at 200; all down -> status says the service is down', async () => {
    const [apiEast, apiWest] = await Promise.all([startHttpBackend('E'), startHttpBackend('W')]);
    try {
      const API_PORT = 7302;
      const health = ['--health', 'http:/healthz', '--health-interval', '1s', '--health-timeout', '500ms', '--healthy-threshold', '1', '--unhealthy-threshold', '1'];
      await home.ok('expose', 'host/127.0.0.1', '--port', String(API_PORT), '--target-port', String(apiEast.port), '--address', 'api', ...health, '-n', 'east');
      await home.ok('expose', 'host/127.0.0.1', '--port', String(API_PORT), '--target-port', String(apiWest.port), '--address', 'api', ...health, '-n', 'west');
      const port = await waitFor('api listener at west', async () => (await service('west', 'api'))?.listeners[0]?.port, 10_000);
      await waitFor('both api targets take flows', async () => {
        const seen = new Set(await Promise.all(Array.from({ length: 6 }, () => httpName(port))));
        return seen.size === 2 || undefined;
      }, 10_000);

      apiWest.status.code = 503;
      const failedAt = Date.now();
      // Out of rotation: 10 requests in a row all served by east.
      await waitFor('west out of rotation', async () => {
        const seen = await Promise.all(Array.from({ length: 10 }, () => httpName(port)));
        return seen.every((n) => n === 'E') || undefined;
      }, 10_000);
      const outAfter = Date.now() - failedAt;
      console.log(`health: west out of rotation ${outAfter} ms after its backend turned 503 (interval 1000 ms)`);
      expect(outAfter).toBeLessThan(2_000);
      const west503 = await service('west', 'api');
      expect(west503?.targetsHere[0]?.ports[0]).toMatchObject({ health: 'unhealthy', takesFlows: false });
      expect(west503?.targetsHere[0]?.ports[0]?.reason).toMatch(/HTTP status 503/);
      expect(west503?.state).toBe('up');

      apiWest.status.code = 200;
      const healedAt = Date.now();
      await waitFor('west back in rotation', async () => ((await Promise.all(Array.from({ length: 6 }, () => httpName(port)))).includes('W') || undefined), 10_000);
      console.log(`health: west back ${Date.now() - healedAt} ms after its backend answered 200 again`);

      apiWest.status.code = 503;
      apiEast.status.code = 503;
      const down = await waitFor('api down at west', async () => {
        const status = await service('west', 'api');
        return status?.state === 'down' ? status : undefined;
      }, 10_000);
      expect(down.down).toMatch(/no target is healthy/);
      expect((await home.ok('service', 'status', '-n', 'west')).stdout).toMatch(/DOWN: +no target is healthy/);
      // The state change is logged once at west, not once per probe.
      const log = await import('node:fs/promises').then((fs) => fs.readFile(home.folder('west').logFile, 'utf8'));
      const outLines = log.split('\n').filter((line) => line.includes(`127.0.0.1:${apiWest.port} of service`) && line.includes('is unhealthy'));
      expect(outLines.length).toBe(2);
      // Counted for Prometheus at west's /metrics (its router's, in the site process): healthy (the first result), out, back, out.
      const { site } = await home.folder('west').read();
      const metrics = await (await fetch(`http://127.0.0.1:${site.ports.http}/metrics`)).text();
      const changes = (to: string) => metrics.split('\n').find((line) => line.startsWith(`kskup_service_health_changes_total{address="api",target="127.0.0.1:${apiWest.port}",to="${to}"}`));
      expect(changes('unhealthy')).toMatch(/ 2$/);
      expect(changes('healthy')).toMatch(/ 2$/);
    } finally {
      await new Promise((resolve) => apiEast.server.close(resolve));
      await new Promise((resolve) => apiWest.server.close(resolve));
    }
  });

  it('behind an edge router: an edge site linked to east takes its weighted share at west (20/80 within ±5%), counted as its own site, and drains at weight 0', async () => {
    //   client -> west listener -> west router -> east router -+-> east backend "E"
    //                                                           +-> south edge router -> south backend "S"
    const SHOP_PORT = 7302;
    const south = await startNamedEcho('S');
    try {
      await home.ok('init', '-n', 'south', '--router-mode', 'edge');
      await linkSites('east', 'south');
      await home.ok('expose', 'host/127.0.0.1', '--port', String(SHOP_PORT), '--target-port', String(east.port), '--address', 'shop', '--weight', '20', '-n', 'east');
      await home.ok('expose', 'host/127.0.0.1', '--port', String(SHOP_PORT), '--target-port', String(south.port), '--address', 'shop', '--weight', '80', '-n', 'south');
      const port = await waitFor('shop listener at west', async () => (await service('west', 'shop'))?.listeners[0]?.port, 10_000);
      await waitFor('the edge site weighted in west router', async () => {
        const seen = await Promise.all(Array.from({ length: 10 }, () => whoAnswers(port).catch(() => 'reset')));
        return seen.filter((n) => n === 'S').length === 8 && seen.filter((n) => n === 'E').length === 2 ? true : undefined;
      }, 15_000);
      const counts: Record<string, number> = {};
      const failures: string[] = [];
      for (let batch = 0; batch < 50; batch++) {
        const names = await Promise.all(Array.from({ length: 10 }, () => whoAnswers(port).catch((error: Error) => (failures.push(error.message), 'failed'))));
        for (const name of names) counts[name] = (counts[name] ?? 0) + 1;
      }
      console.log(`500 flows at 20 (east) / 80 (south, an edge site): ${JSON.stringify(counts)}`);
      expect(failures).toEqual([]);
      expect(Math.abs((counts.S ?? 0) - 400)).toBeLessThanOrEqual(25);
      expect(Math.abs((counts.E ?? 0) - 100)).toBeLessThanOrEqual(25);
      const status = await service('west', 'shop');
      const split = Object.fromEntries((status?.split ?? []).map((s) => [s.site, s.percent]));
      expect(split.south).toBeGreaterThan(75);
      expect(split.east).toBeLessThan(25);
      expect(status?.targets.map((t) => `${t.site}=${t.weight}`).sort()).toEqual(['east=20', 'south=80']);

      await home.ok('service', 'weights', 'shop', 'east=100', 'south=0', '-n', 'west');
      const switchedAt = Date.now();
      let lastSouth = 0;
      let errors = 0;
      while (Date.now() - switchedAt < 2_000) {
        const name = await whoAnswers(port).catch(() => 'error');
        if (name === 'error') errors++;
        if (name === 'S') lastSouth = Date.now() - switchedAt;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      console.log(`edge site drained: last new flow to south ${lastSouth} ms after kskup service weights returned`);
      expect(errors).toBe(0);
      expect(lastSouth).toBeLessThan(1_000);
    } finally {
      await south.close();
    }
  });
});
