// The console the Helm chart runs in the cluster (console.enabled), with the
// API server double and the pod runner: charts/kskup rendered by the real
// helm 3 against the cluster (`helm template --dry-run=server`, which runs the
// chart's lookup as `helm install` does) and created with the real kubectl,
// then a port-forward through the API to the console pod's loopback, as
// `kubectl port-forward deploy/kskup-console 8010` does. Not `helm install`
// itself: helm writes its release records (Secrets) as protobuf, and the
// double speaks JSON only (its HELM_DRIVER=memory fakes the cluster too).
//
//   cluster A, namespace west
//   [router] <-AMQP, Service kskup-router-local- [kskup-console pod: kskup console on 127.0.0.1:8010]
//                                                      ^ port-forward (pods/portforward), dialled inside the pod
//                                            this test: HTTP, the password from Secret kskup-console
//
// 401 without the password, the snapshot of west with it (its router
// answering); nothing listens at the pod's IP; the password is not in the
// pod's output; the console's ServiceAccount used exactly its Role; and a
// second render against the cluster keeps the password (helm's lookup).
import { connect } from 'node:net';
import { httpGet, withAuthorization, type HttpReply } from './helpers/http-get.js';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConsoleSnapshot } from '../cli/console/console-data.js';
import { forwardPodPort, type ForwardedPort } from '../site-controller/kubernetes/pod-port-forward.js';
import { apis, startCluster, waitUntil, type Cluster } from './helpers/kube-clusters.js';
import { runKubeTool } from './helpers/kube-tools.js';
import { useTestFolder } from './helpers/temp-dir.js';

const CHART = resolve(import.meta.dirname, '../charts/kskup');
const CONSOLE_USER = 'system:serviceaccount:west:kskup-console';
const temp = useTestFolder('kskup-kube-console-pod');
let a: Cluster;
let forward: ForwardedPort | undefined;

/** The chart with the console, as helm renders it against the cluster (its lookups answered by the double). */
async function renderAgainstCluster(...extra: string[]): Promise<string> {
  const { stdout } = await runKubeTool('helm', ['template', 'west', CHART, '--namespace', 'west', '--set', 'console.enabled=true', '--dry-run=server', '--kubeconfig', a.kubeconfig, ...extra], { HOME: temp.path });
  return stdout;
}

function get(url: string, authorization?: string): Promise<HttpReply> {
  return httpGet(url, withAuthorization(authorization));
}

beforeAll(async () => {
  a = await startCluster('west', temp.path);
  const manifests = join(temp.path, 'west.yaml');
  await writeFile(manifests, await renderAgainstCluster());
  // create, not apply: apply would copy the Secret's password into its last-applied annotation.
  await runKubeTool('kubectl', ['create', '--validate=false', '-f', manifests, '-n', 'west'], { KUBECONFIG: a.kubeconfig });
}, 120_000);

afterAll(async () => {
  await forward?.close();
  await a?.runner.stop();
}, 60_000);

describe('the console in the cluster (chart console.enabled)', () => {
  it('serves the site on its pod\'s loopback, reached by port-forward, behind the password in Secret kskup-console', async () => {
    await a.runner.waitForDeployment('west', 'kskup-console', { ready: 1, timeoutMs: 60_000 });
    const pod = a.runner.list('pods', 'west').find((p) => p.metadata.labels?.['app.kubernetes.io/name'] === 'kskup-console')!;
    const podName = pod.metadata.name;
    const secret = await apis(a).core.readNamespacedSecret({ name: 'kskup-console', namespace: 'west' });
    const password = Buffer.from(secret.data?.password ?? '', 'base64').toString('utf8');
    expect(password).toMatch(/^[A-Za-z0-9]{32}$/);
    const authorization = `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`;

    forward = await forwardPodPort(a.runner.kubeConfig('west'), 'west', podName, 8010);
    const url = `http://${forward.host}:${forward.port}/`;
    // The console may still be loading when its pod runs: until it listens, the forward is refused.
    const refused = await waitUntil(a, 'the console answering through the port-forward', () => get(`${url}api/snapshot`).catch(() => undefined), 60_000);
    expect(refused.status).toBe(401);
    expect(refused.body).not.toContain('west');
    expect((await get(`${url}api/snapshot`, `Basic ${Buffer.from(`admin:${password}x`).toString('base64')}`)).status).toBe(401);

    let last = '';
    const snapshot = await waitUntil(a, 'a snapshot of west with its router answering', async () => {
      const reply = await get(`${url}api/snapshot`, authorization);
      last = reply.body;
      if (reply.status !== 200) return undefined;
      const s = (JSON.parse(reply.body) as { snapshot?: ConsoleSnapshot }).snapshot;
      return s?.sites.find((site) => site.name === 'west')?.routers.some((r) => r.state === 'answered') ? s : undefined;
    }, 90_000).catch((error: unknown) => Promise.reject(new Error(`${String(error)}; the console's last answer: ${last.slice(0, 2000)}`)));
    expect(snapshot.site).toMatchObject({ name: 'west', platform: 'kubernetes' });
    expect(snapshot.site.routerProblem).toBeUndefined();
    expect(snapshot.flowProblems).toEqual([]);
    expect((await get(url, authorization)).body).toContain('<title>kskup console</title>');

    // Bound to the pod's loopback: nothing answers at the pod's IP.
    const podIp = (pod.status as { podIP?: string }).podIP!;
    await expect(new Promise((done, fail) => connect(8010, podIp).once('connect', done).once('error', fail))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    // The password is in the Secret, and not in what the console printed.
    const output = await a.runner.logs('west', podName, 'console');
    expect(output).toContain('Password: the one in /etc/kskup/console/password');
    expect(output).not.toContain(password);
    // The console's ServiceAccount was refused nothing, and used its Role's gets (list pods only while something is not ready).
    expect(a.runner.api.accessLog.denied(CONSOLE_USER)).toEqual([]);
    const used = a.runner.api.accessLog.used(CONSOLE_USER);
    expect(used.filter((key) => key !== 'list /pods')).toEqual(['get /configmaps', 'get /secrets', 'get apps/deployments', 'get apps/statefulsets']);
  }, 240_000);

  it('keeps the password when the chart renders again against the cluster (lookup), as helm upgrade does', async () => {
    const before = (await apis(a).core.readNamespacedSecret({ name: 'kskup-console', namespace: 'west' })).data?.password;
    expect(before).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(await renderAgainstCluster('--show-only', 'templates/console.yaml')).toContain(`password: "${before}"`);
  }, 60_000);
});
