// Which pods serve a workload target (site-controller/kubernetes/workload-targets.ts),
// a Service target's ports (service-target-ports.ts), a StatefulSet's per-pod
// addresses (pod-addresses.ts) and the Service name of an address (address-services.ts).
import { describe, expect, it } from 'vitest';
import type { V1ContainerPort, V1Deployment, V1Pod, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import { addressServiceName } from '../site-controller/kubernetes/address-services.js';
import { perPodServices, podAddress } from '../site-controller/kubernetes/pod-addresses.js';
import { serviceTargetPorts } from '../site-controller/kubernetes/service-target-ports.js';
import {
  canonicalSelector,
  deploymentPods,
  labelledPods,
  parseEqualitySelector,
  selectorMatcher,
  servicePods,
  statefulSetPods,
  targetPods,
} from '../site-controller/kubernetes/workload-targets.js';
import type { ServiceRecord, SiteDocument } from '../site-controller/site/model.js';
import { createServer, type AddressInfo } from 'node:net';
import { PodProbes, type PodProbeState } from '../site-controller/kubernetes/pod-probes.js';
import { podEndpoints } from '../site-controller/kubernetes/pod-targets.js';
import { probeTarget } from '../service-controller/target-health.js';

function pod(name: string, ip: string | undefined, labels: Record<string, string>, ready: boolean, terminating = false, ports: V1ContainerPort[] = []): V1Pod {
  return {
    metadata: { name, labels, ...(terminating && { deletionTimestamp: new Date() }) },
    spec: { containers: [{ name: 'main', ports }] },
    status: { ...(ip && { podIP: ip }), conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  };
}

function service(name: string, spec: V1Service['spec']): V1Service {
  return { metadata: { name }, spec };
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
    expect(deploymentPods('backend', deployment, pods)).toEqual({ ips: ['10.1.0.10', '10.1.0.9'], pods: expect.any(Array) });
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

describe('statefulset, service and pods targets', () => {
  const db: V1StatefulSet = { metadata: { name: 'db' }, spec: { replicas: 2, serviceName: 'db', selector: { matchLabels: { app: 'db' } }, template: {} } };
  const pods = [pod('db-0', '10.1.0.1', { app: 'db' }, true), pod('db-1', '10.1.0.2', { app: 'db' }, true), pod('db-2', '10.1.0.3', { app: 'db' }, false), pod('web', '10.1.0.4', { app: 'web', tier: 'edge' }, true)];

  it('a StatefulSet: its ready pods, or one pod of it by name; a missing one says so', () => {
    expect(statefulSetPods('db', db, pods)).toEqual({ ips: ['10.1.0.1', '10.1.0.2'], pods: expect.any(Array) });
    expect(statefulSetPods('db', db, pods, 'db-1')).toEqual({ ips: ['10.1.0.2'], pods: expect.any(Array) });
    expect(statefulSetPods('db', db, pods, 'db-2')).toEqual({ ips: [], pods: expect.any(Array) });
    // A pod of that name the StatefulSet does not select is not its pod.
    expect(statefulSetPods('db', db, [pod('db-0', '10.1.0.9', { app: 'other' }, true)], 'db-0')).toEqual({ ips: [], pods: expect.any(Array) });
    expect(statefulSetPods('gone', undefined, pods)).toEqual({ ips: [], problem: 'StatefulSet gone not found' });
  });

  it('a Service: the pods its selector selects; none, with the reason, without a selector or as ExternalName', () => {
    expect(servicePods('web', service('web', { selector: { app: 'web' }, ports: [{ port: 80 }] }), pods)).toEqual({ ips: ['10.1.0.4'], pods: expect.any(Array) });
    expect(servicePods('gone', undefined, pods).problem).toBe('Service gone not found');
    expect(servicePods('manual', service('manual', { ports: [{ port: 80 }] }), pods).problem).toMatch(/^Service manual has no spec.selector/);
    expect(servicePods('alias', service('alias', { type: 'ExternalName', externalName: 'db.example.com' }), pods).problem).toMatch(
      /^Service alias is of type ExternalName \(a DNS alias for db.example.com\): it selects no pods; expose host\/db.example.com instead/,
    );
  });

  it('pods --selector: equality selectors only, in one canonical form', () => {
    expect(parseEqualitySelector('tier=edge, app==web')).toEqual({ tier: 'edge', app: 'web' });
    expect(canonicalSelector({ tier: 'edge', app: 'web' })).toBe('app=web,tier=edge');
    expect(parseEqualitySelector('example.com/role=db')).toEqual({ 'example.com/role': 'db' });
    expect(parseEqualitySelector('app!=web')).toBe('"app!=web" is not k=v (only equality is supported)');
    expect(parseEqualitySelector('app')).toBe('"app" is not k=v (only equality is supported)');
    expect(parseEqualitySelector('app=')).toMatch(/^"" is not a label value/);
    expect(parseEqualitySelector('-x=1')).toBe('"-x" is not a label key');
    expect(parseEqualitySelector('a=1,a=2')).toBe('label "a" is given twice');
    expect(parseEqualitySelector(' ')).toBe('is empty: give k=v[,k2=v2]');
    expect(labelledPods('app=web,tier=edge', pods)).toEqual({ ips: ['10.1.0.4'], pods: expect.any(Array) });
    expect(labelledPods('app=db', pods)).toEqual({ ips: ['10.1.0.1', '10.1.0.2'], pods: expect.any(Array) });
  });

  it('targetPods picks the resolver by target type; a host target has no pods', () => {
    const objects = { deployment: () => undefined, statefulSet: (name: string) => (name === 'db' ? db : undefined), daemonSet: () => undefined, service: () => undefined, pods };
    expect(targetPods({ type: 'statefulset', name: 'db', pod: 'db-0' }, objects)).toEqual({ ips: ['10.1.0.1'], pods: expect.any(Array) });
    expect(targetPods({ type: 'pods', name: 'tier=edge' }, objects)).toEqual({ ips: ['10.1.0.4'], pods: expect.any(Array) });
    expect(targetPods({ type: 'deployment', name: 'x' }, objects).problem).toBe('Deployment x not found');
    expect(targetPods({ type: 'host', name: 'localhost' }, objects)).toEqual({ ips: [] });
  });
});

describe('service/NAME ports', () => {
  const web = service('web', {
    selector: { app: 'web' },
    ports: [
      { name: 'http', port: 80, targetPort: 'http' as unknown as number },
      { name: 'alt', port: 8080, targetPort: 8081 as unknown as number },
      { name: 'plain', port: 9000 },
      { name: 'dns', port: 53, protocol: 'UDP' },
    ],
  });
  const named = [pod('web-a', '10.1.0.1', { app: 'web' }, true, false, [{ name: 'http', containerPort: 8080 }]), pod('web-b', '10.1.0.2', { app: 'web' }, false, false, [{ name: 'http', containerPort: 8080 }])];

  it('default to the Service\'s TCP ports; a named targetPort is the selected pods\' container port; no targetPort is the port', () => {
    expect(serviceTargetPorts(web, named)).toEqual({ ports: [80, 8080, 9000], targetPorts: [8080, 8081, 9000] });
  });

  it('--port picks ports (their targetPorts with them; a port the Service lacks targets itself); --target-port wins', () => {
    expect(serviceTargetPorts(web, named, { ports: [8080, 7] })).toEqual({ ports: [8080, 7], targetPorts: [8081, 7] });
    expect(serviceTargetPorts(web, named, { ports: [80], targetPorts: [9999] })).toEqual({ ports: [80], targetPorts: [9999] });
  });

  it('a named targetPort no pod has, or that pods disagree on, is an error naming the Service, port and name', () => {
    expect(serviceTargetPorts(web, [])).toBe('Service web port 80: targetPort "http" names no container port of the pods it selects (are any running?); give --target-port');
    const mixed = [...named, pod('web-c', '10.1.0.3', { app: 'web' }, true, false, [{ name: 'http', containerPort: 9090 }])];
    expect(serviceTargetPorts(web, mixed)).toBe('Service web port 80: targetPort "http" is port 8080 in some pods and 9090 in others; give --target-port');
    expect(serviceTargetPorts(service('udp', { selector: { a: 'b' }, ports: [{ port: 53, protocol: 'UDP' }] }), [])).toBe('Service udp has no TCP port: give --port');
  });
});

describe('per-pod addresses of a StatefulSet', () => {
  const record: ServiceRecord = {
    address: 'db',
    protocol: 'tcp',
    ports: [5432],
    targets: [{ type: 'statefulset', name: 'pg', host: 'pg', targetPorts: [5433] }],
    createdAt: '2024-01-01T00:00:00.000Z',
  };
  const document = { services: [record, { ...record, address: 'web', targets: [{ type: 'deployment', name: 'web', host: 'web', targetPorts: [80] }] }] } as unknown as SiteDocument;

  it('NAME-ORDINAL.ADDRESS for each ordinal below spec.replicas, each served by that pod only, with the service\'s ports', () => {
    const sets: Record<string, V1StatefulSet> = { pg: { metadata: { name: 'pg' }, spec: { replicas: 2, serviceName: 'pg', selector: {}, template: {} } } };
    const derived = perPodServices(document, (name) => sets[name]);
    expect(derived.map((s) => s.address)).toEqual([podAddress('pg', 0, 'db'), 'pg-1.db']);
    expect(derived[0]).toEqual({ ...record, address: 'pg-0.db', targets: [{ type: 'statefulset', name: 'pg', host: 'pg-0', pod: 'pg-0', targetPorts: [5433] }] });
  });

  it('a StatefulSet exposed by its kskup.io annotations gets them too', () => {
    const annotated = { services: [{ ...record, targets: [{ ...record.targets[0]!, source: 'annotation' as const }] }] } as unknown as SiteDocument;
    const sets: Record<string, V1StatefulSet> = { pg: { metadata: { name: 'pg' }, spec: { replicas: 2, serviceName: 'pg', selector: {}, template: {} } } };
    expect(perPodServices(annotated, (name) => sets[name]).map((s) => [s.address, s.targets[0]?.pod])).toEqual([['pg-0.db', 'pg-0'], ['pg-1.db', 'pg-1']]);
  });

  it('none for a missing StatefulSet or one scaled to 0; spec.replicas defaults to 1', () => {
    expect(perPodServices(document, () => undefined)).toEqual([]);
    expect(perPodServices(document, () => ({ spec: { replicas: 0, serviceName: 'pg', selector: {}, template: {} } }))).toEqual([]);
    expect(perPodServices(document, () => ({ spec: { serviceName: 'pg', selector: {}, template: {} } })).map((s) => s.address)).toEqual(['pg-0.db']);
  });

  it('a Service name for every address: the address if it is a DNS-1035 label, else dashed, else cut and hashed', () => {
    expect(addressServiceName('backend')).toBe('backend');
    expect(addressServiceName('pg-0.db')).toBe('pg-0-db');
    const long = `${'a'.repeat(40)}-12.${'b'.repeat(30)}`;
    const name = addressServiceName(long);
    expect(name).toMatch(/^a{40}-12-b{10}-[0-9a-f]{8}$/);
    expect(name).toHaveLength(63);
    expect(addressServiceName(`${long}x`)).not.toBe(name);
    expect(addressServiceName('0-db')).toMatch(/^db-[0-9a-f]{8}$/);
    expect(addressServiceName('9.9')).toMatch(/^kskup-[0-9a-f]{8}$/);
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
    const endpoints = podEndpoints(deploymentPods('backend', deployment, pods), [8080, 9999], (ip, port) => {
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
