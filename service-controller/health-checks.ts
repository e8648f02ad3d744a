// Active health checks of the targets of services that ask for one
// (`kskup expose --health`): each target port is probed on the service's own
// interval, by a TCP connect or an HTTP GET whose 2xx status means healthy.
// A target turns unhealthy after `unhealthyThreshold` failures in a row and
// healthy again after `healthyThreshold` successes in a row (the thresholds of
// Kubernetes probes and of Envoy's active health checking); its first result
// decides at once, so a new target that is down never takes flows. Each change
// is logged once, counted, and handed to the controller, which takes the
// target's tcpConnector out of the router config (or puts it back).
import { request } from 'node:http';
import type { Logger } from 'pino';
import type { HealthCheck } from '../site-controller/site/model.js';
import { probeTarget, type ProbeResult } from './target-health.js';
import type { CountHealthChange } from './health-metrics.js';

/** One target port under a check. `key`: stable, `ADDRESS|HOST:PORT`. */
export interface CheckedTarget {
  readonly key: string;
  readonly address: string;
  readonly host: string;
  readonly port: number;
  readonly check: HealthCheck;
}

export interface CheckState {
  /** `unknown` until the first probe answers: the target keeps its connector meanwhile. */
  readonly state: 'healthy' | 'unhealthy' | 'unknown';
  /** The last failure's reason, while unhealthy. */
  readonly reason?: string;
  /** How often the state changed since this process started. */
  readonly changes: number;
  /** When it last changed (ms since the epoch). */
  readonly since?: number;
}

interface Running {
  target: CheckedTarget;
  state: CheckState;
  /** Successes (> 0) or failures (< 0) in a row. */
  streak: number;
  timer?: NodeJS.Timeout;
  stopped: boolean;
}

export function checkKey(address: string, host: string, port: number): string {
  return `${address}|${host}:${port}`;
}

export class HealthChecks {
  private readonly running = new Map<string, Running>();
  /** Changes of every target since this process started (status shows it per target; this is the sum). */
  totalChanges = 0;

  constructor(
    private readonly log: Logger,
    /** A target's state changed: the controller updates the router config. */
    private readonly onChange: (target: CheckedTarget, state: CheckState) => void,
    /** Counts each change for Prometheus (health-metrics.ts). */
    private readonly count: CountHealthChange = () => undefined,
  ) {}

  /** The targets to check now: new ones are probed at once, gone ones stop, a changed check starts afresh. */
  setTargets(targets: readonly CheckedTarget[]): void {
    const wanted = new Map(targets.map((target) => [target.key, target]));
    for (const [key, run] of this.running) {
      const target = wanted.get(key);
      if (!target || JSON.stringify(target.check) !== JSON.stringify(run.target.check)) this.stopOne(key);
    }
    for (const target of wanted.values()) {
      if (this.running.has(target.key)) continue;
      const run: Running = { target, state: { state: 'unknown', changes: 0 }, streak: 0, stopped: false };
      this.running.set(target.key, run);
      void this.probe(run);
    }
  }

  state(key: string): CheckState | undefined {
    return this.running.get(key)?.state;
  }

  stop(): void {
    for (const key of [...this.running.keys()]) this.stopOne(key);
  }

  private stopOne(key: string): void {
    const run = this.running.get(key);
    if (!run) return;
    run.stopped = true;
    clearTimeout(run.timer);
    this.running.delete(key);
  }

  private async probe(run: Running): Promise<void> {
    const { target } = run;
    const started = Date.now();
    const result = await probeOnce(target);
    if (run.stopped) return;
    this.record(run, result);
    // The interval counts from the start of a probe, so a slow answer does not stretch it.
    run.timer = setTimeout(() => void this.probe(run), Math.max(0, target.check.intervalMs - (Date.now() - started)));
    run.timer.unref?.();
  }

  private record(run: Running, result: ProbeResult): void {
    const { check } = run.target;
    run.streak = result.ok ? Math.max(run.streak, 0) + 1 : Math.min(run.streak, 0) - 1;
    const current = run.state.state;
    const next =
      current === 'unknown'
        ? result.ok
          ? 'healthy'
          : 'unhealthy'
        : current === 'healthy' && -run.streak >= check.unhealthyThreshold
          ? 'unhealthy'
          : current === 'unhealthy' && run.streak >= check.healthyThreshold
            ? 'healthy'
            : current;
    const reason = result.ok ? undefined : result.reason;
    if (next === current) {
      if (next === 'unhealthy' && reason !== undefined) run.state = { ...run.state, reason };
      return;
    }
    run.state = { state: next, ...(next === 'unhealthy' && reason !== undefined && { reason }), changes: run.state.changes + 1, since: Date.now() };
    this.totalChanges++;
    const { address, host, port } = run.target;
    const what = `target ${host}:${port} of service "${address}"`;
    this.count(address, `${host}:${port}`, next);
    if (next === 'unhealthy') this.log.warn({ address, target: `${host}:${port}`, reason }, `${what} is unhealthy (${describe(check)}: ${reason}): out of rotation`);
    else this.log.info({ address, target: `${host}:${port}` }, `${what} is healthy (${describe(check)}): in rotation`);
    this.onChange(run.target, run.state);
  }
}

/** `http GET /healthz` or `tcp`, for logs and status. */
export function describe(check: HealthCheck): string {
  return check.type === 'http' ? `http GET ${check.path ?? '/'}` : 'tcp connect';
}

function probeOnce(target: CheckedTarget): Promise<ProbeResult> {
  const { check, host, port } = target;
  return check.type === 'http' ? probeHttp(host, port, check.path ?? '/', check.timeoutMs) : probeTarget(host, port, check.timeoutMs);
}

/** `GET path` with no keep-alive; a 2xx status is healthy. Never rejects. */
export function probeHttp(host: string, port: number, path: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (result: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(result);
    };
    const req = request({ host, port, path, method: 'GET', agent: false, headers: { 'user-agent': 'kskup-health-check', connection: 'close' } }, (response) => {
      const status = response.statusCode ?? 0;
      response.resume();
      done(status >= 200 && status < 300 ? { ok: true } : { ok: false, failure: 'error', reason: `HTTP status ${status} from GET ${path}` });
    });
    const timer = setTimeout(() => done({ ok: false, failure: 'timeout', reason: `no answer to GET ${path} within ${timeoutMs} ms` }), timeoutMs);
    req.on('error', (error: NodeJS.ErrnoException) => {
      const refused = error.code === 'ECONNREFUSED';
      done({ ok: false, failure: refused ? 'refused' : 'error', reason: refused ? 'connection refused (ECONNREFUSED)' : `${error.message}${error.code && !error.message.includes(error.code) ? ` (${error.code})` : ''}` });
    });
    req.end();
  });
}
