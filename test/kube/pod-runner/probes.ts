// Readiness and liveness probes (httpGet, tcpSocket) as the kubelet's prober
// runs them against the pod IP: the first after initialDelaySeconds, then one
// every periodSeconds, each failing after timeoutSeconds; the result flips
// after failureThreshold failures or successThreshold successes in a row.
// Defaults are the API's: period 10 s, timeout 1 s, failureThreshold 3,
// successThreshold 1. `maxPeriodMs` caps period and initial delay so that tests
// do not wait for production timings.

import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { isObj } from './cluster-objects.js';

type Obj = Record<string, unknown>;

/** Resolves a probe's port: a number, or a container port's name. */
export type PortResolver = (port: unknown) => number | undefined;

export async function probeOnce(probe: Obj, host: string, resolvePort: PortResolver, timeoutMs: number): Promise<boolean> {
  if (isObj(probe.tcpSocket)) {
    const port = resolvePort(probe.tcpSocket.port);
    if (port === undefined) return false;
    return new Promise((resolve) => {
      const s = connect({ host, port });
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        s.destroy();
        resolve(ok);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      s.on('connect', () => done(true));
      s.on('error', () => done(false));
    });
  }
  if (isObj(probe.httpGet)) {
    const g = probe.httpGet;
    const port = resolvePort(g.port);
    if (port === undefined) return false;
    const https = String(g.scheme ?? 'HTTP').toUpperCase() === 'HTTPS';
    const headers: Record<string, string> = { 'User-Agent': 'kube-probe/1.31', Accept: '*/*', Connection: 'close' };
    for (const h of (Array.isArray(g.httpHeaders) ? g.httpHeaders : []) as Obj[]) headers[String(h.name)] = String(h.value);
    return new Promise((resolve) => {
      const opts = { host: typeof g.host === 'string' && g.host !== '' ? g.host : host, port, path: String(g.path ?? '/'), method: 'GET', headers, timeout: timeoutMs, agent: false as const };
      // The kubelet does not verify a probe's certificate.
      const req = https ? httpsRequest({ ...opts, rejectUnauthorized: false }) : request(opts);
      req.on('response', (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        resolve(code >= 200 && code < 400);
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(false));
      req.end();
    });
  }
  // exec and grpc probes: not run here (the README says so); count as success.
  return true;
}

/** Runs one probe on its schedule and reports each change of its result. */
export class ProbeLoop {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private successes = 0;
  private failures = 0;
  private result: boolean;

  constructor(
    private readonly probe: Obj,
    private readonly host: string,
    private readonly resolvePort: PortResolver,
    private readonly maxPeriodMs: number,
    /** The result before the first probe: false for readiness, true for liveness. */
    initial: boolean,
    private readonly onChange: (ok: boolean) => void,
  ) {
    this.result = initial;
    const initialDelay = Math.min(Number(probe.initialDelaySeconds ?? 0) * 1000, maxPeriodMs);
    this.timer = setTimeout(() => void this.tick(), initialDelay);
  }

  get ok(): boolean {
    return this.result;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async tick(): Promise<void> {
    const p = this.probe;
    const ok = await probeOnce(p, this.host, this.resolvePort, Number(p.timeoutSeconds ?? 1) * 1000);
    if (this.stopped) return;
    if (ok) {
      this.successes++;
      this.failures = 0;
    } else {
      this.failures++;
      this.successes = 0;
    }
    const next = ok ? (this.successes >= Number(p.successThreshold ?? 1) ? true : this.result) : this.failures >= Number(p.failureThreshold ?? 3) ? false : this.result;
    if (next !== this.result) {
      this.result = next;
      this.onChange(next);
    }
    this.timer = setTimeout(() => void this.tick(), Math.min(Number(p.periodSeconds ?? 10) * 1000, this.maxPeriodMs));
  }
}
