// One container of a running pod: starts its process, restarts it after an
// exit as restartPolicy says (with the kubelet's doubling back-off, shortened
// for tests), runs its readiness and liveness probes (a liveness failure
// kills it, which counts as an exit), and keeps the ContainerStatus fields.

import type { ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { launchContainer, type ContainerLaunch, type Exit } from './container-process.js';
import { ProbeLoop } from './probes.js';
import { isObj } from './cluster-objects.js';

type Obj = Record<string, unknown>;

export interface BackoffOptions {
  /** First delay before a restart (the kubelet: 10 s); doubles per restart. */
  readonly initialMs: number;
  /** Largest delay (the kubelet: 300 s). */
  readonly maxMs: number;
  /** A container that ran this long resets the delay (the kubelet: 10 min). */
  readonly resetAfterMs: number;
}

/** What the pod worker gives a container to run; `prepare` may fail with a waiting reason. */
export interface ContainerHost {
  prepare(): Promise<ContainerLaunch>;
  readonly restartPolicy: 'Always' | 'OnFailure' | 'Never';
  readonly podIP: string;
  readonly backoff: BackoffOptions;
  readonly probePeriodCapMs: number;
  readonly readinessPeriodCapMs: number;
  /** Something in the status changed. */
  changed(): void;
  /** A container start failed for a reason other than an exit (kept for the log). */
  failed(reason: string, message: string): void;
}

/** A launch that cannot happen yet: the kubelet's waiting reason and message. */
export class WaitingError extends Error {
  constructor(readonly reason: string, message: string) {
    super(message);
  }
}

const now = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

export class ContainerWorker {
  restartCount = 0;
  state: Obj = { waiting: { reason: 'ContainerCreating' } };
  lastState: Obj = {};
  private child: ChildProcess | undefined;
  private exited: Promise<Exit> | undefined;
  private readiness: ProbeLoop | undefined;
  private liveness: ProbeLoop | undefined;
  private delayMs: number;
  private timer: NodeJS.Timeout | undefined;
  private startedAtMs = 0;
  private stopping = false;
  private everStarted = false;
  private starting: Promise<void> = Promise.resolve();

  constructor(readonly spec: Obj, private readonly host: ContainerHost) {
    this.delayMs = host.backoff.initialMs;
  }

  get name(): string {
    return String(this.spec.name);
  }

  get started(): boolean {
    return this.child !== undefined;
  }

  get hasRun(): boolean {
    return this.everStarted;
  }

  /** Running and, with a readiness probe, passing it. */
  get ready(): boolean {
    return this.child !== undefined && (this.readiness?.ok ?? true);
  }

  /** Will not run again (exited and restartPolicy says no). */
  get finished(): boolean {
    return this.child === undefined && this.timer === undefined && 'terminated' in this.state;
  }

  /** Starts the process (once prepared); stop() waits for a start in flight. */
  start(): Promise<void> {
    this.starting = this.launch();
    return this.starting;
  }

  private async launch(): Promise<void> {
    this.timer = undefined;
    if (this.stopping) return;
    let launch: ContainerLaunch;
    try {
      launch = await this.host.prepare();
    } catch (err) {
      const reason = err instanceof WaitingError ? err.reason : 'RunContainerError';
      this.state = { waiting: { reason, message: (err as Error).message } };
      this.host.failed(reason, (err as Error).message);
      this.retryAfterBackoff();
      return this.host.changed();
    }
    if (this.stopping) return;
    try {
      const { child, exited } = await launchContainer(launch);
      this.child = child;
      this.exited = exited;
      if (this.stopping) {
        child.kill('SIGKILL');
        await exited;
        return;
      }
    } catch (err) {
      this.state = { waiting: { reason: 'RunContainerError', message: (err as Error).message } };
      this.retryAfterBackoff();
      return this.host.changed();
    }
    if (this.everStarted) this.restartCount++;
    this.everStarted = true;
    this.startedAtMs = Date.now();
    this.state = { running: { startedAt: now() } };
    this.startProbes();
    void this.exited!.then((exit) => this.onExit(exit));
    this.host.changed();
  }

  /** SIGTERM, then SIGKILL after graceMs; resolves when the process is gone. No restart afterwards. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.starting;
    await this.kill(graceMs);
  }

  private async kill(graceMs: number): Promise<void> {
    this.stopProbes();
    const child = this.child;
    const exited = this.exited;
    if (child === undefined || exited === undefined) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  private startProbes(): void {
    const ports = (Array.isArray(this.spec.ports) ? this.spec.ports : []) as Obj[];
    const resolvePort = (port: unknown): number | undefined => {
      if (typeof port === 'number') return port;
      const named = ports.find((p) => p.name === port);
      return typeof named?.containerPort === 'number' ? named.containerPort : typeof port === 'string' && /^\d+$/.test(port) ? Number(port) : undefined;
    };
    if (isObj(this.spec.readinessProbe)) {
      this.readiness = new ProbeLoop(this.spec.readinessProbe, this.host.podIP, resolvePort, this.host.readinessPeriodCapMs, false, () => this.host.changed());
    }
    if (isObj(this.spec.livenessProbe)) {
      this.liveness = new ProbeLoop(this.spec.livenessProbe, this.host.podIP, resolvePort, this.host.probePeriodCapMs, true, (ok) => {
        // A liveness failure kills the container; its exit then restarts it as restartPolicy says.
        if (!ok) void this.kill(this.host.backoff.maxMs);
      });
    }
  }

  private stopProbes(): void {
    this.readiness?.stop();
    this.liveness?.stop();
    this.readiness = undefined;
    this.liveness = undefined;
  }

  private onExit(exit: Exit): void {
    this.stopProbes();
    this.child = undefined;
    this.exited = undefined;
    const signal = exit.signal === null ? undefined : constants.signals[exit.signal];
    const exitCode = exit.code ?? 128 + (signal ?? 0);
    const running = isObj(this.state.running) ? this.state.running : {};
    const terminated = { exitCode, ...(exit.signal === null ? {} : { signal }), reason: exitCode === 0 ? 'Completed' : 'Error', startedAt: running.startedAt, finishedAt: now() };
    this.state = { terminated };
    if (this.stopping) return this.host.changed();
    const policy = this.host.restartPolicy;
    if (policy === 'Always' || (policy === 'OnFailure' && exitCode !== 0)) {
      if (Date.now() - this.startedAtMs >= this.host.backoff.resetAfterMs) this.delayMs = this.host.backoff.initialMs;
      this.lastState = { terminated };
      this.state = { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${this.delayMs}ms restarting failed container=${this.name}` } };
      this.retryAfterBackoff();
    }
    this.host.changed();
  }

  private retryAfterBackoff(): void {
    if (this.stopping) return;
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.host.backoff.maxMs);
    this.timer = setTimeout(() => void this.start(), delay);
  }
}
