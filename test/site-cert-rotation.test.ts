// Renewing a site's certificates with `kskup rotate-certs`, end to end on
// real local site processes:
//
//   east ──link──> west <──link── north        echo service at west, used from east
//
// - status warns of a certificate near its end (issued short-lived into the
//   site folder, as the pki module can), and of one that has ended;
// - the server certificate renewed: new handshakes get the new serial, the
//   link stays up throughout and a flow open through it carries on, byte-exact;
// - a CA rotation: during the overlap east links again with a new token
//   (signed by the new CA, carrying both), north does not; the cut-over is
//   refused naming north, then forced; afterwards east works and north is
//   refused with its reason in `link status`.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { issueCertificate } from '../site-controller/pki/index.js';
import { useKskupHome } from './helpers/kskup-cli.js';
import { waitFor } from './helpers/router-process.js';
import { connect, startEchoServer, type TestServer } from './helpers/tcp-tools.js';

const home = useKskupHome('cert-rotation');
let echo: TestServer;
beforeAll(async () => {
  echo = await startEchoServer();
});
afterAll(async () => {
  await echo.close();
});

interface LinkJson {
  name: string;
  connected: boolean;
  reason: string;
  remoteSite: string;
}
interface CertificateJson {
  kind: string;
  name: string;
  serial: string;
  issuer: string;
  notAfter: string;
  daysLeft: number;
  state: string;
  warning?: string;
}
interface StatusJson {
  certificates: CertificateJson[];
  certificateWarnings: string[];
  caRotation: { phase: string; onOldCa?: string[] };
  links: LinkJson[];
}

const status = (site: string) => home.json<StatusJson>('status', '-n', site);
const linkTo = async (site: string, remote: string) => (await home.json<{ links: LinkJson[] }>('link', 'status', '-n', site)).links.find((l) => l.remoteSite === remote);
const tokenFile = (name: string) => join(home.path, `${name}.token`);

async function link(issuer: string, linker: string, name: string): Promise<void> {
  await home.ok('token', 'create', tokenFile(name), '-n', issuer);
  await home.ok('link', 'create', tokenFile(name), '-n', linker);
  await waitFor(`${linker} connected to ${issuer}`, async () => ((await linkTo(linker, issuer))?.connected ? true : undefined), 10_000);
}

/** The serial a TLS handshake with `port` is served, checked against `caFile`'s CAs. */
function servedSerial(port: number, caPem: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: caPem, servername: 'localhost' }, () => {
      const serial = socket.getPeerX509Certificate()?.serialNumber.toLowerCase() ?? '';
      socket.destroy();
      resolve(serial);
    });
    socket.on('error', reject);
  });
}

/** Sends `bytes` random bytes on an echo connection and checks the same bytes come back. */
async function roundTrip(socket: Socket, bytes: number): Promise<void> {
  const sent = randomBytes(bytes);
  const got = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= bytes) {
        socket.off('data', onData);
        resolve(Buffer.concat(chunks));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`the connection closed after ${size} of ${bytes} bytes came back`)));
    socket.write(sent);
  });
  expect(got.equals(sent)).toBe(true);
}

/** A fresh connection through `port`: `bytes` byte-exact, then closed. */
async function freshFlow(port: number, bytes: number): Promise<void> {
  const socket = await connect(port);
  try {
    await roundTrip(socket, bytes);
  } finally {
    socket.destroy();
  }
}

/** Polls a link every 100 ms until stopped; resolves with every moment it was not connected. */
function watchLink(site: string, remote: string): { stop: () => Promise<string[]> } {
  const downs: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const state = await linkTo(site, remote);
      if (!state?.connected) downs.push(state?.reason ?? 'no link');
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return downs;
    },
  };
}

let echoPort = 0;
let flow: Socket | undefined;

describe('kskup rotate-certs on linked local sites', () => {
  it('setup: east and north link to west; west exposes an echo service that east reaches byte-exact', async () => {
    for (const site of ['west', 'east', 'north']) await home.ok('init', '-n', site);
    await link('west', 'east', 'east');
    await link('west', 'north', 'north');
    await home.ok('expose', `host/127.0.0.1`, '--port', String(echo.port), '--address', 'echo', '-n', 'west');
    echoPort = await waitFor(
      'the echo listener at east',
      async () => (await home.json<{ services: { address: string; listeners: { port: number }[] }[] }>('service', 'status', '-n', 'east')).services.find((s) => s.address === 'echo')?.listeners[0]?.port,
      10_000,
    );
    await waitFor('a flow through the link', () => freshFlow(echoPort, 1024).then(() => true, () => undefined), 10_000);
    flow = await connect(echoPort);
    await roundTrip(flow, 256 * 1024);
    const fresh = await status('west');
    expect(fresh.certificateWarnings).toEqual([]);
    expect(fresh.caRotation).toEqual({ phase: 'none' });
    expect(fresh.certificates.map((c) => c.kind)).toEqual(['site-ca', 'server']);
    expect(fresh.certificates.every((c) => c.state === 'valid' && c.daysLeft >= 824)).toBe(true);
    expect((await status('east')).certificates.map((c) => c.name)).toEqual(['site CA', 'server certificate', 'link "west" client certificate']);
  });

  it('status warns of a link certificate that ends within 30 days, in text and JSON', async () => {
    // What west would have signed, only shorter: written where east keeps its link's certificate.
    const west = home.folder('west');
    const east = home.folder('east');
    const files = east.linkFiles('west');
    const key = await readFile(files.key, 'utf8');
    const { createPublicKey } = await import('node:crypto');
    const { certifyPublicKey } = await import('../site-controller/pki/index.js');
    const short = certifyPublicKey(await west.certificateAuthority(), createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString(), { commonName: 'east/short', usage: 'client', validityDays: 12.5 });
    const { atomicWrite } = await import('../site-controller/local/site-folder.js');
    await atomicWrite(files.cert, short.certPem, 0o644);
    const json = await status('east');
    const linkCert = json.certificates.find((c) => c.kind === 'link');
    expect(linkCert).toMatchObject({ state: 'expiring', daysLeft: 12 });
    expect(json.certificateWarnings).toEqual([expect.stringMatching(/^the link "west" client certificate expires in 12 days \(.*\): ask site "west" for a new token/)]);
    const text = (await home.ok('status', '-n', 'east')).stdout;
    expect(text.split('\n')[0]).toMatch(/^WARNING: the link "west" client certificate expires in 12 days/);
    expect(text).toMatch(/link "west" client certificate\s+[0-9a-f]+\s+\S+\s+EXPIRES SOON: 12 days left/);
    // Still a good certificate of west's CA: the link takes it without dropping.
    expect((await linkTo('east', 'west'))?.connected).toBe(true);
    await roundTrip(flow!, 4096);
  });

  it('status says an expired server certificate has expired; rotate-certs renews it (same CA and names, new key and serial), links stay up, a flow carries on byte-exact', async () => {
    const west = home.folder('west');
    const caPem = await west.trustedCaPem();
    const before = await servedSerial((await west.read()).site.ports.interRouter, caPem);
    // A server certificate that ends a second from now, with the names of the real one.
    const real = await west.serverCertificate();
    const { certificateInfo } = await import('../site-controller/pki/index.js');
    const names = certificateInfo(real.certPem);
    const doomed = await issueCertificate(await west.siteCertificateAuthority(), { commonName: 'west', hosts: [...names.dnsNames, ...names.ipAddresses], usage: 'server', validityDays: 1 / 86_400 });
    await west.writeServerCertificate(doomed, caPem);
    await new Promise((r) => setTimeout(r, 1_500));
    const expired = await status('west');
    expect(expired.certificates.find((c) => c.kind === 'server')).toMatchObject({ state: 'expired', serial: certificateInfo(doomed.certPem).serialHex });
    expect(expired.certificateWarnings).toEqual([expect.stringMatching(/^the server certificate expired at .*: renew it: kskup rotate-certs -n west$/)]);
    expect((await home.ok('status', '-n', 'west')).stdout).toMatch(/server certificate\s+[0-9a-f]+\s+\S+\s+EXPIRED/);

    const watch = watchLink('east', 'west');
    const renewed = await home.json<{ before: { serial: string }; after: { serial: string; issuer: string; subject: string; notAfter: string } }>('rotate-certs', '-n', 'west');
    expect(renewed.after.serial).not.toBe(renewed.before.serial);
    expect(renewed.after.subject).toBe('west');
    const port = (await west.read()).site.ports.interRouter;
    await waitFor('the renewed certificate served', async () => ((await servedSerial(port, caPem).catch(() => '')) === renewed.after.serial ? true : undefined), 6_000);
    expect(before).not.toBe(renewed.after.serial);
    // The claims endpoint serves it too.
    await waitFor('the claims endpoint renewed', async () => ((await servedSerial((await west.read()).site.ports.claims, caPem).catch(() => '')) === renewed.after.serial ? true : undefined), 6_000);
    const after = certificateInfo((await west.serverCertificate()).certPem);
    expect([...after.dnsNames, ...after.ipAddresses]).toEqual([...names.dnsNames, ...names.ipAddresses]);
    expect(after.issuerCommonName).toBe(names.issuerCommonName);
    expect((await readFile(west.serverFiles.key, 'utf8')) === real.keyPem).toBe(false);
    // The link never went down, and the flow made before the renewal still carries bytes.
    await roundTrip(flow!, 256 * 1024);
    await freshFlow(echoPort, 64 * 1024);
    expect(await watch.stop()).toEqual([]);
    const ok = await status('west');
    expect(ok.certificateWarnings).toEqual([]);
    expect(ok.certificates.find((c) => c.kind === 'server')).toMatchObject({ state: 'valid', serial: renewed.after.serial });
    // Nothing secret printed.
    expect((await home.ok('rotate-certs', '-n', 'west', '-o', 'yaml')).stdout).not.toMatch(/PRIVATE KEY/);
  });

  it('a CA rotation: overlap (both CAs trusted, new tokens from the new CA with both), a cut-over refused while north is on the old CA, then forced; east re-linked works, north is refused', async () => {
    const west = home.folder('west');
    const oldCa = await west.siteCertificateAuthority();
    const started = await home.json<{ phase: string; from: { serial: string }; to: { serial: string } }>('rotate-certs', '--ca', '-n', 'west');
    expect(started.phase).toBe('overlap');
    const overlap = await status('west');
    expect(overlap.caRotation).toMatchObject({ phase: 'overlap', onOldCa: ['site "east"', 'site "north"'] });
    expect(overlap.certificates.map((c) => c.kind)).toEqual(['site-ca', 'next-site-ca', 'server']);
    expect((await home.ok('status', '-n', 'west')).stdout).toContain('still on the old CA: site "east", site "north"');
    // The server certificate is still the old CA's, so every linked site keeps verifying it.
    expect(overlap.certificates.find((c) => c.kind === 'server')?.issuer).toBe('kskup site CA west');
    expect(overlap.certificates.find((c) => c.kind === 'next-site-ca')?.serial).toBe(started.to.serial);
    expect(await linkTo('north', 'west')).toMatchObject({ connected: true });
    await roundTrip(flow!, 64 * 1024);

    // A second start is refused; the cut-over is refused while links hold old-CA certificates only.
    expect((await home.kskup('rotate-certs', '--ca', '-n', 'west')).stderr).toMatch(/already rotating its CA/);
    const refused = await home.kskup('rotate-certs', '--ca', '--finish', '-n', 'west');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/cannot drop its old CA yet: site "east", site "north" still hold only a certificate from it/);
    expect((await home.kskup('rotate-certs', '--finish', '-n', 'west')).code).toBe(2);

    // A token now carries both CAs; its claim is signed by the new one.
    await home.ok('token', 'create', tokenFile('east-again'), '-n', 'west');
    const token = parse(await readFile(tokenFile('east-again'), 'utf8')) as { data: Record<string, string> };
    const carried = Buffer.from(token.data['ca.crt'] ?? '', 'base64').toString();
    expect(carried.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(carried.startsWith(oldCa.certPem.trim())).toBe(true);
    flow?.destroy();
    await home.ok('link', 'delete', 'west', '-n', 'east');
    await home.ok('link', 'create', tokenFile('east-again'), '-n', 'east');
    await waitFor('east linked again', async () => ((await linkTo('east', 'west'))?.connected ? true : undefined), 10_000);
    const { certificateInfo } = await import('../site-controller/pki/index.js');
    const eastCert = certificateInfo(readFileSync(home.folder('east').linkFiles('west').cert, 'utf8'));
    expect(eastCert.issuerCommonName).toMatch(/^kskup site CA \d{8}T\d{6}Z west$/);
    await waitFor('a flow after re-linking', () => freshFlow(echoPort, 1024).then(() => true, () => undefined), 10_000);
    flow = await connect(echoPort);
    await roundTrip(flow, 64 * 1024);
    expect((await status('west')).caRotation).toMatchObject({ phase: 'overlap', onOldCa: ['site "north"'] });

    const stillRefused = await home.kskup('rotate-certs', '--ca', '--finish', '-n', 'west');
    expect(stillRefused.code).toBe(1);
    expect(stillRefused.stderr).toMatch(/site "north" still holds only a certificate from it/);

    const watch = watchLink('east', 'west');
    const finished = await home.json<{ ca: { serial: string }; server: { serial: string; issuer: string }; leftBehind: string[] }>('rotate-certs', '--ca', '--finish', '--force', '-n', 'west');
    expect(finished.ca.serial).toBe(started.to.serial);
    expect(finished.leftBehind).toEqual(['site "north"']);
    const port = (await west.read()).site.ports.interRouter;
    const newCa = (await west.siteCertificateAuthority()).certPem;
    await waitFor('the new-CA server certificate served', async () => ((await servedSerial(port, newCa).catch(() => '')) === finished.server.serial ? true : undefined), 6_000);
    expect(await west.trustedCaPem()).toBe(newCa);
    // east verifies the new server certificate with the CAs its token carried, and its link stayed up.
    await roundTrip(flow!, 256 * 1024);
    await freshFlow(echoPort, 64 * 1024);
    expect(await watch.stop()).toEqual([]);
    const done = await status('west');
    expect(done.caRotation).toEqual({ phase: 'none' });
    expect(done.certificates.map((c) => c.kind)).toEqual(['site-ca', 'server']);

    // north holds an old-CA certificate and trusts the old CA only: its connection is dropped, and it cannot link again.
    const north = await waitFor('north refused with a reason', async () => {
      const state = await linkTo('north', 'west');
      return state && !state.connected && /certificate|TLS/i.test(state.reason) ? state : undefined;
    }, 15_000);
    expect(north.reason).toMatch(/certificate/i);
    flow?.destroy();
  });
});
