// TLS for services across two local sites, west - east (east links to west):
// real site processes, real TLS, bytes checked byte for byte.
//
//   TLS client -> west tcpListener (sslProfile tls-web-tls) ==link==> east tcpConnector -> echo (plain)
//   plain client -> west tcpListener ==link==> east tcpConnector (sslProfile tls-backend-ca) -> TLS echo
//
// Each site serves a service's TLS with its own bundle of the announced name;
// the key never travels (checked in what each site heard and logged).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useKskupHome } from './helpers/kskup-cli.js';
import { waitFor } from './helpers/router-process.js';
import { createTestPki, type TestPki } from './helpers/test-pki.js';
import { connect, openAndWatchEnd, receiveAll, sendStream, startServer, type TestServer } from './helpers/tcp-tools.js';

const home = useKskupHome('site-tls', { KSKUP_SYNC_HEARTBEAT_MS: '500', KSKUP_SYNC_TTL_MS: '3000', KSKUP_SYNC_HEALTH_MS: '1000' });

interface ServiceJson {
  address: string;
  tlsCredentials?: string;
  listeners: { host: string; port: number; servicePort: number }[];
  notListening: { servicePort: number; reason: string }[];
  targets: { healthy: boolean }[];
}

const service = async (site: string, address: string) =>
  (await home.json<{ services: ServiceJson[] }>('service', 'status', '-n', site)).services.find((s) => s.address === address);

async function listenerAt(site: string, address: string, timeoutMs = 5_000): Promise<number> {
  return waitFor(`${address} listener at ${site}`, async () => (await service(site, address))?.listeners[0]?.port, timeoutMs);
}

/** A folder with the given bundle files (Kubernetes TLS Secret key names). */
async function bundleFolder(name: string, files: { cert?: string; key?: string; ca?: string }): Promise<string> {
  const folder = join(home.path, 'bundles', name);
  await mkdir(folder, { recursive: true });
  if (files.cert) await writeFile(join(folder, 'tls.crt'), await readFile(files.cert));
  if (files.key) await writeFile(join(folder, 'tls.key'), await readFile(files.key), { mode: 0o600 });
  if (files.ca) await writeFile(join(folder, 'ca.crt'), await readFile(files.ca));
  return folder;
}

/** Sends `bytes` pseudo-random bytes over a TLS connection verified against `ca`, and checks the echo. */
async function tlsEchoThrough(port: number, ca: Buffer, bytes: number, seed: number): Promise<void> {
  const socket = tls.connect({ host: '127.0.0.1', port, ca });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  expect(socket.authorized).toBe(true);
  const [sent, received] = await Promise.all([sendStream(socket, seed, bytes), receiveAll(socket)]);
  expect(received).toEqual({ bytes, sha256: sent });
  socket.destroy();
}

/** Resolves when the peer has ended or closed the connection (a half-open client never sees 'close' on a FIN alone). */
function endOrClose(socket: import('node:net').Socket): Promise<void> {
  return new Promise((resolve) => {
    socket.once('end', () => resolve());
    socket.once('close', () => resolve());
  });
}

async function plainEchoThrough(port: number, bytes: number, seed: number): Promise<void> {
  const socket = await connect(port);
  const [sent, received] = await Promise.all([sendStream(socket, seed, bytes), receiveAll(socket)]);
  expect(received).toEqual({ bytes, sha256: sent });
  socket.destroy();
}

/** The base64 body of a PEM key, as it would appear if copied anywhere. */
async function keyBody(file: string): Promise<string[]> {
  const lines = (await readFile(file, 'utf8')).split('\n').filter((line) => line !== '' && !line.startsWith('-----'));
  return lines.filter((line) => line.length >= 40);
}

describe('TLS services: west - east', () => {
  let pki: TestPki;
  let webTls: string;
  let echo: TestServer;
  /** Connections the plain backend of "web" accepted, and bytes it received. */
  const backend = { connections: 0, bytes: 0 };

  beforeAll(async () => {
    pki = await createTestPki(join(home.path, 'pki'));
    webTls = await bundleFolder('web-tls', { cert: pki.serverCert, key: pki.serverKey, ca: pki.caCert });
    echo = await startServer((socket) => {
      backend.connections++;
      socket.on('data', (chunk: Buffer) => (backend.bytes += chunk.length));
      socket.pipe(socket);
    });
    await home.ok('init', '-n', 'west');
    await home.ok('init', '-n', 'east');
    const token = join(home.path, 'west.token');
    await home.ok('token', 'create', token, '-n', 'west');
    await home.ok('link', 'create', token, '-n', 'east');
    await home.ok('link', 'status', '-n', 'east', '--wait', '10');
  });
  afterAll(async () => {
    await echo?.close();
  });

  it('a site without the bundle has no listener and says why; after tls import it listens within seconds, TLS only, byte-exact', async () => {
    await home.ok('expose', 'host/127.0.0.1', '--port', String(echo.port), '--address', 'web', '--tls-credentials', webTls, '-n', 'east');
    // east imported the folder as "web-tls" and listens with it.
    expect((await home.json<{ bundles: { name: string }[] }>('tls', 'list', '-n', 'east')).bundles.map((b) => b.name)).toEqual(['web-tls']);
    await tlsEchoThrough(await listenerAt('east', 'web'), await readFile(pki.caCert), 64 * 1024, 1);

    const why = await waitFor('west says why it does not listen', async () => (await service('west', 'web'))?.notListening[0]?.reason, 5_000);
    expect(why).toMatch(/^TLS credentials "web-tls" not found at this site: kskup tls import FOLDER --name web-tls -n west/);
    expect((await service('west', 'web'))?.listeners).toEqual([]);
    expect((await service('west', 'web'))?.tlsCredentials).toBe('web-tls');
    // Not in the router's config either: no plain listener in its place.
    expect(JSON.parse(await readFile(home.folder('west').routerConfigFile, 'utf8')).some((entry: [string, { address?: string }]) => entry[0] === 'tcpListener' && entry[1].address?.startsWith('web:'))).toBe(false);

    await home.ok('tls', 'import', webTls, '-n', 'west');
    const started = Date.now();
    const port = await listenerAt('west', 'web', 5_000);
    expect(Date.now() - started).toBeLessThan(5_000);
    await waitFor('web healthy at west', async () => (await service('west', 'web'))?.targets[0]?.healthy || undefined, 5_000);
    await tlsEchoThrough(port, await readFile(pki.caCert), 1 << 20, 2);

    // A plain client gets nothing through to the backend.
    // Bytes only: east's health probe of the target (a TCP connect) adds connections, never bytes.
    const before = backend.bytes;
    const plain = openAndWatchEnd(port);
    plain.socket.write('GET / HTTP/1.0\r\n\r\n');
    await endOrClose(plain.socket);
    plain.socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(backend.bytes).toBe(before);

    // A client that does not trust the service's CA is refused by its own TLS check.
    const wrong = tls.connect({ host: '127.0.0.1', port, ca: await readFile(pki.otherCaCert) });
    const error = await new Promise<Error>((resolve) => wrong.once('error', resolve));
    expect(error.message).toMatch(/self[- ]signed|unable to (get|verify)/i);
  });

  it('the private key is in no announcement, snapshot, state or log', async () => {
    const body = await keyBody(pki.serverKey);
    expect(body.length).toBeGreaterThan(5);
    const west = JSON.parse(await readFile(home.folder('west').networkFile, 'utf8')) as { sites: { announcement: { site: { name: string }; services: { address: string; tlsCredentials?: string }[] } }[] };
    // What west heard from east: the name only.
    const heard = west.sites.find((site) => site.announcement.site.name === 'east')?.announcement.services.find((s) => s.address === 'web');
    expect(heard).toMatchObject({ tlsCredentials: 'web-tls' });
    expect(Object.keys(heard ?? {}).sort()).toEqual(['address', 'ports', 'protocol', 'targets', 'tlsCredentials']);
    for (const site of ['west', 'east']) {
      const folder = home.folder(site);
      for (const file of [folder.networkFile, folder.logFile, folder.stateFile, folder.routerConfigFile]) {
        const text = await readFile(file, 'utf8');
        for (const line of body) expect(text.includes(line), `${file} contains the key`).toBe(false);
      }
      // The key file itself is the owner's only.
      const { stat } = await import('node:fs/promises');
      expect((await stat(folder.tlsBundleFiles('web-tls').key)).mode & 0o777).toBe(0o600);
    }
  });

  it('tls delete: the listener goes away (never plain), and comes back on import', async () => {
    await home.ok('tls', 'delete', 'web-tls', '-n', 'west');
    await waitFor('web not listening at west', async () => ((await service('west', 'web'))?.notListening[0]?.reason.includes('not found at this site') ? true : undefined), 5_000);
    await home.ok('tls', 'import', webTls, '--name', 'web-tls', '-n', 'west');
    await tlsEchoThrough(await listenerAt('west', 'web'), await readFile(pki.caCert), 64 * 1024, 3);
  });

  it('--tls-trust: a TLS backend verified against the right CA is byte-exact; a wrong CA fails the flow, and the site log says why', async () => {
    const sockets = new Set<import('node:net').Socket>();
    const tlsEcho = tls.createServer({ cert: await readFile(pki.serverCert), key: await readFile(pki.serverKey), allowHalfOpen: true }, (socket) => {
      socket.on('error', () => undefined);
      socket.pipe(socket);
    });
    // Every TCP connection, handshake done or not, so that close() does not wait for one.
    tlsEcho.on('connection', (socket: import('node:net').Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => tlsEcho.listen(0, '127.0.0.1', resolve));
    const tlsPort = (tlsEcho.address() as { port: number }).port;
    try {
      const rightCa = await bundleFolder('backend-ca', { ca: pki.caCert });
      const wrongCa = await bundleFolder('wrong-ca', { ca: pki.otherCaCert });
      await home.ok('expose', 'host/127.0.0.1', '--port', String(tlsPort), '--address', 'secure', '--tls-trust', rightCa, '-n', 'east');
      await home.ok('expose', 'host/127.0.0.1', '--port', String(tlsPort), '--address', 'mistrusted', '--tls-trust', wrongCa, '-n', 'east');
      const connector = await waitFor('east\'s tcpConnector for secure', async () => {
        const config = JSON.parse(await readFile(home.folder('east').routerConfigFile, 'utf8')) as [string, Record<string, unknown>][];
        return config.find(([kind, entity]) => kind === 'tcpConnector' && entity.address === `secure:${tlsPort}`)?.[1];
      }, 5_000);
      expect(connector).toMatchObject({ sslProfile: 'tls-backend-ca', verifyHostname: true });

      await plainEchoThrough(await listenerAt('west', 'secure'), 1 << 20, 4);

      const port = await listenerAt('west', 'mistrusted');
      const refused = openAndWatchEnd(port);
      refused.socket.on('data', () => expect.fail('no byte may come back from a backend that failed verification'));
      refused.socket.write('hello');
      await endOrClose(refused.socket);
      refused.socket.destroy();
      await waitFor('the reason in east\'s log', async () => {
        const lines = (await readFile(home.folder('east').logFile, 'utf8')).split('\n').filter((line) => line.startsWith('{'));
        const messages = lines.map((line) => String((JSON.parse(line) as { msg?: unknown }).msg));
        return messages.some((msg) => /^tcpConnector "mistrusted:\d+@127\.0\.0\.1:\d+": TLS with backend 127\.0\.0\.1:\d+ failed: TLS: server certificate is not signed by the trusted CA; flow closed$/.test(msg)) || undefined;
      }, 5_000);
    } finally {
      await home.kskup('unexpose', 'host/127.0.0.1', '--address', 'secure', '-n', 'east');
      await home.kskup('unexpose', 'host/127.0.0.1', '--address', 'mistrusted', '-n', 'east');
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => tlsEcho.close(resolve));
    }
  });

  it('bad input is one clear line and changes nothing', async () => {
    const mismatched = await bundleFolder('mismatched', { cert: pki.serverCert, key: pki.clientKey, ca: pki.caCert });
    const keyOnly = await bundleFolder('key-only', { key: pki.serverKey });
    const notPem = join(home.path, 'bundles', 'not-pem');
    await mkdir(notPem, { recursive: true });
    await writeFile(join(notPem, 'ca.crt'), '-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n');
    // The services are what expose changes; listenerPorts are the site controller's, which prunes the ports of services unexposed just before.
    const services = async () => (await home.folder('east').read()).services;
    const state = await services();
    const cases: [string[], number, RegExp][] = [
      [['tls', 'import', join(home.path, 'no-such-folder')], 2, /tls import: \S+no-such-folder: no such folder/],
      [['tls', 'import', mismatched], 2, /tls import: \S+mismatched\/tls\.key: is not the key of tls\.crt \(they do not match\)/],
      [['tls', 'import', keyOnly], 2, /key-only\/tls\.crt: is missing, but there is a tls\.key/],
      [['tls', 'import', notPem], 2, /not-pem\/ca\.crt: is not a PEM certificate/],
      [['tls', 'import', webTls, '--name', 'Bad_Name'], 2, /option --name: "Bad_Name" is not a valid name/],
      [['tls', 'delete', 'nothing-here'], 1, /no TLS bundle "nothing-here" at site "east"/],
      [['expose', 'host/127.0.0.1', '--port', '1', '--address', 'x', '--tls-credentials', mismatched], 2, /option --tls-credentials: \S+tls\.key: is not the key of tls\.crt/],
      [['expose', 'host/127.0.0.1', '--port', '1', '--address', 'x', '--tls-trust', 'no-such-bundle'], 2, /option --tls-trust: no folder "no-such-bundle", and no TLS bundle of that name at this site/],
      [['expose', 'host/127.0.0.1', '--port', '1', '--address', 'x', '--tls-no-verify-hostname'], 2, /--tls-no-verify-hostname applies to --tls-trust/],
      [['expose', 'host/127.0.0.1', '--port', '1', '--address', 'x', '--tls-credentials-name', 'y'], 2, /--tls-credentials-name needs --tls-credentials FOLDER/],
      [['expose', 'host/127.0.0.1', '--port', String(echo.port), '--address', 'web', '--tls-credentials', 'other-tls'], 1, /address "web" is already exposed at this site \("east"\) with --tls-credentials web-tls/],
    ];
    for (const [argv, code, message] of cases) {
      const result = await home.kskup(...argv, '-n', 'east');
      expect({ argv, code: result.code }).toEqual({ argv, code });
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
    // West knows "web" as TLS from east: exposing it plain there is refused.
    const plainAtWest = await home.kskup('expose', 'host/127.0.0.1', '--port', String(echo.port), '--address', 'web', '-n', 'west');
    expect(plainAtWest.code).toBe(1);
    expect(plainAtWest.stderr).toMatch(/address "web" is already exposed at another site with --tls-credentials web-tls/);
    expect(await services()).toEqual(state);
    expect((await home.json<{ bundles: { name: string }[] }>('tls', 'list', '-n', 'east')).bundles.map((b) => b.name).sort()).toEqual(['backend-ca', 'web-tls', 'wrong-ca']);
  });
});

