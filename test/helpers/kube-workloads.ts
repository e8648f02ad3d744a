// Workloads and checks for the services tests on two clusters
// (kubernetes-services.test.ts, kubernetes-annotations.test.ts): the echo
// backend's pod template, a client pod's programs, the tcpConnectors of a
// site's router ConfigMap, and the Services named after addresses.
import type { V1Deployment, V1Pod, V1PodTemplateSpec } from '@kubernetes/client-node';
import { apis, clientIn, echoContainer, type Cluster } from './kube-clusters.js';

/** Echo pods (TCP echo on 8080, HTTP on 8081 answering /name with the pod name), Ready by an HTTP probe. */
export function echoTemplate(labels: Record<string, string>): V1PodTemplateSpec {
  return { metadata: { labels }, spec: { containers: [echoContainer()], terminationGracePeriodSeconds: 1 } };
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
export function runClient(where: Cluster, ...args: string[]): Promise<Record<string, unknown>> {
  return clientIn(where, 'client', ...args);
}

/** The not terminating pods labelled app=APP, sorted by IP. */
export function podsOf(where: Cluster, app: string): { name: string; ip: string }[] {
  return where.runner
    .list('pods', where.namespace)
    .filter((p) => p.metadata.labels?.app === app && p.metadata.deletionTimestamp === undefined)
    .map((p) => ({ name: p.metadata.name, ip: String((p.status as { podIP?: string }).podIP) }))
    .sort((x, y) => x.ip.localeCompare(y.ip));
}

// One implementation each, named as these tests call them.
export { configConnectors as configuredConnectors, serviceIn as serviceNamed, waitUntil } from './kube-clusters.js';
