// The TCP probe of pod targets: the controller, running in the cluster, can
// reach pod IPs, so it probes each ready pod's target ports as the local
// platform probes host targets (service-controller/target-health.ts). Kubernetes
// readiness decides first; the probe only takes away: a Ready pod that refuses
// TCP on a target port gets no tcpConnector for it.
//
// Which ip:port to probe is learnt from what is asked (`state`): an endpoint
// not asked about for two periods is forgotten. A new endpoint is probed at
// once; known ones every period. A change of any outcome calls `onChange`.
import type { ProbeResult } from '../site/workload-endpoints.js';

/** The probe's view of one ready pod's port. `off`: probes are disabled (the controller cannot reach pod IPs). */
export type PodProbeState = { readonly kind: 'probed'; readonly result: ProbeResult } | { readonly kind: 'pending' } | { readonly kind: 'off' };

export interface PodProbesOptions {
  /** False when the controller runs outside the cluster: readiness alone counts. */
  readonly enabled: boolean;
  /** How often every known endpoint is probed again (the site's KSKUP_SYNC_HEALTH_MS, default 5 s). */
  readonly periodMs: number;
  /** Probes one endpoint; never rejects (target-health's probeTarget). */
  readonly probe: (host: string, port: number) => Promise<ProbeResult>;
  /** Some endpoint's outcome changed (or its first came in). */
  readonly onChange: () => void;
}

interface Endpoint {
  result?: ProbeResult;
  askedAt: number;
  inFlight: boolean;
}

export class PodProbes {
  private readonly endpoints = new Map<string, Endpoint>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: PodProbesOptions) {}

  start(): void {
    if (this.options.enabled) this.timer = setInterval(() => this.probeAll(), this.options.periodMs);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  /** The last outcome for `ip:port` of a ready pod; the first ask starts its probe. */
  state(ip: string, port: number): PodProbeState {
    if (!this.options.enabled) return { kind: 'off' };
    const key = `${ip}:${port}`;
    let endpoint = this.endpoints.get(key);
    if (!endpoint) {
      endpoint = { askedAt: Date.now(), inFlight: false };
      this.endpoints.set(key, endpoint);
      void this.probeOne(ip, port, endpoint);
    }
    endpoint.askedAt = Date.now();
    return endpoint.result ? { kind: 'probed', result: endpoint.result } : { kind: 'pending' };
  }

  private probeAll(): void {
    const forgetBefore = Date.now() - 2 * this.options.periodMs;
    for (const [key, endpoint] of this.endpoints) {
      if (endpoint.askedAt < forgetBefore) {
        this.endpoints.delete(key);
        continue;
      }
      const colon = key.lastIndexOf(':');
      void this.probeOne(key.slice(0, colon), Number(key.slice(colon + 1)), endpoint);
    }
  }

  private async probeOne(ip: string, port: number, endpoint: Endpoint): Promise<void> {
    if (endpoint.inFlight) return;
    endpoint.inFlight = true;
    const result = await this.options.probe(ip, port);
    endpoint.inFlight = false;
    if (this.stopped || this.endpoints.get(`${ip}:${port}`) !== endpoint) return;
    const changed = JSON.stringify(result) !== JSON.stringify(endpoint.result);
    endpoint.result = result;
    if (changed) this.options.onChange();
  }
}
