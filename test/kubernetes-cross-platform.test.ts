// Services across platforms: a local site (a site process on this host)
// linked to a cluster site uses the cluster's Deployment, and a pod in the
// cluster uses the local site's host/ service through the Service named after
// its address. Bytes are checked byte for byte both ways.
//
//   cluster A, namespace west                                       this host
//   [backend x2] <- tcpConnector per pod [router] <--link-- [router of local site "solo"] <- test client
//   [client pod] -> Service "homeecho" -> [router] --link--> [router of "solo"] -> echo server on 127.0.0.1
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apis, ok, startClusterLinkedFromLocal, type Cluster } from './helpers/kube-clusters.js';
import { echoDeployment, podsOf, runClient, serviceNamed, startClientPod, waitUntil } from './helpers/kube-workloads.js';
import { useKskupHome } from './helpers/kskup-cli.js';
import { connect, exchangeStream, useEchoServer } from './helpers/tcp-tools.js';
import { useTestFolder } from './helpers/temp-dir.js';

const temp = useTestFolder('kskup-kube-cross');
const local = useKskupHome('kskup-kube-cross-local');
const echo = useEchoServer();

let a: Cluster;

interface ServiceJson {
  address: string;
  listeners: { host: string; port: number; servicePort: number }[];
  targets: { site: string; host: string; port: number; healthy: boolean }[];
}

const localService = async (address: string) => (await local.json<{ services: ServiceJson[] }>('service', 'status', '-n', 'solo')).services.find((s) => s.address === address);

beforeAll(async () => {
  a = await startClusterLinkedFromLocal(temp.path, local);
  await apis(a).apps.createNamespacedDeployment({ namespace: 'west', body: echoDeployment('backend', 2) });
  await Promise.all([a.runner.waitForDeployment('west', 'backend', { ready: 2, timeoutMs: 30_000 }), startClientPod(a)]);
}, 180_000);

afterAll(async () => {
  await a?.runner.stop();
}, 60_000);

describe('services across platforms', () => {
  it('deployment/backend exposed in the cluster answers at the local site, byte-exact, from both pods', async () => {
    await ok(a, 'expose', 'deployment/backend', '--port', '7,80', '--target-port', '8080,8081', '-n', 'west');
    const pods = podsOf(a, 'backend');
    const service = await waitUntil(a, 'backend listening at the local site, its target healthy', async () => {
      const found = await localService('backend');
      return found?.listeners.length === 2 && found.targets.length === 2 && found.targets.every((t) => t.healthy) ? found : undefined;
    }, 20_000);
    expect(service.targets.map((t) => `${t.site} ${t.port}`).sort()).toEqual(['west 8080', 'west 8081']);
    const port = (servicePort: number) => service.listeners.find((l) => l.servicePort === servicePort)?.port ?? 0;
    // The routers may take a moment to learn the new addresses' routes: the first exchanges are retried until one is served.
    // A reset (no route yet) is retried; the first exchange that is answered at all is the one checked.
    const served = await waitUntil(a, 'an echo through the local listener', async () => {
      const socket = await connect(port(7)).catch(() => undefined);
      try {
        const result = socket && (await exchangeStream(socket, 31, 1 << 20).catch(() => undefined));
        return result && result.got.bytes > 0 ? result : undefined;
      } finally {
        socket?.destroy();
      }
    });
    expect(served.got).toEqual({ bytes: 1 << 20, sha256: served.sent });
    // Port 80 is the pods' HTTP port: /name says which pod answered, and both do.
    const names = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const response = await fetch(`http://127.0.0.1:${port(80)}/name`, { headers: { connection: 'close' } });
      expect(response.status).toBe(200);
      names.add(await response.text());
    }
    expect([...names].sort()).toEqual(pods.map((p) => p.name).sort());
  }, 90_000);

  it('a host/ service of the local site answers a pod in the cluster through the Service named after its address, byte-exact', async () => {
    await local.ok('expose', 'host/127.0.0.1', '--port', String(echo.port), '--address', 'homeecho', '-n', 'solo');
    const service = await waitUntil(a, 'Service homeecho in west', () => (serviceNamed(a, 'homeecho')?.spec?.ports?.length === 1 ? serviceNamed(a, 'homeecho') : undefined), 20_000);
    expect(service.spec?.ports?.[0]?.port).toBe(echo.port);
    await a.runner.settled();
    const answer = await waitUntil(a, 'an echo from the client pod', async () => {
      const result = await runClient(a, 'echo', 'homeecho', String(echo.port), String(512 * 1024));
      return result.error === undefined ? result : undefined;
    }, 20_000);
    expect(answer.bytes).toBe(512 * 1024);
    expect(answer.received).toBe(answer.sent);
    expect(a.runner.errors).toEqual([]);
  }, 90_000);
});
