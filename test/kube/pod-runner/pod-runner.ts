// The pod runner: what a cluster's kubelet, Deployment, StatefulSet and
// DaemonSet controllers, EndpointSlice controller, kube-proxy, cluster DNS and cloud
// load balancer do, on this machine, for one API server double. Each runner
// is one cluster with its own bridge, pod, service and load-balancer ranges,
// so several run at once (two clusters in a test, test files in parallel).
// See test/kube/README.md for the interface and the differences from a cluster.

import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeApiServer, type KubeApiServerOptions } from '../api-server.js';
import type { KubeObject } from '../store.js';
import { ClusterDns, CLUSTER_DOMAIN } from './cluster-dns.js';
import { ClusterNetwork } from './cluster-network.js';
import { ClusterObjects, statusOf, type TypeName } from './cluster-objects.js';
import type { BackoffOptions } from './container-worker.js';
import { DaemonSetController } from './daemonset-controller.js';
import { DeploymentController } from './deployment-controller.js';
import { EndpointSliceController } from './endpoint-slice-controller.js';
import { kskupImage, testImages, type ImageRegistry } from './images.js';
import { Kubelet } from './kubelet.js';
import { dialInNetns } from './pod-dial.js';
import { isPodReady } from './pod-facts.js';
import { ServiceProxy } from './service-proxy.js';
import { StatefulSetController } from './statefulset-controller.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export interface PodRunnerOptions {
  /** Extra images, over the defaults: "kskup:*" (from kskupRepo) and the test images (images.ts testImages()). */
  readonly images?: ImageRegistry;
  /** The checkout whose dist/ the kskup image runs (default: this repository; run `npm run build` first). */
  readonly kskupRepo?: string;
  /** Options of the API server double the runner starts (serviceCidr, host and certificate names are the runner's). */
  readonly api?: Omit<KubeApiServerOptions, 'serviceCidr' | 'host' | 'certificateHosts'>;
  /** Container restart back-off (default 100 ms doubling to 1.6 s, reset after 10 s of running; the kubelet's is 10 s to 5 min). */
  readonly backoff?: Partial<BackoffOptions>;
  /** Probe periods and initial delays are capped at this (default 500 ms). */
  readonly probePeriodCapMs?: number;
  /**
   * Readiness probes' periods and initial delays are capped at this instead
   * (default: probePeriodCapMs). A short readiness period only finds a pod
   * ready sooner (a kubelet probes every periodSeconds, 2 s in kskup's
   * manifests, so each start waited ~1-2 s for the next probe); it kills
   * nothing, unlike a short liveness period.
   */
  readonly readinessPeriodCapMs?: number;
  /** terminationGracePeriodSeconds is capped at this before SIGKILL (default 2000 ms). */
  readonly gracePeriodCapMs?: number;
}

export interface ExecResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export class PodRunner {
  /** Problems the runner's loops met (a failed status write, a proxy that could not listen); a test can assert it stays empty. */
  readonly errors: string[] = [];
  readonly objects: ClusterObjects;
  readonly nodeName: string;
  private readonly dns: ClusterDns;
  private readonly kubelet: Kubelet;
  private readonly deployments: DeploymentController;
  private readonly statefulSets: StatefulSetController;
  private readonly daemonSets: DaemonSetController;
  private readonly slices: EndpointSliceController;
  private readonly proxy: ServiceProxy;
  private stopping: Promise<void> | undefined;

  private constructor(
    /** The cluster's API server double (url, kubeConfig(), serviceAccountToken(), ...). */
    readonly api: KubeApiServer,
    /** The cluster's network: index, nodeIp, podCidr, serviceCidr. */
    readonly network: ClusterNetwork,
    private readonly dir: string,
    options: PodRunnerOptions,
  ) {
    const onError = (what: string, err: unknown): void => void this.errors.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    this.objects = new ClusterObjects(api);
    this.nodeName = `kskup-node-${network.index}`;
    this.dns = new ClusterDns(this.objects);
    const images: ImageRegistry = { 'kskup:*': kskupImage(options.kskupRepo ?? REPO), ...testImages(), ...(options.images ?? {}) };
    this.kubelet = new Kubelet({
      objects: this.objects,
      network,
      dns: this.dns,
      images,
      nodeName: this.nodeName,
      sources: { objects: this.objects, serviceAccountToken: (ns, name) => api.serviceAccountToken(ns, name) },
      dir,
      backoff: { initialMs: 100, maxMs: 1600, resetAfterMs: 10_000, ...(options.backoff ?? {}) },
      probePeriodCapMs: options.probePeriodCapMs ?? 500,
      readinessPeriodCapMs: options.readinessPeriodCapMs ?? options.probePeriodCapMs ?? 500,
      gracePeriodCapMs: options.gracePeriodCapMs ?? 2000,
      onError,
    });
    this.deployments = new DeploymentController(this.objects, this.nodeName, onError);
    this.statefulSets = new StatefulSetController(this.objects, this.nodeName, onError);
    this.daemonSets = new DaemonSetController(this.objects, this.nodeName, onError);
    this.slices = new EndpointSliceController(this.objects, onError);
    const apiUrl = new URL(api.url);
    this.proxy = new ServiceProxy(this.objects, network, { host: apiUrl.hostname, port: Number(apiUrl.port) }, onError);
    // pods/log (kubectl logs, readNamespacedPodLog) reads what this kubelet's containers wrote.
    api.podLogs = (namespace, pod, container) => this.logs(namespace, pod, container);
    // pods/portforward dials localhost inside the pod's network namespace, as a kubelet does.
    api.podDialer = (namespace, pod, port) => {
      const netns = this.podNetns(namespace, pod);
      return netns === undefined ? undefined : dialInNetns(netns, port);
    };
  }

  /**
   * Claims a cluster index (removing crashed runs' leftovers), makes the
   * node's bridge, starts an API server double listening on the node address
   * (pods reach it there and through the `kubernetes` Service) and the loops.
   * Needs root and iproute2 (ip netns).
   */
  static async start(options: PodRunnerOptions = {}): Promise<PodRunner> {
    const network = await ClusterNetwork.create();
    let api: KubeApiServer | undefined;
    try {
      const k8sNames = ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', `kubernetes.default.svc.${CLUSTER_DOMAIN}`];
      api = await KubeApiServer.start({
        clusterName: `kskup-test-${network.index}`,
        ...(options.api ?? {}),
        serviceCidr: network.serviceCidr,
        host: network.nodeIp,
        certificateHosts: [network.kubernetesServiceIp, ...k8sNames],
      });
      const dir = await mkdtemp(join(tmpdir(), `kskup-pod-runner-${network.index}-`));
      return new PodRunner(api, network, dir, options);
    } catch (err) {
      await api?.stop();
      await network.remove();
      throw err;
    }
  }

  /** An admin client-node KubeConfig for this cluster (context namespace `namespace`). */
  kubeConfig(namespace = 'default'): KubeConfig {
    return this.api.kubeConfig(namespace);
  }

  /**
   * Resolves with `check`'s first non-undefined answer, asked now and after
   * every change in the cluster. Rejects after timeoutMs with `what` and the last answer's context.
   */
  waitFor<T>(what: string, check: () => T | undefined, timeoutMs = 20_000, context?: () => string): Promise<T> {
    return new Promise((resolveWait, reject) => {
      let done = false;
      const finish = (): void => {
        done = true;
        unsubscribe();
        clearTimeout(timer);
      };
      const attempt = (): void => {
        if (done) return;
        let value: T | undefined;
        try {
          value = check();
        } catch (err) {
          finish();
          return reject(err as Error);
        }
        if (value !== undefined) {
          finish();
          resolveWait(value);
        }
      };
      const unsubscribe = this.api.store.subscribe(() => queueMicrotask(attempt));
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`pod runner (cluster ${this.network.index}): timed out after ${timeoutMs} ms waiting for ${what}${context === undefined ? '' : ` (${context()})`}${this.errors.length > 0 ? `; runner errors: ${this.errors.join('; ')}` : ''}`));
      }, timeoutMs);
      attempt();
    });
  }

  /** Waits until the Deployment has observed its generation and has `ready` ready, up-to-date replicas and no others. */
  waitForDeployment(namespace: string, name: string, want: { ready: number; timeoutMs?: number }): Promise<KubeObject> {
    return this.waitFor(`Deployment ${namespace}/${name} with ${want.ready} ready replicas`, () => {
      const d = this.objects.get('deployments', namespace, name);
      if (d === undefined) return undefined;
      const s = statusOf(d);
      const ok = s.observedGeneration === d.metadata.generation && (s.readyReplicas ?? 0) === want.ready && (s.updatedReplicas ?? 0) === want.ready && (s.replicas ?? 0) === want.ready;
      return ok ? d : undefined;
    }, want.timeoutMs, () => `status ${JSON.stringify(this.objects.get('deployments', namespace, name)?.status)}; pods ${this.podSummary(namespace)}`);
  }

  /** One line per pod of a namespace: name, phase, Ready, container states (for timeout messages). */
  podSummary(namespace: string): string {
    return this.objects.list('pods', namespace).map((p) => {
      const s = statusOf(p) as { phase?: string; containerStatuses?: Array<{ state?: object; restartCount?: number }> };
      return `${p.metadata.name} ${s.phase ?? '-'} ready=${String(isPodReady(p))}${p.metadata.deletionTimestamp === undefined ? '' : ' terminating'} ${JSON.stringify(s.containerStatuses?.map((c) => c.state))}`;
    }).join(' | ');
  }

  /** Waits until the StatefulSet has `ready` ready replicas, all on its update revision. */
  waitForStatefulSet(namespace: string, name: string, want: { ready: number; timeoutMs?: number }): Promise<KubeObject> {
    return this.waitFor(`StatefulSet ${namespace}/${name} with ${want.ready} ready replicas`, () => {
      const s = this.objects.get('statefulSets', namespace, name);
      if (s === undefined) return undefined;
      const st = statusOf(s);
      return st.observedGeneration === s.metadata.generation && (st.readyReplicas ?? 0) === want.ready && (st.updatedReplicas ?? 0) === want.ready && (st.replicas ?? 0) === want.ready ? s : undefined;
    }, want.timeoutMs);
  }

  /** Waits until the DaemonSet has observed its generation and its one pod (one node) is ready and up to date. */
  waitForDaemonSet(namespace: string, name: string, want: { timeoutMs?: number } = {}): Promise<KubeObject> {
    return this.waitFor(`DaemonSet ${namespace}/${name} with its pod ready`, () => {
      const d = this.objects.get('daemonSets', namespace, name);
      if (d === undefined) return undefined;
      const st = statusOf(d);
      return st.observedGeneration === d.metadata.generation && st.numberReady === 1 && st.updatedNumberScheduled === 1 && st.currentNumberScheduled === 1 ? d : undefined;
    }, want.timeoutMs, () => `status ${JSON.stringify(this.objects.get('daemonSets', namespace, name)?.status)}; pods ${this.podSummary(namespace)}`);
  }

  /** Waits until a Pod satisfies `predicate` (default: Ready) and returns it. */
  waitForPod(namespace: string, name: string, predicate: (pod: KubeObject) => boolean = isPodReady, timeoutMs?: number): Promise<KubeObject> {
    return this.waitFor(`Pod ${namespace}/${name}`, () => {
      const p = this.objects.get('pods', namespace, name);
      return p !== undefined && predicate(p) ? p : undefined;
    }, timeoutMs);
  }

  /** Objects of a type, for assertions (a read of the double's store). */
  list(type: TypeName, namespace?: string): KubeObject[] {
    return this.objects.list(type, namespace);
  }

  /** The external IP the runner (as the cloud) gave a LoadBalancer Service, once the proxy has seen it. */
  async loadBalancerIp(namespace: string, name: string): Promise<string> {
    return this.waitFor(`a load-balancer address for Service ${namespace}/${name}`, () => {
      const ingress = (statusOf(this.objects.get('services', namespace, name) ?? ({} as KubeObject)).loadBalancer as { ingress?: Array<{ ip?: string }> } | undefined)?.ingress;
      return ingress?.[0]?.ip;
    });
  }

  /** Resolves when the proxy listens for every Service port and the hosts files are current. */
  async settled(): Promise<void> {
    await Promise.all([this.deployments.idle(), this.statefulSets.idle(), this.daemonSets.idle(), this.slices.idle()]);
    await this.proxy.settled();
    await this.dns.settled();
  }

  /** Everything a container wrote to stdout and stderr, all its runs appended (`kubectl logs`, roughly). */
  async logs(namespace: string, pod: string, container: string): Promise<string> {
    const w = this.kubelet.worker(namespace, pod);
    if (w === undefined) throw new Error(`pod runner: no pod ${namespace}/${pod} runs on this node`);
    return readFile(w.logFile(container), 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return '';
      throw err;
    });
  }

  /**
   * Runs a process in a running pod's network namespace (and with its hosts
   * file), like `kubectl exec` without the pod's mounts or environment; "node"
   * as argv[0] is this Node.js. Resolves when it exits (killed after timeoutMs).
   */
  async execInPod(namespace: string, pod: string, argv: readonly string[], options: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<ExecResult> {
    const w = this.kubelet.worker(namespace, pod);
    const netns = w?.netns;
    if (netns === undefined) throw new Error(`pod runner: pod ${namespace}/${pod} has no network namespace on this node (not started, or gone)`);
    const cmd = argv[0] === 'node' ? [process.execPath, ...argv.slice(1)] : [...argv];
    return new Promise((resolveExec, reject) => {
      const child = spawn('ip', ['netns', 'exec', netns, ...cmd], { env: { PATH: process.env.PATH ?? '', ...(options.env ?? {}) } });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => err.push(d));
      const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        resolveExec({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
      });
    });
  }

  /** The host folder of a pod's volume, as the AtomicWriter keeps it (..data and the key links). */
  volumeDir(namespace: string, pod: string, volume: string): string {
    const w = this.kubelet.worker(namespace, pod);
    if (w === undefined) throw new Error(`pod runner: no pod ${namespace}/${pod} runs on this node`);
    return w.volumeDir(volume);
  }

  /** The pod's network namespace name (for `ip netns exec` in a test's own tools), if it runs here. */
  podNetns(namespace: string, pod: string): string | undefined {
    return this.kubelet.worker(namespace, pod)?.netns;
  }

  /**
   * Kills every container, removes every pod namespace, veth, address, hosts
   * file and the bridge, stops the API server double and removes the runner's
   * files (logs included). Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.deployments.stop();
      this.statefulSets.stop();
      this.daemonSets.stop();
      this.slices.stop();
      await this.kubelet.stop();
      await this.proxy.stop();
      await this.api.stop();
      await this.network.remove();
      await rm(this.dir, { recursive: true, force: true });
    })();
    return this.stopping;
  }
}
