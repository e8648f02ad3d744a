// Site policy end to end (docs/policy.md): real local sites, their processes,
// routers and links, data checked byte for byte.
//
//   west --> hub <-- east        west and east link to hub (hub issued the tokens);
//                                "db" (an echo server) is exposed at hub.
//
// Each test sets a policy at one site, checks what it blocks (and that what it
// allows still works), and removes it again.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useKskupHome } from './helpers/kskup-cli.js';
import { freePort, metric, waitFor } from './helpers/router-process.js';
import { ManagementClient } from '../router/management/management-client.js';
import { localRouterTarget } from '../cli/site/site-status.js';
import { connect, openAndWatchEnd, receiveAll, sendStream, startEchoServer, type TestServer } from './helpers/tcp-tools.js';

const home = useKskupHome('site-policy', { KSKUP_SYNC_HEARTBEAT_MS: '500', KSKUP_SYNC_TTL_MS: '3000', KSKUP_SYNC_HEALTH_MS: '1000' });

interface ServiceJson {
  address: string;
  listeners: { port: number; servicePort: number }[];
  notListening: { servicePort: number; host?: string; port?: number; reason: string }[];
  exposedAt: string[];
  policy?: { notImported?: string; accessDenied?: string; reachableFrom?: string[]; flowsDenied?: number };
}
interface LinksJson {
  links: { name: string; connected: boolean; reason: string; blocked?: string; endpoint: string }[];
  incoming: { site: string; connected: boolean; blocked?: string }[];
}

let echo: TestServer;
const HEADER = 'apiVersion: kskup.io/v1alpha1\nkind: SitePolicy\n';

async function policyFile(name: string, body: string): Promise<string> {
  const file = join(home.path, `${name}.yaml`);
  await writeFile(file, HEADER + body);
  return file;
}

async function setPolicy(site: string, body: string): Promise<void> {
  await home.ok('policy', 'set', await policyFile(`${site}-policy`, body), '-n', site);
}

const services = async (site: string) => (await home.json<{ services: ServiceJson[] }>('service', 'status', '-n', site)).services;
const listenerPort = async (site: string, address: string) => (await services(site)).find((s) => s.address === address)?.listeners[0]?.port;
const links = (site: string) => home.json<LinksJson>('link', 'status', '-n', site);

async function echoThrough(port: number, bytes: number, seed: number): Promise<void> {
  const socket = await connect(port);
  const [sent, received] = await Promise.all([sendStream(socket, seed, bytes), receiveAll(socket)]);
  expect(received).toEqual({ bytes, sha256: sent });
  socket.destroy();
}

/** Waits until a byte-exact echo through `site`'s listener for db works. */
async function dbWorksAt(site: string): Promise<number> {
  return waitFor(`db echoes at ${site}`, async () => {
    const port = await listenerPort(site, 'db');
    if (port === undefined) return undefined;
    try {
      await echoThrough(port, 64 * 1024, 3);
      return port;
    } catch {
      return undefined;
    }
  }, 15_000);
}

async function linkSites(issuer: string, linker: string): Promise<void> {
  const file = join(home.path, `${issuer}-${linker}.token`);
  await home.ok('token', 'create', file, '-n', issuer);
  await home.ok('link', 'create', file, '-n', linker);
  await home.ok('link', 'status', '-n', linker, '--wait', '10');
}

beforeAll(async () => {
  for (const site of ['hub', 'west', 'east']) await home.ok('init', '-n', site);
  await linkSites('hub', 'west');
  await linkSites('hub', 'east');
  echo = await startEchoServer();
  await home.ok('expose', 'host/127.0.0.1', '--port', String(echo.port), '--address', 'db', '-n', 'hub');
  await dbWorksAt('west');
  await dbWorksAt('east');
});

afterAll(async () => {
  await echo?.close();
});

afterEach(async () => {
  for (const site of ['hub', 'west', 'east']) await home.ok('policy', 'delete', '-n', site);
});

describe('policy set, show', () => {
  it('a bad file is exit 2 naming every bad field; nothing is stored', async () => {
    const file = join(home.path, 'bad.yaml');
    await writeFile(file, 'apiVersion: kskup.io/v2\nkind: SitePolicy\nincomingLinks: west\nexposedResources: ["host/db", 7]\nserviceAccess:\n  - service: db\n    site: [west]\ncolour: blue\n');
    const result = await home.kskup('policy', 'set', file, '-n', 'hub');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`policy file ${file}`);
    for (const part of ['apiVersion "kskup.io/v2": must be "kskup.io/v1alpha1"', 'incomingLinks: must be a list', 'exposedResources[1]: must be a non-empty string', 'serviceAccess[0].site: not a field', 'serviceAccess[0].sites: missing', 'field "colour" is not a policy field']) {
      expect(result.stderr).toContain(part);
    }
    expect(await home.json('policy', 'show', '-n', 'hub')).toEqual({ site: 'hub', policy: null });
    expect((await home.ok('policy', 'show', '-n', 'hub')).stdout).toContain('no policy: everything is allowed');
  });

  it('set from JSON, shown as JSON and YAML', async () => {
    const file = join(home.path, 'policy.json');
    await writeFile(file, JSON.stringify({ apiVersion: 'kskup.io/v1alpha1', kind: 'SitePolicy', importedServices: ['db', 'web-*'] }));
    await home.ok('policy', 'set', file, '-n', 'west');
    expect(await home.json('policy', 'show', '-n', 'west')).toEqual({ site: 'west', policy: { apiVersion: 'kskup.io/v1alpha1', kind: 'SitePolicy', importedServices: ['db', 'web-*'] } });
    const yaml = (await home.ok('policy', 'show', '-n', 'west', '-o', 'yaml')).stdout;
    expect(yaml).toContain('importedServices:\n    - db\n    - web-*');
  });
});

describe('enforced', () => {
  it('serviceAccess, announced: east (not allowed) drops its listener for db and says why; west reaches db byte for byte; allowing east gives it its listener back at once', async () => {
    const eastPort = (await listenerPort('east', 'db'))!;
    await setPolicy('hub', 'serviceAccess:\n  - service: db\n    sites: [west]\n');
    const why = 'not allowed by site "hub"\'s policy (serviceAccess allows west)';
    const dropped = await waitFor('east to drop its db listener', async () => {
      const db = (await services('east')).find((service) => service.address === 'db');
      return db?.listeners.length === 0 ? db : undefined;
    }, 10_000);
    expect(dropped.policy).toEqual({ accessDenied: why });
    expect(dropped.notListening).toEqual([{ servicePort: echo.port, host: '127.0.0.1', port: eastPort, reason: why }]);
    expect((await home.ok('service', 'status', '-n', 'east')).stdout).toContain(`NOT LISTENING: for port ${echo.port} at 127.0.0.1:${eastPort}: ${why}`);
    expect((await openAndWatchEnd(eastPort).ended).code).toBe('ECONNREFUSED');
    await echoThrough((await listenerPort('west', 'db'))!, 1 << 20, 11);
    const atHub = (await services('hub')).find((service) => service.address === 'db');
    expect(atHub?.policy).toEqual({ reachableFrom: ['west'], flowsDenied: 0 });

    // Allowed: the listener comes back at the same port, and carries bytes.
    const allowedAt = Date.now();
    await setPolicy('hub', 'serviceAccess:\n  - service: db\n    sites: [west, east]\n');
    expect(await dbWorksAt('east')).toBe(eastPort);
    console.log(`east's db listener back and carrying bytes ${Date.now() - allowedAt} ms after kskup policy set at hub`);
    await echoThrough(eastPort, 1 << 20, 12);
    expect((await services('east')).find((service) => service.address === 'db')?.policy).toBeUndefined();
  });

  it('serviceAccess, in the router: a tcpListener east makes by hand for db is reset at hub, counted there; the backend sees nothing', async () => {
    await setPolicy('hub', 'serviceAccess:\n  - service: db\n    sites: [west]\n');
    await waitFor('east to drop its db listener', async () => ((await listenerPort('east', 'db')) === undefined ? true : undefined), 10_000);
    const hubHttp = (await home.folder('hub').read()).site.ports.http;
    const denied = () => metric(hubHttp, `kskup_tcp_flows_denied_total{address="db:${echo.port}"}`);
    const before = (await denied()) ?? 0;
    const port = await freePort();
    const east = home.folder('east');
    const client = await ManagementClient.connect(await localRouterTarget(east, await east.read()), { timeoutMs: 5_000 });
    let backendConnections = 0;
    const counted = () => backendConnections++;
    echo.server.on('connection', counted);
    try {
      await client.create('tcpListener', 'by-hand', { address: `db:${echo.port}`, host: '127.0.0.1', port });
      await waitFor('the hand-made listener to be refused at hub', async () => {
        const { socket, ended } = openAndWatchEnd(port);
        socket.write('anything');
        const end = await ended;
        return end.code === 'ECONNRESET' ? true : undefined;
      }, 10_000);
      expect(await denied()).toBe(before + 1);
      expect(backendConnections).toBe(0);
      const atHub = (await services('hub')).find((service) => service.address === 'db');
      expect(atHub?.policy).toEqual({ reachableFrom: ['west'], flowsDenied: before + 1 });
    } finally {
      echo.server.off('connection', counted);
      await client.delete('tcpListener', 'by-hand').catch(() => undefined);
      await client.close();
    }
  });

  it('importedServices: east drops its listener for db at once, west keeps it', async () => {
    // The test before left east without a db listener (hub's serviceAccess); with hub's policy deleted, it comes back.
    const port = await waitFor('east to have its db listener', () => listenerPort('east', 'db'), 10_000);
    await setPolicy('east', 'importedServices: ["web-*"]\n');
    await waitFor('east to drop its db listener', async () => ((await listenerPort('east', 'db')) === undefined ? true : undefined), 10_000);
    const { ended } = openAndWatchEnd(port);
    expect((await ended).code).toBe('ECONNREFUSED');
    const atEast = (await services('east')).find((service) => service.address === 'db');
    expect(atEast?.policy?.notImported).toBe('policy: service "db" matches no pattern of importedServices (web-*)');
    await echoThrough((await listenerPort('west', 'db'))!, 256 * 1024, 5);
  });

  it('exposedResources: a target it does not name cannot be exposed; one already exposed leaves the network', async () => {
    const other = await startEchoServer();
    try {
      await home.ok('expose', 'host/localhost', '--port', String(other.port), '--address', 'cache', '-n', 'hub');
      await dbWorksAt('west');
      await setPolicy('hub', 'exposedResources: ["host/127.0.0.1"]\n');
      const refused = await home.kskup('expose', 'host/localhost', '--port', String(other.port), '--address', 'cache2', '-n', 'hub');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('may not expose host/localhost: policy: host/localhost matches no pattern of exposedResources (host/127.0.0.1)');
      await waitFor('cache to leave west', async () => ((await services('west')).some((s) => s.address === 'cache') ? undefined : true), 15_000);
      await echoThrough((await listenerPort('west', 'db'))!, 64 * 1024, 6);
    } finally {
      await home.ok('policy', 'delete', '-n', 'hub');
      await home.ok('unexpose', 'host/localhost', '--address', 'cache', '-n', 'hub');
      await other.close();
    }
  });

  it('incomingLinks: hub drops east\'s link at once and refuses a new site\'s claim; link status says why', async () => {
    await home.ok('init', '-n', 'north');
    await setPolicy('hub', 'incomingLinks: [west]\n');
    await waitFor('east\'s link to drop', async () => ((await links('east')).links[0]?.connected === false ? true : undefined), 15_000);
    const incoming = (await links('hub')).incoming;
    expect(incoming.find((link) => link.site === 'east')?.blocked).toContain('policy: site "east"');
    expect(incoming.find((link) => link.site === 'east')?.blocked).toContain('is not in incomingLinks (west)');
    expect(incoming.find((link) => link.site === 'west')?.blocked).toBeUndefined();
    expect((await links('west')).links[0]?.connected).toBe(true);
    const token = join(home.path, 'hub-north.token');
    await home.ok('token', 'create', token, '-n', 'hub');
    const claim = await home.kskup('link', 'create', token, '-n', 'north');
    expect(claim.code).toBe(1);
    expect(claim.stderr).toContain('site "hub" refuses the link: policy: site "north"');
    const cert = await home.kskup('token', 'create', join(home.path, 'cert.token'), '--token-type', 'cert', '-n', 'hub');
    expect(cert.code).toBe(1);
    expect(cert.stderr).toContain('incomingLinks');
    // Removed: east links again with the certificate it has.
    await home.ok('policy', 'delete', '-n', 'hub');
    await home.ok('link', 'status', '-n', 'east', '--wait', '15');
  });

  it('outgoingLinks: west drops its link to hub at once; link create to a host it does not name is refused before the claim is spent', async () => {
    await setPolicy('west', 'outgoingLinks: ["*.example.com"]\n');
    await waitFor('west\'s link to drop', async () => ((await links('west')).links[0]?.connected === false ? true : undefined), 15_000);
    const link = (await links('west')).links[0]!;
    expect(link.reason).toMatch(/^blocked by policy: host "[^"]+" matches no pattern of outgoingLinks \(\*\.example\.com\)$/);
    expect((await links('east')).links[0]?.connected).toBe(true);
    const token = join(home.path, 'east-west.token');
    await home.ok('token', 'create', token, '-n', 'east');
    const refused = await home.kskup('link', 'create', token, '-n', 'west');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('may not link to site "east"');
    const claims = await home.json<{ tokens: { uses?: string }[] }>('token', 'list', '-n', 'east');
    expect(claims.tokens.at(-1)?.uses).toBe('0/1');
    await home.ok('policy', 'delete', '-n', 'west');
    await home.ok('link', 'status', '-n', 'west', '--wait', '15');
  });
});

describe('policy check', () => {
  it('lists what a policy file would block in the network as hub knows it, and changes nothing', async () => {
    const file = await policyFile('check', 'incomingLinks: [west]\nexposedResources: []\nimportedServices: []\nserviceAccess:\n  - service: db\n    sites: []\n');
    const report = await home.json<{ blocks: { kind: string; subject: string; reason: string }[] }>('policy', 'check', file, '-n', 'hub');
    const kinds = report.blocks.map((block) => `${block.kind} ${block.subject}`);
    expect(kinds).toContain(`expose host/127.0.0.1 as "db"`);
    expect(kinds).toContainEqual(expect.stringMatching(/^incoming-link link from site "east", certificate [0-9a-f]+$/));
    expect(kinds).toContain('reach service "db" from site "west"');
    expect(kinds).toContain('reach service "db" from site "east"');
    expect(kinds.some((kind) => kind.includes('site "west", certificate'))).toBe(false);
    const text = (await home.ok('policy', 'check', file, '-n', 'hub')).stdout;
    expect(text).toContain('It blocks:');
    expect(await home.json('policy', 'show', '-n', 'hub')).toEqual({ site: 'hub', policy: null });
    await echoThrough((await listenerPort('east', 'db'))!, 64 * 1024, 9);
  });
});
