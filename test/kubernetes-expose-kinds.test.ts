// Exposing each kind of Kubernetes target end to end, on two clusters
// (test/helpers/kube-clusters.ts): service/NAME (its selector, ports and
// targetPorts, named and numeric, two ports on one target port),
// statefulset/NAME with its per-pod addresses, and pods --selector. A client
// pod in cluster B reaches each by its Service name.
//
//   cluster A, namespace west                                  cluster B, namespace east
//   [web x2] [pg-0] [pg-1] <- tcpConnectors [router] <--link-- [router] <- Services shop, db, pg-0-db, … <- [client pod]
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import {
  apis,
  clientIn,
  configConnectors,
  configListenerPorts,
  echoContainer,
  kskup,
  ok,
  serviceIn,
  startCluster,
  waitUntil,
  type Cluster,
} from './helpers/kube-clusters.js';
import { runKubeTool } from './helpers/kube-tools.js';
import { useTestFolder } from './helpers/temp-dir.js';

const temp = useTestFolder('kskup-kube-expose-kinds');
const WEB = { app: 'web', tier: 'front' };
const PG = { app: 'pg' };

let a: Cluster;
let b: Cluster;

function client(...args: string[]): Promise<Record<string, unknown>> {
  return clientIn(b, 'client', ...args);
}

/** A byte-exact echo of `bytes` bytes to `host:port` from B's client pod, once the path is up. */
async function echoFromB(host: string, port: number, bytes: number): Promise<void> {
  const echo = await waitUntil(b, `an echo through ${host}:${port}`, async () => {
    const answer = await client('echo', host, String(port), String(bytes));
    return answer.error === undefined ? answer : undefined;
  });
  expect(echo.bytes).toBe(bytes);
  // The client compares what came back with what it sent (digests of both).
  expect(echo.received).toBe(echo.sent);
}

/** The pod name the HTTP port behind `url` answers with, once it answers. */
async function podNameAt(url: string): Promise<string> {
  const answer = await waitUntil(b, `an answer from ${url}`, async () => {
    const reply = await client('http', url);
    return reply.status === 200 ? reply : undefined;
  });
  return String(answer.body);
}

/** Services kskup keeps for addresses (labelled kskup.io/address) in a cluster, by name. */
function addressServices(where: Cluster): string[] {
  return where.runner
    .list('services', where.namespace)
    .filter((s) => s.metadata.labels?.['kskup.io/address'] !== undefined)
    .map((s) => s.metadata.name)
    .sort();
}

function podIp(where: Cluster, name: string): string {
  const pod = where.runner.list('pods', where.namespace).find((p) => p.metadata.name === name);
  return String((pod?.status as { podIP?: string } | undefined)?.podIP);
}

beforeAll(async () => {
  [a, b] = await Promise.all([startCluster('west', temp.path), startCluster('east', temp.path)]);
  await Promise.all([ok(a, 'init', '-n', 'west', '--timeout', '60'), ok(b, 'init', '-n', 'east', '--timeout', '60')]);
  const token = join(temp.path, 'west-token.yaml');
  await ok(a, 'token', 'create', token, '-n', 'west');
  await runKubeTool('kubectl', ['apply', '--validate=false', '-f', token, '-n', 'east'], { KUBECONFIG: b.kubeconfig });
  await ok(b, 'link', 'status', '-n', 'east', '--wait', '10');
  const { apps, core } = apis(a);
  const template = (labels: Record<string, string>) => ({ metadata: { labels }, spec: { containers: [echoContainer()], terminationGracePeriodSeconds: 1 } });
  await apps.createNamespacedDeployment({ namespace: 'west', body: { metadata: { name: 'web' }, spec: { replicas: 2, selector: { matchLabels: WEB }, template: template(WEB) } } });
  await apps.createNamespacedStatefulSet({ namespace: 'west', body: { metadata: { name: 'pg' }, spec: { replicas: 2, serviceName: 'pg', selector: { matchLabels: PG }, template: template(PG) } } });
  // The user's Service: a named targetPort, a numeric one that differs from its port, and two ports on one target port.
  const shop: V1Service = {
    metadata: { name: 'shop' },
    spec: {
      selector: { app: 'web' },
      ports: [
        { name: 'echo', port: 7, targetPort: 'echo' as unknown as number },
        { name: 'echo-too', port: 9, targetPort: 8080 as unknown as number },
        { name: 'http', port: 80, targetPort: 8081 as unknown as number },
      ],
    },
  };
  await core.createNamespacedService({ namespace: 'west', body: shop });
  await apis(b).core.createNamespacedPod({ namespace: 'east', body: { metadata: { name: 'client' }, spec: { containers: [{ name: 'client', image: 'kskup-test/client:1' }] } } as V1Pod });
  await Promise.all([
    a.runner.waitForDeployment('west', 'web', { ready: 2, timeoutMs: 30_000 }),
    a.runner.waitForStatefulSet('west', 'pg', { ready: 2, timeoutMs: 30_000 }),
    b.runner.waitForPod('east', 'client'),
  ]);
}, 150_000);

afterAll(async () => {
  await Promise.all([a?.runner.stop(), b?.runner.stop()]);
}, 60_000);

describe('exposing statefulsets, services and pods on kubernetes', () => {
  it('bad input: a clear error naming the object or flag; usage errors exit 2', async () => {
    const { core } = apis(a);
    await core.createNamespacedService({ namespace: 'west', body: { metadata: { name: 'manual' }, spec: { ports: [{ port: 80 }] } } });
    await core.createNamespacedService({ namespace: 'west', body: { metadata: { name: 'alias' }, spec: { type: 'ExternalName', externalName: 'db.example.com' } } });
    await core.createNamespacedService({ namespace: 'west', body: { metadata: { name: 'ghost' }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 'nope' as unknown as number }] } } });
    const cases: [string[], number, RegExp][] = [
      [['expose', 'statefulset/nope', '--port', '7'], 1, /cannot expose statefulset\/nope as "nope": StatefulSet nope not found in namespace "west"/],
      [['expose', 'service/nope'], 1, /cannot expose service\/nope as "nope": Service nope not found/],
      [['expose', 'service/manual', '--address', 'm'], 1, /Service manual has no spec.selector/],
      [['expose', 'service/alias', '--address', 'al'], 1, /Service alias is of type ExternalName \(a DNS alias for db.example.com\)/],
      [['expose', 'service/ghost', '--address', 'gh'], 1, /cannot expose service\/ghost as "gh": Service ghost port 80: targetPort "nope" names no container port of the pods it selects/],
      [['expose', 'pods', '--selector', 'app=web', '--port', '7'], 2, /option --address is required/],
      [['expose', 'pods', '--address', 'x', '--port', '7'], 2, /option --selector k=v\[,k2=v2\] is required/],
      [['expose', 'pods', '--selector', 'app!=web', '--address', 'x', '--port', '7'], 2, /option --selector: "app!=web" is not k=v/],
      [['expose', 'pods/web', '--selector', 'app=web', '--address', 'x', '--port', '7'], 2, /pods have no name/],
      [['expose', 'deployment/web', '--selector', 'app=web', '--port', '7'], 2, /option --selector applies to pods only/],
      [['expose', 'statefulset/pg'], 2, /option --port is required for statefulset\//],
      [['expose', 'service/shop', '--target-port', '8080'], 2, /option --target-port needs --port/],
      [['unexpose', 'pods', '-n', 'west'], 2, /option --selector k=v\[,k2=v2\] is required/],
    ];
    for (const [argv, code, message] of cases) {
      const result = await kskup(a, ...argv, ...(argv.includes('-n') ? [] : ['-n', 'west']));
      expect({ argv, code: result.code, stderr: result.stderr }).toMatchObject({ code, stderr: expect.stringMatching(message) });
    }
    const state = JSON.parse(await ok(a, 'service', 'status', '-n', 'west', '-o', 'json')) as { services: unknown[] };
    expect(state.services).toEqual([]);
  }, 60_000);

  it('service/shop: its ports and targetPorts (named and numeric, two ports on one) end up right at both ends; echo byte-exact from B', async () => {
    const out = JSON.parse(await ok(a, 'expose', 'service/shop', '-n', 'west', '-o', 'json')) as { address: string; ports: number[]; target: { ports: number[] } };
    expect(out).toMatchObject({ address: 'shop', ports: [7, 9, 80], target: { ports: [8080, 8080, 8081] } });
    const ips = a.runner.list('pods', 'west').filter((p) => p.metadata.labels?.app === 'web').map((p) => String((p.status as { podIP?: string }).podIP));
    expect(ips).toHaveLength(2);
    const wanted = ips.flatMap((ip) => [`shop:7@${ip}:8080`, `shop:80@${ip}:8081`, `shop:9@${ip}:8080`]).sort();
    await waitUntil(a, 'a connector per pod and port at pod IP : targetPort', async () => ((await configConnectors(a)).join() === wanted.join() ? true : undefined));
    // In B: port = the service port, targetPort = the router's tcpListener.
    const service = await waitUntil(b, 'Service shop in east', () => (serviceIn(b, 'shop')?.spec?.ports?.length === 3 ? serviceIn(b, 'shop') : undefined));
    const listeners = await configListenerPorts(b);
    expect(service.spec?.ports?.map((p) => [p.port, p.targetPort])).toEqual([
      [7, listeners['shop:7']],
      [9, listeners['shop:9']],
      [80, listeners['shop:80']],
    ]);
    // In A the user's own Service "shop" is the one pods use: kskup leaves it as it is and makes none beside it.
    const theirs = serviceIn(a, 'shop');
    expect(theirs?.metadata?.labels?.['kskup.io/address']).toBeUndefined();
    expect(theirs?.spec?.selector).toEqual({ app: 'web' });
    await b.runner.settled();
    await echoFromB('shop', 7, 256 * 1024);
    await echoFromB('shop', 9, 64 * 1024);
    expect(await podNameAt('http://shop:80/name')).toMatch(/^web-/);
  }, 90_000);

  it('statefulset/pg as "db": db reaches both pods, and each per-pod address (Service pg-N-db) only its own pod', async () => {
    await ok(a, 'expose', 'statefulset/pg', '--address', 'db', '--port', '7,80', '--target-port', '8080,8081', '-n', 'west');
    const [ip0, ip1] = [podIp(a, 'pg-0'), podIp(a, 'pg-1')];
    const perPod = [`pg-0.db:7@${ip0}:8080`, `pg-0.db:80@${ip0}:8081`, `pg-1.db:7@${ip1}:8080`, `pg-1.db:80@${ip1}:8081`];
    await waitUntil(a, 'the per-pod connectors', async () => {
      const now = await configConnectors(a);
      return perPod.every((c) => now.includes(c)) ? true : undefined;
    });
    for (const where of [a, b]) {
      await waitUntil(where, 'Services db, pg-0-db and pg-1-db', () => (['db', 'pg-0-db', 'pg-1-db'].every((n) => serviceIn(where, n)?.spec?.ports?.length === 2) ? true : undefined));
      expect(serviceIn(where, 'pg-0-db')?.metadata?.annotations?.['kskup.io/address']).toBe('pg-0.db');
    }
    await b.runner.settled();
    for (let i = 0; i < 2; i++) {
      expect(await podNameAt('http://pg-0-db/name')).toBe('pg-0');
      expect(await podNameAt('http://pg-1-db/name')).toBe('pg-1');
    }
    await echoFromB('pg-1-db', 7, 64 * 1024);
    const names = new Set<string>();
    for (let i = 0; i < 6; i++) names.add(await podNameAt('http://db/name'));
    expect([...names].sort()).toEqual(['pg-0', 'pg-1']);
  }, 90_000);

  it('pods --selector: the pods with those labels, as the address given', async () => {
    await ok(a, 'expose', 'pods', '--selector', 'tier=front,app=web', '--address', 'front', '--port', '7', '--target-port', '8080', '-n', 'west');
    const ips = a.runner.list('pods', 'west').filter((p) => p.metadata.labels?.tier === 'front').map((p) => String((p.status as { podIP?: string }).podIP));
    const wanted = ips.map((ip) => `front:7@${ip}:8080`).sort();
    await waitUntil(a, 'a connector per selected pod', async () => ((await configConnectors(a)).filter((c) => c.startsWith('front:')).join() === wanted.join() ? true : undefined));
    await waitUntil(b, 'Service front in east', () => serviceIn(b, 'front'));
    await b.runner.settled();
    await echoFromB('front', 7, 128 * 1024);
  }, 60_000);

  it('unexpose of each kind removes its Services in both clusters (the time is printed) and leaves the user\'s Service alone', async () => {
    const before = serviceIn(a, 'shop');
    const started = Date.now();
    await ok(a, 'unexpose', 'service/shop', '-n', 'west');
    await ok(a, 'unexpose', 'statefulset/pg', '-n', 'west');
    await ok(a, 'unexpose', 'pods', '--selector', 'app=web,tier=front', '-n', 'west');
    const commands = Date.now() - started;
    // The bound is for a hang, not for speed: the latency is printed.
    for (const where of [a, b]) await waitUntil(where, 'no address Services', () => (addressServices(where).length === 0 ? true : undefined), 10_000);
    console.log(`unexpose of three targets: the commands took ${commands} ms; the Services were gone in both clusters ${Date.now() - started - commands} ms after the last`);
    expect(await configConnectors(a)).toEqual([]);
    expect(serviceIn(a, 'shop')?.metadata?.resourceVersion).toBe(before?.metadata?.resourceVersion);
    expect(a.runner.errors).toEqual([]);
    expect(b.runner.errors).toEqual([]);
  }, 60_000);
});
