// Services exposed by kskup.io annotations, end to end on two clusters
// (test/helpers/kube-clusters.ts): objects in cluster A annotated with kubectl,
// no kskup command, are reached by name from a pod in cluster B.
//
//   cluster A, namespace west                                cluster B, namespace east
//   Deployment backend x2 ─┐ (kskup.io/proxy=tcp)
//   Deployment shop-v1 x1 ─┤ (kskup.io/address=shop, kskup.io/weight=1, kskup.io/health)
//   Deployment shop-v2 x1 ─┤ (kskup.io/address=shop, kskup.io/weight=3)
//   DaemonSet agent ───────┼─ tcpConnector per pod/port [router] <--link-- [router] <- Services backend, shop, agent, web <- [client pod]
//   Service web ───────────┘
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { V1DaemonSet, V1Pod, V1Service } from '@kubernetes/client-node';
import { apis, kskup, ok, routerConnectors, routerConnectorWeights, startLinkedClusters, type Cluster } from './helpers/kube-clusters.js';
import { runKubeTool } from './helpers/kube-tools.js';
import { configuredConnectors, echoDeployment, echoTemplate, podsOf, runClient, serviceNamed, startClientPod, waitUntil } from './helpers/kube-workloads.js';
import { useTestFolder } from './helpers/temp-dir.js';

const temp = useTestFolder('kskup-kube-annotations');

let a: Cluster;
let b: Cluster;

const client = (...args: string[]) => runClient(b, ...args);

function kubectl(where: Cluster, ...args: string[]): Promise<{ stdout: string }> {
  return runKubeTool('kubectl', [...args, '-n', where.namespace], { KUBECONFIG: where.kubeconfig });
}

/** Service `name` in B once it has these ports. */
function serviceWithPorts(name: string, ports: number[]): Promise<V1Service> {
  return waitUntil(b, `Service ${name} in east with port(s) ${ports.join(',')}`, () => {
    const found = serviceNamed(b, name);
    return found?.spec?.ports?.map((p) => p.port).join() === ports.join() ? found : undefined;
  });
}

/** An echo of `bytes` through B's Service, retried until the path is up; it must come back byte-exact. */
async function echoThroughB(host: string, port: number, bytes: number): Promise<void> {
  const echo = await waitUntil(b, `an echo through ${host}:${port}`, async () => {
    const answer = await client('echo', host, String(port), String(bytes));
    return answer.error === undefined ? answer : undefined;
  });
  expect(echo.bytes).toBe(bytes);
  expect(echo.received).toBe(echo.sent);
}

interface ServiceStatus {
  readonly services: { address: string }[];
  readonly annotationProblems?: { target: string; reason: string }[];
}

/** `kskup service status` of west, once `check` holds for it. */
function westStatusWhen(what: string, check: (status: ServiceStatus) => boolean): Promise<ServiceStatus> {
  return waitUntil(a, what, async () => {
    const status = JSON.parse(await ok(a, 'service', 'status', '-n', 'west', '-o', 'json')) as ServiceStatus;
    return check(status) ? status : undefined;
  });
}

/** The Events the controller recorded on an object of west. */
async function eventsOn(kind: string, name: string): Promise<{ reason: string; message: string }[]> {
  const events = await apis(a).core.listNamespacedEvent({ namespace: 'west' });
  return events.items.filter((e) => e.involvedObject.kind === kind && e.involvedObject.name === name).map((e) => ({ reason: e.reason ?? '', message: e.message ?? '' }));
}

beforeAll(async () => {
  [a, b] = await startLinkedClusters(temp.path);
  await apis(a).apps.createNamespacedDeployment({ namespace: 'west', body: echoDeployment('backend', 2) });
  // The weights' two targets, started meanwhile rather than in their test.
  for (const name of ['shop-v1', 'shop-v2']) await apis(a).apps.createNamespacedDeployment({ namespace: 'west', body: echoDeployment(name, 1) });
  await Promise.all([
    a.runner.waitForDeployment('west', 'backend', { ready: 2, timeoutMs: 30_000 }),
    a.runner.waitForDeployment('west', 'shop-v1', { ready: 1, timeoutMs: 30_000 }),
    a.runner.waitForDeployment('west', 'shop-v2', { ready: 1, timeoutMs: 30_000 }),
    startClientPod(b),
  ]);
}, 150_000);

afterAll(async () => {
  await Promise.all([a?.runner.stop(), b?.runner.stop()]);
}, 60_000);

describe('services exposed by annotations', () => {
  it('kubectl annotate deployment backend kskup.io/proxy=tcp: a connector per ready pod and port in A, the Service in B, echo byte-exact, both pods answer, an Event', async () => {
    await kubectl(a, 'annotate', 'deployment', 'backend', 'kskup.io/proxy=tcp', 'kskup.io/port=7:8080,80:8081');
    const pods = podsOf(a, 'backend');
    expect(pods).toHaveLength(2);
    const wanted = pods.flatMap(({ ip }) => [`backend:7@${ip}:8080`, `backend:80@${ip}:8081`]).sort();
    await waitUntil(a, 'a connector per pod and port', async () => ((await configuredConnectors(a)).join() === wanted.join() ? true : undefined));
    await waitUntil(a, 'the running router with them', async () => ((await routerConnectors(a)).join() === wanted.join() ? true : undefined));
    const service = await serviceWithPorts('backend', [7, 80]);
    expect(service.metadata?.labels).toMatchObject({ 'app.kubernetes.io/part-of': 'kskup', 'kskup.io/address': 'backend' });

    await b.runner.settled();
    await echoThroughB('backend', 7, 256 * 1024);
    const names = new Set<string>();
    for (let i = 0; i < 8; i++) names.add(String((await client('http', 'http://backend:80/name')).body));
    expect([...names].sort()).toEqual(pods.map((p) => p.name).sort());
    expect(await eventsOn('Deployment', 'backend')).toContainEqual({ reason: 'Exposed', message: 'exposed by its annotations as "backend" on port(s) 7:8080,80:8081' });

    // The annotations own this target: the CLI neither removes nor re-exposes it.
    const unexpose = await kskup(a, 'unexpose', 'deployment/backend', '-n', 'west');
    expect(unexpose.code).toBe(1);
    expect(unexpose.stderr).toContain('deployment/backend is exposed as "backend" by its kskup.io annotations, not by kskup expose: remove the annotation kskup.io/proxy from it (kubectl annotate deployment backend kskup.io/proxy-)');
    const expose = await kskup(a, 'expose', 'deployment/backend', '--port', '7', '-n', 'west');
    expect(expose.code).toBe(1);
    expect(expose.stderr).toContain('deployment/backend is exposed as "backend" by its kskup.io annotations: change or remove those instead');
    expect(a.runner.errors).toEqual([]);
  }, 90_000);

  it('the annotation changed: the Service in B changes in place (same uid and ClusterIP) and serves the new port', async () => {
    const before = serviceNamed(b, 'backend');
    expect(before?.spec?.clusterIP).toMatch(/^10\./);
    await kubectl(a, 'annotate', '--overwrite', 'deployment', 'backend', 'kskup.io/port=7:8080,80:8081,8080:8080');
    const after = await serviceWithPorts('backend', [7, 80, 8080]);
    expect(after.metadata?.uid).toBe(before?.metadata?.uid);
    expect(after.spec?.clusterIP).toBe(before?.spec?.clusterIP);
    await b.runner.settled();
    await echoThroughB('backend', 8080, 4096);
  }, 60_000);

  it('a bad annotation: not exposed, the reason in service status and as an Event; a bad change keeps the running exposure', async () => {
    const broken = echoDeployment('broken', 0);
    broken.metadata = { name: 'broken', annotations: { 'kskup.io/proxy': 'tcp', 'kskup.io/port': '80:http' } };
    await apis(a).apps.createNamespacedDeployment({ namespace: 'west', body: broken });
    const reason = 'kskup.io/port "80:http": target port "http" in "80:http" is not a port number (1-65535)';
    const status = await westStatusWhen('the problem of deployment/broken in service status', (s) => s.annotationProblems?.some((p) => p.target === 'deployment/broken') === true);
    expect(status.annotationProblems).toContainEqual({ target: 'deployment/broken', reason });
    expect(status.services.map((s) => s.address)).not.toContain('broken');
    expect(await ok(a, 'service', 'status', '-n', 'west')).toContain(`NOT EXPOSED: deployment/broken (kskup.io annotations): ${reason}`);
    expect(await eventsOn('Deployment', 'broken')).toContainEqual({ reason: 'NotExposed', message: `its kskup.io/proxy annotations are not applied: ${reason}` });

    await kubectl(a, 'annotate', '--overwrite', 'deployment', 'broken', 'kskup.io/proxy=udp');
    await westStatusWhen('the new reason', (s) => s.annotationProblems?.some((p) => p.target === 'deployment/broken' && p.reason.startsWith('kskup.io/proxy "udp" is not a protocol kskup carries')) === true);

    // A typo in a running exposure: reported, and the service stays as it was.
    await kubectl(a, 'annotate', '--overwrite', 'deployment', 'backend', 'kskup.io/port=7:8080,oops');
    const held = await westStatusWhen('the problem of deployment/backend', (s) => s.annotationProblems?.some((p) => p.target === 'deployment/backend') === true);
    expect(held.annotationProblems?.find((p) => p.target === 'deployment/backend')?.reason).toBe(
      'kskup.io/port "7:8080,oops": "oops" in "oops" is not a port number (1-65535); the exposure stays as last applied until the annotations are fixed',
    );
    expect(serviceNamed(b, 'backend')?.spec?.ports?.map((p) => p.port)).toEqual([7, 80, 8080]);
    await echoThroughB('backend', 7, 4096);
    await kubectl(a, 'annotate', '--overwrite', 'deployment', 'backend', 'kskup.io/port=7:8080,80:8081,8080:8080');
    await westStatusWhen('deployment/backend without a problem', (s) => s.annotationProblems?.some((p) => p.target === 'deployment/backend') !== true);
  }, 60_000);

  it('kskup.io/weight: shop-v1 at 1 and shop-v2 at 3 split 200 flows 50/150 at the routers\' weights; a bad value holds; --overwrite to 0 drains shop-v2; removed, it has none', async () => {
    const shop = (version: string, weight: string) =>
      kubectl(a, 'annotate', '--overwrite', 'deployment', `shop-${version}`, 'kskup.io/proxy=tcp', 'kskup.io/address=shop', 'kskup.io/port=80:8081', `kskup.io/weight=${weight}`);
    await shop('v1', '1');
    await shop('v2', '3');
    const [v1] = podsOf(a, 'shop-v1');
    const [v2] = podsOf(a, 'shop-v2');
    if (!v1 || !v2) throw new Error(`shop pods: ${a.runner.podSummary('west')}`);
    const connector = { v1: `shop:80@${v1.ip}:8081`, v2: `shop:80@${v2.ip}:8081` };
    /** The running router's weights of the two connectors, once they are as wanted. */
    let lastWeights: Record<string, number | undefined> = {};
    const routerWeights = (what: string, v1Weight: number | undefined, v2Weight: number | undefined) =>
      waitUntil(a, `the router with ${what}`, async () => {
        lastWeights = await routerConnectorWeights(a);
        return connector.v1 in lastWeights && connector.v2 in lastWeights && lastWeights[connector.v1] === v1Weight && lastWeights[connector.v2] === v2Weight ? true : undefined;
      }).catch((error: unknown) => {
        throw new Error(`the router has ${JSON.stringify(lastWeights)}: ${String(error)}`);
      });
    await routerWeights('weights 1 and 3', 1, 3);
    /** The targets of "shop" in west's service status, by host, with their weights. */
    const statusWeights = async () => {
      const status = JSON.parse(await ok(a, 'service', 'status', '-n', 'west', '-o', 'json')) as { services: { address: string; targets: { host: string; weight?: number }[] }[] };
      return Object.fromEntries((status.services.find((s) => s.address === 'shop')?.targets ?? []).map((t) => [t.host, t.weight]));
    };
    await waitUntil(a, 'the weights in service status', async () => {
      const weights = await statusWeights();
      return weights['shop-v1'] === 1 && weights['shop-v2'] === 3 ? true : undefined;
    });
    expect(await eventsOn('Deployment', 'shop-v2')).toContainEqual({ reason: 'Exposed', message: 'exposed by its annotations as "shop" on port(s) 80:8081 with weight 3' });

    await serviceWithPorts('shop', [80]);
    await b.runner.settled();
    await waitUntil(b, 'http through shop', async () => ((await client('http', 'http://shop:80/name')).status === 200 ? true : undefined));
    const split = await client('http-count', 'http://shop:80/name', '200', '8');
    console.log(`kskup.io/weight 1 and 3, 200 flows: ${JSON.stringify(split)}`);
    expect(split.errors).toEqual({});
    const bodies = split.bodies as Record<string, number>;
    expect(Object.keys(bodies).sort()).toEqual([v1.name, v2.name].sort());
    expect(bodies[v1.name]).toBeGreaterThanOrEqual(40);
    expect(bodies[v1.name]).toBeLessThanOrEqual(60);
    expect((bodies[v1.name] ?? 0) + (bodies[v2.name] ?? 0)).toBe(200);

    // A typo: reported, and the weights stay as last applied.
    await shop('v1', 'ten');
    const held = await westStatusWhen('the problem of deployment/shop-v1', (s) => s.annotationProblems?.some((p) => p.target === 'deployment/shop-v1') === true);
    expect(held.annotationProblems?.find((p) => p.target === 'deployment/shop-v1')?.reason).toBe(
      'kskup.io/weight "ten": not a weight: give a whole number from 0 (drain) to 1000000; the exposure stays as last applied until the annotations are fixed',
    );
    expect(await routerConnectorWeights(a)).toMatchObject({ [connector.v1]: 1, [connector.v2]: 3 });
    await shop('v1', '1');

    // Drained: the router has weight 0 for shop-v2, and no new flow goes there.
    const annotated = Date.now();
    await shop('v2', '0');
    await routerWeights('shop-v2 drained', 1, 0);
    console.log(`kskup.io/weight=0 -> the router has it ${Date.now() - annotated} ms after kubectl annotate was called`);
    const drained = await client('http-count', 'http://shop:80/name', '20', '4');
    expect(drained).toEqual({ bodies: { [v1.name]: 20 }, errors: {} });
    expect((await statusWeights())['shop-v2']).toBe(0);

    // Removed: shop-v2 is not weighted (it counts as 1 beside shop-v1's weight).
    await kubectl(a, 'annotate', 'deployment', 'shop-v2', 'kskup.io/weight-');
    await routerWeights('no weight for shop-v2', 1, undefined);
    await waitUntil(a, 'no weight for shop-v2 in service status', async () => ((await statusWeights())['shop-v2'] === undefined ? true : undefined));
    expect(a.runner.errors).toEqual([]);
  }, 60_000);

  it('kskup.io/health on shop-v1 is the service\'s check of both pods: http:/not-ready takes both connectors out, http:/healthz brings them back', async () => {
    const connectors = [...podsOf(a, 'shop-v1'), ...podsOf(a, 'shop-v2')].map((pod) => `shop:80@${pod.ip}:8081`).sort();
    expect(connectors).toHaveLength(2);
    const shopConnectors = async () => (await routerConnectors(a)).filter((c) => c.startsWith('shop:'));
    await kubectl(a, 'annotate', '--overwrite', 'deployment', 'shop-v1', 'kskup.io/health=http:/not-ready');
    await waitUntil(a, 'no shop connector in the router', async () => ((await shopConnectors()).length === 0 ? true : undefined));
    expect(await eventsOn('Deployment', 'shop-v1')).toContainEqual({ reason: 'Exposed', message: 'exposed by its annotations as "shop" on port(s) 80:8081 with weight 1, health check http:/not-ready' });
    await kubectl(a, 'annotate', '--overwrite', 'deployment', 'shop-v1', 'kskup.io/health=http:/healthz');
    await waitUntil(a, 'both shop connectors back in the router', async () => ((await shopConnectors()).join() === connectors.join() ? true : undefined));
    expect(a.runner.errors).toEqual([]);
    await kubectl(a, 'delete', 'deployment', 'shop-v1', 'shop-v2', '--wait=false');
  }, 30_000);

  it('a DaemonSet and a Service annotated: each reached from B; the annotated Service itself is left as it is in A', async () => {
    const agent: V1DaemonSet = {
      metadata: { name: 'agent', annotations: { 'kskup.io/proxy': 'tcp', 'kskup.io/port': '9:8080' } },
      spec: { selector: { matchLabels: { app: 'agent' } }, template: echoTemplate({ app: 'agent' }) },
    };
    await apis(a).apps.createNamespacedDaemonSet({ namespace: 'west', body: agent });
    const web: V1Service = {
      metadata: { name: 'web', annotations: { 'kskup.io/proxy': 'tcp' } },
      spec: { selector: { app: 'backend' }, ports: [{ name: 'http', port: 80, targetPort: 8081 }] },
    };
    const created = await apis(a).core.createNamespacedService({ namespace: 'west', body: web });
    await a.runner.waitForDaemonSet('west', 'agent', { timeoutMs: 30_000 });
    const [pod] = podsOf(a, 'agent');
    await waitUntil(a, 'the agent pod\'s connector', async () => ((await configuredConnectors(a)).includes(`agent:9@${pod?.ip}:8080`) ? true : undefined));
    await serviceWithPorts('agent', [9]);
    await serviceWithPorts('web', [80]);
    await b.runner.settled();
    await echoThroughB('agent', 9, 64 * 1024);
    const answer = await waitUntil(b, 'http through web', async () => {
      const reply = await client('http', 'http://web:80/name');
      return reply.status === 200 ? reply : undefined;
    });
    expect(podsOf(a, 'backend').map((p) => p.name)).toContain(String(answer.body));
    // In A the name "web" is the user's Service, which serves: kskup makes none and reports no problem for it.
    const now = await apis(a).core.readNamespacedService({ name: 'web', namespace: 'west' });
    expect(now.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion);
    const status = JSON.parse(await ok(a, 'service', 'status', '-n', 'west', '-o', 'json')) as { services: { address: string; kubernetesServiceProblem?: string }[] };
    expect(status.services.find((s) => s.address === 'web')?.kubernetesServiceProblem).toBeUndefined();
    expect(a.runner.errors).toEqual([]);
  }, 90_000);

  it('annotations removed and the DaemonSet deleted: the Services are gone in both clusters (the time is printed), the user\'s Service stays', async () => {
    const started = Date.now();
    await kubectl(a, 'annotate', 'deployment', 'backend', 'kskup.io/proxy-');
    await kubectl(a, 'annotate', 'service', 'web', 'kskup.io/proxy-');
    await kubectl(a, 'delete', 'daemonset', 'agent', '--wait=false');
    const lastChange = Date.now();
    // The bound is for a hang, not for speed: the latency is printed (the kubectl calls included).
    for (const where of [a, b]) {
      const left = () => where.runner.list('services', where.namespace).filter((s) => s.metadata.labels?.['kskup.io/address'] !== undefined).map((s) => s.metadata.name);
      await waitUntil(where, `no address Services in ${where.namespace} (left: ${left().join(', ')})`, () => (left().length > 0 ? undefined : true), 15_000);
      console.log(`annotations removed -> address Services gone in ${where.namespace} ${Date.now() - started} ms after the first kubectl call, ${Date.now() - lastChange} ms after the last`);
    }
    await waitUntil(a, 'no connectors', async () => ((await configuredConnectors(a)).length === 0 ? true : undefined), 5_000);
    expect(serviceNamed(a, 'web')?.metadata?.annotations?.['kskup.io/proxy']).toBeUndefined();
    const status = JSON.parse(await ok(a, 'service', 'status', '-n', 'west', '-o', 'json')) as ServiceStatus;
    expect(status.services).toEqual([]);
    expect(a.runner.errors).toEqual([]);
    expect(b.runner.errors).toEqual([]);
  }, 60_000);
});
