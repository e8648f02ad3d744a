// Workloads and checks for the services tests on two clusters
// (kubernetes-services.test.ts, kubernetes-annotations.test.ts): the echo
// backend's pod template, a client pod's programs, the tcpConnectors of a
// site's router ConfigMap, and the Services named after addresses.
import { join } from 'node:path';
import type { V1Container, V1Deployment, V1Pod, V1PodTemplateSpec, V1Service } from '@kubernetes/client-node';
import { apis, podLogs, routerConfigMap, type Cluster } from './kube-clusters.js';

const CLIENT = ['node', join(import.meta.dirname, '..', 'kube', 'images', 'client.mjs')];

/** Echo pods (TCP echo on 8080, HTTP on 8081 answering /name with the pod name), Ready by an HTTP probe. */
export function echoTemplate(labels: Record<string, string>): V1PodTemplateSpec {
  const container: V1Container = {
    name: 'echo',
    image: 'kskup-test/echo:1',
    ports: [{ name: 'echo', containerPort: 8080 }, { name: 'http', containerPort: 8081 }],
    env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
    readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 1 },
  };
  return { metadata: { labels }, spec: { containers: [container], terminationGracePeriodSeconds: 1 } };
}

/** A Deployment `name` of echo pods labelled app=NAME. */
export function echoDeployment(name: string, replicas: number): V1Deployment {
  const labels = { app: name };
  return { metadata: { name }, spec: { replicas, selector: { matchLabels: labels }, template: echoTemplate(labels) } };
}

/** Creates the pod `client` (the client image, sleeping) in the cluster's namespace and waits for it to run. */
export async function startClientPod(where: Cluster): Promise<void> {
  await apis(where).core.createNamespacedPod({ namespace: where.namespace, body: { metadata: { name: 'client' }, spec: { containers: [{ name: 'client', image: 'kskup-test/client:1' }] } } as V1Pod });
  await where.runner.waitForPod(where.namespace, 'client');
}

/** A program of the client image in the client pod `client` of the cluster's namespace; its one JSON line. */
export async function runClient(where: Cluster, ...args: string[]): Promise<Record<string, unknown>> {
  const result = await where.runner.execInPod(where.namespace, 'client', [...CLIENT, ...args]);
  if (result.stderr !== '' || result.stdout === '') throw new Error(`client ${args.join(' ')}: ${result.stderr}${result.stdout}`);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

/** The tcpConnectors (address@host:port, sorted) in a cluster site's router ConfigMap. */
export async function configuredConnectors(where: Cluster): Promise<string[]> {
  const entities = JSON.parse((await routerConfigMap(where)).data?.['skrouterd.json'] ?? '[]') as [string, Record<string, unknown>][];
  return entities.filter(([type, e]) => type === 'tcpConnector' && e.name !== 'claims').map(([, e]) => `${e.address}@${e.host}:${e.port}`).sort();
}

/** The not terminating pods labelled app=APP, sorted by IP. */
export function podsOf(where: Cluster, app: string): { name: string; ip: string }[] {
  return where.runner
    .list('pods', where.namespace)
    .filter((p) => p.metadata.labels?.app === app && p.metadata.deletionTimestamp === undefined)
    .map((p) => ({ name: p.metadata.name, ip: String((p.status as { podIP?: string }).podIP) }))
    .sort((x, y) => x.ip.localeCompare(y.ip));
}

/** The Service of that name in the cluster's namespace, if any. */
export function serviceNamed(where: Cluster, name: string): V1Service | undefined {
  return where.runner.list('services', where.namespace).find((s) => s.metadata.name === name) as V1Service | undefined;
}

/** Polls `check` every 50 ms until it answers; a timeout says what was awaited, with the cluster's pods and their logs. */
export async function waitUntil<T>(where: Cluster, what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${where.runner.podSummary(where.namespace)}\n${await podLogs(where)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
