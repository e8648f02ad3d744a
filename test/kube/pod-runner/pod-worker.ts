// One pod on the node, from start to removal (the kubelet's pod worker):
// network namespace and IP, hosts file, volumes (kept current as their
// ConfigMaps and Secrets change), containers, and the Pod's status written
// through the status subresource. Termination: SIGTERM to every container,
// SIGKILL after the grace period (capped for tests), namespace and files
// removed, then the Pod deleted with gracePeriodSeconds 0 as the kubelet does.

import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeObject } from '../store.js';
import { AtomicWriter } from './atomic-writer.js';
import type { ClusterDns } from './cluster-dns.js';
import type { ClusterNetwork, PodNetwork } from './cluster-network.js';
import { isObj, specOf, statusOf, type ClusterObjects } from './cluster-objects.js';
import { containerEnv, EnvError, expand } from './container-env.js';
import type { ContainerLaunch, Mount } from './container-process.js';
import { ContainerWorker, WaitingError, type BackoffOptions } from './container-worker.js';
import { containerArgv, findImage, ImageError, type ImageRegistry } from './images.js';
import { condition } from './pod-facts.js';
import { SERVICE_ACCOUNT_MOUNT, serviceAccountPayload, volumePayload, VolumeError, type VolumeSources } from './volumes.js';

type Obj = Record<string, unknown>;

export interface NodeContext {
  readonly objects: ClusterObjects;
  readonly network: ClusterNetwork;
  readonly dns: ClusterDns;
  readonly images: ImageRegistry;
  readonly nodeName: string;
  readonly sources: VolumeSources;
  /** Folder for pod files (volumes) and logs. */
  readonly dir: string;
  readonly backoff: BackoffOptions;
  readonly probePeriodCapMs: number;
  readonly readinessPeriodCapMs: number;
  readonly gracePeriodCapMs: number;
  readonly onError: (what: string, err: unknown) => void;
}

const SA_VOLUME = 'kube-api-access';
const now = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

export class PodWorker {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly logDir: string;
  private readonly podDir: string;
  private net: PodNetwork | undefined;
  private readonly containers: ContainerWorker[] = [];
  private readonly writers = new Map<string, AtomicWriter>();
  private volumesReady = false;
  private volumeError: string | undefined;
  private startTime: string | undefined;
  private statusScheduled = false;
  private terminating: Promise<void> | undefined;
  private starting: Promise<void> = Promise.resolve();

  constructor(private pod: KubeObject, private readonly node: NodeContext) {
    this.namespace = pod.metadata.namespace ?? 'default';
    this.name = pod.metadata.name;
    this.uid = pod.metadata.uid;
    this.podDir = join(node.dir, 'pods', this.uid);
    this.logDir = join(node.dir, 'logs', `${this.namespace}_${this.name}_${this.uid}`);
  }

  get netns(): string | undefined {
    return this.net?.netns;
  }

  get podIP(): string | undefined {
    return this.net?.ip;
  }

  /** The host folder of a volume (what the containers see at its mountPath). */
  volumeDir(volume: string): string {
    return join(this.podDir, 'volumes', volume);
  }

  logFile(container: string): string {
    return join(this.logDir, `${container}.log`);
  }

  /** Sets the pod up and starts its containers; terminate() waits for it. */
  start(): Promise<void> {
    this.starting = this.setUp();
    return this.starting;
  }

  private async setUp(): Promise<void> {
    this.startTime = now();
    await mkdir(this.logDir, { recursive: true });
    await mkdir(join(this.podDir, 'home'), { recursive: true });
    this.net = await this.node.network.addPod();
    if (this.terminating !== undefined) return;
    await this.node.dns.register(this.net.netns, this.pod, this.net.ip);
    await this.refreshVolumes();
    const spec = specOf(this.pod);
    const policy = spec.restartPolicy === 'Never' || spec.restartPolicy === 'OnFailure' ? spec.restartPolicy : 'Always';
    for (const c of (Array.isArray(spec.containers) ? spec.containers : []) as Obj[]) {
      const worker: ContainerWorker = new ContainerWorker(c, {
        prepare: () => this.prepare(worker),
        restartPolicy: policy,
        podIP: this.net.ip,
        backoff: this.node.backoff,
        probePeriodCapMs: this.node.probePeriodCapMs,
        readinessPeriodCapMs: this.node.readinessPeriodCapMs,
        changed: () => this.scheduleStatus(),
        failed: () => undefined,
      });
      this.containers.push(worker);
    }
    this.scheduleStatus();
    if (this.terminating !== undefined) return;
    for (const c of this.containers) void c.start();
  }

  /** A newer version of the Pod object was seen. */
  update(pod: KubeObject): void {
    if (pod.metadata.uid === this.uid) this.pod = pod;
  }

  /**
   * Rewrites the configMap, secret, projected and service-account volumes
   * (the AtomicWriter skips unchanged ones). A missing source leaves the
   * containers waiting until it appears.
   */
  async refreshVolumes(): Promise<void> {
    if (this.terminating !== undefined) return;
    try {
      for (const v of (Array.isArray(specOf(this.pod).volumes) ? specOf(this.pod).volumes : []) as Obj[]) {
        const dir = join(this.podDir, 'volumes', String(v.name));
        const payload = volumePayload(this.pod, v, this.node.sources);
        if (payload === undefined) {
          await mkdir(dir, { recursive: true }); // emptyDir (and anything else: an empty folder)
          continue;
        }
        const writer = this.writers.get(dir) ?? new AtomicWriter(dir);
        this.writers.set(dir, writer);
        await writer.write(payload);
      }
      if (this.automountToken()) {
        const dir = join(this.podDir, 'volumes', SA_VOLUME);
        const writer = this.writers.get(dir) ?? new AtomicWriter(dir);
        this.writers.set(dir, writer);
        await writer.write(serviceAccountPayload(this.pod, this.node.sources));
      }
      this.volumesReady = true;
      this.volumeError = undefined;
    } catch (err) {
      if (!(err instanceof VolumeError)) throw err;
      this.volumeError = `MountVolume.SetUp failed: ${err.message}`;
    }
  }

  private automountToken(): boolean {
    return specOf(this.pod).automountServiceAccountToken !== false;
  }

  /** Everything a container start needs; a WaitingError names what is missing. */
  private async prepare(worker: ContainerWorker): Promise<ContainerLaunch> {
    if (!this.volumesReady) {
      await this.refreshVolumes();
      if (!this.volumesReady) throw new WaitingError('ContainerCreating', this.volumeError ?? 'volumes not ready');
    }
    const spec = worker.spec;
    let argv: string[];
    try {
      argv = containerArgv(this.node.images, spec);
    } catch (err) {
      if (err instanceof ImageError) throw new WaitingError(err.reason === 'ErrImagePull' ? 'ImagePullBackOff' : err.reason, err.message);
      throw err;
    }
    const image = findImage(this.node.images, String(spec.image))!;
    let env: Record<string, string>;
    try {
      env = containerEnv(this.node.objects, this.pod, spec, { podIP: this.net!.ip, hostIP: this.node.network.nodeIp, nodeName: this.node.nodeName }, image.env ?? {});
    } catch (err) {
      if (err instanceof EnvError) throw new WaitingError('CreateContainerConfigError', err.message);
      throw err;
    }
    // The kubelet expands $(VAR) in the container's command and args with its environment (kubecontainer.ExpandContainerCommandAndArgs).
    const expanded = (words: unknown) => (Array.isArray(words) ? words.map((word) => expand(String(word), env)) : undefined);
    argv = containerArgv(this.node.images, { ...spec, ...(spec.command !== undefined && { command: expanded(spec.command) }), ...(spec.args !== undefined && { args: expanded(spec.args) }) });
    const volumes = new Set(((Array.isArray(specOf(this.pod).volumes) ? specOf(this.pod).volumes : []) as Obj[]).map((v) => String(v.name)));
    const mounts: Mount[] = [];
    for (const m of (Array.isArray(spec.volumeMounts) ? spec.volumeMounts : []) as Obj[]) {
      const name = String(m.name);
      if (!volumes.has(name)) throw new WaitingError('CreateContainerConfigError', `volumeMount "${name}" names no volume of the pod`);
      if (typeof m.subPath === 'string' && m.subPath !== '') throw new WaitingError('CreateContainerConfigError', `volumeMount "${name}": subPath is not supported by the pod runner`);
      mounts.push({ source: join(this.podDir, 'volumes', name), target: String(m.mountPath), readOnly: m.readOnly === true });
    }
    if (this.automountToken() && !mounts.some((m) => m.target === SERVICE_ACCOUNT_MOUNT)) {
      mounts.push({ source: join(this.podDir, 'volumes', SA_VOLUME), target: SERVICE_ACCOUNT_MOUNT, readOnly: true });
    }
    // No image file system: HOME is a per-pod folder, so the host's ~/.kube/config never shadows the in-cluster config.
    env.HOME ??= join(this.podDir, 'home');
    return {
      netns: this.net!.netns,
      argv,
      env,
      workingDir: typeof spec.workingDir === 'string' ? spec.workingDir : (image.workingDir ?? '/'),
      mounts,
      logFile: this.logFile(String(spec.name)),
    };
  }

  /**
   * Stops the pod: SIGTERM, SIGKILL after min(grace, cap), network and files
   * removed; then, unless the Pod object is already gone, deletes it with
   * gracePeriodSeconds 0. Idempotent.
   */
  terminate(graceSeconds: number): Promise<void> {
    this.terminating ??= (async () => {
      await this.starting.catch(() => undefined);
      const graceMs = Math.min(graceSeconds * 1000, this.node.gracePeriodCapMs);
      await Promise.all(this.containers.map((c) => c.stop(graceMs)));
      if (this.net !== undefined) {
        this.node.dns.unregister(this.net.netns);
        await this.node.network.removePod(this.net);
      }
      try {
        // A volume refresh may still be writing (its source changed as the pod was deleted): let it finish first.
        await Promise.all([...this.writers.values()].map((writer) => writer.idle()));
        await rm(this.podDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
      } finally {
        // The Pod object goes whatever the clean-up met, as the kubelet's does: a pod must never stay terminating.
        const current = this.node.objects.get('pods', this.namespace, this.name);
        if (current?.metadata.uid === this.uid) this.node.objects.delete('pods', this.namespace, this.name, 0, this.uid);
      }
    })();
    return this.terminating;
  }

  private scheduleStatus(): void {
    if (this.statusScheduled) return;
    this.statusScheduled = true;
    setImmediate(() => {
      this.statusScheduled = false;
      try {
        this.writeStatus();
      } catch (err) {
        this.node.onError(`status of Pod ${this.namespace}/${this.name}`, err);
      }
    });
  }

  private writeStatus(): void {
    if (this.terminating !== undefined) return;
    const pod = this.node.objects.get('pods', this.namespace, this.name);
    if (pod === undefined || pod.metadata.uid !== this.uid || pod.metadata.deletionTimestamp !== undefined) return;
    const previous = statusOf(pod).conditions;
    const t = now();
    const allReady = this.containers.length > 0 && this.containers.every((c) => c.ready);
    const allFinished = this.containers.length > 0 && this.containers.every((c) => c.finished);
    const failed = this.containers.some((c) => isObj(c.state.terminated) && c.state.terminated.exitCode !== 0);
    const phase = allFinished ? (failed ? 'Failed' : 'Succeeded') : this.containers.length > 0 && this.containers.every((c) => c.hasRun) ? 'Running' : 'Pending';
    const notReady = this.containers.filter((c) => !c.ready).map((c) => c.name);
    const why = notReady.length === 0 ? '' : `containers with unready status: [${notReady.join(' ')}]`;
    const images = new Map(this.containers.map((c) => [c.name, String(c.spec.image)]));
    const status: Obj = {
      phase,
      conditions: [
        condition(previous, 'PodReadyToStartContainers', this.net !== undefined, '', '', t),
        condition(previous, 'Initialized', true, '', '', t),
        condition(previous, 'Ready', allReady, allReady ? '' : 'ContainersNotReady', why, t),
        condition(previous, 'ContainersReady', allReady, allReady ? '' : 'ContainersNotReady', why, t),
        condition(previous, 'PodScheduled', true, '', '', t),
      ].map((c) => Object.fromEntries(Object.entries(c).filter(([, v]) => v !== ''))),
      hostIP: this.node.network.nodeIp,
      hostIPs: [{ ip: this.node.network.nodeIp }],
      ...(this.net === undefined ? {} : { podIP: this.net.ip, podIPs: [{ ip: this.net.ip }] }),
      startTime: this.startTime,
      qosClass: 'BestEffort',
      containerStatuses: this.containers.map((c) => ({
        name: c.name,
        image: images.get(c.name),
        imageID: `kskup-pod-runner://${images.get(c.name) ?? ''}`,
        containerID: `kskup-pod-runner://${this.uid}/${c.name}/${c.restartCount}`,
        ready: c.ready,
        started: c.started,
        restartCount: c.restartCount,
        state: c.state,
        lastState: c.lastState,
      })),
    };
    this.node.objects.updateStatus('pods', pod, status);
  }
}

