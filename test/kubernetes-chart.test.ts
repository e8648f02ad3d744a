// The Helm chart (charts/kskup) with a real helm 3 binary: it lints, and what
// `helm template` renders is what `kskup init` creates (manifests.ts), object
// for object and field for field, for several sets of values. Only the
// managed-by label (Helm / kskup) and the owner references (Helm owns its
// objects; `kskup init` makes the site ConfigMap their owner) differ.
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { MANAGED_BY_LABEL, siteConfigMap, siteObjects, type KubernetesSiteSettings } from '../site-controller/kubernetes/manifests.js';
import { defaultSettings } from '../site-controller/kubernetes/kube-site.js';
import { runKubeTool } from './helpers/kube-tools.js';
import { useTestFolder } from './helpers/temp-dir.js';

const CHART = resolve(import.meta.dirname, '../charts/kskup');
const VERSION = (JSON.parse(readFileSync(resolve(import.meta.dirname, '../package.json'), 'utf8')) as { version: string }).version;
const temp = useTestFolder('kskup-chart');

type Manifest = { kind?: string; metadata?: { name?: string; labels?: Record<string, string> }; spec?: { template?: { metadata?: { labels?: Record<string, string> } } } };

/** Helm's managed-by is "Helm", the CLI's "kskup": set both to one value before comparing. */
function normalised(object: Manifest): Manifest {
  const copy = structuredClone(object);
  for (const labels of [copy.metadata?.labels, copy.spec?.template?.metadata?.labels]) if (labels?.[MANAGED_BY_LABEL]) labels[MANAGED_BY_LABEL] = 'either';
  return copy;
}

async function render(values: Record<string, unknown>, namespace: string): Promise<Manifest[]> {
  const file = join(temp.path, `values-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(file, stringify(values));
  const { stdout } = await runKubeTool('helm', ['template', 'site', CHART, '--namespace', namespace, '--values', file]);
  return parseAllDocuments(stdout).map((document) => document.toJS() as Manifest).filter((object) => object !== null);
}

function byKindAndName(objects: readonly Manifest[]): Map<string, Manifest> {
  return new Map(objects.map((object) => [`${object.kind}/${object.metadata?.name}`, normalised(object)]));
}

const cases: [string, Record<string, unknown>, (namespace: string) => KubernetesSiteSettings][] = [
  ['the defaults', {}, (namespace) => defaultSettings(namespace, {}, VERSION)],
  [
    'a NodePort edge site with labels, annotations, placement, router resources and an image',
    {
      site: { name: 'east', mode: 'edge' },
      ingress: { type: 'nodeport', host: 'east.example.com' },
      router: { replicas: 1, resources: { requests: { cpu: '200m', memory: '96Mi' }, limits: { memory: '512Mi' } } },
      image: { repository: 'registry.example.com/kskup', tag: '9.9.9', pullPolicy: 'IfNotPresent' },
      labels: { team: 'blue', 'app.kubernetes.io/part-of': 'overridden' },
      annotations: { 'example.com/owner': 'blue' },
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'kskup', effect: 'NoSchedule' }],
    },
    (namespace) => ({
      ...defaultSettings(namespace, { name: 'east', mode: 'edge', ingress: 'nodeport', ingressHost: 'east.example.com', image: 'registry.example.com/kskup:9.9.9' }, VERSION),
      routerResources: { requests: { cpu: '200m', memory: '96Mi' }, limits: { memory: '512Mi' } },
      labels: { team: 'blue', 'app.kubernetes.io/part-of': 'overridden' },
      annotations: { 'example.com/owner': 'blue' },
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'kskup', effect: 'NoSchedule' }],
    }),
  ],
  ['an interior site with no ingress', { ingress: { type: 'none' } }, (namespace) => defaultSettings(namespace, { ingress: 'none' }, VERSION)],
  ['an interior site with 3 router replicas', { router: { replicas: 3 } }, (namespace) => defaultSettings(namespace, { routers: 3 }, VERSION)],
  ['an edge site with 2 router replicas', { site: { mode: 'edge' }, router: { replicas: 2 } }, (namespace) => defaultSettings(namespace, { mode: 'edge', routers: 2 }, VERSION)],
  [
    'the console in the cluster, with labels and its own resources',
    { console: { enabled: true, resources: { requests: { cpu: '20m', memory: '48Mi' }, limits: { memory: '128Mi' } } }, labels: { team: 'blue' } },
    (namespace) => ({ ...defaultSettings(namespace, {}, VERSION), labels: { team: 'blue' }, console: { resources: { requests: { cpu: '20m', memory: '48Mi' }, limits: { memory: '128Mi' } } } }),
  ],
];

/** The console's password Secret: the chart's alone (kskup init offers no console), with a random password. */
const CONSOLE_SECRET = 'Secret/kskup-console';

describe('Helm chart', () => {
  it('helm lint passes, and the chart is the package version', async () => {
    const { stdout } = await runKubeTool('helm', ['lint', '--strict', CHART]);
    expect(stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    const chart = readFileSync(join(CHART, 'Chart.yaml'), 'utf8');
    expect(chart).toContain(`appVersion: "${VERSION}"`);
  });

  it.each(cases)('helm template renders what kskup init creates: %s', async (_label, values, settingsFor) => {
    const rendered = byKindAndName(await render(values, 'team-a'));
    rendered.delete(CONSOLE_SECRET);
    const settings = settingsFor('team-a');
    const expected = byKindAndName([siteConfigMap(settings), ...siteObjects(settings)] as Manifest[]);
    expect([...rendered.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [key, object] of expected) expect(rendered.get(key), key).toEqual(JSON.parse(JSON.stringify(object)));
  });

  it('generates the console\'s password Secret only with console.enabled, a new random one each time it renders', async () => {
    expect(byKindAndName(await render({}, 'team-a')).has(CONSOLE_SECRET)).toBe(false);
    const passwords = await Promise.all(
      [1, 2].map(async () => {
        const secret = byKindAndName(await render({ console: { enabled: true } }, 'team-a')).get(CONSOLE_SECRET) as Manifest & { type?: string; data?: Record<string, string> };
        expect(secret).toMatchObject({ type: 'Opaque', metadata: { labels: { 'app.kubernetes.io/component': 'console', 'app.kubernetes.io/part-of': 'kskup' } } });
        expect(Object.keys(secret.data ?? {})).toEqual(['password']);
        return Buffer.from(secret.data!.password!, 'base64').toString('utf8');
      }),
    );
    for (const password of passwords) expect(password).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(passwords[0]).not.toBe(passwords[1]);
  });

  it('refuses values that cannot make a site, naming the value', async () => {
    await expect(render({ ingress: { type: 'ingress-nginx' } }, 'team-a')).rejects.toThrow(/ingress.type must be loadbalancer, nodeport or none, not "ingress-nginx"/);
    await expect(render({ site: { mode: 'hub' } }, 'team-a')).rejects.toThrow(/site.mode must be interior or edge, not "hub"/);
    await expect(render({ router: { replicas: 0 } }, 'team-a')).rejects.toThrow(/router.replicas must be 1 or more, not 0/);
  });
});
