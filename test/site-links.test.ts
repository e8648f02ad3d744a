// Local sites, tokens and links end to end: real site processes (router and
// claims endpoint) in a temporary KSKUP_HOME, driven by the kskup CLI.
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { useKskupHome } from './helpers/kskup-cli.js';
import { freePort, waitFor } from './helpers/router-process.js';

/** Waits until `probe` is true, at most `ms`. */
const within = (probe: () => Promise<boolean>, ms: number, what: string) => waitFor(what, async () => (await probe()) || undefined, ms);

const home = useKskupHome('site-links');

interface LinkStatusJson {
  links: { name: string; connected: boolean; reason: string; cost: number; remoteSite: string }[];
  incoming: { site: string; connected: boolean }[];
}

const linkStatus = (namespace: string) => home.json<LinkStatusJson>('link', 'status', '-n', namespace);
const tokenFile = (name: string) => join(home.path, `${name}.token`);

async function init(namespace: string, ...args: string[]) {
  return home.json<{ site: { id: string; ports: Record<string, number> }; process: { pid: number; state: string } }>('init', '-n', namespace, ...args);
}

/** A token from `issuer`, linked at `linker`, and the time until connected. */
async function link(issuer: string, linker: string, ...tokenArgs: string[]): Promise<number> {
  const file = tokenFile(`${issuer}-for-${linker}`);
  await home.ok('token', 'create', file, '-n', issuer, ...tokenArgs);
  const started = Date.now();
  await home.ok('link', 'create', file, '-n', linker);
  await within(async () => (await linkStatus(linker)).links.find((l) => l.remoteSite === issuer)?.connected === true, 3_000, `${linker} connected to ${issuer}`);
  return Date.now() - started;
}

describe('two and three local sites', () => {
  it('init creates a site with keys readable only by the owner, and a running process', async () => {
    const west = await init('west');
    expect(west.process.state).toBe('started');
    const folder = home.folder('west');
    for (const key of ['ca/tls.key', 'server/tls.key']) {
      expect((await stat(join(folder.path, key))).mode & 0o777).toBe(0o600);
    }
    const status = await home.json<{ process: { running: boolean; pid: number }; router: { reachable: boolean } }>('status', '-n', 'west');
    expect(status.process).toMatchObject({ running: true, pid: west.process.pid });
    expect(status.router.reachable).toBe(true);
  });

  it('site options work before the command too, as kubectl takes them: kskup -n west -o json status', async () => {
    const after = JSON.parse((await home.ok('status', '-n', 'west', '-o', 'json')).stdout) as { site: { name: string } };
    const before = JSON.parse((await home.ok('-n', 'west', '-o', 'json', 'status')).stdout) as { site: { name: string } };
    expect(before.site.name).toBe('west');
    expect(before.site).toEqual(after.site);
    // After the command, its own value wins; before "router stat", -n is the site.
    expect((await home.kskup('-n', 'nowhere', 'status', '-n', 'west')).code).toBe(0);
    const general = JSON.parse((await home.ok('-n', 'west', 'router', 'stat', '-o', 'json')).stdout) as Record<string, unknown>;
    expect(JSON.stringify(general)).toContain((await home.folder('west').read()).site.id);
  });

  it("the router's local listener takes only the site's own local client certificate", async () => {
    const folder = home.folder('west');
    const port = String((await folder.read()).site.ports.amqp);
    const plain = await home.kskup('router', 'stat', '--port', port, '--timeout', '2');
    expect(plain.code).toBe(1);
    // A certificate from the site CA (what linking sites hold) does not open it either.
    const linkCert = join(home.path, 'link-cert');
    const { issueCertificate } = await import('../site-controller/pki/index.js');
    const issued = await issueCertificate(await folder.certificateAuthority(), { commonName: 'intruder', usage: 'client' });
    await writeFile(`${linkCert}.crt`, issued.certPem);
    await writeFile(`${linkCert}.key`, issued.keyPem);
    const local = folder.localFiles;
    const wrongCert = await home.kskup('router', 'stat', '--port', port, '--ssl-ca', local.ca, '--ssl-cert', `${linkCert}.crt`, '--ssl-key', `${linkCert}.key`, '--timeout', '2');
    expect(wrongCert.code).toBe(1);
    expect(wrongCert.stderr).toMatch(/not signed by the trusted CA/);
    const own = await home.ok('router', 'stat', '--port', port, '--ssl-ca', local.ca, '--ssl-cert', local.clientCert, '--ssl-key', local.clientKey, '-o', 'json');
    expect(JSON.parse(own.stdout)).toMatchObject({ id: (await folder.read()).site.id, mode: 'interior' });
    expect((await stat(local.clientKey)).mode & 0o777).toBe(0o600);
  });

  it('a site named by a host name listens on loopback when that name is loopback, and on all interfaces otherwise', async () => {
    const named = await home.json<{ site: { ingressHost: string; bindHost: string } }>('init', '-n', 'named', '--ingress-host', 'localhost');
    expect(named.site).toMatchObject({ ingressHost: 'localhost', bindHost: '127.0.0.1' });
    // The token says "localhost", the server certificate names it, and a link made with it connects.
    await init('to-named');
    await home.ok('token', 'create', tokenFile('named'), '-n', 'named');
    expect(await readFile(tokenFile('named'), 'utf8')).toMatch(/kskup\.io\/url: https:\/\/localhost:\d+\/claims\//);
    await home.ok('link', 'create', tokenFile('named'), '-n', 'to-named');
    await within(async () => (await linkStatus('to-named')).links[0]?.connected === true, 5_000, 'linked through localhost');
    // Behind NAT: the advertised address is not this machine's, so the listeners take every interface.
    const natted = await home.json<{ site: { ingressHost: string; bindHost: string } }>('init', '-n', 'natted', '--ingress-host', '203.0.113.7');
    expect(natted.site).toMatchObject({ ingressHost: '203.0.113.7', bindHost: '0.0.0.0' });
    for (const site of ['named', 'to-named', 'natted']) await home.ok('delete', '-n', site);
  });

  it('init twice changes nothing', async () => {
    const stateBefore = await readFile(home.folder('west').stateFile, 'utf8');
    const first = await home.json<{ site: { id: string }; process: { pid: number } }>('status', '-n', 'west');
    const again = await home.ok('init', '-n', 'west');
    expect(again.stdout).toContain('nothing changed');
    const second = await init('west');
    expect(second.process).toMatchObject({ state: 'running', pid: first.process.pid });
    expect(second.site.id).toBe(first.site.id);
    expect(await readFile(home.folder('west').stateFile, 'utf8')).toBe(stateBefore);
  });

  it('a claim token links two sites, connected within 3 s, without restarting the router', async () => {
    await init('east');
    const pidBefore = (await home.json<{ process: { pid: number } }>('status', '-n', 'east')).process.pid;
    const file = tokenFile('west-for-east');
    await home.ok('token', 'create', file, '-n', 'west');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const secret = parse(await readFile(file, 'utf8')) as { kind: string; metadata: { labels: Record<string, string> } };
    expect(secret.kind).toBe('Secret');
    expect(secret.metadata.labels['kskup.io/type']).toBe('token-claim');

    const started = Date.now();
    await home.ok('link', 'create', file, '-n', 'east');
    await within(async () => (await linkStatus('east')).links[0]?.connected === true, 3_000, 'east connected to west');
    expect(Date.now() - started).toBeLessThan(3_000);

    const east = await linkStatus('east');
    expect(east.links).toEqual([expect.objectContaining({ name: 'west', connected: true, reason: '', cost: 1, remoteSite: 'west' })]);
    await within(async () => (await linkStatus('west')).incoming.some((l) => l.site === 'east' && l.connected), 3_000, 'west sees east');
    expect((await home.json<{ process: { pid: number } }>('status', '-n', 'east')).process.pid).toBe(pidBefore);
  });

  it('the second use of a one-use claim is refused with a clear message and changes nothing', async () => {
    await init('north');
    const before = await readFile(home.folder('north').stateFile, 'utf8');
    const result = await home.kskup('link', 'create', tokenFile('west-for-east'), '-n', 'north');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/kskup: claim "[a-z0-9-]+" refused by site "west" at 127\.0\.0\.1:\d+: used up \(1 of 1 uses\)\n$/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(await readFile(home.folder('north').stateFile, 'utf8')).toBe(before);
  });

  it('a third site links in a line; the first site router sees all three', async () => {
    // north -> east -> west: north is two links from west.
    await init('north');
    await link('east', 'north');
    const ids = await Promise.all(['west', 'east', 'north'].map(async (ns) => (await init(ns)).site.id));
    await within(async () => {
      const nodes = (JSON.parse((await home.ok('router', 'stat', '-n', '--site', 'west', '-o', 'json')).stdout) as { entities: { id: string; hops: number }[] }).entities;
      return ids.every((id) => nodes.some((node) => node.id === id)) && nodes.some((node) => node.hops === 2);
    }, 5_000, 'west knows all three routers');
  });

  it('an expired claim, a wrong password and a revoked claim are refused', async () => {
    await home.ok('token', 'create', tokenFile('short'), '-n', 'west', '--expiry', '1s');
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const expired = await home.kskup('link', 'create', tokenFile('short'), '-n', 'north');
    expect(expired.code).toBe(1);
    expect(expired.stderr).toMatch(/token "claim-[0-9a-f]+" from site "west" expired at /);

    await home.ok('token', 'create', tokenFile('wrong'), '-n', 'west', '--name', 'wrong-password');
    const text = await readFile(tokenFile('wrong'), 'utf8');
    await writeFile(tokenFile('wrong'), text.replace(/password: .*/, `password: ${Buffer.from('guess').toString('base64')}`));
    const wrong = await home.kskup('link', 'create', tokenFile('wrong'), '-n', 'north');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('claim "wrong-password" refused by site "west"');
    expect(wrong.stderr).toContain('wrong password');

    await home.ok('token', 'create', tokenFile('revoked'), '-n', 'west', '--name', 'to-revoke');
    await home.ok('token', 'revoke', 'to-revoke', '-n', 'west');
    const revoked = await home.kskup('link', 'create', tokenFile('revoked'), '-n', 'north');
    expect(revoked.code).toBe(1);
    expect(revoked.stderr).toMatch(/claim "to-revoke" refused by site "west" at [^:]+:\d+: revoked at /);
    expect((await linkStatus('north')).links.map((l) => l.remoteSite)).toEqual(['east']);
  });

  it('a token of this site, or of a site already linked, is refused before anything is redeemed', async () => {
    await home.ok('token', 'create', tokenFile('own'), '-n', 'west', '--name', 'own');
    const own = await home.kskup('link', 'create', tokenFile('own'), '-n', 'west');
    expect(own.code).toBe(1);
    expect(own.stderr).toContain('was made by this site ("west")');
    const twice = await home.kskup('link', 'create', tokenFile('own'), '-n', 'east');
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain('site "east" is already linked to site "west" (link "west")');
    // Refused locally: the claim was not spent.
    const tokens = await home.json<{ tokens: { name: string; uses: string }[] }>('token', 'list', '-n', 'west');
    expect(tokens.tokens.find((t) => t.name === 'own')?.uses).toBe('0/1');
  });

  it('a token of a deleted site fails with a clear message', async () => {
    await init('gone');
    await home.ok('token', 'create', tokenFile('gone'), '-n', 'gone');
    await home.ok('delete', '-n', 'gone');
    const result = await home.kskup('link', 'create', tokenFile('gone'), '-n', 'north');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/cannot redeem claim "claim-[0-9a-f]+": site "gone" at 127\.0\.0\.1:\d+ refused the connection \(is the site running\? was it deleted\?\)/);
  });

  it('a cert token links without a claims round trip, and revoking the token drops the link', async () => {
    await init('south');
    const elapsed = await link('west', 'south', '--token-type', 'cert', '--name', 'south-cert');
    expect(elapsed).toBeLessThan(3_000);
    // No claim told west who "south" is: service sync does.
    await within(async () => (await linkStatus('west')).incoming.some((l) => l.site === 'south' && l.connected), 5_000, 'west names south');
    await home.ok('token', 'revoke', 'south-cert', '-n', 'west');
    await within(async () => (await linkStatus('south')).links[0]?.connected === false, 5_000, 'south cut off');
    const reason = (await linkStatus('south')).links[0]?.reason;
    expect(reason).toContain('revoked');
    await home.ok('delete', '-n', 'south');
  });

  it('link status says why a link is down: connection refused, host name not found', async () => {
    await init('why');
    await home.ok('token', 'create', tokenFile('why-cert'), '-n', 'west', '--token-type', 'cert', '--name', 'why-cert');
    const text = await readFile(tokenFile('why-cert'), 'utf8');
    // The same token, pointing at a port nobody listens on, and at a name that does not resolve.
    const closedPort = String(await freePort());
    await writeFile(tokenFile('why-refused'), text.replace(/(kskup\.io\/inter-router-port: )"?\d+"?/, `$1"${closedPort}"`));
    await home.ok('link', 'create', tokenFile('why-refused'), '-n', 'why', '--name', 'refused');
    await within(async () => (await linkStatus('why')).links.find((l) => l.name === 'refused')?.reason === 'connection refused', 5_000, 'refused reason');
    await home.ok('link', 'delete', 'refused', '-n', 'why');
    await writeFile(tokenFile('why-unknown'), text.replace(/(kskup\.io\/inter-router-host: ).*/, '$1no-such-host.invalid'));
    await home.ok('link', 'create', tokenFile('why-unknown'), '-n', 'why', '--name', 'unknown');
    await within(async () => (await linkStatus('why')).links.find((l) => l.name === 'unknown')?.reason === 'host name not found', 10_000, 'name reason');
    const waited = await home.kskup('link', 'status', 'unknown', '-n', 'why', '--wait', '0.5');
    expect(waited.code).toBe(1);
    expect(waited.stderr).toMatch(/\nkskup: not connected after 0.5s: unknown \(host name not found\)\n$/);
    await home.ok('delete', '-n', 'why');
  });

  it('revoke-access for one of two linked sites drops only that one, for good', async () => {
    // west has links from east (claim) and now from a second site.
    await init('second');
    await link('west', 'second');
    await home.ok('revoke-access', '-n', 'west', '--site', 'second');
    const deadline = Date.now() + 5_000;
    let cut = false;
    while (Date.now() < deadline && !cut) {
      const [second, east] = await Promise.all([linkStatus('second'), linkStatus('east')]);
      expect(east.links[0]?.connected).toBe(true);
      cut = second.links[0]?.connected === false;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(cut).toBe(true);
    // It stays down: every reconnect is refused.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const second = await linkStatus('second');
    expect(second.links[0]).toMatchObject({ connected: false, reason: expect.stringContaining('revoked') });
    expect((await linkStatus('east')).links[0]?.connected).toBe(true);
    await home.ok('delete', '-n', 'second');
  });

  it('link delete disconnects', async () => {
    await home.ok('link', 'delete', 'east', '-n', 'north');
    expect((await linkStatus('north')).links).toEqual([]);
    await within(async () => !(await linkStatus('east')).incoming.some((l) => l.site === 'north' && l.connected), 5_000, 'east no longer sees north');
  });

  it('a site process that died is reported, and init starts it again', async () => {
    const before = await home.json<{ process: { pid: number } }>('status', '-n', 'north');
    await home.kill('north', 'SIGKILL', 'all');
    await within(async () => (await home.json<{ process: { running: boolean } }>('status', '-n', 'north')).process.running === false, 3_000, 'north reported down');
    const text = await home.ok('status', '-n', 'north');
    expect(text.stdout).toContain('NOT RUNNING');
    const again = await init('north');
    expect(again.process.state).toBe('started');
    expect(again.process.pid).not.toBe(before.process.pid);
  });

  it('delete removes a site folder that init left half-made', async () => {
    const half = home.folder('half');
    await mkdir(join(half.path, 'ca'), { recursive: true });
    const result = await home.ok('delete', '-n', 'half');
    expect(result.stdout).toContain('Removed the incomplete site folder');
    expect(existsSync(half.path)).toBe(false);
    expect((await home.kskup('delete', '-n', 'half')).code).toBe(1);
  });

  it('an edge site links to an interior site and refuses to issue tokens', async () => {
    await init('edgy', '--router-mode', 'edge');
    const refused = await home.kskup('token', 'create', tokenFile('edgy'), '-n', 'edgy');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('site "edgy" is an edge site');
    await link('west', 'edgy');
    const status = await linkStatus('edgy');
    const westPorts = (await init('west')).site.ports;
    expect(status.links[0]).toMatchObject({ connected: true, remoteSite: 'west' });
    expect((await home.json<{ links: { endpoint: string }[] }>('link', 'status', '-n', 'edgy')).links[0]?.endpoint).toBe(`127.0.0.1:${westPorts.edge}`);
  });
});

describe('bad token files', () => {
  const cases: [string, string, RegExp][] = [
    ['garbage', 'garbage: [\n\u0000\u0001', /not a token: not valid YAML/],
    ['not YAML of a Secret', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n', /not a token: expected a Kubernetes Secret/],
    ['a Secret that is not a token', 'apiVersion: v1\nkind: Secret\nmetadata: {name: x}\ndata: {a: Yg==}\n', /not a token: a Secret without the label kskup\.io\/type/],
  ];
  it.each(cases)('%s exits 1 with a clear message and changes nothing', async (_label, text, message) => {
    await init('bad');
    const before = await readFile(home.folder('bad').stateFile, 'utf8');
    const file = tokenFile('bad');
    await writeFile(file, text);
    const result = await home.kskup('link', 'create', file, '-n', 'bad');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^kskup: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: ${message.source}`));
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(await readFile(home.folder('bad').stateFile, 'utf8')).toBe(before);
  });

  it('a truncated token exits 1 and changes nothing', async () => {
    await home.ok('token', 'create', tokenFile('whole'), '-n', 'west');
    const whole = await readFile(tokenFile('whole'), 'utf8');
    const before = await readFile(home.folder('bad').stateFile, 'utf8');
    // Cut at a line end (well-formed YAML missing its data) and mid-value.
    for (const cut of [whole.indexOf('\ndata:') + 1, whole.indexOf('ca.crt:') + 20]) {
      await writeFile(tokenFile('cut'), whole.slice(0, cut));
      const result = await home.kskup('link', 'create', tokenFile('cut'), '-n', 'bad');
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/: (incomplete|damaged) token: data\.ca\.crt is (missing|not a PEM certificate|not valid base64)\n$/);
    }
    const missing = await home.kskup('link', 'create', join(home.path, 'no-such.token'), '-n', 'bad');
    expect(missing).toMatchObject({ code: 1, stderr: `kskup: cannot read token file ${join(home.path, 'no-such.token')}: no such file\n` });
    expect(await readFile(home.folder('bad').stateFile, 'utf8')).toBe(before);
  });
});

describe('usage errors exit 2 with one line', () => {
  const cases: [string[], RegExp][] = [
    [['init', '--router-mode', 'hub'], /argument 'hub' is invalid\. Allowed choices are interior, edge/],
    [['init', '--inter-router-port', '70000'], /'--inter-router-port <port>' argument '70000' is invalid\. not a port number/],
    [['init', '-n', 'Bad_Name'], /'-n, --namespace <name>' argument 'Bad_Name' is invalid\. not a valid name/],
    [['init', '--site-name', 'x y'], /option --site-name: "x y" is not a valid name/],
    [['init', '--platform', 'mars'], /option --platform must be kubernetes or local, not "mars"/],
    [['init', '--inter-router-port', '4000', '--edge-port', '4000'], /--inter-router-port and --edge-port must differ/],
    [['token', 'create'], /missing required argument 'file'/],
    [['token', 'create', 'x.token', '--expiry', '10'], /argument '10' is invalid\. not a duration/],
    [['token', 'create', 'x.token', '--uses', '0'], /argument '0' is invalid\. not a whole number of 1 or more/],
    [['token', 'create', 'x.token', '--token-type', 'password'], /Allowed choices are claim, cert/],
    [['token', 'create', 'x.token', '--token-type', 'cert', '--uses', '3'], /--uses applies to claim tokens only/],
    [['link', 'create', 'x.token', '--cost', '-1'], /argument '-1' is invalid|unknown option '-1'/],
    [['link', 'create', 'x.token', '--cost', '2147483648'], /argument '2147483648' is invalid\. at most 2147483647, skupper-router's largest cost/],
    [['link', 'status', '--wait', 'soon'], /not a positive number of seconds/],
    [['status', '-o', 'xml'], /Allowed choices are text, json, yaml/],
    [['status', '--context', 'prod'], /--context applies to the kubernetes platform only/],
    [['nonsense'], /unknown command 'nonsense'/],
    [['-n', 'Bad_Name', 'status'], /'-n, --namespace <name>' argument 'Bad_Name' is invalid\. not a valid name/],
    // router stat takes --kubeconfig for the site of its --site (or of -n before it), so without one it says so.
    [['--kubeconfig', 'kc', 'router', 'stat'], /options --platform, --kubeconfig and --context choose the site of --site \(or of -n before "router stat"\); give one/],
    [['-o', 'yaml', 'router', 'stat'], /option --output: "yaml" is not one of text, json for "stat"/],
  ];
  it.each(cases)('kskup %j', async (argv, message) => {
    const result = await home.kskup(...argv);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('KSKUP_PLATFORM is checked like --platform, and a missing site is a runtime error', async () => {
    const { run } = await import('../cli/run.js');
    let stderr = '';
    const code = await run(['status'], { stdout: { write: () => true }, stderr: { write: (t: string) => (stderr += t) }, env: { ...home.env, KSKUP_PLATFORM: 'cloud' } });
    expect(code).toBe(2);
    expect(stderr).toBe('kskup: KSKUP_PLATFORM must be kubernetes or local, not "cloud"\n');
    const missing = await home.kskup('status', '-n', 'nowhere');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^kskup: no site in .*nowhere: create one with kskup init\n$/);
  });

  it('without a platform, a kubeconfig picks kubernetes and says so', async () => {
    const { run } = await import('../cli/run.js');
    let stderr = '';
    const env = { ...home.env, KSKUP_PLATFORM: undefined, KUBECONFIG: home.folder('west').stateFile };
    const code = await run(['status'], { stdout: { write: () => true }, stderr: { write: (t: string) => (stderr += t) }, env });
    expect(code).toBe(1);
    expect(stderr).toMatch(/^kskup: kubeconfig .* has no current context and no contexts at all \(the kubernetes platform was chosen because a kubeconfig was found at .*; use --platform local for a local site\)\n$/);
    const local = await run(['status', '-n', 'west'], { stdout: { write: () => true }, stderr: { write: () => true }, env: { ...env, KUBECONFIG: join(home.path, 'none') } });
    expect(local).toBe(0);
  });
});
