// `kskup debug dump` of local sites: west <- east (east linked with a claim
// token from west), an echo service exposed at east and used from west, one
// flow left open through the link while the dumps are made. The archives are
// unpacked with the system tar and read as a person would; every byte of
// every file is searched for the sites' private keys, the token's password
// and the claim's hash, and values of fields named like secrets. Last, west
// loses its processes (kill -9 of the supervisor and the site process) and
// still dumps.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Socket } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useKskupHome } from './helpers/kskup-cli.js';
import { waitFor } from './helpers/router-process.js';
import { connect, receiveAll, sendStream, startEchoServer, type TestServer } from './helpers/tcp-tools.js';

const home = useKskupHome('debug-dump');
const CLI = join(import.meta.dirname, '..', 'dist', 'cli', 'main.js');

let echo: TestServer;
let listenerPort: number;
let tokenFile: string;
/** Held open through the dumps: the flow management must show. */
let openFlow: Socket | undefined;

beforeAll(async () => {
  echo = await startEchoServer();
  await home.ok('init', '-n', 'west');
  await home.ok('init', '-n', 'east');
  tokenFile = join(home.path, 'west.token');
  await home.ok('token', 'create', tokenFile, '-n', 'west');
  await home.ok('link', 'create', tokenFile, '-n', 'east');
  await home.ok('link', 'status', '-n', 'east', '--wait', '20');
  await home.ok('expose', `host/127.0.0.1`, '--port', String(echo.port), '--address', 'echo', '-n', 'east');
  listenerPort = await waitFor(
    'the echo listener at west',
    async () => (await home.json<{ services: { address: string; listeners: { port: number }[]; targets: { healthy: boolean }[] }[] }>('service', 'status', '-n', 'west')).services.find((s) => s.address === 'echo' && s.listeners.length > 0 && s.targets.some((t) => t.healthy))?.listeners[0]?.port,
    20_000,
  );
  // 256 KiB through west -> east -> echo, checked byte for byte: the service works before it is dumped.
  const socket = await connect(listenerPort);
  const [sent, received] = await Promise.all([sendStream(socket, 7, 256 * 1024), receiveAll(socket)]);
  expect(received).toEqual({ bytes: 256 * 1024, sha256: sent });
  socket.destroy();
  openFlow = await connect(listenerPort);
  openFlow.write('hello');
  await new Promise<void>((resolve) => openFlow?.once('data', () => resolve()));
});

afterAll(async () => {
  openFlow?.destroy();
  await echo?.close();
});

/** Unpacks `archive` with the system tar into a new folder; the one folder inside it. */
async function unpack(archive: string): Promise<string> {
  const into = join(home.path, `unpacked-${Math.random().toString(36).slice(2)}`);
  await mkdir(into);
  execFileSync('tar', ['-xzf', archive, '-C', into]);
  const top = await readdir(into);
  expect(top).toHaveLength(1);
  return join(into, top[0]!);
}

async function filesUnder(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => relative(folder, join(entry.parentPath, entry.name))).sort();
}

const readJson = async <T>(folder: string, file: string) => JSON.parse(await readFile(join(folder, file), 'utf8')) as T;

/** Field names that suggest a secret, by the test's own list (not the implementation's). */
const SECRET_FIELD = /password|secret|passphrase|private|^key$|keyPem|sha256|token$/i;

/** Every value under a field named like a secret, in parsed JSON or YAML. */
function secretValues(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((element) => secretValues(element, found));
  else if (typeof value === 'object' && value !== null) {
    for (const [field, inner] of Object.entries(value)) {
      if (SECRET_FIELD.test(field) && !/File$/.test(field) && typeof inner === 'string' && inner.length >= 8) found.push(inner);
      else secretValues(inner, found);
    }
  }
  return found;
}

/** What must never be in a dump of these sites: each with what it is, for the failure message. */
async function secretsOfTheSites(): Promise<{ what: string; value: string }[]> {
  const secrets: { what: string; value: string }[] = [];
  for (const site of ['west', 'east']) {
    const folder = home.folder(site).path;
    for (const file of await filesUnder(folder)) {
      const path = join(folder, file);
      if (file.endsWith('.key')) {
        const pem = await readFile(path, 'utf8');
        secrets.push({ what: `${site}/${file}`, value: pem.trim() });
        // Each line of the key's base64 body too: a key cut up or re-wrapped is still a leak.
        for (const line of pem.split('\n')) if (/^[A-Za-z0-9+/=]{40,}$/.test(line.trim())) secrets.push({ what: `a line of ${site}/${file}`, value: line.trim() });
      }
      if (file === 'site.json' || file === 'router.json') for (const value of secretValues(JSON.parse(await readFile(path, 'utf8')))) secrets.push({ what: `a secret field of ${site}/${file}`, value });
    }
  }
  // The claim token (a Secret in YAML): its password, as written and decoded, and any other secret field.
  const token = parseYaml((await readFile(tokenFile, 'utf8')).replace(/^#.*\n/gm, '')) as { data: Record<string, string> };
  const password = token.data.password!;
  secrets.push({ what: 'the token password (base64)', value: password }, { what: 'the token password', value: Buffer.from(password, 'base64').toString('utf8') });
  for (const value of secretValues(token)) secrets.push({ what: 'a secret field of the token file', value });
  // The claim's hash, which west keeps in its state.
  const west = JSON.parse(await readFile(home.folder('west').stateFile, 'utf8')) as { tokens: { passwordSha256?: string }[] };
  for (const record of west.tokens) if (record.passwordSha256) secrets.push({ what: "the claim's passwordSha256", value: record.passwordSha256 });
  return secrets;
}

/** Every secret found in any byte of the unpacked files or the archive's own (gunzipped) bytes. */
async function leaks(archive: string, folder: string): Promise<string[]> {
  const secrets = await secretsOfTheSites();
  const texts: [string, string][] = [['the tar stream', execFileSync('gzip', ['-dc', archive]).toString('latin1')]];
  for (const file of await filesUnder(folder)) texts.push([file, (await readFile(join(folder, file))).toString('latin1')]);
  const found: string[] = [];
  for (const [file, text] of texts) {
    for (const secret of secrets) if (text.includes(secret.value)) found.push(`${secret.what} in ${file}`);
    if (/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text)) found.push(`a private key marker in ${file}`);
  }
  return found;
}

describe('kskup debug dump, local sites west <- east', () => {
  it('west and east: every part is there and says what a diagnosis needs', async () => {
    const westArchive = join(home.path, 'west.tar.gz');
    const result = await home.kskup('debug', 'dump', westArchive, '-n', 'west');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Dump of site "west" written to .*west\.tar\.gz \(\d+ files/);
    expect((await stat(westArchive)).mode & 0o777).toBe(0o600);
    const west = await unpack(westArchive);
    expect(west).toMatch(/kskup-dump-west-\d{8}T\d{6}Z$/);
    const files = await filesUnder(west);
    for (const file of ['README.txt', 'site.yaml', 'router-config.json', 'versions.json', 'network.json', 'certificates.json', 'process.json', 'logs/site.log', 'logs/supervisor.log', 'logs/router.log']) expect(files).toContain(file);
    for (const type of ['router', 'connection', 'router.node', 'router.address', 'connector', 'listener', 'tcpListener', 'tcpConnector', 'flow', 'sslProfile']) expect(files).toContain(`management/${type}.json`);
    expect(files.filter((file) => file.endsWith('.error.txt') || file.endsWith('ERROR.txt'))).toEqual([]);
    for (const log of ['logs/site.log', 'logs/supervisor.log', 'logs/router.log']) expect((await readFile(join(west, log), 'utf8')).length, log).toBeGreaterThan(0);
    expect(await readFile(join(west, 'logs/supervisor.log'), 'utf8')).toMatch(/supervising the site process/);
    expect(await readFile(join(west, 'logs/router.log'), 'utf8')).toMatch(/"module":"(ROUTER|SERVER|TCP_ADAPTOR)"/);

    // The state: east's grant, the claim's hash redacted, the service's listener port.
    const site = parseYaml(await readFile(join(west, 'site.yaml'), 'utf8')) as { site: { name: string }; tokens: { passwordSha256: string }[]; grants: { siteName: string }[]; listenerPorts: Record<string, number> };
    expect(site.site.name).toBe('west');
    expect(site.grants.map((grant) => grant.siteName)).toEqual(['east']);
    expect(site.tokens[0]?.passwordSha256).toBe('<redacted>');
    expect(site.listenerPorts[`echo:${echo.port}`]).toBe(listenerPort);
    // The router: east's inter-router connection, the echo listener, the open flow.
    const eastId = (JSON.parse(await readFile(home.folder('east').stateFile, 'utf8')) as { site: { id: string } }).site.id;
    const connections = (await readJson<{ results: { role: string; container: string }[] }>(west, 'management/connection.json')).results;
    expect(connections).toContainEqual(expect.objectContaining({ role: 'inter-router', container: eastId }));
    const listeners = (await readJson<{ results: { address: string; port: number; operStatus: string }[] }>(west, 'management/tcpListener.json')).results;
    expect(listeners).toContainEqual(expect.objectContaining({ address: `echo:${echo.port}`, port: listenerPort, operStatus: 'up' }));
    const flows = (await readJson<{ results: { address: string; state: string }[] }>(west, 'management/flow.json')).results;
    expect(flows).toContainEqual(expect.objectContaining({ address: `echo:${echo.port}` }));
    const network = await readJson<{ services: { address: string }[]; sites: { announcement: { site: { name: string } } }[] }>(west, 'network.json');
    expect(network.services.map((s) => s.address)).toContain('echo');
    expect(network.sites.map((s) => s.announcement.site.name)).toEqual(['east']);
    const config = await readJson<[string, Record<string, unknown>][]>(west, 'router-config.json');
    expect(config).toContainEqual(['sslProfile', expect.objectContaining({ name: 'site-server', privateKeyFile: home.folder('west').serverFiles.key })]);
    const versions = await readJson<Record<string, string>>(west, 'versions.json');
    expect(versions).toMatchObject({ kskup: expect.stringMatching(/^\d+\.\d+\.\d+/), node: process.version, rhea: expect.stringMatching(/^\d+\./), router: versions.kskup, platform: 'local' });
    const certificates = (await readJson<{ certificates: { certificate: string; subject: string; issuer: string; serial: string; notAfter: string }[] }>(west, 'certificates.json')).certificates;
    expect(certificates.find((c) => c.certificate === 'site CA')).toMatchObject({ subject: 'kskup site CA west', issuer: 'kskup site CA west', serial: expect.stringMatching(/^[0-9a-f]+$/) });
    expect(certificates.find((c) => c.certificate === 'server certificate')).toMatchObject({ subject: 'west', issuer: 'kskup site CA west' });
    const readme = await readFile(join(west, 'README.txt'), 'utf8');
    expect(readme).toMatch(/What is inside:[\s\S]*management\/connection\.json[\s\S]*What was left out or redacted:[\s\S]*tokens\[0\]\.passwordSha256[\s\S]*What could not be gathered:\n {2}nothing/);
    // No policy: no policy.yaml, and README.txt says so.
    expect(files).not.toContain('policy.yaml');
    expect(readme).toContain('Policy: no policy set (everything is allowed).');

    // East: the link it made, its connector up, the service it exposes.
    const eastArchive = join(home.path, 'east.tar.gz');
    await home.ok('debug', 'dump', eastArchive, '-n', 'east');
    const east = await unpack(eastArchive);
    const eastSite = parseYaml(await readFile(join(east, 'site.yaml'), 'utf8')) as { links: { name: string; remoteSiteName: string }[]; services: { address: string; targets: { host: string }[] }[] };
    expect(eastSite.links).toEqual([expect.objectContaining({ name: 'west', remoteSiteName: 'west' })]);
    expect(eastSite.services).toEqual([expect.objectContaining({ address: 'echo', targets: [expect.objectContaining({ host: '127.0.0.1' })] })]);
    const connectors = (await readJson<{ results: { name: string; connectionStatus: string }[] }>(east, 'management/connector.json')).results;
    expect(connectors).toContainEqual(expect.objectContaining({ name: 'link-west', connectionStatus: 'up' }));
    expect((await readJson<{ results: { address: string }[] }>(east, 'management/tcpConnector.json')).results).toContainEqual(expect.objectContaining({ address: `echo:${echo.port}` }));
    expect((await readJson<{ certificates: { certificate: string; issuer: string }[] }>(east, 'certificates.json')).certificates).toContainEqual(expect.objectContaining({ certificate: 'link "west" client certificate', issuer: 'kskup site CA west' }));
  });

  it('after kskup policy set: policy.yaml is the policy as policy show has it, site.yaml has it too, README.txt points to it', async () => {
    // A policy that allows what east has (its link to west, its exposed echo for west), so the later tests see the same sites.
    const file = join(home.path, 'east-policy.yaml');
    await writeFile(
      file,
      ['apiVersion: kskup.io/v1alpha1', 'kind: SitePolicy', 'outgoingLinks: ["*"]', 'exposedResources: ["host/*"]', 'importedServices: ["*"]', 'serviceAccess:', '  - service: "ech*"', '    sites: [west]', ''].join('\n'),
    );
    await home.ok('policy', 'set', file, '-n', 'east');
    try {
      const { policy } = await home.json<{ policy: Record<string, unknown> }>('policy', 'show', '-n', 'east');
      expect(policy).toEqual({
        apiVersion: 'kskup.io/v1alpha1',
        kind: 'SitePolicy',
        outgoingLinks: ['*'],
        exposedResources: ['host/*'],
        importedServices: ['*'],
        serviceAccess: [{ service: 'ech*', sites: ['west'] }],
      });
      const archive = join(home.path, 'east-policy.tar.gz');
      const result = await home.kskup('debug', 'dump', archive, '-n', 'east');
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const east = await unpack(archive);
      expect(await filesUnder(east)).toContain('policy.yaml');
      expect(parseYaml(await readFile(join(east, 'policy.yaml'), 'utf8'))).toEqual(policy);
      expect((parseYaml(await readFile(join(east, 'site.yaml'), 'utf8')) as { policy: unknown }).policy).toEqual(policy);
      const readme = await readFile(join(east, 'README.txt'), 'utf8');
      expect(readme).toMatch(/\n {2}policy\.yaml +the site's policy/);
      expect(readme).toContain("Policy: policy.yaml is the site's policy");
      expect(readme).not.toMatch(/<redacted>: .*policy/);
      // The dumped file is one kskup takes back: a dry run against west changes nothing and is accepted.
      expect((await home.kskup('policy', 'check', join(east, 'policy.yaml'), '-n', 'west')).code).toBe(0);
    } finally {
      await home.ok('policy', 'delete', '-n', 'east');
    }
  });

  it('no private key, token password, claim hash or secret field value is in any byte, also when the log holds one', async () => {
    // The scan finds what it looks for where it is: in the site folders themselves.
    const secrets = await secretsOfTheSites();
    expect(secrets.filter((secret) => secret.what.endsWith('.key')).length).toBeGreaterThanOrEqual(8);
    const caKey = await readFile(join(home.folder('west').path, 'ca', 'tls.key'), 'utf8');
    expect(caKey).toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY-----/);
    // As if a bug logged them: west's CA key on a line of its own (a trace), and a JSON line with a password field.
    const planted = 'planted-password-3f9a1c';
    await appendFile(home.folder('west').logFile, `${caKey}${JSON.stringify({ level: 'info', time: new Date().toISOString(), module: 'SITE', password: planted, msg: 'planted by the test' })}\n`);
    for (const site of ['west', 'east']) {
      const archive = join(home.path, `${site}-scan.tar.gz`);
      await home.ok('debug', 'dump', archive, '-n', site);
      const folder = await unpack(archive);
      expect(await leaks(archive, folder), site).toEqual([]);
      if (site === 'west') {
        const siteLog = await readFile(join(folder, 'logs/site.log'), 'utf8');
        expect(siteLog).toMatch(/<redacted private key>/);
        expect(siteLog).toMatch(/"password":"<redacted>","msg":"planted by the test"/);
        expect(siteLog).not.toContain(planted);
      }
    }
  });

  it('FILE - writes the archive to stdout (the real binary, piped into tar)', async () => {
    const child = spawn(process.execPath, [CLI, 'debug', 'dump', '-', '-n', 'west'], { env: home.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const listing = execFileSync('tar', ['-tzf', '-'], { input: Buffer.concat(chunks), encoding: 'utf8' }).split('\n');
    expect(listing).toContainEqual(expect.stringMatching(/^kskup-dump-west-\d{8}T\d{6}Z\/site\.yaml$/));
    expect(listing).toContainEqual(expect.stringMatching(/\/management\/connection\.json$/));
  });

  it('an existing FILE is refused (exit 2) unless --force, which replaces it', async () => {
    const archive = join(home.path, 'taken.tar.gz');
    await writeFile(archive, 'not an archive');
    const refused = await home.kskup('debug', 'dump', archive, '-n', 'west');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe(`kskup: FILE ${archive} exists: give --force to overwrite it\n`);
    expect(await readFile(archive, 'utf8')).toBe('not an archive');
    await home.ok('debug', 'dump', archive, '-n', 'west', '--force');
    expect(execFileSync('tar', ['-tzf', archive], { encoding: 'utf8' })).toMatch(/\/site\.yaml\n/);
  });

  const badFlags: [string[], RegExp][] = [
    [['debug', 'dump'], /missing required argument 'file'/],
    [['debug', 'dump', 'x.tar.gz', '--log-lines', '0'], /option '--log-lines <n>' argument '0' is invalid\. not a whole number of 1 or more/],
    [['debug', 'dump', 'x.tar.gz', '--timeout', 'soon'], /option '--timeout <seconds>' argument 'soon' is invalid\. not a positive number of seconds/],
    [['debug', 'dump', 'x.tar.gz', '--platform', 'mainframe'], /option --platform must be kubernetes or local, not "mainframe"/],
    [['debug', 'dump', 'x.tar.gz', '--context', 'prod'], /--context applies to the kubernetes platform only/],
    [['debug', 'dump', 'x.tar.gz', '--zip'], /unknown option '--zip'/],
    [['debug', 'dump', '/no/such/folder/x.tar.gz'], /FILE \/no\/such\/folder\/x\.tar\.gz: folder \/no\/such\/folder does not exist/],
    [['debug', 'dump', '/tmp'], /FILE \/tmp is a directory/],
    [['debug', 'nonsense'], /unknown command 'nonsense'/],
  ];
  it.each(badFlags)('kskup %j: exit 2 and says what is wrong', async (argv, message) => {
    const result = await home.kskup(...argv, '-n', 'west');
    expect(result.stderr).toMatch(message);
    expect(result.code).toBe(2);
    expect(existsSync(join(process.cwd(), 'x.tar.gz'))).toBe(false);
  });

  it('a site that does not exist: exit 1 and no file', async () => {
    const archive = join(home.path, 'nobody.tar.gz');
    const result = await home.kskup('debug', 'dump', archive, '-n', 'nobody');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^kskup: nothing could be gathered of site "nobody" \(local platform\), so no dump was written:\n {2}- site state: no site in .*nobody: create one with kskup init/);
    expect(existsSync(archive)).toBe(false);
  });

  it('west with its site process paused (SIGSTOP): the router does not answer within --timeout 1, the rest is dumped, exit 0 with a warning', async () => {
    await home.kill('west', 'SIGSTOP', 'site');
    try {
      const archive = join(home.path, 'west-paused.tar.gz');
      const started = Date.now();
      const result = await home.kskup('debug', 'dump', archive, '-n', 'west', '--timeout', '1');
      const tookMs = Date.now() - started;
      expect(result.code).toBe(0);
      expect(result.stderr).toMatch(/^kskup: warning: the dump lacks what could not be gathered \(also in its README\.txt\):\n {2}- router management: the site process's router at 127\.0\.0\.1:(\d+): [^\n]*router at 127\.0\.0\.1:\1[^\n]* within 1 s\n$/);
      // One timeout, not one per query.
      expect(tookMs).toBeLessThan(5_000);
      const west = await unpack(archive);
      const files = await filesUnder(west);
      for (const file of ['site.yaml', 'router-config.json', 'process.json', 'logs/router.log', 'management/ERROR.txt']) expect(files).toContain(file);
      expect(await readFile(join(west, 'management/ERROR.txt'), 'utf8')).toMatch(/^The router could not be asked \(the site process's router at 127\.0\.0\.1:\d+\):\n.* within 1 s\n$/);
    } finally {
      await home.kill('west', 'SIGCONT', 'site');
    }
  });

  it('west with its supervisor and site process killed (-9): the dump has its state and logs, says the router is down, exit 0 with a warning', async () => {
    await home.kill('west', 'SIGKILL', 'all');
    await waitFor('west to be down', async () => ((await home.json<{ process: { running: boolean } }>('status', '-n', 'west')).process.running ? undefined : true));
    const archive = join(home.path, 'west-down.tar.gz');
    const result = await home.kskup('debug', 'dump', archive, '-n', 'west');
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^kskup: warning: the dump lacks what could not be gathered \(also in its README\.txt\):\n {2}- site process: not running \(supervisor pid \d+ has exited\): the router could not be asked/);
    const west = await unpack(archive);
    const files = await filesUnder(west);
    for (const file of ['site.yaml', 'router-config.json', 'certificates.json', 'process.json', 'logs/site.log', 'logs/router.log', 'logs/supervisor.log', 'management/ERROR.txt', 'versions.json']) expect(files).toContain(file);
    expect(files.filter((file) => file.startsWith('management/') && file.endsWith('.json'))).toEqual([]);
    expect(await readFile(join(west, 'management/ERROR.txt'), 'utf8')).toMatch(/The site process is not running/);
    expect((await readFile(join(west, 'logs/router.log'), 'utf8')).length).toBeGreaterThan(0);
    expect(await readJson<{ running: boolean }>(west, 'process.json')).toMatchObject({ running: false });
    expect(await readJson<{ router: string }>(west, 'versions.json')).toMatchObject({ router: 'unknown (the router is not running)' });
    expect(await readFile(join(west, 'README.txt'), 'utf8')).toMatch(/What could not be gathered:\n {2}- site process: not running/);
    expect(await leaks(archive, west)).toEqual([]);
  });
});
