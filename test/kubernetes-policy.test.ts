// Site policy on Kubernetes (docs/policy.md): the policy is kept in the site
// state ConfigMap, the site's controller applies it to the router ConfigMap,
// and the router pod refuses what it forbids. The API server double with the
// pod runner (test/kube/README.md); a local site linked to the cluster site.
// West's serviceAccess reaches solo in its announcement (solo drops its
// listener); a listener made by hand at solo's router is refused by west's pod.
//
//   cluster A, namespace west                                      this host
//   [backend x1] <- tcpConnector [router] <--link-- [router of local site "solo"] <- test client
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NAMES } from '../site-controller/kubernetes/manifests.js';
import { apis, kskup, ok, routerConfigMap, startClusterLinkedFromLocal, type Cluster } from './helpers/kube-clusters.js';
import { echoDeployment, waitUntil } from './helpers/kube-workloads.js';
import { useKskupHome } from './helpers/kskup-cli.js';
import { connect, exchangeStream, openAndWatchEnd } from './helpers/tcp-tools.js';
import { freePort } from './helpers/router-process.js';
import { ManagementClient } from '../router/management/management-client.js';
import { localRouterTarget } from '../cli/site/site-status.js';
import { useTestFolder } from './helpers/temp-dir.js';

const temp = useTestFolder('kskup-kube-policy');
const local = useKskupHome('kskup-kube-policy-local');
let a: Cluster;
let port: number;

async function echoWorks(bytes: number, seed: number): Promise<boolean> {
  const socket = await connect(port).catch(() => undefined);
  try {
    const result = socket && (await exchangeStream(socket, seed, bytes).catch(() => undefined));
    return result !== undefined && result.got.bytes === bytes && result.got.sha256 === result.sent;
  } finally {
    socket?.destroy();
  }
}

/** The backend tcpConnectors' allowedSites in the router ConfigMap (undefined: any site). */
async function allowedSitesInConfig(): Promise<(string | undefined)[]> {
  const entities = JSON.parse((await routerConfigMap(a)).data?.['skrouterd.json'] ?? '[]') as [string, Record<string, unknown>][];
  return entities.filter(([type, e]) => type === 'tcpConnector' && String(e.address).startsWith('backend')).map(([, e]) => e.allowedSites as string | undefined);
}

beforeAll(async () => {
  a = await startClusterLinkedFromLocal(temp.path, local);
  await apis(a).apps.createNamespacedDeployment({ namespace: 'west', body: echoDeployment('backend', 1) });
  await a.runner.waitForDeployment('west', 'backend', { ready: 1, timeoutMs: 30_000 });
  await ok(a, 'expose', 'deployment/backend', '--port', '7', '--target-port', '8080', '-n', 'west');
  port = await waitUntil(a, 'backend listening at solo', async () => {
    const services = (await local.json<{ services: { address: string; listeners: { port: number }[] }[] }>('service', 'status', '-n', 'solo')).services;
    return services.find((s) => s.address === 'backend')?.listeners[0]?.port;
  }, 20_000);
  await waitUntil(a, 'an echo through solo', async () => ((await echoWorks(64 * 1024, 1)) ? true : undefined), 20_000);
}, 180_000);

afterAll(async () => {
  await a?.runner.stop();
}, 60_000);

describe('policy of a cluster site', () => {
  it('a bad file is exit 2 and changes nothing; a good one is kept in the site state ConfigMap', async () => {
    const bad = join(temp.path, 'bad.yaml');
    await writeFile(bad, 'apiVersion: kskup.io/v1alpha1\nkind: SitePolicy\nserviceAccess: [{service: backend}]\n');
    const refused = await kskup(a, 'policy', 'set', bad, '-n', 'west');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('serviceAccess[0].sites: missing');
    expect(JSON.parse(await ok(a, 'policy', 'show', '-n', 'west', '-o', 'json'))).toEqual({ site: 'west', policy: null });

    const file = join(temp.path, 'policy.yaml');
    await writeFile(file, 'apiVersion: kskup.io/v1alpha1\nkind: SitePolicy\nserviceAccess:\n  - service: backend\n    sites: []\n');
    await ok(a, 'policy', 'set', file, '-n', 'west');
    const state = await apis(a).core.readNamespacedConfigMap({ name: NAMES.state, namespace: 'west' });
    expect(JSON.parse(state.data?.['site.json'] ?? '{}').policy).toEqual({ apiVersion: 'kskup.io/v1alpha1', kind: 'SitePolicy', serviceAccess: [{ service: 'backend', sites: [] }] });
  }, 60_000);

  it('serviceAccess with no other site: solo drops its listener and says why, the router pod refuses a listener made by hand there; removed, solo gets every byte again', async () => {
    const allowed = await waitUntil(a, 'the router ConfigMap to carry allowedSites', async () => {
      const sites = await allowedSitesInConfig();
      return sites.length > 0 && sites.every((s) => s !== undefined) ? sites : undefined;
    }, 20_000);
    // Only the site itself (its id and name).
    for (const sites of allowed) expect(sites!.split(' ')).toContain('west');
    expect(allowed[0]!.split(' ')).toHaveLength(2);
    // Announced: solo, not allowed, drops its listener and says why.
    const why = 'not allowed by site "west"\'s policy (serviceAccess allows no other site)';
    await waitUntil(a, 'solo to drop its listener for backend', async () => {
      const services = (await local.json<{ services: { address: string; listeners: unknown[]; policy?: { accessDenied?: string } }[] }>('service', 'status', '-n', 'solo')).services;
      const backend = services.find((s) => s.address === 'backend');
      return backend?.listeners.length === 0 && backend.policy?.accessDenied === why ? true : undefined;
    }, 30_000);
    expect((await openAndWatchEnd(port).ended).code).toBe('ECONNREFUSED');
    // Enforced by the router pod: a tcpListener made by hand at solo's router is reset there.
    const solo = local.folder('solo');
    const client = await ManagementClient.connect(await localRouterTarget(solo, await solo.read()), { timeoutMs: 5_000 });
    try {
      const byHand = await freePort();
      await client.create('tcpListener', 'by-hand', { address: 'backend:7', host: '127.0.0.1', port: byHand });
      await waitUntil(a, 'solo\'s hand-made listener to be reset', async () => {
        const { socket, ended } = openAndWatchEnd(byHand);
        socket.write('hello');
        // A flow still let through (the policy not applied yet) stays open: given up after 2 s.
        const timer = setTimeout(() => socket.destroy(), 2_000);
        const end = await ended;
        clearTimeout(timer);
        return end.code === 'ECONNRESET' ? true : undefined;
      }, 30_000);
    } finally {
      await client.delete('tcpListener', 'by-hand').catch(() => undefined);
      await client.close();
    }
    const check = JSON.parse(await ok(a, 'policy', 'check', '-n', 'west', '-o', 'json')) as { blocks: { kind: string; subject: string }[] };
    expect(check.blocks).toContainEqual(expect.objectContaining({ kind: 'reach', subject: 'service "backend" from site "solo"' }));

    await ok(a, 'policy', 'delete', '-n', 'west');
    await waitUntil(a, 'allowedSites gone from the router ConfigMap', async () => ((await allowedSitesInConfig()).every((s) => s === undefined) ? true : undefined), 20_000);
    await waitUntil(a, 'an echo through solo again', async () => ((await echoWorks(256 * 1024, 2)) ? true : undefined), 30_000);
  }, 120_000);
});
