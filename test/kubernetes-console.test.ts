// `kskup console` of a cluster site (the API server double and the pod
// runner), its router reached by port-forward to its pod, as `kskup flow list`
// reaches it (kubernetes-flow-list.test.ts); a local site linked to it, one
// echo Deployment exposed in the cluster, traffic from a client at the local site.
//
//   cluster A, namespace west                                      this host
//   [backend x1] <- tcpConnector [router] <--link-- [router of local site "solo"] <- test client
//                                   ^ port-forward
//                          kskup console -n west (this process)  <- HTTP with the printed password
//
// Then `--tls` of the same site: its server certificate verifies against
// Secret kskup-site-ca, and the certificate of Secret kskup-local-client logs
// in without a password (401 without either).
import { httpGet, withAuthorization, type HttpReply } from './helpers/http-get.js';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConsoleSnapshot } from '../cli/console/console-data.js';
import { run } from '../cli/run.js';
import { apis, ok, startClusterLinkedFromLocal, type Cluster } from './helpers/kube-clusters.js';
import { echoDeployment, waitUntil } from './helpers/kube-workloads.js';
import { useKskupHome } from './helpers/kskup-cli.js';
import { connect, exchangeStream } from './helpers/tcp-tools.js';
import { useTestFolder } from './helpers/temp-dir.js';

const temp = useTestFolder('kskup-kube-console');
const local = useKskupHome('kskup-kube-console-local');
let a: Cluster;
let stop: () => void = () => undefined;
let exited: Promise<number> | undefined;
let printed = '';

function get(url: string, authorization?: string): Promise<HttpReply> {
  return httpGet(url, withAuthorization(authorization));
}

beforeAll(async () => {
  a = await startClusterLinkedFromLocal(temp.path, local);
  await apis(a).apps.createNamespacedDeployment({ namespace: 'west', body: echoDeployment('backend', 1) });
  await a.runner.waitForDeployment('west', 'backend', { ready: 1, timeoutMs: 30_000 });
  await ok(a, 'expose', 'deployment/backend', '--port', '7', '--target-port', '8080', '-n', 'west');
}, 180_000);

afterAll(async () => {
  stop();
  if (exited) expect(await exited).toBe(0);
  await a?.runner.stop();
}, 60_000);

describe('kskup console of a cluster site', () => {
  it('serves the cluster site\'s network, services, flows and link rates, behind the password it printed once', async () => {
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const sink = { write: (text: string) => (printed += text) };
    exited = run(['console', '-n', 'west', '--port', '0'], { stdout: sink, stderr: sink, env: { KUBECONFIG: a.kubeconfig, HOME: a.home, PATH: process.env.PATH ?? '' }, stopped });
    const { url, password } = await waitUntil(a, 'the console URL and password', () => {
      const at = /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(printed)?.[1];
      const secret = /^Password: (\S+)$/m.exec(printed)?.[1];
      return at && secret ? { url: at, password: secret } : undefined;
    }, 30_000);
    const authorization = `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`;
    expect((await get(`${url}api/snapshot`)).status).toBe(401);
    expect((await get(`${url}api/snapshot`, `Basic ${Buffer.from(`admin:${password}x`).toString('base64')}`)).status).toBe(401);

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

    const snapshot = await waitUntil(a, 'the console to show the flow, both sites\' listeners and the link\'s rate', async () => {
      const reply = await get(`${url}api/snapshot`, authorization);
      const state = JSON.parse(reply.body) as { snapshot?: ConsoleSnapshot };
      const s = state.snapshot;
      const backend = s?.services.find((x) => x.address === 'backend');
      const ready =
        s?.flows.some((f) => f.octets === bytes && f.octetsReverse === bytes) &&
        backend?.listeners.some((l) => l.site === 'solo' && l.port === port && l.listening) &&
        backend.listeners.some((l) => l.site === 'west' && l.listening) &&
        s.links.some((l) => l.bytesPerSecond !== undefined);
      return ready ? s : undefined;
    }, 30_000);
    expect(snapshot.site).toMatchObject({ name: 'west', platform: 'kubernetes' });
    expect(snapshot.site.routerProblem).toBeUndefined();
    const west = snapshot.sites.find((s) => s.name === 'west');
    const solo = snapshot.sites.find((s) => s.name === 'solo');
    expect(west).toMatchObject({ self: true, platform: 'kubernetes', routers: [expect.objectContaining({ state: 'answered', version: expect.stringMatching(/^\d+\.\d+\.\d+/) })] });
    expect(solo).toMatchObject({ self: false, platform: 'local', version: expect.stringMatching(/^\d+\.\d+\.\d+/), links: [{ to: 'west', up: true, cost: 1 }] });
    expect(solo?.routers.map((r) => r.state)).toEqual(['answered']);
    expect(snapshot.links).toEqual([expect.objectContaining({ from: 'solo', to: 'west', up: true, bytesPerSecond: expect.any(Number) })]);
    const flow = snapshot.flows.find((f) => f.octets === bytes)!;
    expect(flow).toMatchObject({ service: 'backend:7', listenerSite: 'solo', connectorSite: 'west', octetsReverse: bytes });
    expect(snapshot.services.find((s) => s.address === 'backend')?.traffic.requestBytes).toBeGreaterThanOrEqual(bytes);
    expect(snapshot.flowProblems).toEqual([]);
    // The page itself, and the password printed exactly once.
    expect((await get(url, authorization)).body).toContain('<title>kskup console</title>');
    expect(printed.split(password).length - 1).toBe(1);
  }, 150_000);

  it('--tls of a cluster site: the server certificate from Secret kskup-site-ca, the login from Secret kskup-local-client', async () => {
    let output = '';
    let stopTls: () => void = () => undefined;
    const stopped = new Promise<void>((resolve) => (stopTls = resolve));
    const sink = { write: (text: string) => (output += text) };
    const p12 = join(temp.path, 'west-console.p12');
    const done = run(['console', '-n', 'west', '--port', '0', '--tls', '--p12', p12], { stdout: sink, stderr: sink, env: { KUBECONFIG: a.kubeconfig, HOME: a.home, PATH: process.env.PATH ?? '' }, stopped });
    try {
      const url = await waitUntil(a, 'the console\'s https URL', () => /at (https:\/\/127\.0\.0\.1:\d+\/)/.exec(output)?.[1], 30_000);
      const { core } = apis(a);
      const pem = async (secret: string, key: string) => Buffer.from((await core.readNamespacedSecret({ name: secret, namespace: 'west' })).data?.[key] ?? '', 'base64');
      const [ca, cert, key] = await Promise.all([pem('kskup-site-ca', 'tls.crt'), pem('kskup-local-client', 'tls.crt'), pem('kskup-local-client', 'tls.key')]);
      const get = async (options: { cert?: Buffer; key?: Buffer }) => (await httpGet(`${url}api/snapshot`, { ca, agent: false, ...options })).status;
      expect(await get({})).toBe(401);
      expect(await get({ cert, key })).toBe(200);
    } finally {
      stopTls();
      expect(await done).toBe(0);
    }
  }, 60_000);
});
