// Which pods serve a deployment/NAME target (site-controller/kubernetes/workload-targets.ts).
import { describe, expect, it } from 'vitest';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { createServer, type AddressInfo } from 'node:net';
import { deploymentPods, deploymentPodStates, selectorMatcher } from '../site-controller/kubernetes/workload-targets.js';
import { PodProbes, type PodProbeState } from '../site-controller/kubernetes/pod-probes.js';
import { podEndpoints } from '../site-controller/kubernetes/pod-targets.js';
import { probeTarget } from '../service-controller/target-health.js';

function pod(name: string, ip: string | undefined, labels: Record<string, string>, ready: boolean, terminating = false): V1Pod {
  return {
    metadata: { name, labels, ...(terminating && { deletionTimestamp: new Date() }) },
    status: { ...(ip && { podIP: ip }), conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  };
}

const deployment: V1Deployment = { metadata: { name: 'backend' }, spec: { selector: { matchLabels: { app: 'backend' } }, template: {} } };

describe('workload targets', () => {
  it('are the ready, running, not terminating pods the selector selects, sorted by IP', () => {
    const pods = [
      pod('b', '10.1.0.9', { app: 'backend' }, true),
      pod('a', '10.1.0.10', { app: 'backend', extra: 'x' }, true),
      pod('unready', '10.1.0.11', { app: 'backend' }, false),
      pod('leaving', '10.1.0.12', { app: 'backend' }, true, true),
      pod('no-ip', undefined, { app: 'backend' }, true),
      pod('other', '10.1.0.13', { app: 'frontend' }, true),
    ];
    expect(deploymentPods('backend', deployment, pods)).toEqual({ ips: ['10.1.0.10', '10.1.0.9'] });
  });

  it('say why there are none when the Deployment is missing or selects everything', () => {
    expect(deploymentPods('gone', undefined, [])).toEqual({ ips: [], problem: 'Deployment gone not found' });
    const empty: V1Deployment = { metadata: { name: 'all' }, spec: { selector: {}, template: {} } };
    expect(deploymentPods('all', empty, [pod('p', '10.1.0.1', { app: 'x' }, true)])).toEqual({ ips: [], problem: 'Deployment all: spec.selector is empty: it would select every pod' });
  });

  it('match expressions as Kubernetes does', () => {
    const match = selectorMatcher({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['web', 'api'] }, { key: 'canary', operator: 'DoesNotExist' }] });
    if (typeof match === 'string') throw new Error(match);
    expect(match({ tier: 'web' })).toBe(true);
    expect(match({ tier: 'db' })).toBe(false);
    expect(match({ tier: 'api', canary: 'yes' })).toBe(false);
    expect(selectorMatcher({ matchExpressions: [{ key: 'a', operator: 'Gt' }] })).toBe('has an unknown operator "Gt"');
  });
});

describe('pod targets: readiness, then the TCP probe (pod-probes.ts, pod-targets.ts)', () => {
  it('every selected pod is a row; a Ready pod takes flows unless its port refused the probe', () => {
    const pods = [pod('b', '10.1.0.9', { app: 'backend' }, true), pod('a', '10.1.0.10', { app: 'backend' }, true), pod('unready', '10.1.0.11', { app: 'backend' }, false)];
    const states: Record<string, PodProbeState> = {
      '10.1.0.10:8080': { kind: 'probed', result: { ok: true } },
      '10.1.0.10:9999': { kind: 'probed', result: { ok: false, failure: 'refused', reason: 'connection refused (ECONNREFUSED)' } },
      '10.1.0.9:8080': { kind: 'pending' },
      '10.1.0.9:9999': { kind: 'probed', result: { ok: false, failure: 'timeout', reason: 'no answer within 1000 ms' } },
    };
    const asked: string[] = [];
    const endpoints = podEndpoints(deploymentPodStates('backend', deployment, pods), [8080, 9999], (ip, port) => {
      asked.push(`${ip}:${port}`);
      return states[`${ip}:${port}`] ?? { kind: 'off' };
    });
    expect(endpoints.endpoints.map((e) => [e.pod, e.ip, e.ports.map((p) => `${p.port} ${p.takesFlows ? 'flows' : 'none'} ${p.health}`)])).toEqual([
      ['a', '10.1.0.10', ['8080 flows healthy', '9999 none unhealthy']],
      ['b', '10.1.0.9', ['8080 flows unknown', '9999 flows unhealthy']],
      ['unready', '10.1.0.11', ['8080 none unhealthy', '9999 none unhealthy']],
    ]);
    expect(endpoints.endpoints[2]?.ports[0]?.reason).toBe('not Ready');
    // An unready pod is never probed.
    expect(asked.some((key) => key.startsWith('10.1.0.11:'))).toBe(false);
  });

  it('probes a new endpoint at once and reports refused and answering ports of real sockets', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const open = (server.address() as AddressInfo).port;
    const spare = createServer();
    await new Promise<void>((resolve) => spare.listen(0, '127.0.0.1', resolve));
    const closed = (spare.address() as AddressInfo).port;
    await new Promise((resolve) => spare.close(resolve));
    let changes = 0;
    const probes = new PodProbes({ enabled: true, periodMs: 60_000, probe: probeTarget, onChange: () => changes++ });
    try {
      expect(probes.state('127.0.0.1', open)).toEqual({ kind: 'pending' });
      expect(probes.state('127.0.0.1', closed)).toEqual({ kind: 'pending' });
      const deadline = Date.now() + 5_000;
      while (changes < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(probes.state('127.0.0.1', open)).toEqual({ kind: 'probed', result: { ok: true } });
      expect(probes.state('127.0.0.1', closed)).toEqual({ kind: 'probed', result: { ok: false, failure: 'refused', reason: 'connection refused (ECONNREFUSED)' } });
    } finally {
      probes.stop();
      server.close();
    }
    expect(new PodProbes({ enabled: false, periodMs: 1_000, probe: probeTarget, onChange: () => undefined }).state('127.0.0.1', open)).toEqual({ kind: 'off' });
  });
});
