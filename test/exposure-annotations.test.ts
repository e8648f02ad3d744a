// The kskup.io/* exposure annotations (site-controller/kubernetes/exposure-annotations.ts)
// and how annotated targets join the site state beside CLI-made ones
// (site-controller/kubernetes/annotated-services.ts). The end-to-end behaviour
// on two clusters is in kubernetes-annotations.test.ts.
import { describe, expect, it } from 'vitest';
import type { V1DaemonSet, V1Deployment, V1Service } from '@kubernetes/client-node';
import { annotatedExposures, withAnnotatedServices } from '../site-controller/kubernetes/annotated-services.js';
import { parsePortAnnotation, readExposureAnnotations } from '../site-controller/kubernetes/exposure-annotations.js';
import type { ServiceRecord, SiteDocument } from '../site-controller/site/model.js';
import { daemonSetPods } from '../site-controller/kubernetes/workload-targets.js';
import { exposeService, unexposeService } from '../service-controller/services.js';
import { MemoryStorage } from './helpers/memory-storage.js';

describe('kskup.io/port', () => {
  it.each([
    ['8080', [{ port: 8080, targetPort: 8080 }]],
    ['80:8080,443:8443', [{ port: 80, targetPort: 8080 }, { port: 443, targetPort: 8443 }]],
    ['443:8443, 80:8080', [{ port: 80, targetPort: 8080 }, { port: 443, targetPort: 8443 }]],
    ['80:8080,8080', [{ port: 80, targetPort: 8080 }, { port: 8080, targetPort: 8080 }]],
    ['65535:1', [{ port: 65535, targetPort: 1 }]],
  ])('"%s" parses', (value, pairs) => {
    expect(parsePortAnnotation(value)).toEqual(pairs);
  });

  it.each([
    ['', 'kskup.io/port "": is empty; give PORT or PORT:TARGETPORT[,…], e.g. 80:8080,443:8443'],
    ['http', 'kskup.io/port "http": "http" in "http" is not a port number (1-65535)'],
    ['80:http', 'kskup.io/port "80:http": target port "http" in "80:http" is not a port number (1-65535)'],
    ['80:', 'kskup.io/port "80:": target port "" in "80:" is not a port number (1-65535)'],
    ['0', 'kskup.io/port "0": "0" in "0" is not a port number (1-65535)'],
    ['65536', 'kskup.io/port "65536": "65536" in "65536" is not a port number (1-65535)'],
    ['-1', 'kskup.io/port "-1": "-1" in "-1" is not a port number (1-65535)'],
    ['80,,443', 'kskup.io/port "80,,443": has an empty item; separate PORT or PORT:TARGETPORT items with single commas'],
    ['80:8080:1', 'kskup.io/port "80:8080:1": "80:8080:1" has more than one ":"; use PORT or PORT:TARGETPORT'],
    ['80:8080,80:9090', 'kskup.io/port "80:8080,80:9090": port 80 is given twice'],
  ])('"%s" is refused: %s', (value, problem) => {
    expect(parsePortAnnotation(value)).toBe(problem);
  });
});

describe('kskup.io/weight', () => {
  const deployment = (weight: string) => ({ metadata: { name: 'web', annotations: { 'kskup.io/proxy': 'tcp', 'kskup.io/port': '80:8080', 'kskup.io/weight': weight } } });

  it.each([
    ['10', 10],
    ['0', 0],
    ['1000000', 1_000_000],
    [' 7 ', 7],
    ['007', 7],
  ])('"%s" is the target\'s weight %d', (value, weight) => {
    expect(readExposureAnnotations('Deployment', deployment(value))).toEqual({ kind: 'Deployment', name: 'web', address: 'web', ports: [{ port: 80, targetPort: 8080 }], weight });
  });

  it.each(['ten', '', '-1', '1.5', '1e3', '1000001', '0x10', '10%', '9007199254740993'])('"%s" is not exposed: the reason names the annotation and the value', (value) => {
    expect(readExposureAnnotations('Deployment', deployment(value))).toEqual({
      kind: 'Deployment',
      name: 'web',
      problem: `kskup.io/weight "${value}": not a weight: give a whole number from 0 (drain) to 1000000`,
    });
  });

  it('absent: not weighted', () => {
    expect(readExposureAnnotations('Deployment', { metadata: { name: 'web', annotations: { 'kskup.io/proxy': 'tcp', 'kskup.io/port': '80' } } })).not.toHaveProperty('weight');
  });
});

describe('kskup.io/health', () => {
  const deployment = (health: string) => ({ metadata: { name: 'web', annotations: { 'kskup.io/proxy': 'tcp', 'kskup.io/port': '80:8080', 'kskup.io/health': health } } });
  const timing = { intervalMs: 5_000, timeoutMs: 1_000, healthyThreshold: 2, unhealthyThreshold: 1 };

  it.each([
    ['tcp', { type: 'tcp', ...timing }],
    ['http:/healthz', { type: 'http', path: '/healthz', ...timing }],
    ['http:/', { type: 'http', path: '/', ...timing }],
    ['http:/a/b?c=d', { type: 'http', path: '/a/b?c=d', ...timing }],
  ])('"%s" is the service\'s check, timed as --health\'s defaults', (value, health) => {
    expect(readExposureAnnotations('Deployment', deployment(value))).toMatchObject({ address: 'web', health });
  });

  it.each(['', 'TCP', 'http', 'http:healthz', 'http:/a b', 'https:/healthz', 'grpc'])('"%s" is not exposed: the reason names the annotation and the value', (value) => {
    expect(readExposureAnnotations('Deployment', deployment(value))).toEqual({
      kind: 'Deployment',
      name: 'web',
      problem: `kskup.io/health "${value}": not a health check: give tcp, or http:/PATH (a path starting with /, no spaces), e.g. http:/healthz`,
    });
  });
});

const template = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 8443 }, { containerPort: 8080 }, { containerPort: 53, protocol: 'UDP' }] }] } };

describe('exposure annotations', () => {
  it('an object without kskup.io/proxy is not annotated, whatever else it has', () => {
    expect(readExposureAnnotations('Deployment', { metadata: { name: 'web', annotations: { 'kskup.io/port': '80' } }, template })).toBeUndefined();
  });

  it('defaults: the address is the name; a workload\'s ports are its template\'s TCP containerPorts', () => {
    expect(readExposureAnnotations('Deployment', { metadata: { name: 'web', annotations: { 'kskup.io/proxy': 'tcp' } }, template })).toEqual({
      kind: 'Deployment',
      name: 'web',
      address: 'web',
      ports: [{ port: 8080, targetPort: 8080 }, { port: 8443, targetPort: 8443 }],
    });
  });

  it('a Service\'s default ports are its TCP ports and numeric targetPorts', () => {
    const spec: V1Service['spec'] = { selector: { app: 'db' }, ports: [{ port: 5432, targetPort: 15432 }, { port: 9187 }, { port: 53, protocol: 'UDP' }] };
    expect(readExposureAnnotations('Service', { metadata: { name: 'db', annotations: { 'kskup.io/proxy': 'tcp', 'kskup.io/address': 'pg' } }, serviceSpec: spec })).toEqual({
      kind: 'Service',
      name: 'db',
      address: 'pg',
      ports: [{ port: 5432, targetPort: 15432 }, { port: 9187, targetPort: 9187 }],
    });
  });

  it.each([
    ['Deployment', { 'kskup.io/proxy': 'http' }, template, undefined, 'kskup.io/proxy "http" is not a protocol kskup carries: use "tcp" (or remove the annotation)'],
    ['Deployment', { 'kskup.io/proxy': 'tcp', 'kskup.io/address': 'Web_1' }, template, undefined, 'kskup.io/address: "Web_1" is not a valid name: use 1-63 lower-case letters, digits and \'-\', starting and ending with a letter or digit'],
    ['Deployment', { 'kskup.io/proxy': 'tcp', 'kskup.io/port': '80:x' }, template, undefined, 'kskup.io/port "80:x": target port "x" in "80:x" is not a port number (1-65535)'],
    ['DaemonSet', { 'kskup.io/proxy': 'tcp' }, { spec: { containers: [{ name: 'c' }] } }, undefined, 'the pod template declares no TCP containerPort: set kskup.io/port (PORT or PORT:TARGETPORT[,…])'],
    ['Service', { 'kskup.io/proxy': 'tcp' }, undefined, { ports: [{ port: 80 }] }, 'the Service has no spec.selector: kskup finds a Service\'s pods by its selector (expose a Service without one as host/NAME)'],
    ['Service', { 'kskup.io/proxy': 'tcp' }, undefined, { selector: { a: 'b' }, ports: [{ port: 80, targetPort: 'http' }] }, 'port 80 of the Service has the named targetPort "http", whose number kskup cannot know: set kskup.io/port (PORT or PORT:TARGETPORT[,…])'],
  ] as const)('%s with %j is not exposed', (kind, annotations, podTemplate, serviceSpec, problem) => {
    const object = { metadata: { name: 'x', annotations }, ...(podTemplate && { template: podTemplate }), ...(serviceSpec && { serviceSpec }) };
    expect(readExposureAnnotations(kind, object as never)).toEqual({ kind, name: 'x', problem });
  });
});

function siteDocument(services: ServiceRecord[]): SiteDocument {
  return { site: { name: 'west' } as SiteDocument['site'], links: [], tokens: [], grants: [], services, listenerPorts: {} };
}

function annotated(name: string, annotations: Record<string, string>): V1Deployment {
  return { metadata: { name, uid: `uid-${name}`, annotations }, spec: { selector: { matchLabels: { app: name } }, template } };
}

describe('annotated services in the site state', () => {
  const none = () => undefined;
  const cli: ServiceRecord = { address: 'shop', protocol: 'tcp', ports: [80], targets: [{ type: 'host', name: 'shop.internal', host: 'shop.internal', targetPorts: [80] }], createdAt: 't0' };

  it('adds, changes and removes annotated targets; keeps the same document when nothing changed', () => {
    const sources = { deployments: [annotated('web', { 'kskup.io/proxy': 'tcp', 'kskup.io/port': '80:8080' })], statefulSets: [], daemonSets: [], services: [] };
    const { exposures, problems } = annotatedExposures(sources);
    expect(problems).toEqual([]);
    const start = siteDocument([cli]);
    const added = withAnnotatedServices(start, exposures, none, new Date('2026-01-01T00:00:00Z'));
    expect(added.document.services).toEqual([
      cli,
      { address: 'web', protocol: 'tcp', ports: [80], targets: [{ type: 'deployment', name: 'web', host: 'web', targetPorts: [8080], source: 'annotation' }], createdAt: '2026-01-01T00:00:00.000Z' },
    ]);
    expect(withAnnotatedServices(added.document, exposures, none).document).toBe(added.document);
    const changedPorts = annotatedExposures({ ...sources, deployments: [annotated('web', { 'kskup.io/proxy': 'tcp', 'kskup.io/port': '80:8080,81:8081' })] }).exposures;
    const changed = withAnnotatedServices(added.document, changedPorts, none).document;
    expect(changed.services[1]).toMatchObject({ ports: [80, 81], createdAt: '2026-01-01T00:00:00.000Z', targets: [{ targetPorts: [8080, 8081] }] });
    expect(withAnnotatedServices(changed, [], none).document.services).toEqual([cli]);
  });

  it('kskup.io/weight is the annotated target\'s weight: set, changed in place, removed', () => {
    const weighted = (annotations: Record<string, string>) =>
      annotatedExposures({ deployments: [annotated('web-v2', { 'kskup.io/proxy': 'tcp', 'kskup.io/address': 'web', 'kskup.io/port': '80:8080', ...annotations })], statefulSets: [], daemonSets: [], services: [] }).exposures;
    const start = withAnnotatedServices(siteDocument([]), weighted({ 'kskup.io/weight': '10' }), none).document;
    expect(start.services[0]?.targets).toEqual([{ type: 'deployment', name: 'web-v2', host: 'web-v2', targetPorts: [8080], source: 'annotation', weight: 10 }]);
    expect(withAnnotatedServices(start, weighted({ 'kskup.io/weight': '10' }), none).document).toBe(start);
    const drained = withAnnotatedServices(start, weighted({ 'kskup.io/weight': '0' }), none).document;
    expect(drained.services[0]).toMatchObject({ createdAt: start.services[0]?.createdAt, targets: [{ name: 'web-v2', weight: 0 }] });
    expect(withAnnotatedServices(drained, weighted({}), none).document.services[0]?.targets[0]).not.toHaveProperty('weight');
  });

  it('kskup.io/health is the service\'s check while only annotated targets serve it: set, agreed, in conflict, removed', () => {
    const deployment = (name: string, annotations: Record<string, string>) => annotated(name, { 'kskup.io/proxy': 'tcp', 'kskup.io/address': 'web', 'kskup.io/port': '80:8080', ...annotations });
    const exposures = (...deployments: V1Deployment[]) => annotatedExposures({ deployments, statefulSets: [], daemonSets: [], services: [] }).exposures;
    const http = { type: 'http', path: '/healthz', intervalMs: 5_000, timeoutMs: 1_000, healthyThreshold: 2, unhealthyThreshold: 1 };
    const checked = withAnnotatedServices(siteDocument([]), exposures(deployment('web-v1', { 'kskup.io/health': 'http:/healthz' }), deployment('web-v2', {})), none);
    expect(checked.problems).toEqual([]);
    expect(checked.document.services[0]).toMatchObject({ health: http, targets: [{ name: 'web-v1' }, { name: 'web-v2' }] });
    expect(withAnnotatedServices(checked.document, exposures(deployment('web-v1', { 'kskup.io/health': 'http:/healthz' }), deployment('web-v2', {})), none).document).toBe(checked.document);
    const agreed = withAnnotatedServices(checked.document, exposures(deployment('web-v1', { 'kskup.io/health': 'http:/healthz' }), deployment('web-v2', { 'kskup.io/health': 'http:/healthz' })), none);
    expect(agreed.problems).toEqual([]);
    const conflict = withAnnotatedServices(checked.document, exposures(deployment('web-v1', { 'kskup.io/health': 'http:/healthz' }), deployment('web-v2', { 'kskup.io/health': 'tcp' })), none);
    expect(conflict.problems).toEqual([
      { kind: 'Deployment', name: 'web-v2', problem: 'kskup.io/health "tcp": address "web" has kskup.io/health "http:/healthz" from deployment/web-v1: a service has one health check; annotate the same on each object of the address' },
    ]);
    expect(conflict.document.services[0]?.targets.map((t) => t.name)).toEqual(['web-v1']);
    const removed = withAnnotatedServices(checked.document, exposures(deployment('web-v1', {}), deployment('web-v2', {})), none).document;
    expect(removed.services[0]).not.toHaveProperty('health');
    // A held object may be the one that gave it: the check stays with it.
    const held = withAnnotatedServices(checked.document, exposures(deployment('web-v2', {})), none, new Date(), new Set(['deployment/web-v1']));
    expect(held.document).toBe(checked.document);
  });

  it('kskup.io/health on an address kskup expose serves too must be kskup expose\'s check', () => {
    const httpCheck = { type: 'http', path: '/healthz', intervalMs: 2_000, timeoutMs: 500, healthyThreshold: 2, unhealthyThreshold: 1 } as const;
    const withCli: ServiceRecord = { ...cli, health: httpCheck };
    const exposures = (health: string) =>
      annotatedExposures({ deployments: [annotated('api', { 'kskup.io/proxy': 'tcp', 'kskup.io/address': 'shop', 'kskup.io/port': '80:9000', 'kskup.io/health': health })], statefulSets: [], daemonSets: [], services: [] }).exposures;
    const start = siteDocument([withCli]);
    const refused = withAnnotatedServices(start, exposures('http:/healthz'), none);
    expect(refused.problems).toEqual([
      {
        kind: 'Deployment',
        name: 'api',
        problem:
          'kskup.io/health "http:/healthz": address "shop" is exposed by kskup expose too, which gave it the health check http:/healthz every 2000 ms (timeout 500 ms, out after 1 failure(s), back after 2 success(es)): a service\'s check is kskup expose\'s while it has targets of kskup expose (kskup expose ... --health), or use another kskup.io/address',
      },
    ]);
    expect(refused.document).toBe(start);
    expect(withAnnotatedServices(siteDocument([cli]), exposures('tcp'), none).problems[0]?.problem).toMatch(/^kskup.io\/health "tcp": address "shop" is exposed by kskup expose too, which gave it no health check: /);
    // The same check: a second target, and the CLI's check stays as it is.
    const sameCheck = withAnnotatedServices(siteDocument([{ ...cli, health: { ...httpCheck, intervalMs: 5_000, timeoutMs: 1_000 } }]), exposures('http:/healthz'), none);
    expect(sameCheck.problems).toEqual([]);
    expect(sameCheck.document.services[0]?.targets.map((t) => `${t.type}/${t.name}`)).toEqual(['host/shop.internal', 'deployment/api']);
  });

  it('a bad kskup.io/weight on an exposed object holds its target with the weight it had', () => {
    const sources = (weight: string) => ({ deployments: [annotated('web', { 'kskup.io/proxy': 'tcp', 'kskup.io/port': '80:8080', 'kskup.io/weight': weight })], statefulSets: [], daemonSets: [], services: [] });
    const exposed = withAnnotatedServices(siteDocument([]), annotatedExposures(sources('30')).exposures, none).document;
    const bad = annotatedExposures(sources('thirty'));
    expect(bad.problems).toEqual([{ kind: 'Deployment', name: 'web', problem: 'kskup.io/weight "thirty": not a weight: give a whole number from 0 (drain) to 1000000' }]);
    const held = withAnnotatedServices(exposed, bad.exposures, none, new Date(), new Set(['deployment/web']));
    expect(held.document).toBe(exposed);
    expect(held.document.services[0]?.targets[0]?.weight).toBe(30);
  });

  it('an object whose annotations turned bad keeps its annotated target as it was (held); removed, it goes', () => {
    const { exposures } = annotatedExposures({ deployments: [annotated('web', { 'kskup.io/proxy': 'tcp', 'kskup.io/port': '80:8080' })], statefulSets: [], daemonSets: [], services: [] });
    const exposed = withAnnotatedServices(siteDocument([]), exposures, none).document;
    const bad = annotatedExposures({ deployments: [annotated('web', { 'kskup.io/proxy': 'tcp', 'kskup.io/port': '80:oops' })], statefulSets: [], daemonSets: [], services: [] });
    expect(bad.problems).toHaveLength(1);
    const held = withAnnotatedServices(exposed, bad.exposures, none, new Date(), new Set(['deployment/web']));
    expect(held.document).toBe(exposed);
    expect([...held.held]).toEqual(['deployment/web']);
    expect(withAnnotatedServices(exposed, [], none).document.services).toEqual([]);
  });

  it('a CLI target of the same object and address stays the CLI\'s; the annotation is reported, not applied', () => {
    const byCli: ServiceRecord = { address: 'web', protocol: 'tcp', ports: [80], targets: [{ type: 'deployment', name: 'web', host: 'web', targetPorts: [80] }], createdAt: 't0' };
    const start = siteDocument([byCli]);
    const { exposures } = annotatedExposures({ deployments: [annotated('web', { 'kskup.io/proxy': 'tcp', 'kskup.io/port': '80:8080' })], statefulSets: [], daemonSets: [], services: [] });
    const result = withAnnotatedServices(start, exposures, none);
    expect(result.document).toBe(start);
    expect(result.problems).toEqual([
      { kind: 'Deployment', name: 'web', problem: 'deployment/web is exposed as "web" by kskup expose: its annotations are not applied; kskup unexpose deployment/web --address web to let them manage it' },
    ]);
  });

  it('ports must agree with the address\'s other targets here and with other sites', () => {
    const { exposures } = annotatedExposures({ deployments: [annotated('api', { 'kskup.io/proxy': 'tcp', 'kskup.io/address': 'shop', 'kskup.io/port': '8080' })], statefulSets: [], daemonSets: [], services: [] });
    expect(withAnnotatedServices(siteDocument([cli]), exposures, none).problems[0]?.problem).toBe(
      'address "shop" is exposed at this site with port(s) 80, not 8080: annotate the same kskup.io/port ports, or another kskup.io/address',
    );
    const elsewhere = withAnnotatedServices(siteDocument([]), exposures, (address) => (address === 'shop' ? [443] : undefined));
    expect(elsewhere.problems[0]?.problem).toMatch(/^address "shop" is exposed at another site with port\(s\) 443, not 8080/);
    expect(elsewhere.document.services).toEqual([]);
    // The same ports: a second target of the address.
    const joined = annotatedExposures({ deployments: [annotated('api', { 'kskup.io/proxy': 'tcp', 'kskup.io/address': 'shop', 'kskup.io/port': '80:9000' })], statefulSets: [], daemonSets: [], services: [] });
    expect(withAnnotatedServices(siteDocument([cli]), joined.exposures, none).document.services[0]?.targets.map((t) => `${t.type}/${t.name}`)).toEqual(['host/shop.internal', 'deployment/api']);
  });
});

describe('the CLI and annotated targets', () => {
  const byAnnotation: ServiceRecord = { address: 'web', protocol: 'tcp', ports: [80], targets: [{ type: 'deployment', name: 'web', host: 'web', targetPorts: [8080], source: 'annotation' }], createdAt: 't0' };

  it('kskup unexpose of an annotated target says to remove the annotation, and changes nothing', async () => {
    const storage = new MemoryStorage(siteDocument([byAnnotation]));
    await expect(unexposeService(storage, 'deployment', 'web')).rejects.toThrow(
      'deployment/web is exposed as "web" by its kskup.io annotations, not by kskup expose: remove the annotation kskup.io/proxy from it (kubectl annotate deployment web kskup.io/proxy-) to unexpose it',
    );
    expect(storage.writes).toBe(0);
  });

  it('kskup expose of an annotated target under its address is refused; under another address it is the CLI\'s own', async () => {
    const storage = new MemoryStorage(siteDocument([byAnnotation]));
    const request = { type: 'deployment', name: 'web', host: 'web', address: 'web', ports: [80], targetPorts: [9090] } as const;
    await expect(exposeService(storage, request, () => undefined)).rejects.toThrow('deployment/web is exposed as "web" by its kskup.io annotations: change or remove those instead');
    await exposeService(storage, { ...request, address: 'web-admin' }, () => undefined);
    const { removed } = await unexposeService(storage, 'deployment', 'web');
    expect(removed).toEqual([{ address: 'web-admin', serviceGone: true }]);
    expect(storage.document.services).toEqual([byAnnotation]);
  });
});

describe('selector targets (StatefulSet, DaemonSet, Service)', () => {
  it('are the ready pods the selector selects; a missing object or an empty selector says why', () => {
    const pods = [
      { metadata: { labels: { app: 'agent' } }, status: { podIP: '10.1.0.7', conditions: [{ type: 'Ready', status: 'True' }] } },
      { metadata: { labels: { app: 'agent' } }, status: { podIP: '10.1.0.8', conditions: [{ type: 'Ready', status: 'False' }] } },
    ];
    expect(daemonSetPods('agent', { spec: { selector: { matchLabels: { app: 'agent' } }, template: {} } } as V1DaemonSet, pods)).toEqual({ ips: ['10.1.0.7'], pods: expect.any(Array) });
    expect(daemonSetPods('gone', undefined, pods)).toEqual({ ips: [], problem: 'DaemonSet gone not found' });
    expect(daemonSetPods('all', { spec: { selector: {}, template: {} } } as V1DaemonSet, pods)).toEqual({ ips: [], problem: 'DaemonSet all: spec.selector is empty: it would select every pod' });
  });
});
