// The Kubernetes API server double (test/kube/), driven over HTTPS by the real
// @kubernetes/client-node 1.x: typed APIs (CoreV1Api, AppsV1Api), the generic
// KubernetesObjectApi (discovery), Watch and informers. Every answer checked
// here is the one a real API server gives; where the double refuses something
// a cluster would do (server-side apply), the refusal is checked.
//
//   test ──client-node──HTTPS+token──> KubeApiServer "one"   (most tests)
//                                  └─> KubeApiServer "two"   (two clusters at once)

import {
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  RbacAuthorizationV1Api,
  VersionApi,
  loadYaml,
  makeInformer,
  setHeaderOptions,
  type KubernetesObject,
  type V1ConfigMap,
} from '@kubernetes/client-node';
import { request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KubeApiServer } from './kube/api-server.js';
import { findResourceType, type ResourceType } from './kube/resources.js';
import { collectWatch, expectFailure, failure } from './helpers/kube-clients.js';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
const strategicPatch = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
const applyPatch = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);

let api: KubeApiServer;
let kc: KubeConfig;
let core: CoreV1Api;
let apps: AppsV1Api;
let nsCounter = 0;

function findConfigMaps(): ResourceType {
  return findResourceType('', 'v1', 'configmaps')!;
}

/** A fresh namespace per test, so tests do not see each other's objects. */
async function freshNamespace(): Promise<string> {
  const name = `t${++nsCounter}`;
  await core.createNamespace({ body: { metadata: { name } } });
  return name;
}

function cm(name: string, data: Record<string, string> = {}, labels?: Record<string, string>): V1ConfigMap {
  return { metadata: { name, ...(labels ? { labels } : {}) }, data };
}

beforeAll(async () => {
  api = await KubeApiServer.start({ historyLimit: 50, bookmarkIntervalMs: 200 });
  kc = api.kubeConfig('default');
  core = kc.makeApiClient(CoreV1Api);
  apps = kc.makeApiClient(AppsV1Api);
});

afterAll(async () => {
  await api?.stop();
});

describe('server basics', () => {
  it('answers /version, /healthz and discovery; refuses a missing or unknown token with 401 and another CA at TLS', async () => {
    const version = await kc.makeApiClient(VersionApi).getCode();
    expect(version.major).toBe('1');
    const coreList = await kc.makeApiClient(CoreV1Api).getAPIResources();
    expect(coreList.resources.find((r) => r.name === 'pods/status')).toMatchObject({ kind: 'Pod', verbs: ['get', 'patch', 'update'] });
    expect(coreList.resources.find((r) => r.name === 'namespaces')).toMatchObject({ namespaced: false });

    const anonymous = new KubeConfig();
    anonymous.loadFromString(api.kubeconfigYaml('default', 'not-a-token'));
    const f = await failure(anonymous.makeApiClient(CoreV1Api).listNamespacedConfigMap({ namespace: 'default' }));
    expect(f.code).toBe(401);

    const other = await KubeApiServer.start();
    try {
      const wrongCa = new KubeConfig();
      // The other cluster's CA with this cluster's address: TLS must refuse the server.
      wrongCa.loadFromString(other.kubeconfigYaml('default').replace(other.url, api.url));
      await expect(wrongCa.makeApiClient(CoreV1Api).listNamespacedConfigMap({ namespace: 'default' })).rejects.toThrow(/certificate|self.signed|unable to verify/i);
    } finally {
      await other.stop();
    }
  });

  it('a kubeconfig file loads with KubeConfig.loadFromFile and its context namespace is the default of KubernetesObjectApi', async () => {
    const ns = await freshNamespace();
    const file = await api.writeKubeconfig('ctx.yaml', ns);
    const fromFile = new KubeConfig();
    fromFile.loadFromFile(file);
    expect(fromFile.getContextObject(fromFile.getCurrentContext())?.namespace).toBe(ns);
    const objects = KubernetesObjectApi.makeApiClient(fromFile);
    await objects.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'from-file' }, data: { a: '1' } } as KubernetesObject);
    expect(api.peek('v1', 'ConfigMap', ns, 'from-file')?.data).toEqual({ a: '1' });
  });
});

describe('CRUD and answers as a real server', () => {
  it('create sets uid, creationTimestamp and resourceVersion; a second create is 409 AlreadyExists; generateName makes a name', async () => {
    const ns = await freshNamespace();
    const created = await core.createNamespacedConfigMap({ namespace: ns, body: cm('a', { k: 'v' }) });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata?.creationTimestamp).toBeInstanceOf(Date);
    expect(created.metadata?.resourceVersion).toMatch(/^\d+$/);
    expect(created.metadata?.namespace).toBe(ns);
    const again = await expectFailure(core.createNamespacedConfigMap({ namespace: ns, body: cm('a') }), 409, 'AlreadyExists');
    expect(again.status?.message).toBe('configmaps "a" already exists');
    expect(again.status?.details).toMatchObject({ name: 'a', kind: 'configmaps' });

    const generated = await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { generateName: 'gen-' } } });
    expect(generated.metadata?.name).toMatch(/^gen-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  });

  it('refuses bad input with the real reasons: 422 Invalid (name, causes), 404 for a missing namespace, 500 for a resourceVersion on create, 400 for a namespace mismatch', async () => {
    const ns = await freshNamespace();
    const bad = await expectFailure(core.createNamespacedConfigMap({ namespace: ns, body: cm('Bad_Name') }), 422, 'Invalid');
    expect(bad.status?.details?.causes?.[0]).toMatchObject({ field: 'metadata.name', reason: 'FieldValueInvalid' });
    expect(bad.status?.message).toMatch(/^ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/);

    const noNs = await expectFailure(core.createNamespacedConfigMap({ namespace: 'nope', body: cm('a') }), 404, 'NotFound');
    expect(noNs.status?.message).toBe('namespaces "nope" not found');

    const withRv = await failure(core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'rv', resourceVersion: '5' } } }));
    expect(withRv.code).toBe(500);
    expect(withRv.status?.message).toBe('resourceVersion should not be set on objects to be created');

    await expectFailure(core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'x', namespace: 'other' } } }), 400, 'BadRequest');
    await expectFailure(core.readNamespacedConfigMap({ namespace: ns, name: 'missing' }), 404, 'NotFound');
    const noName = await expectFailure(core.createNamespacedConfigMap({ namespace: ns, body: { data: {} } }), 422, 'Invalid');
    expect(noName.status?.details?.causes?.[0]).toMatchObject({ field: 'metadata.name', reason: 'FieldValueRequired' });
  });

  it('update: a stale resourceVersion is 409 Conflict, no resourceVersion is unconditional, a no-op writes nothing, the name must match the URL', async () => {
    const ns = await freshNamespace();
    const v1 = await core.createNamespacedConfigMap({ namespace: ns, body: cm('c', { n: '1' }) });
    const v2 = await core.replaceNamespacedConfigMap({ namespace: ns, name: 'c', body: { ...v1, data: { n: '2' } } });
    expect(Number(v2.metadata!.resourceVersion)).toBeGreaterThan(Number(v1.metadata!.resourceVersion));
    expect(v2.metadata?.uid).toBe(v1.metadata?.uid);

    const stale = await expectFailure(core.replaceNamespacedConfigMap({ namespace: ns, name: 'c', body: { ...v1, data: { n: '3' } } }), 409, 'Conflict');
    expect(stale.status?.message).toBe('Operation cannot be fulfilled on configmaps "c": the object has been modified; please apply your changes to the latest version and try again');

    const unconditional = await core.replaceNamespacedConfigMap({ namespace: ns, name: 'c', body: cm('c', { n: '4' }) });
    expect(unconditional.data).toEqual({ n: '4' });
    const same = await core.replaceNamespacedConfigMap({ namespace: ns, name: 'c', body: unconditional });
    expect(same.metadata?.resourceVersion).toBe(unconditional.metadata?.resourceVersion);

    await expectFailure(core.replaceNamespacedConfigMap({ namespace: ns, name: 'c', body: cm('d') }), 400, 'BadRequest');
    await expectFailure(core.replaceNamespacedConfigMap({ namespace: ns, name: 'absent', body: cm('absent') }), 404, 'NotFound');
  });

  it('list has a resourceVersion; lists across namespaces; limit and continue page through one snapshot', async () => {
    const ns = await freshNamespace();
    for (const n of ['a', 'b', 'c']) await core.createNamespacedConfigMap({ namespace: ns, body: cm(n, {}, { set: 'paging' }) });
    const list = await core.listNamespacedConfigMap({ namespace: ns, labelSelector: 'set=paging' });
    expect(list.metadata?.resourceVersion).toMatch(/^\d+$/);
    expect(list.items.map((i) => i.metadata?.name)).toEqual(['a', 'b', 'c']);
    // Every namespace got its kube-root-ca.crt, as a cluster's root-CA publisher makes.
    const all = await core.listConfigMapForAllNamespaces({ fieldSelector: 'metadata.name=kube-root-ca.crt' });
    expect(all.items.map((i) => i.metadata?.namespace)).toContain(ns);
    expect(all.items[0]?.data?.['ca.crt']).toBe(api.caPem);

    const page1 = await core.listNamespacedConfigMap({ namespace: ns, labelSelector: 'set=paging', limit: 2 });
    expect(page1.items.map((i) => i.metadata?.name)).toEqual(['a', 'b']);
    expect(page1.metadata?.remainingItemCount).toBe(1);
    await core.deleteNamespacedConfigMap({ namespace: ns, name: 'c' });
    const page2 = await core.listNamespacedConfigMap({ namespace: ns, labelSelector: 'set=paging', limit: 2, _continue: page1.metadata!._continue! });
    // The snapshot still has "c": a continued list is consistent, as on etcd.
    expect(page2.items.map((i) => i.metadata?.name)).toEqual(['c']);
    expect(page2.metadata?._continue).toBeUndefined();
  });

  it('Secrets: stringData becomes base64 data, type defaults to Opaque and may not change; bad base64 is 422', async () => {
    const ns = await freshNamespace();
    const s = await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 's' }, stringData: { token: 'hello' } } });
    expect(s.type).toBe('Opaque');
    expect(s.data).toEqual({ token: Buffer.from('hello').toString('base64') });
    expect(s.stringData).toBeUndefined();
    await expectFailure(core.replaceNamespacedSecret({ namespace: ns, name: 's', body: { ...s, type: 'kubernetes.io/tls' } }), 422, 'Invalid');
    await expectFailure(core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'b' }, data: { k: 'not base64!' } } }), 422, 'Invalid');
  });
});

describe('patch', () => {
  it('merge patch (RFC 7386) and JSON patch (RFC 6902) apply exactly; a failed test op is 422; a stale resourceVersion in a merge patch is 409', async () => {
    const ns = await freshNamespace();
    const base = await core.createNamespacedConfigMap({ namespace: ns, body: cm('p', { keep: '1', drop: '2' }, { a: 'x' }) });
    const merged = await core.patchNamespacedConfigMap({ namespace: ns, name: 'p', body: { data: { drop: null, add: '3' }, metadata: { labels: { b: 'y' } } } }, mergePatch);
    expect(merged.data).toEqual({ keep: '1', add: '3' });
    expect(merged.metadata?.labels).toEqual({ a: 'x', b: 'y' });

    // client-node's default patch type for typed APIs is JSON patch.
    const patched = await core.patchNamespacedConfigMap({
      namespace: ns,
      name: 'p',
      body: [
        { op: 'test', path: '/data/keep', value: '1' },
        { op: 'add', path: '/metadata/labels/example.com~1team', value: 'net' },
        { op: 'remove', path: '/metadata/labels/a' },
        { op: 'move', from: '/data/add', path: '/data/moved' },
      ],
    });
    expect(patched.data).toEqual({ keep: '1', moved: '3' });
    expect(patched.metadata?.labels).toEqual({ b: 'y', 'example.com/team': 'net' });
    const badKey = await expectFailure(core.patchNamespacedConfigMap({ namespace: ns, name: 'p', body: [{ op: 'add', path: '/data/a~1b', value: 'x' }] }), 422, 'Invalid');
    expect(badKey.status?.details?.causes?.[0]).toMatchObject({ field: 'data', reason: 'FieldValueInvalid' });

    const failedTest = await expectFailure(core.patchNamespacedConfigMap({ namespace: ns, name: 'p', body: [{ op: 'test', path: '/data/keep', value: 'other' }] }, jsonPatch), 422, 'Invalid');
    expect(failedTest.status?.message).toMatch(/test failed/);
    await expectFailure(core.patchNamespacedConfigMap({ namespace: ns, name: 'p', body: [{ op: 'remove', path: '/data/none' }] }), 422, 'Invalid');
    await expectFailure(
      core.patchNamespacedConfigMap({ namespace: ns, name: 'p', body: { metadata: { resourceVersion: base.metadata!.resourceVersion }, data: { x: '1' } } }, mergePatch),
      409,
      'Conflict',
    );
    await expectFailure(core.patchNamespacedConfigMap({ namespace: ns, name: 'missing', body: { data: {} } }, mergePatch), 404, 'NotFound');
  });

  it('strategic merge patch works without lists and is refused with 415 for a list; server-side apply is refused with 415', async () => {
    const ns = await freshNamespace();
    await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'svc' }, spec: { ports: [{ port: 80 }] } } });
    const labelled = await core.patchNamespacedService({ namespace: ns, name: 'svc', body: { metadata: { labels: { a: 'b' } } } }, strategicPatch);
    expect(labelled.metadata?.labels).toEqual({ a: 'b' });
    const refused = await expectFailure(core.patchNamespacedService({ namespace: ns, name: 'svc', body: { spec: { ports: [{ port: 81 }] } } }, strategicPatch), 415, 'UnsupportedMediaType');
    expect(refused.status?.message).toMatch(/spec\.ports is a list/);
    const ssa = await expectFailure(core.patchNamespacedService({ namespace: ns, name: 'svc', body: { spec: {} }, fieldManager: 'test' }, applyPatch), 415, 'UnsupportedMediaType');
    expect(ssa.status?.message).toMatch(/server-side apply/);
  });
});

describe('KubernetesObjectApi (discovery-driven), as kubectl apply of a token Secret', () => {
  it('create, read, patch and delete a Secret loaded from YAML; an unknown kind fails in discovery', async () => {
    const ns = await freshNamespace();
    const objects = KubernetesObjectApi.makeApiClient(api.kubeConfig(ns));
    const secret = loadYaml<KubernetesObject & { data?: Record<string, string> }>(
      `apiVersion: v1\nkind: Secret\nmetadata:\n  name: link-token\n  labels:\n    skupper.io/type: connection-token\ntype: kubernetes.io/tls\ndata:\n  tls.crt: ${Buffer.from('crt').toString('base64')}\n  tls.key: ${Buffer.from('key').toString('base64')}\n  ca.crt: ${Buffer.from('ca').toString('base64')}\n`,
    );
    const created = await objects.create(secret);
    expect(created.metadata?.namespace).toBe(ns);
    const read = await objects.read({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'link-token', namespace: ns } });
    expect((read as unknown as { type: string }).type).toBe('kubernetes.io/tls');
    // KubernetesObjectApi.patch defaults to strategic merge patch: fine without lists.
    const patched = await objects.patch({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'link-token', namespace: ns, annotations: { 'skupper.io/cost': '2' } } });
    expect(patched.metadata?.annotations).toEqual({ 'skupper.io/cost': '2' });
    const merged = await objects.patch(
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'link-token', namespace: ns, labels: { 'skupper.io/type': null as unknown as string } } },
      undefined, undefined, undefined, undefined, PatchStrategy.MergePatch,
    );
    expect(merged.metadata?.labels).toBeUndefined();
    await objects.delete({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'link-token', namespace: ns } });
    expect(api.peek('v1', 'Secret', ns, 'link-token')).toBeUndefined();
    await expect(objects.read({ apiVersion: 'v1', kind: 'Widget', metadata: { name: 'w', namespace: ns } })).rejects.toThrow(/Unrecognized API version and kind: v1 Widget/);
    const deployment = await objects.create({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'img:1' }] } } } } as KubernetesObject);
    expect(deployment.metadata?.generation).toBe(1);
  });
});

describe('Services', () => {
  it('ports are required; a ClusterIP is allocated, kept when an update leaves it out, and may not change; NodePorts are allocated; a LoadBalancer gets ingress from the test hook', async () => {
    const ns = await freshNamespace();
    const noPorts = await expectFailure(core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'np' }, spec: {} } }), 422, 'Invalid');
    expect(noPorts.status?.details?.causes).toContainEqual(expect.objectContaining({ field: 'spec.ports', reason: 'FieldValueRequired' }));

    const svc = await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 8080 }] } } });
    expect(svc.spec?.clusterIP).toMatch(/^10\.96\.\d+\.\d+$/);
    expect(svc.spec?.clusterIPs).toEqual([svc.spec?.clusterIP]);
    expect(svc.spec?.ports?.[0]).toMatchObject({ protocol: 'TCP', targetPort: 8080 });
    const kept = await core.replaceNamespacedService({ namespace: ns, name: 'web', body: { metadata: { name: 'web' }, spec: { selector: { app: 'web2' }, ports: [{ port: 8080 }] } } });
    expect(kept.spec?.clusterIP).toBe(svc.spec?.clusterIP);
    const changed = await expectFailure(
      core.patchNamespacedService({ namespace: ns, name: 'web', body: { spec: { clusterIP: '10.96.200.200' } } }, mergePatch),
      422,
      'Invalid',
    );
    expect(changed.status?.message).toMatch(/spec.clusterIPs\[0\]: Invalid value: "10.96.200.200": may not change once set/);

    const lb = await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'lb' }, spec: { type: 'LoadBalancer', ports: [{ name: 'a', port: 443 }, { name: 'b', port: 80 }] } } });
    const nodePorts = lb.spec!.ports!.map((p) => p.nodePort!);
    expect(nodePorts.every((p) => p >= 30000 && p <= 32767)).toBe(true);
    expect(new Set(nodePorts).size).toBe(2);
    const other = await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'np2' }, spec: { type: 'NodePort', ports: [{ port: 1 }] } } });
    expect(nodePorts).not.toContain(other.spec!.ports![0]!.nodePort);
    await expectFailure(core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'clash' }, spec: { type: 'NodePort', ports: [{ port: 1, nodePort: nodePorts[0]! }] } } }), 422, 'Invalid');

    // Status written through the main resource is ignored, as the real server does.
    const ignored = await core.patchNamespacedService({ namespace: ns, name: 'lb', body: { status: { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } } } }, mergePatch);
    expect(ignored.status?.loadBalancer?.ingress).toBeUndefined();
    api.setLoadBalancerIngress(ns, 'lb', [{ ip: '203.0.113.7' }]);
    const withIngress = await core.readNamespacedService({ namespace: ns, name: 'lb' });
    expect(withIngress.status?.loadBalancer?.ingress).toEqual([{ ip: '203.0.113.7' }]);
  });
});

describe('apps/v1 workloads and subresources', () => {
  const template = { metadata: { labels: { app: 'r' } }, spec: { containers: [{ name: 'router', image: 'quay.io/skupper/skupper-router:3' }] } };

  it('generation follows spec changes only; status is written only through /status; /scale changes replicas; the selector is immutable', async () => {
    const ns = await freshNamespace();
    const d = await apps.createNamespacedDeployment({ namespace: ns, body: { metadata: { name: 'r' }, spec: { selector: { matchLabels: { app: 'r' } }, template } } });
    expect(d.metadata?.generation).toBe(1);
    expect(d.spec?.replicas).toBe(1);
    expect(d.spec?.template.spec?.containers[0]?.imagePullPolicy).toBe('IfNotPresent');
    const labelled = await apps.patchNamespacedDeployment({ namespace: ns, name: 'r', body: { metadata: { labels: { x: 'y' } }, status: { replicas: 9 } } }, mergePatch);
    expect(labelled.metadata?.generation).toBe(1);
    expect(labelled.status?.replicas).toBeUndefined();
    const scaled = await apps.patchNamespacedDeployment({ namespace: ns, name: 'r', body: { spec: { replicas: 3 } } }, mergePatch);
    expect(scaled.metadata?.generation).toBe(2);

    const status = await apps.replaceNamespacedDeploymentStatus({ namespace: ns, name: 'r', body: { ...scaled, spec: { ...scaled.spec!, replicas: 7 }, status: { replicas: 3, readyReplicas: 3, observedGeneration: 2 } } });
    expect(status.status).toMatchObject({ replicas: 3, readyReplicas: 3, observedGeneration: 2 });
    expect(status.spec?.replicas).toBe(3);
    expect(status.metadata?.generation).toBe(2);

    const scale = await apps.readNamespacedDeploymentScale({ namespace: ns, name: 'r' });
    expect(scale).toMatchObject({ kind: 'Scale', apiVersion: 'autoscaling/v1', spec: { replicas: 3 }, status: { replicas: 3, selector: 'app=r' } });
    await apps.replaceNamespacedDeploymentScale({ namespace: ns, name: 'r', body: { ...scale, spec: { replicas: 5 } } });
    expect((await apps.readNamespacedDeployment({ namespace: ns, name: 'r' })).spec?.replicas).toBe(5);
    await expectFailure(apps.replaceNamespacedDeploymentScale({ namespace: ns, name: 'r', body: { ...scale, spec: { replicas: 6 } } }), 409, 'Conflict');

    await expectFailure(
      apps.patchNamespacedDeployment({ namespace: ns, name: 'r', body: { spec: { selector: { matchLabels: { app: 'other' } }, template: { metadata: { labels: { app: 'other' } } } } } }, mergePatch),
      422,
      'Invalid',
    );
    const mismatch = await expectFailure(
      apps.createNamespacedDeployment({ namespace: ns, body: { metadata: { name: 'm' }, spec: { selector: { matchLabels: { app: 'x' } }, template } } }),
      422,
      'Invalid',
    );
    expect(mismatch.status?.message).toMatch(/`selector` does not match template `labels`/);
  });

  it('Pods start Pending, take status through /status, and may not change their spec beyond images', async () => {
    const ns = await freshNamespace();
    const pod = await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'p', labels: { app: 'r' } }, spec: { containers: [{ name: 'c', image: 'img' }] } } });
    expect(pod.status?.phase).toBe('Pending');
    expect(pod.spec?.containers[0]?.imagePullPolicy).toBe('Always');
    const running = await core.patchNamespacedPodStatus({ namespace: ns, name: 'p', body: { status: { phase: 'Running', podIP: '10.244.0.5' } } }, mergePatch);
    expect(running.status?.phase).toBe('Running');
    const byPhase = await core.listNamespacedPod({ namespace: ns, fieldSelector: 'status.phase=Running' });
    expect(byPhase.items.map((p) => p.metadata?.name)).toEqual(['p']);
    const newImage = await core.patchNamespacedPod({ namespace: ns, name: 'p', body: [{ op: 'replace', path: '/spec/containers/0/image', value: 'img:2' }] });
    expect(newImage.spec?.containers[0]?.image).toBe('img:2');
    // A merge patch replaces the whole containers list: defaults come back different (imagePullPolicy), which a pod may not change.
    await expectFailure(core.patchNamespacedPod({ namespace: ns, name: 'p', body: { spec: { containers: [{ name: 'c', image: 'img:3' }] } } }, mergePatch), 422, 'Invalid');
    await expectFailure(core.patchNamespacedPod({ namespace: ns, name: 'p', body: { spec: { restartPolicy: 'Never' } } }, mergePatch), 422, 'Invalid');
    await expectFailure(core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'q' }, spec: { containers: [] } } }), 422, 'Invalid');
  });

  it('pods/log gives the podLogs hook\'s text: a container must be named when there are two, tailLines then limitBytes; read-only', async () => {
    const ns = await freshNamespace();
    await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'two' }, spec: { containers: [{ name: 'a', image: 'img' }, { name: 'b', image: 'img' }] } } });
    await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'one' }, spec: { containers: [{ name: 'only', image: 'img' }] } } });
    api.podLogs = async (namespace, pod, container) => {
      if (pod === 'one') throw new Error('not started');
      return `${namespace}/${pod}/${container} 1\nline 2\nline 3\n`;
    };
    try {
      expect(await core.readNamespacedPodLog({ namespace: ns, name: 'two', container: 'b' })).toBe(`${ns}/two/b 1\nline 2\nline 3\n`);
      expect(await core.readNamespacedPodLog({ namespace: ns, name: 'two', container: 'a', tailLines: 2 })).toBe('line 2\nline 3\n');
      expect(await core.readNamespacedPodLog({ namespace: ns, name: 'two', container: 'a', tailLines: 2, limitBytes: 8 })).toBe('line 2\nl');
      const unnamed = await expectFailure(core.readNamespacedPodLog({ namespace: ns, name: 'two' }), 400, 'BadRequest');
      expect(unnamed.status?.message).toBe('a container name must be specified for pod two, choose one of: [a b]');
      await expectFailure(core.readNamespacedPodLog({ namespace: ns, name: 'two', container: 'c' }), 400, 'BadRequest');
      const waiting = await expectFailure(core.readNamespacedPodLog({ namespace: ns, name: 'one' }), 400, 'BadRequest');
      expect(waiting.status?.message).toMatch(/^container "only" in pod "one" is waiting to start/);
      await expectFailure(core.readNamespacedPodLog({ namespace: ns, name: 'none', container: 'a' }), 404, 'NotFound');
    } finally {
      api.podLogs = undefined;
    }
  });
});

describe('selectors', () => {
  it.each([
    ['app=web', ['web']],
    ['app==web', ['web']],
    ['app!=web', ['db', 'none']],
    ['app in (web,db)', ['db', 'web']],
    ['app notin (web)', ['db', 'none']],
    ['app', ['db', 'web']],
    ['!app', ['none']],
    ['app,tier=front', ['web']],
    ['', ['db', 'none', 'web']],
  ])('labelSelector %j lists %j', async (selector, expected) => {
    const ns = `sel-${Buffer.from(selector).toString('hex').slice(0, 20) || 'all'}`;
    api.ensureNamespace(ns);
    api.seed([
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'web', namespace: ns, labels: { app: 'web', tier: 'front' } } },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'db', namespace: ns, labels: { app: 'db' } } },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'none', namespace: ns, labels: { other: 'x' } } },
    ]);
    const list = await core.listNamespacedConfigMap({ namespace: ns, labelSelector: selector, fieldSelector: 'metadata.name!=kube-root-ca.crt' });
    expect(list.items.map((i) => i.metadata?.name)).toEqual(expected);
  });

  it('a selector that does not parse, or an unsupported field, is 400 BadRequest', async () => {
    await expectFailure(core.listNamespacedConfigMap({ namespace: 'default', labelSelector: 'app in (a' }), 400, 'BadRequest');
    await expectFailure(core.listNamespacedConfigMap({ namespace: 'default', labelSelector: 'bad key=x' }), 400, 'BadRequest');
    const f = await expectFailure(core.listNamespacedConfigMap({ namespace: 'default', fieldSelector: 'data.x=1' }), 400, 'BadRequest');
    expect(f.status?.message).toBe('field label not supported: data.x');
  });
});

describe('watch', () => {
  it('from a resourceVersion: only later changes; selectors turn entering and leaving into ADDED and DELETED; metadata.name pins one object', async () => {
    const ns = await freshNamespace();
    await core.createNamespacedConfigMap({ namespace: ns, body: cm('before', {}, { w: 'yes' }) });
    const list = await core.listNamespacedConfigMap({ namespace: ns });
    const all = await collectWatch(kc, `/api/v1/namespaces/${ns}/configmaps`, { resourceVersion: list.metadata!.resourceVersion! });
    const selected = await collectWatch(kc, `/api/v1/namespaces/${ns}/configmaps`, { resourceVersion: list.metadata!.resourceVersion!, labelSelector: 'w=yes' });
    const pinned = await collectWatch(kc, `/api/v1/namespaces/${ns}/configmaps`, { fieldSelector: 'metadata.name=later' });
    try {
      await core.createNamespacedConfigMap({ namespace: ns, body: cm('later', {}, { w: 'no' }) });
      await core.patchNamespacedConfigMap({ namespace: ns, name: 'later', body: { metadata: { labels: { w: 'yes' } } } }, mergePatch);
      await core.patchNamespacedConfigMap({ namespace: ns, name: 'later', body: { metadata: { labels: { w: 'no' } } } }, mergePatch);
      await core.deleteNamespacedConfigMap({ namespace: ns, name: 'later' });
      await all.waitFor((e) => e.type === 'DELETED');
      await selected.waitFor((e) => e.type === 'DELETED');
      await pinned.waitFor((e) => e.type === 'DELETED');
      expect(all.events.map((e) => `${e.type} ${e.object.metadata?.name}`)).toEqual(['ADDED later', 'MODIFIED later', 'MODIFIED later', 'DELETED later']);
      expect(selected.events.map((e) => `${e.type} ${e.object.metadata?.labels ? JSON.stringify(e.object.metadata.labels) : ''}`)).toEqual([
        'ADDED {"w":"yes"}',
        'DELETED {"w":"no"}',
      ]);
      expect(pinned.events.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'MODIFIED', 'DELETED']);
      const rvs = all.events.map((e) => Number(e.object.metadata?.resourceVersion));
      expect([...rvs].sort((a, b) => a - b)).toEqual(rvs);
    } finally {
      all.stop();
      selected.stop();
      pinned.stop();
    }
  });

  it('bookmarks come with allowWatchBookmarks only; timeoutSeconds ends the stream', async () => {
    const ns = await freshNamespace();
    const withBookmarks = await collectWatch(kc, `/api/v1/namespaces/${ns}/configmaps`, { allowWatchBookmarks: true, timeoutSeconds: 1 });
    const without = await collectWatch(kc, `/api/v1/namespaces/${ns}/configmaps`, { timeoutSeconds: 1 });
    const bookmark = await withBookmarks.waitFor((e) => e.type === 'BOOKMARK');
    expect(bookmark.object).toEqual({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { resourceVersion: expect.stringMatching(/^\d+$/) } });
    const started = Date.now();
    await Promise.all([withBookmarks.ended, without.ended]);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(without.events.filter((e) => e.type === 'BOOKMARK')).toEqual([]);
    expect(without.events.map((e) => e.object.metadata?.name)).toEqual(['kube-root-ca.crt']);
  });

  it('a resourceVersion older than the history is an ERROR event with 410 Expired on a watch, and 410 on an exact list', async () => {
    const ns = await freshNamespace();
    const first = await core.createNamespacedConfigMap({ namespace: ns, body: cm('old') });
    const oldRv = first.metadata!.resourceVersion!;
    for (let i = 0; i < 60; i++) await core.replaceNamespacedConfigMap({ namespace: ns, name: 'old', body: cm('old', { i: String(i) }) });
    const w = await collectWatch(kc, `/api/v1/namespaces/${ns}/configmaps`, { resourceVersion: oldRv });
    const error = await w.waitFor((e) => e.type === 'ERROR');
    expect(error.object).toMatchObject({ kind: 'Status', code: 410, reason: 'Expired', message: expect.stringMatching(/^too old resource version: /) });
    expect(await w.ended).toBeNull();
    await expectFailure(core.listNamespacedConfigMap({ namespace: ns, resourceVersion: oldRv, resourceVersionMatch: 'Exact' }), 410, 'Expired');
  });
});

describe('informers (makeInformer)', () => {
  it('see adds, updates and deletes; re-watch from their resourceVersion when the server ends the watch; relist after 410 and converge', async () => {
    const ns = await freshNamespace();
    await core.createNamespacedConfigMap({ namespace: ns, body: cm('one', { v: '1' }) });
    const path = `/api/v1/namespaces/${ns}/configmaps`;
    const informer = makeInformer(kc, path, () => core.listNamespacedConfigMap({ namespace: ns }));
    const seen: string[] = [];
    const errors: unknown[] = [];
    informer.on('add', (o) => seen.push(`add ${o.metadata?.name}`));
    informer.on('update', (o) => seen.push(`update ${o.metadata?.name} ${(o as V1ConfigMap).data?.v ?? ''}`));
    informer.on('delete', (o) => seen.push(`delete ${o.metadata?.name}`));
    informer.on('error', (err) => errors.push(err));
    await informer.start();
    try {
      await vi.waitFor(() => expect(seen).toContain('add one'));
      await vi.waitFor(() => expect(api.openWatches()).toBeGreaterThan(0));
      const lists = (): number => api.requestLog.filter((r) => (r === `GET ${path}` || r.startsWith(`GET ${path}?`)) && !r.includes('watch=true')).length;
      const listsBefore = lists();
      expect(listsBefore).toBe(1);

      // The server ends the watch: the informer watches again from its last resourceVersion, without a relist.
      expect(api.endWatches()).toBeGreaterThan(0);
      await core.patchNamespacedConfigMap({ namespace: ns, name: 'one', body: { data: { v: '2' } } }, mergePatch);
      await vi.waitFor(() => expect(seen).toContain('update one 2'));
      expect(lists()).toBe(listsBefore);

      // Changes made and then compacted away while the informer is disconnected
      // (all in one turn of the event loop, so it cannot come back in between):
      // its watch from the old resourceVersion gets 410, it relists and converges.
      api.endWatches();
      api.seed([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'two', namespace: ns } }]);
      api.registry.delete(findConfigMaps(), ns, 'one', {}, false);
      api.compactHistory();
      await vi.waitFor(() => expect(seen).toEqual(expect.arrayContaining(['add two', 'delete one'])), { timeout: 10_000 });
      expect(informer.list().map((o) => o.metadata?.name).sort()).toEqual(['kube-root-ca.crt', 'two']);
      expect(lists()).toBe(listsBefore + 1);
      expect(errors).toEqual([]);
    } finally {
      await informer.stop();
    }
  });
});

describe('deletion, finalizers and garbage collection', () => {
  const owned = (owner: { metadata?: { name?: string; uid?: string } }, block = false) => ({
    ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: owner.metadata!.name!, uid: owner.metadata!.uid!, ...(block ? { blockOwnerDeletion: true } : {}) }],
  });

  it('a finalizer holds a deleted object (202, deletionTimestamp) until removed; none may be added meanwhile', async () => {
    const ns = await freshNamespace();
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'f', finalizers: ['kskup.io/cleanup'] } } });
    const pending = await core.deleteNamespacedConfigMapWithHttpInfo({ namespace: ns, name: 'f' });
    expect(pending.httpStatusCode).toBe(202);
    expect(api.peek('v1', 'ConfigMap', ns, 'f')?.metadata.deletionTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const gone = await core.deleteNamespacedConfigMapWithHttpInfo({ namespace: ns, name: 'kube-root-ca.crt' });
    expect(gone.httpStatusCode).toBe(200);
    expect(gone.data).toMatchObject({ kind: 'Status', status: 'Success', details: { name: 'kube-root-ca.crt', kind: 'configmaps' } });
    await expectFailure(core.patchNamespacedConfigMap({ namespace: ns, name: 'f', body: { metadata: { finalizers: ['kskup.io/cleanup', 'x.io/new'] } } }, mergePatch), 422, 'Invalid');
    await core.patchNamespacedConfigMap({ namespace: ns, name: 'f', body: [{ op: 'remove', path: '/metadata/finalizers' }] });
    await expectFailure(core.readNamespacedConfigMap({ namespace: ns, name: 'f' }), 404, 'NotFound');
  });

  it('background: deleting an owner ConfigMap deletes what it owns (by uid), in any type; a same-name owner with another uid does not count', async () => {
    const ns = await freshNamespace();
    const owner = await core.createNamespacedConfigMap({ namespace: ns, body: cm('owner') });
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 's', ...owned(owner) } } });
    await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'svc', ...owned(owner) }, spec: { ports: [{ port: 1 }] } } });
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: { metadata: { name: 'd', ...owned(owner) }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } } },
    });
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'unrelated' } } });
    await core.deleteNamespacedConfigMap({ namespace: ns, name: 'owner' });
    await api.gcIdle();
    expect(api.peek('v1', 'Secret', ns, 's')).toBeUndefined();
    expect(api.peek('v1', 'Service', ns, 'svc')).toBeUndefined();
    expect(api.peek('apps/v1', 'Deployment', ns, 'd')).toBeUndefined();
    expect(api.peek('v1', 'ConfigMap', ns, 'unrelated')).toBeDefined();

    const impostor = await core.createNamespacedConfigMap({ namespace: ns, body: cm('owner') });
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'stale-ref', ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: '00000000-0000-0000-0000-000000000000' }] } } });
    await api.gcIdle();
    expect(api.peek('v1', 'Secret', ns, 'stale-ref')).toBeUndefined();
    expect(api.peek('v1', 'ConfigMap', ns, 'owner')?.metadata.uid).toBe(impostor.metadata?.uid);
  });

  it('foreground: the owner stays (foregroundDeletion) until blocking dependents are gone; orphan: dependents stay and lose the reference', async () => {
    const ns = await freshNamespace();
    const owner = await core.createNamespacedConfigMap({ namespace: ns, body: cm('fg') });
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'dep', finalizers: ['kskup.io/hold'], ...owned(owner, true) } } });
    await core.deleteNamespacedConfigMap({ namespace: ns, name: 'fg', propagationPolicy: 'Foreground' });
    await api.gcIdle();
    expect(api.peek('v1', 'ConfigMap', ns, 'fg')?.metadata.finalizers).toEqual(['foregroundDeletion']);
    expect(api.peek('v1', 'Secret', ns, 'dep')?.metadata.deletionTimestamp).toBeDefined();
    await core.patchNamespacedSecret({ namespace: ns, name: 'dep', body: { metadata: { finalizers: null } } }, mergePatch);
    await api.gcIdle();
    expect(api.peek('v1', 'Secret', ns, 'dep')).toBeUndefined();
    expect(api.peek('v1', 'ConfigMap', ns, 'fg')).toBeUndefined();

    const parent = await core.createNamespacedConfigMap({ namespace: ns, body: cm('parent') });
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'child', ...owned(parent) } } });
    await core.deleteNamespacedConfigMap({ namespace: ns, name: 'parent', propagationPolicy: 'Orphan' });
    await api.gcIdle();
    expect(api.peek('v1', 'ConfigMap', ns, 'parent')).toBeUndefined();
    expect(api.peek('v1', 'Secret', ns, 'child')?.metadata.ownerReferences).toBeUndefined();
  });

  it('deletecollection with a label selector deletes only what matches; deleting a namespace removes its content, then the namespace', async () => {
    const ns = await freshNamespace();
    for (const [n, l] of [['a', 'x'], ['b', 'x'], ['c', 'y']] as const) await core.createNamespacedConfigMap({ namespace: ns, body: cm(n, {}, { l }) });
    await core.deleteCollectionNamespacedConfigMap({ namespace: ns, labelSelector: 'l=x' });
    const left = await core.listNamespacedConfigMap({ namespace: ns, labelSelector: 'l' });
    expect(left.items.map((i) => i.metadata?.name)).toEqual(['c']);

    // A finalizer holds one object, and so the namespace in Terminating, until it is removed.
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'held', finalizers: ['kskup.io/hold'] } } });
    const nsWatch = await collectWatch(kc, '/api/v1/namespaces', { fieldSelector: `metadata.name=${ns}` });
    try {
      await core.deleteNamespace({ name: ns });
      await api.gcIdle();
      const late = await expectFailure(core.createNamespacedConfigMap({ namespace: ns, body: cm('late') }), 403, 'Forbidden');
      expect(late.status?.message).toBe(`configmaps "late" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`);
      expect(api.peek('v1', 'ConfigMap', ns, 'c')).toBeUndefined();
      expect(api.peek('v1', 'Namespace', '', ns)?.status).toEqual({ phase: 'Terminating' });
      await core.patchNamespacedSecret({ namespace: ns, name: 'held', body: { metadata: { finalizers: null } } }, mergePatch);
      await nsWatch.waitFor((e) => e.type === 'DELETED');
      expect(api.peek('v1', 'ConfigMap', ns, 'c')).toBeUndefined();
      expect(nsWatch.events.some((e) => e.type === 'MODIFIED' && (e.object.status as { phase?: string }).phase === 'Terminating')).toBe(true);
    } finally {
      nsWatch.stop();
    }
  });
});

describe('RBAC for ServiceAccount tokens', () => {
  it('a Role with verbs, resources and resourceNames allows exactly that; anything else is 403 with the real message', async () => {
    const ns = await freshNamespace();
    await core.createNamespacedConfigMap({ namespace: ns, body: cm('allowed') });
    await core.createNamespacedConfigMap({ namespace: ns, body: cm('other') });
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace: ns,
      body: {
        metadata: { name: 'controller' },
        rules: [
          { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'watch', 'list'], resourceNames: ['allowed'] },
          { apiGroups: [''], resources: ['pods/status'], verbs: ['patch'] },
        ],
      },
    });
    const sa = new KubeConfig();
    sa.loadFromString(api.kubeconfigYaml(ns, api.serviceAccountToken(ns, 'kskup-controller')));
    const saCore = sa.makeApiClient(CoreV1Api);
    const before = await expectFailure(saCore.readNamespacedConfigMap({ namespace: ns, name: 'allowed' }), 403, 'Forbidden');
    expect(before.status?.message).toBe(`configmaps "allowed" is forbidden: User "system:serviceaccount:${ns}:kskup-controller" cannot get resource "configmaps" in API group "" in the namespace "${ns}"`);

    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'controller' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'controller' },
        subjects: [{ kind: 'ServiceAccount', name: 'kskup-controller', namespace: ns }],
      },
    });
    expect((await saCore.readNamespacedConfigMap({ namespace: ns, name: 'allowed' })).metadata?.name).toBe('allowed');
    await expectFailure(saCore.readNamespacedConfigMap({ namespace: ns, name: 'other' }), 403, 'Forbidden');
    await expectFailure(saCore.listNamespacedConfigMap({ namespace: ns }), 403, 'Forbidden');
    const pinned = await saCore.listNamespacedConfigMap({ namespace: ns, fieldSelector: 'metadata.name=allowed' });
    expect(pinned.items.map((i) => i.metadata?.name)).toEqual(['allowed']);
    await expectFailure(saCore.patchNamespacedConfigMap({ namespace: ns, name: 'allowed', body: { data: {} } }, mergePatch), 403, 'Forbidden');
    await expectFailure(saCore.listConfigMapForAllNamespaces(), 403, 'Forbidden');
    const changedRef = await expectFailure(
      rbac.patchNamespacedRoleBinding({ namespace: ns, name: 'controller', body: { roleRef: { name: 'admin' } } }, mergePatch),
      422,
      'Invalid',
    );
    expect(changedRef.status?.message).toMatch(/cannot change roleRef/);
  });
});

describe('two clusters', () => {
  it('two instances are independent clusters with their own CA, state and resourceVersions', async () => {
    const two = await KubeApiServer.start({ clusterName: 'two' });
    try {
      const core2 = two.kubeConfig('default').makeApiClient(CoreV1Api);
      await core.createNamespacedConfigMap({ namespace: 'default', body: cm('only-in-one') });
      await core2.createNamespacedConfigMap({ namespace: 'default', body: cm('only-in-two') });
      const names1 = (await core.listNamespacedConfigMap({ namespace: 'default' })).items.map((i) => i.metadata?.name);
      const names2 = (await core2.listNamespacedConfigMap({ namespace: 'default' })).items.map((i) => i.metadata?.name);
      expect(names1).toContain('only-in-one');
      expect(names1).not.toContain('only-in-two');
      expect(names2).toEqual(['kube-root-ca.crt', 'only-in-two']);
      expect(two.caPem).not.toBe(api.caPem);
      // A token of one cluster means nothing to the other.
      const crossed = new KubeConfig();
      crossed.loadFromString(two.kubeconfigYaml('default', api.adminToken));
      expect((await failure(crossed.makeApiClient(CoreV1Api).listNamespacedConfigMap({ namespace: 'default' }))).code).toBe(401);
    } finally {
      await two.stop();
    }
  });
});

describe('raw HTTP edges client-node does not reach', () => {
  function raw(method: string, path: string, body?: string, contentType = 'application/json'): Promise<{ code: number; json: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest(`${api.url}${path}`, { method, ca: api.caPem, headers: { Authorization: `Bearer ${api.adminToken}`, 'Content-Type': contentType } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ code: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  it('unknown paths are 404, wrong methods 405, a non-JSON body 400, an unknown patch type 415', async () => {
    expect((await raw('GET', '/api/v1/widgets')).code).toBe(404);
    expect((await raw('GET', '/apis/example.com/v1')).code).toBe(404);
    expect((await raw('PUT', '/api/v1/namespaces/default/configmaps')).json).toMatchObject({ code: 405, reason: 'MethodNotAllowed' });
    expect((await raw('POST', '/api/v1/namespaces/default/configmaps', '{not json')).json).toMatchObject({ code: 400, reason: 'BadRequest' });
    expect((await raw('PATCH', '/api/v1/namespaces/default/configmaps/kube-root-ca.crt', '{}', 'text/plain')).json).toMatchObject({ code: 415, reason: 'UnsupportedMediaType' });
    expect((await raw('GET', '/api/v1/namespaces/default/configmaps/kube-root-ca.crt/status')).code).toBe(404);
    // pods/log is read-only; a write to it must not reach the pod.
    expect((await raw('PUT', '/api/v1/namespaces/default/pods/p/log', '{}')).json).toMatchObject({ code: 405, reason: 'MethodNotAllowed' });
    expect((await raw('GET', '/api/v1/namespaces/default/configmaps/kube-root-ca.crt/log')).code).toBe(404);
  });
});
