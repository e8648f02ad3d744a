// Workloads for the Kubernetes service tests (kubernetes-services,
// kubernetes-cross-platform): echo Deployments, a client pod to run the
// client image's programs in, and waiting on a cluster with its pods' story
// in the error.
import { join } from 'node:path';
import type { V1Container, V1Deployment, V1Pod, V1Service } from '@kubernetes/client-node';
import { apis, podLogs, type Cluster } from './kube-clusters.js';

const CLIENT = ['node', join(import.meta.dirname, '..', 'kube', 'images', 'client.mjs')];

/** A Deployment of echo pods labelled app=NAME: TCP echo on 8080, HTTP on 8081 (its readiness probe; /name answers the pod name). */
export function echoDeployment(name: string, replicas: number): V1Deployment {
  const labels = { app: name };
  const container: V1Container = {
    name: 'echo',
    image: 'kskup-test/echo:1',
    ports: [{ name: 'echo', containerPort: 8080 }, { name: 'http', containerPort: 8081 }],
    env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
    readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 1 },
  };
  return { metadata: { name }, spec: { replicas, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [container], terminationGracePeriodSeconds: 1 } } } };
}

/** Creates the pod `client` (the client image, sleeping) in the cluster's namespace and waits for it to run. */
export async function startClientPod(where: Cluster): Promise<void> {
  await apis(where).core.createNamespacedPod({ namespace: where.namespace, body: { metadata: { name: 'client' }, spec: { containers: [{ name: 'client', image: 'kskup-test/client:1' }] } } as V1Pod });
  await where.runner.waitForPod(where.namespace, 'client');
}

/** A program of the client image (test/kube/images/client.mjs) in the cluster's client pod; its one JSON line. */
export async function clientIn(where: Cluster, ...args: string[]): Promise<Record<string, unknown>> {
  const result = await where.runner.execInPod(where.namespace, 'client', [...CLIENT, ...args]);
  if (result.stderr !== '' || result.stdout === '') throw new Error(`client ${args.join(' ')}: ${result.stderr}${result.stdout}`);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

/** The running (not terminating) pods labelled app=`app`, with their IPs, by IP. */
export function podsOf(where: Cluster, app: string): { name: string; ip: string }[] {
  return where.runner
    .list('pods', where.namespace)
    .filter((p) => p.metadata.labels?.app === app && p.metadata.deletionTimestamp === undefined)
    .map((p) => ({ name: p.metadata.name, ip: String((p.status as { podIP?: string }).podIP) }))
    .sort((x, y) => x.ip.localeCompare(y.ip));
}

/** The Service `name` in the cluster's namespace, from the runner's view of the store. */
export function serviceNamed(where: Cluster, name: string): V1Service | undefined {
  return where.runner.list('services', where.namespace).find((s) => s.metadata.name === name) as V1Service | undefined;
}

/** Polls `check` every 50 ms until it gives a value; a timeout says what the cluster's pods were doing. */
export async function waitUntil<T>(where: Cluster, what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${where.runner.podSummary(where.namespace)}\n${await podLogs(where)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
