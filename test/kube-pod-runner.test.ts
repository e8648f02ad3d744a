// The pod runner (test/kube/pod-runner/) with the API server double and the
// real @kubernetes/client-node: objects created through the API become
// processes in per-pod network namespaces, reached through the runner's
// Service proxy, DNS and load balancer.
//
//   cluster A (runner a): bridge kskr<a>, pods 10.(100+a).x.x
//     client pod ──DNS echo.<ns>──> ClusterIP ──proxy──> echo pods (round robin)
//   cluster B (runner b, one test): client pod ──> A's LoadBalancer IP ──> echo pod in A

import { AppsV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type V1Container, type V1Deployment, type V1Pod, type V1Service } from '@kubernetes/client-node';
import { execFileSync } from 'node:child_process';
import { watch } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PodRunner } from './kube/pod-runner/index.js';
import { isPodReady } from './kube/pod-runner/pod-facts.js';
import type { KubeObject } from './kube/store.js';

const CLIENT = ['node', join(import.meta.dirname, 'kube', 'images', 'client.mjs')];
const MiB = 1024 * 1024;

let a: PodRunner;
let core: CoreV1Api;
let apps: AppsV1Api;
let nsCounter = 0;

async function freshNamespace(): Promise<string> {
  const name = `pr${++nsCounter}`;
  await core.createNamespace({ body: { metadata: { name } } });
  return name;
}

function echoContainer(extra: Partial<V1Container> = {}): V1Container {
  return {
    name: 'echo',
    image: 'kskup-test/echo:1',
    ports: [{ name: 'echo', containerPort: 8080 }, { name: 'http', containerPort: 8081 }],
    env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
    readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 1 },
    ...extra,
  };
}

function deployment(name: string, replicas: number, labels: Record<string, string>, container: V1Container = echoContainer()): V1Deployment {
  return {
    metadata: { name },
    spec: { replicas, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [container], terminationGracePeriodSeconds: 5 } } },
  };
}

function echoService(name: string, selector: Record<string, string>, type = 'ClusterIP', echoPort = 7): V1Service {
  return { metadata: { name }, spec: { type, selector, ports: [{ name: 'echo', port: echoPort, targetPort: 'echo' }, { name: 'http', port: 80, targetPort: 'http' }] } };
}

/** A bare client pod to run programs in (execInPod), Ready once running. */
async function clientPod(runner: PodRunner, namespace: string, name = 'client'): Promise<void> {
  const api = runner.kubeConfig().makeApiClient(CoreV1Api);
  await api.createNamespacedPod({ namespace, body: { metadata: { name }, spec: { containers: [{ name: 'client', image: 'kskup-test/client:1' }] } } as V1Pod });
  await runner.waitForPod(namespace, name);
}

async function runClient(runner: PodRunner, namespace: string, pod: string, ...args: string[]): Promise<Record<string, unknown>> {
  const r = await runner.execInPod(namespace, pod, [...CLIENT, ...args]);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

function podsOf(runner: PodRunner, namespace: string, label: string): KubeObject[] {
  return runner.list('pods', namespace).filter((p) => p.metadata.labels?.app === label && p.metadata.deletionTimestamp === undefined);
}

function sliceEndpoints(runner: PodRunner, namespace: string, service: string): Array<{ addresses: string[]; conditions: { ready: boolean }; targetRef: { name: string } }> {
  const slices = runner.list('endpointSlices', namespace).filter((s) => s.metadata.labels?.['kubernetes.io/service-name'] === service);
  return slices.flatMap((s) => (s.endpoints ?? []) as Array<{ addresses: string[]; conditions: { ready: boolean }; targetRef: { name: string } }>);
}

beforeAll(async () => {
  a = await PodRunner.start();
  core = a.kubeConfig().makeApiClient(CoreV1Api);
  apps = a.kubeConfig().makeApiClient(AppsV1Api);
});

afterAll(async () => {
  await a?.stop();
});

describe('pod runner', () => {
  it('Deployment of 2 echo pods behind a ClusterIP Service: reached by DNS name, 1 MiB byte-exact, both pods answer', async () => {
    const ns = await freshNamespace();
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('echo', 2, { app: 'echo' }) });
    await core.createNamespacedService({ namespace: ns, body: echoService('echo', { app: 'echo' }) });
    await clientPod(a, ns);
    const d = await a.waitForDeployment(ns, 'echo', { ready: 2 });
    expect(d.status).toMatchObject({ replicas: 2, readyReplicas: 2, availableReplicas: 2, updatedReplicas: 2, observedGeneration: 1 });
    const pods = podsOf(a, ns, 'echo');
    const names = pods.map((p) => p.metadata.name).sort();
    for (const p of pods) {
      expect(p.metadata.name).toMatch(/^echo-[a-z0-9]{10}-[a-z0-9]{5}$/);
      expect(p.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Deployment', name: 'echo', controller: true });
    }
    await a.waitFor('both echo endpoints ready', () => (sliceEndpoints(a, ns, 'echo').filter((e) => e.conditions.ready).length === 2 ? true : undefined));
    await a.settled();

    const r = await runClient(a, ns, 'client', 'echo', `echo.${ns}.svc.cluster.local`, '7', String(MiB));
    expect(r.bytes).toBe(MiB);
    expect(r.received).toBe(r.sent);

    const answered = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const h = await runClient(a, ns, 'client', 'http', 'http://echo/name');
      expect(h.status).toBe(200);
      answered.add(String(h.body));
    }
    expect([...answered].sort()).toEqual(names);
    expect(a.errors).toEqual([]);
  });

  it('ConfigMap volume: an update arrives by an atomic swap of ..data, seen by a watch on the folder and by the container', async () => {
    const ns = await freshNamespace();
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'conf' }, data: { 'greeting.txt': 'hello', 'other.txt': 'x' } } });
    await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: 'reader' },
        spec: {
          containers: [echoContainer({ volumeMounts: [{ name: 'conf', mountPath: '/etc/kskup-pod-runner-test/conf', readOnly: true }] })],
          volumes: [{ name: 'conf', configMap: { name: 'conf' } }],
        },
      },
    });
    const pod = await a.waitForPod(ns, 'reader');
    const ip = String((pod.status as { podIP: string }).podIP);
    const read = async (): Promise<string> => (await fetch(`http://${ip}:8081/file/etc/kskup-pod-runner-test/conf/greeting.txt`)).text();
    expect(await read()).toBe('hello');

    const dir = a.volumeDir(ns, 'reader', 'conf');
    const before = await readlink(join(dir, '..data'));
    expect(before).toMatch(/^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\d+$/);
    expect(await readlink(join(dir, 'greeting.txt'))).toBe('..data/greeting.txt');
    expect((await lstat(join(dir, 'greeting.txt'))).isSymbolicLink()).toBe(true);

    const events: string[] = [];
    const watcher = watch(dir, (_type, file) => events.push(String(file)));
    try {
      await core.replaceNamespacedConfigMap({ name: 'conf', namespace: ns, body: { metadata: { name: 'conf' }, data: { 'greeting.txt': 'bonjour' } } });
      const deadline = Date.now() + 5000;
      while ((await read()) !== 'bonjour' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await read()).toBe('bonjour');
      const after = await readlink(join(dir, '..data'));
      expect(after).not.toBe(before);
      // The writer then removes the old payload folder and the removed key's link: the new folder, ..data and greeting.txt remain.
      const expected = [after, '..data', 'greeting.txt'].sort();
      while (JSON.stringify((await readdir(dir)).sort()) !== JSON.stringify(expected) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect((await readdir(dir)).sort()).toEqual(expected);
      expect(events).toContain('..data');
    } finally {
      watcher.close();
    }
  });

  it('readiness: a pod failing its probe is not Ready, is a not-ready endpoint, and gets no connections', async () => {
    const ns = await freshNamespace();
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('good', 1, { app: 'mixed', v: 'good' }) });
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('bad', 1, { app: 'mixed', v: 'bad' }, echoContainer({ readinessProbe: { httpGet: { path: '/not-ready', port: 'http' }, periodSeconds: 1, failureThreshold: 1 } })) });
    await core.createNamespacedService({ namespace: ns, body: echoService('mixed', { app: 'mixed' }) });
    await clientPod(a, ns);
    await a.waitForDeployment(ns, 'good', { ready: 1 });
    const bad = await a.waitFor('the bad pod running with its probe tried', () => {
      const p = podsOf(a, ns, 'mixed').find((x) => x.metadata.labels?.v === 'bad');
      const cs = (p?.status as { containerStatuses?: Array<{ state?: { running?: unknown } }> } | undefined)?.containerStatuses?.[0];
      return p !== undefined && cs?.state?.running !== undefined && sliceEndpoints(a, ns, 'mixed').length === 2 ? p : undefined;
    });
    // Several probe periods pass: it stays not Ready.
    await new Promise((r) => setTimeout(r, 1500));
    const badNow = a.objects.get('pods', ns, bad.metadata.name)!;
    expect(isPodReady(badNow)).toBe(false);
    expect(badNow.status).toMatchObject({ phase: 'Running', conditions: expect.arrayContaining([expect.objectContaining({ type: 'Ready', status: 'False', reason: 'ContainersNotReady' })]) });
    expect((await apps.readNamespacedDeploymentStatus({ namespace: ns, name: 'bad' })).status).toMatchObject({ replicas: 1, readyReplicas: 0 });
    const eps = sliceEndpoints(a, ns, 'mixed');
    expect(eps.find((e) => e.targetRef.name === bad.metadata.name)?.conditions.ready).toBe(false);
    const good = podsOf(a, ns, 'mixed').find((x) => x.metadata.labels?.v === 'good')!;
    expect(eps.find((e) => e.targetRef.name === good.metadata.name)?.conditions.ready).toBe(true);
    await a.settled();
    for (let i = 0; i < 4; i++) expect((await runClient(a, ns, 'client', 'http', `http://mixed.${ns}/name`)).body).toBe(good.metadata.name);
  });

  it('a container that exits is restarted (restartCount grows, logs of each run); a deleted pod is replaced by its Deployment', async () => {
    const ns = await freshNamespace();
    await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'crasher' }, spec: { containers: [{ name: 'main', image: 'kskup-test/exit:1', env: [{ name: 'EXIT_AFTER_MS', value: '50' }] }] } } });
    const crashed = await a.waitForPod(ns, 'crasher', (p) => ((p.status as { containerStatuses?: Array<{ restartCount: number }> }).containerStatuses?.[0]?.restartCount ?? 0) >= 2);
    expect((crashed.status as { containerStatuses: unknown[] }).containerStatuses[0]).toMatchObject({ lastState: { terminated: { exitCode: 1, reason: 'Error' } } });
    expect((await a.logs(ns, 'crasher', 'main')).match(/exiting with 1/g)?.length).toBeGreaterThanOrEqual(2);

    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('one', 1, { app: 'one' }) });
    await a.waitForDeployment(ns, 'one', { ready: 1 });
    const [first] = podsOf(a, ns, 'one');
    const deleted = await core.deleteNamespacedPod({ namespace: ns, name: first!.metadata.name });
    expect(deleted.metadata?.deletionTimestamp).toBeDefined(); // graceful: the kubelet finishes the deletion
    await a.waitFor('the old pod gone and a new one Ready', () => {
      const pods = a.list('pods', ns).filter((p) => p.metadata.labels?.app === 'one');
      return pods.length === 1 && pods[0]!.metadata.name !== first!.metadata.name && isPodReady(pods[0]!) ? true : undefined;
    });
    expect(await a.logs(ns, first!.metadata.name, 'echo').catch((e: Error) => e.message)).toMatch(/no pod/);
  });

  it('a DaemonSet has one pod on the node: replaced when deleted and when its template changes', async () => {
    const ns = await freshNamespace();
    const labels = { app: 'agent' };
    const set = { metadata: { name: 'agent' }, spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [echoContainer()], terminationGracePeriodSeconds: 1 } } } };
    await apps.createNamespacedDaemonSet({ namespace: ns, body: set });
    await a.waitForDaemonSet(ns, 'agent');
    const agents = () => a.list('pods', ns).filter((p) => p.metadata.labels?.app === 'agent');
    const [first] = agents();
    expect(agents()).toHaveLength(1);
    expect((first!.spec as { nodeName?: string }).nodeName).toBe(a.nodeName);
    await core.deleteNamespacedPod({ namespace: ns, name: first!.metadata.name });
    const replaced = await a.waitFor('a new agent pod Ready', () => {
      const pods = agents();
      return pods.length === 1 && pods[0]!.metadata.name !== first!.metadata.name && isPodReady(pods[0]!) ? pods[0] : undefined;
    });
    await apps.patchNamespacedDaemonSet(
      { namespace: ns, name: 'agent', body: { spec: { template: { metadata: { labels: { ...labels, version: '2' } } } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await a.waitFor('the agent pod of the new template Ready, alone', () => {
      const pods = agents();
      return pods.length === 1 && pods[0]!.metadata.labels?.version === '2' && isPodReady(pods[0]!) ? true : undefined;
    });
    await a.waitForDaemonSet(ns, 'agent');
    expect(agents().map((p) => p.metadata.name)).not.toContain(replaced.metadata.name);
    expect(a.errors).toEqual([]);
  });

  it('two clusters at once: pods of both listen on 55671; a pod in B reaches A\'s LoadBalancer address, 1 MiB byte-exact; so does the host', async () => {
    const b = await PodRunner.start();
    try {
      expect(b.network.index).not.toBe(a.network.index);
      const coreB = b.kubeConfig().makeApiClient(CoreV1Api);
      const appsB = b.kubeConfig().makeApiClient(AppsV1Api);
      const ns = await freshNamespace();
      await coreB.createNamespace({ body: { metadata: { name: ns } } });
      const onPort = echoContainer({ args: ['--port', '55671'], ports: [{ name: 'echo', containerPort: 55671 }, { name: 'http', containerPort: 8081 }] });
      await apps.createNamespacedDeployment({ namespace: ns, body: deployment('router', 1, { app: 'router' }, onPort) });
      await appsB.createNamespacedDeployment({ namespace: ns, body: deployment('router', 1, { app: 'router' }, onPort) });
      await core.createNamespacedService({ namespace: ns, body: echoService('ingress', { app: 'router' }, 'LoadBalancer', 55671) });
      await clientPod(b, ns);
      await a.waitForDeployment(ns, 'router', { ready: 1 });
      await b.waitForDeployment(ns, 'router', { ready: 1 });
      const lb = await a.loadBalancerIp(ns, 'ingress');
      expect(lb).toBe(`10.${200 + a.network.index}.0.${lb.split('.')[3]}`);
      expect((await core.readNamespacedServiceStatus({ namespace: ns, name: 'ingress' })).status?.loadBalancer?.ingress?.[0]?.ip).toBe(lb);
      await a.waitFor('an endpoint for the load balancer', () => (sliceEndpoints(a, ns, 'ingress').some((e) => e.conditions.ready) ? true : undefined));
      await a.settled();

      const r = await runClient(b, ns, 'client', 'echo', lb, '55671', String(MiB));
      expect(r.bytes).toBe(MiB);
      expect(r.received).toBe(r.sent);
      const aPod = podsOf(a, ns, 'router')[0]!.metadata.name;
      expect((await runClient(b, ns, 'client', 'http', `http://${lb}/name`)).body).toBe(aPod);
      // B's own pod answers on the same port at its own address.
      const bPod = podsOf(b, ns, 'router')[0]!;
      const local = await runClient(b, ns, 'client', 'echo', String((bPod.status as { podIP: string }).podIP), '55671', '1000');
      expect(local.received).toBe(local.sent);
      // The host reaches the load balancer too.
      const fromHost = await new Promise<string>((resolve, reject) => {
        const s = connect({ host: lb, port: 55671 }, () => s.end('ping'));
        let got = '';
        s.on('data', (d: Buffer) => (got += d.toString()));
        s.on('end', () => resolve(got));
        s.on('error', reject);
      });
      expect(fromHost).toBe('ping');
      expect(b.errors).toEqual([]);
    } finally {
      await b.stop();
    }
  });

  it('scaling a Deployment to 0 empties the EndpointSlice and the Service then refuses connections at once', async () => {
    const ns = await freshNamespace();
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('scaled', 2, { app: 'scaled' }) });
    await core.createNamespacedService({ namespace: ns, body: echoService('scaled', { app: 'scaled' }) });
    await clientPod(a, ns);
    await a.waitForDeployment(ns, 'scaled', { ready: 2 });
    await a.waitFor('two endpoints', () => (sliceEndpoints(a, ns, 'scaled').length === 2 ? true : undefined));
    await a.settled();
    expect((await runClient(a, ns, 'client', 'connect', 'scaled', '80', '300')).outcome).toBe('timeout'); // open: an HTTP server waits for a request

    await apps.patchNamespacedDeploymentScale({ namespace: ns, name: 'scaled', body: [{ op: 'replace', path: '/spec/replicas', value: 0 }] });
    await a.waitForDeployment(ns, 'scaled', { ready: 0 });
    await a.waitFor('an empty EndpointSlice', () => (sliceEndpoints(a, ns, 'scaled').length === 0 && a.list('pods', ns).filter((p) => p.metadata.labels?.app === 'scaled').length === 0 ? true : undefined));
    expect(a.list('endpointSlices', ns).filter((s) => s.metadata.labels?.['kubernetes.io/service-name'] === 'scaled')).toHaveLength(1);
    const refused = await runClient(a, ns, 'client', 'connect', 'scaled', '80', '3000');
    expect(refused.outcome).toBe('reset');
    expect(refused.ms).toBeLessThan(1000);
  });

  it('stop() leaves no network namespace, link, hosts file or process behind', async () => {
    const c = await PodRunner.start();
    const ns = 'default';
    await c.kubeConfig().makeApiClient(AppsV1Api).createNamespacedDeployment({ namespace: ns, body: deployment('echo', 2, { app: 'echo' }) });
    await c.waitForDeployment(ns, 'echo', { ready: 2 });
    const index = c.network.index;
    const netnses = podsOf(c, ns, 'echo').map((p) => c.podNetns(ns, p.metadata.name)!);
    const pids = netnses.flatMap((n) => execFileSync('ip', ['netns', 'pids', n], { encoding: 'utf8' }).trim().split('\n')).map(Number);
    expect(pids.length).toBe(2);
    expect(execFileSync('ip', ['link', 'show', `kskr${index}`], { encoding: 'utf8' })).toContain(`kskr${index}`);
    await c.stop();
    const netnsList = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    expect(netnsList.split('\n').filter((l) => l.startsWith(`kskp${index}-`))).toEqual([]);
    const links = execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' });
    expect(links).not.toMatch(new RegExp(`kskr${index}\\b|kskv${index}p`));
    for (const n of netnses) await expect(lstat(`/etc/netns/${n}`)).rejects.toThrow(/ENOENT/);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
  });
});
