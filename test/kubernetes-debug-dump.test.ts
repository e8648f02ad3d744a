// `kskup debug dump` of a cluster site: namespace west in one cluster (the
// API server double with the pod runner running the kskup image), a claim
// token issued. The dump goes through the API only: the router config
// ConfigMap, the pods and their logs (pods/log), the server's version, a
// router pod's management through port-forward. No key or password of any
// Secret of the namespace may be in any byte of it.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { NETWORK_KEYS } from '../site-controller/kubernetes/kube-site.js';
import { NAMES } from '../site-controller/kubernetes/manifests.js';
import { apis, kskup, ok, startCluster, type Cluster } from './helpers/kube-clusters.js';
import { waitFor } from './helpers/router-process.js';
import { useTestFolder } from './helpers/temp-dir.js';

const temp = useTestFolder('kskup-kube-dump');
let a: Cluster;
let tokenFile: string;

beforeAll(async () => {
  a = await startCluster('west', temp.path);
  await ok(a, 'init', '-n', 'west', '--timeout', '90');
  tokenFile = join(temp.path, 'west-token.yaml');
  await ok(a, 'token', 'create', tokenFile, '-n', 'west');
  // The dump's replicas are the controller's record (ConfigMap kskup-network, routers.json), kept as its
  // polls of the router see it: wait until that record has seen the router answer, a moment after init.
  await waitFor('the controller to record the router answering', async () => {
    const network = await apis(a).core.readNamespacedConfigMap({ name: NAMES.network, namespace: 'west' }).catch(() => undefined);
    const replicas = JSON.parse(network?.data?.[NETWORK_KEYS.routers] ?? '[]') as { answered?: boolean }[];
    return replicas.length > 0 && replicas.every((replica) => replica.answered) ? true : undefined;
  }, 10_000);
}, 180_000);

afterAll(async () => {
  await a?.runner.stop();
}, 60_000);

async function filesUnder(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => relative(folder, join(entry.parentPath, entry.name))).sort();
}

/** Every key, password and other secret value of the namespace's Secrets, the token's password, and the claim's hash. */
async function secretsOfTheSite(): Promise<{ what: string; value: string }[]> {
  const secrets: { what: string; value: string }[] = [];
  for (const secret of (await apis(a).core.listNamespacedSecret({ namespace: 'west' })).items) {
    for (const [key, encoded] of Object.entries(secret.data ?? {})) {
      const value = Buffer.from(encoded, 'base64').toString('utf8');
      // Certificates are public; everything else in a Secret is not.
      if (value.includes('-----BEGIN CERTIFICATE-----') && !value.includes('PRIVATE KEY')) continue;
      const what = `Secret ${secret.metadata?.name} key ${key}`;
      secrets.push({ what, value: value.trim() }, { what: `${what} (base64)`, value: encoded });
      for (const line of value.split('\n')) if (/^[A-Za-z0-9+/=]{40,}$/.test(line.trim())) secrets.push({ what: `a line of ${what}`, value: line.trim() });
    }
  }
  const token = parseYaml((await readFile(tokenFile, 'utf8')).replace(/^#.*\n/gm, '')) as { data: { password: string } };
  secrets.push({ what: 'the token password (base64)', value: token.data.password }, { what: 'the token password', value: Buffer.from(token.data.password, 'base64').toString('utf8') });
  const state = await apis(a).core.readNamespacedConfigMap({ name: NAMES.state, namespace: 'west' });
  for (const text of Object.values(state.data ?? {})) for (const match of text.matchAll(/"passwordSha256":\s*"([0-9a-f]+)"/g)) secrets.push({ what: "the claim's passwordSha256", value: match[1]! });
  return secrets;
}

describe('kskup debug dump, a cluster site', () => {
  it('west in a cluster: state, router config, pods and their logs, management through port-forward, versions; no Secret value in any byte', async () => {
    const archive = join(temp.path, 'west.tar.gz');
    const result = await kskup(a, 'debug', 'dump', archive, '-n', 'west');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const into = join(temp.path, 'unpacked');
    await mkdir(into);
    execFileSync('tar', ['-xzf', archive, '-C', into]);
    const [top] = await readdir(into);
    expect(top).toMatch(/^kskup-dump-west-\d{8}T\d{6}Z$/);
    const west = join(into, top!);
    const files = await filesUnder(west);
    for (const file of ['README.txt', 'site.yaml', 'router-config.json', 'settings.json', 'pods.json', 'versions.json', 'network.json', 'certificates.json', 'management/connection.json', 'management/listener.json', 'management/tcpConnector.json']) expect(files).toContain(file);
    const json = async <T>(file: string) => JSON.parse(await readFile(join(west, file), 'utf8')) as T;

    const site = parseYaml(await readFile(join(west, 'site.yaml'), 'utf8')) as { site: { name: string; platform: string }; tokens: { passwordSha256: string }[] };
    expect(site.site).toMatchObject({ name: 'west', platform: 'kubernetes' });
    expect(site.tokens[0]?.passwordSha256).toBe('<redacted>');
    // The config names the files mounted from Secret kskup-router-certs; the keys themselves are not in it.
    const config = await json<[string, Record<string, unknown>][]>('router-config.json');
    expect(config).toContainEqual(['sslProfile', expect.objectContaining({ name: 'site-server', privateKeyFile: expect.stringMatching(/site-server\.key$/) })]);
    // Each pod's container log, through the API: the router's and the controller's JSON lines.
    const pods = await json<{ pods: { name: string; ready: boolean }[]; replicas: { pod: string; answered: boolean }[] }>('pods.json');
    expect(pods.replicas).toEqual([expect.objectContaining({ pod: 'kskup-router-0', answered: true })]);
    const router = pods.pods.find((pod) => pod.name === 'kskup-router-0');
    const controller = pods.pods.find((pod) => pod.name.startsWith('kskup-controller-'));
    expect(router?.ready).toBe(true);
    expect(controller?.ready).toBe(true);
    expect(await readFile(join(west, `logs/kskup-router-0.router.log`), 'utf8')).toMatch(/"module":"(ROUTER|SERVER)"/);
    expect(await readFile(join(west, `logs/${controller!.name}.controller.log`), 'utf8')).toMatch(/"module":"CONTROLLER"/);
    // Management of the router pod, reached by port-forward: the controller's connection to it.
    const connections = (await json<{ router: string; results: { role: string; dir: string }[] }>('management/connection.json'));
    expect(connections.router).toBe('router pod kskup-router-0 in namespace "west" (through port-forward)');
    expect(connections.results.filter((connection) => connection.dir === 'in').length).toBeGreaterThan(0);
    const versions = await json<Record<string, unknown>>('versions.json');
    expect(versions).toMatchObject({ platform: 'kubernetes', router: versions.kskup, kubernetes: { gitVersion: 'v1.31.0-kskup-double' }, images: [`kskup:${String(versions.kskup)}`] });
    expect((await json<{ certificates: { certificate: string; subject: string }[] }>('certificates.json')).certificates).toContainEqual(expect.objectContaining({ certificate: 'site CA', subject: 'kskup site CA west' }));

    const secrets = await secretsOfTheSite();
    expect(secrets.filter((secret) => secret.value.includes('PRIVATE KEY')).length).toBeGreaterThanOrEqual(4);
    const texts: [string, string][] = [['the tar stream', execFileSync('gzip', ['-dc', archive]).toString('latin1')]];
    for (const file of files) texts.push([file, (await readFile(join(west, file))).toString('latin1')]);
    const leaks = texts.flatMap(([file, text]) => [
      ...secrets.filter((secret) => text.includes(secret.value)).map((secret) => `${secret.what} in ${file}`),
      ...(/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text) ? [`a private key marker in ${file}`] : []),
    ]);
    expect(leaks).toEqual([]);
  });

  it('a namespace with no site: exit 1, nothing written', async () => {
    a.runner.api.ensureNamespace('empty');
    const archive = join(temp.path, 'empty.tar.gz');
    const result = await kskup(a, 'debug', 'dump', archive, '-n', 'empty');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^kskup: nothing could be gathered of site "empty" \(kubernetes platform\), so no dump was written:\n {2}- site state: no site in namespace "empty": create one with kskup init\n/);
    expect(existsSync(archive)).toBe(false);
  });
});
