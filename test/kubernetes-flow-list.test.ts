// `kskup flow list` and service status's network totals against a cluster
// site (reached by port-forward to its router pod) and a local site linked to
// it; one echo Deployment exposed in the cluster, one client at the local site.
//
//   cluster A, namespace west                                      this host
//   [backend x1] <- tcpConnector [router] <--link-- [router of local site "solo"] <- test client
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlowRow } from '../cli/site/flow-list-command.js';
import { apis, ok, startClusterLinkedFromLocal, type Cluster } from './helpers/kube-clusters.js';
import { echoDeployment, waitUntil } from './helpers/kube-workloads.js';
import { useKskupHome } from './helpers/kskup-cli.js';
import { connect, exchangeStream } from './helpers/tcp-tools.js';
import { useTestFolder } from './helpers/temp-dir.js';

const temp = useTestFolder('kskup-kube-flows');
const local = useKskupHome('kskup-kube-flows-local');
let a: Cluster;

beforeAll(async () => {
  a = await startClusterLinkedFromLocal(temp.path, local);
  await apis(a).apps.createNamespacedDeployment({ namespace: 'west', body: echoDeployment('backend', 1) });
  await a.runner.waitForDeployment('west', 'backend', { ready: 1, timeoutMs: 30_000 });
}, 180_000);

afterAll(async () => {
  await a?.runner.stop();
}, 60_000);

describe('flow list with a cluster site', () => {
  it('solo->west: the flow is listed byte-exact with both sites, asked at the cluster site and at the local one', async () => {
    await ok(a, 'expose', 'deployment/backend', '--port', '7', '--target-port', '8080', '-n', 'west');
    const port = await waitUntil(a, 'backend listening at solo, its target healthy', async () => {
      const services = (await local.json<{ services: { address: string; listeners: { port: number }[]; targets: { healthy: boolean }[] }[] }>('service', 'status', '-n', 'solo')).services;
      const backend = services.find((s) => s.address === 'backend');
      return backend?.listeners[0] && backend.targets[0]?.healthy ? backend.listeners[0].port : undefined;
    }, 20_000);
    const bytes = 300_000;
    const served = await waitUntil(a, 'an echo through solo', async () => {
      const socket = await connect(port).catch(() => undefined);
      try {
        const result = socket && (await exchangeStream(socket, 5, bytes).catch(() => undefined));
        return result && result.got.bytes === bytes ? result : undefined;
      } finally {
        socket?.destroy();
      }
    });
    expect(served.got.sha256).toBe(served.sent);

    const inCluster = await waitUntil(a, 'the flow ended, asked at west', async () => {
      const listed = JSON.parse(await ok(a, 'flow', 'list', '-n', 'west', '--service', 'backend', '-o', 'json')) as { flows: FlowRow[]; routers: { state: string }[] };
      return listed.flows.find((f) => f.octets === bytes && f.octetsReverse === bytes) ? listed : undefined;
    });
    expect(inCluster.routers.map((r) => r.state)).toEqual(['answered', 'answered']);
    const flow = inCluster.flows.find((f) => f.octets === bytes)!;
    expect(flow).toMatchObject({ service: 'backend:7', listenerSite: 'solo', connectorSite: 'west' });
    expect(flow.target).toMatch(/:8080$/);
    expect(['closed', 'reset-by-client']).toContain(flow.result);
    const atSolo = await local.json<{ flows: FlowRow[] }>('flow', 'list', '-n', 'solo', '--service', 'backend', '-o', 'json');
    expect(atSolo.flows.find((f) => f.identity === flow.identity)).toMatchObject({ octets: bytes, octetsReverse: bytes, listenerSite: 'solo', connectorSite: 'west' });

    const status = JSON.parse(await ok(a, 'service', 'status', '-n', 'west', '-o', 'json')) as { services: { address: string; network?: { opened: number; requestBytes: number; routers: number } }[] };
    const network = status.services.find((s) => s.address === 'backend')?.network;
    expect(network?.routers).toBe(2);
    expect(network?.requestBytes).toBeGreaterThanOrEqual(bytes);
  }, 120_000);
});
