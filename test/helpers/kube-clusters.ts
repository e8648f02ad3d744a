// Two-cluster tests (test/kubernetes-*.test.ts): each "cluster" is the API
// server double with the pod runner running the kskup image's router and
// controller (test/kube/README.md); the CLI runs in the test's process against
// it, as a user's would, with the cluster's kubeconfig in KUBECONFIG.
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, RbacAuthorizationV1Api, type V1ConfigMap, type V1Container, type V1Service } from '@kubernetes/client-node';
import { run } from '../../cli/run.js';
import { ManagementClient } from '../../router/management/management-client.js';
import { NAMES, PORTS } from '../../site-controller/kubernetes/manifests.js';
import { PodRunner } from '../kube/pod-runner/index.js';
import { runKubeTool } from './kube-tools.js';

export interface Cluster {
  readonly runner: PodRunner;
  readonly kubeconfig: string;
  readonly namespace: string;
  /** HOME for the CLI (where it would keep local sites). */
  readonly home: string;
}

export async function startCluster(namespace: string, home: string): Promise<Cluster> {
  // Liveness probes as the manifests set them (the runner's default cap of 500 ms would have the liveness probe kill a pod still loading its modules on a busy machine).
  // Readiness probes every 250 ms: a pod is found ready within 250 ms of being so, not at the manifests' next 2 s probe; a short readiness period kills nothing.
  const runner = await PodRunner.start({ probePeriodCapMs: 10_000, readinessPeriodCapMs: 250 });
  runner.api.ensureNamespace(namespace);
  const kubeconfig = await runner.api.writeKubeconfig(`kubeconfig-${namespace}`, namespace);
  return { runner, kubeconfig, namespace, home };
}

/**
 * Two clusters, west (A) and east (B), each with a site (`kskup init`), east
 * linked to west by a token Secret applied with kubectl: the start of the
 * services tests.
 */
export async function startLinkedClusters(home: string): Promise<[Cluster, Cluster]> {
  const [a, b] = await Promise.all([startCluster('west', home), startCluster('east', home)]);
  await Promise.all([ok(a, 'init', '-n', 'west', '--timeout', '60'), ok(b, 'init', '-n', 'east', '--timeout', '60')]);
  const token = join(home, 'west-token.yaml');
  await ok(a, 'token', 'create', token, '-n', 'west');
  const applied = Date.now();
  await runKubeTool('kubectl', ['apply', '--validate=false', '-f', token, '-n', 'east'], { KUBECONFIG: b.kubeconfig });
  // Setup, not a measurement (kubernetes-sites.test.ts times the kubectl token): the bound is for a hang.
  // The latency is printed: a few seconds quiet, over 10 s on this shared 2-core machine under load.
  await ok(b, 'link', 'status', '-n', 'east', '--wait', '60');
  console.log(`token Secret applied -> link connected in ${Date.now() - applied} ms`);
  return [a, b];
}

/**
 * A cluster with site "west" and a local site "solo" (in `local`, a kskup
 * home) linked to it with a token: the start of the cross-platform tests.
 */
export async function startClusterLinkedFromLocal(home: string, local: { ok(...argv: string[]): Promise<unknown> }): Promise<Cluster> {
  const a = await startCluster('west', home);
  await ok(a, 'init', '-n', 'west', '--timeout', '90');
  const token = join(home, 'west-token.yaml');
  await ok(a, 'token', 'create', token, '-n', 'west');
  await local.ok('init', '-n', 'solo');
  await local.ok('link', 'create', token, '-n', 'solo');
  await local.ok('link', 'status', '-n', 'solo', '--wait', '15');
  return a;
}

/** `kskup` in this process against a cluster. */
export async function kskup(where: Cluster, ...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const env = { KUBECONFIG: where.kubeconfig, HOME: where.home, PATH: process.env.PATH ?? '' };
  const code = await run(argv, { stdout: { write: (text: string) => (stdout += text) }, stderr: { write: (text: string) => (stderr += text) }, env });
  return { code, stdout, stderr };
}

/** `kskup` that must succeed; its stdout. A failure says what the pods said. */
export async function ok(where: Cluster, ...argv: string[]): Promise<string> {
  const result = await kskup(where, ...argv);
  if (result.code !== 0) throw new Error(`kskup ${argv.join(' ')} exited ${result.code}:\n${result.stderr}${result.stdout}\n${where.runner.podSummary(where.namespace)}\n${await podLogs(where)}`);
  return result.stdout;
}

/** Admin API clients of a cluster, for checks (the CLI under test makes its own). */
export function apis(where: Cluster) {
  const config = where.runner.kubeConfig(where.namespace);
  return { core: config.makeApiClient(CoreV1Api), apps: config.makeApiClient(AppsV1Api), rbac: config.makeApiClient(RbacAuthorizationV1Api) };
}

export function routerConfigMap(where: Cluster): Promise<V1ConfigMap> {
  return apis(where).core.readNamespacedConfigMap({ name: NAMES.routerConfig, namespace: where.namespace });
}

/** Polls a `-o json` command until `done` holds; the last answer is returned either way. */
export async function waitForJson<T>(where: Cluster, argv: string[], done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = JSON.parse(await ok(where, ...argv, '-o', 'json')) as T;
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** What the site's pods said (the last 40 lines of each): shown when a command fails. */
export async function podLogs(where: Cluster): Promise<string> {
  const logs = await Promise.all(
    (await apis(where).core.listNamespacedPod({ namespace: where.namespace })).items.map(async (pod) => {
      const container = pod.spec?.containers[0]?.name ?? '';
      const text = await where.runner.logs(where.namespace, pod.metadata?.name ?? '', container).catch(() => '');
      return `--- ${pod.metadata?.name}\n${text.split('\n').slice(-40).join('\n')}`;
    }),
  );
  return logs.join('\n');
}

/**
 * The tcpConnectors the site's router runs now (`address@host:port`, sorted),
 * asked over AMQP management at the router pod's local listener with the
 * controller's client certificate: what the router applied, not what the
 * ConfigMap says it should.
 */
export async function routerConnectors(where: Cluster): Promise<string[]> {
  return Object.keys(await routerConnectorWeights(where)).sort();
}

/** The router's tcpConnectors as routerConnectors() names them, each with its `weight` (undefined: not weighted). */
export async function routerConnectorWeights(where: Cluster): Promise<Record<string, number | undefined>> {
  const secret = await apis(where).core.readNamespacedSecret({ name: NAMES.localClient, namespace: where.namespace });
  const file = (key: string) => Buffer.from(secret.data?.[key] ?? '', 'base64');
  const pod = where.runner.list('pods', where.namespace).find((p) => p.metadata.labels?.['app.kubernetes.io/name'] === 'kskup-router' && p.metadata.deletionTimestamp === undefined);
  const host = (pod?.status as { podIP?: string } | undefined)?.podIP;
  if (!host) throw new Error(`no router pod with an IP in ${where.namespace}: ${where.runner.podSummary(where.namespace)}`);
  const client = await ManagementClient.connect({ host, port: PORTS.amqp, tls: { ca: file('ca.crt'), cert: file('tls.crt'), key: file('tls.key'), serverName: `${NAMES.routerLocal}.${where.namespace}.svc` } }, { timeoutMs: 2_000 });
  try {
    const rows = await client.query('tcpConnector', ['name', 'address', 'host', 'port', 'weight']);
    return Object.fromEntries(
      rows.filter((row) => row.name !== 'claims').map((row) => [`${String(row.address)}@${String(row.host)}:${String(row.port)}`, typeof row.weight === 'number' ? row.weight : undefined]),
    );
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** The test image kskup-test/echo:1 as a container: TCP echo on 8080 (port "echo"), HTTP /name on 8081 (port "http"), ready by /ready. */
export function echoContainer(): V1Container {
  return {
    name: 'echo',
    image: 'kskup-test/echo:1',
    ports: [{ name: 'echo', containerPort: 8080 }, { name: 'http', containerPort: 8081 }],
    env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
    readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 1 },
  };
}

const CLIENT = ['node', join(import.meta.dirname, '..', 'kube', 'images', 'client.mjs')];

/** A program of the client image (kskup-test/client:1) run in pod `pod` of the cluster's namespace; its one JSON line. */
export async function clientIn(where: Cluster, pod: string, ...args: string[]): Promise<Record<string, unknown>> {
  const result = await where.runner.execInPod(where.namespace, pod, [...CLIENT, ...args]);
  if (result.stderr !== '' || result.stdout === '') throw new Error(`client ${args.join(' ')}: ${result.stderr}${result.stdout}`);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

/** The tcpConnectors (`address@host:port`, sorted) in a cluster site's router ConfigMap. */
export async function configConnectors(where: Cluster): Promise<string[]> {
  const entities = JSON.parse((await routerConfigMap(where)).data?.['skrouterd.json'] ?? '[]') as [string, Record<string, unknown>][];
  return entities.filter(([type, e]) => type === 'tcpConnector' && e.name !== 'claims').map(([, e]) => `${String(e.address)}@${String(e.host)}:${String(e.port)}`).sort();
}

/** The tcpListener port of each router address (`service:port`) in a cluster site's router ConfigMap. */
export async function configListenerPorts(where: Cluster): Promise<Record<string, number>> {
  const entities = JSON.parse((await routerConfigMap(where)).data?.['skrouterd.json'] ?? '[]') as [string, { address?: string; port?: number }][];
  return Object.fromEntries(entities.filter(([type]) => type === 'tcpListener').map(([, e]) => [e.address, e.port]));
}

/** A Service of the cluster's namespace, as the pod runner sees it now. */
export function serviceIn(where: Cluster, name: string): V1Service | undefined {
  return where.runner.list('services', where.namespace).find((s) => s.metadata.name === name) as V1Service | undefined;
}

/** Polls `check` (every 50 ms) until it gives a value; on timeout the error shows the pods and their logs. */
export async function waitUntil<T>(where: Cluster, what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${where.runner.podSummary(where.namespace)}\n${await podLogs(where)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
