// The manifest builders of a Kubernetes site (site-controller/kubernetes/manifests.ts):
// pure functions of the settings. Checked here: labels and owners on every
// object, the security settings of every container, a Role that stays inside
// the namespace, ports and Service type by mode and ingress, and that the
// commands the manifests and the Containerfile run are the package's own.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CONTROLLER_RULES,
  controllerDeployment,
  MANAGED_BY_LABEL,
  PART_OF_LABEL,
  routerStatefulSet,
  routerPeersService,
  routerService,
  ROUTER_PATHS,
  siteConfigMap,
  siteObjects,
  siteOwner,
  type KubernetesSiteSettings,
} from '../site-controller/kubernetes/manifests.js';

const ROOT = resolve(import.meta.dirname, '..');

const settings: KubernetesSiteSettings = {
  name: 'west',
  namespace: 'team-a',
  mode: 'interior',
  ingress: 'loadbalancer',
  routers: 1,
  image: 'kskup:0.1.0',
  imagePullPolicy: 'IfNotPresent',
  routerResources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { memory: '256Mi' } },
  controllerResources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '192Mi' } },
  labels: { team: 'a' },
  annotations: {},
  nodeSelector: {},
  tolerations: [],
};

const owner = siteOwner({ metadata: { name: 'kskup-site', uid: '1f0c5c9e-0000-4000-8000-000000000001' } });

describe('Kubernetes site manifests', () => {
  it('every object is in the namespace, labelled part-of/managed-by, and owned by the site ConfigMap', () => {
    for (const object of siteObjects(settings, owner)) {
      expect(object.metadata?.namespace).toBe('team-a');
      expect(object.metadata?.labels).toMatchObject({ [PART_OF_LABEL]: 'kskup', [MANAGED_BY_LABEL]: 'kskup', team: 'a' });
      expect(object.metadata?.ownerReferences).toEqual([owner]);
    }
    expect(siteConfigMap(settings).metadata?.ownerReferences).toBeUndefined();
  });

  it('an owner needs the ConfigMap to exist first (its uid)', () => {
    expect(() => siteOwner({ metadata: { name: 'kskup-site' } })).toThrow(/create it before its dependants/);
  });

  it('containers run as non-root with a read-only root filesystem, no privilege escalation and no capabilities', () => {
    for (const deployment of [routerStatefulSet({ settings }), controllerDeployment({ settings })]) {
      const pod = deployment.spec?.template.spec;
      expect(pod?.securityContext?.runAsNonRoot).toBe(true);
      for (const container of pod?.containers ?? []) {
        expect(container.securityContext).toMatchObject({
          runAsNonRoot: true,
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
        });
        expect(container.resources?.requests).toBeDefined();
        expect(container.resources?.limits?.memory).toBeDefined();
        expect(container.livenessProbe?.httpGet?.path).toBe('/healthz');
      }
    }
    expect(controllerDeployment({ settings }).spec?.template.spec?.containers[0]?.readinessProbe?.httpGet?.path).toBe('/readyz');
  });

  it('the Role is namespaced and grants no wildcard', () => {
    const objects = siteObjects(settings, owner);
    expect(objects.map((object) => object.kind)).not.toContain('ClusterRole');
    for (const rule of CONTROLLER_RULES) {
      expect(rule.verbs).not.toContain('*');
      expect(rule.resources).not.toContain('*');
      expect(rule.resources).not.toContain('namespaces');
    }
  });

  it.each([
    ['loadbalancer', 'LoadBalancer'],
    ['nodeport', 'NodePort'],
    ['none', 'ClusterIP'],
  ] as const)('--ingress %s gives a %s Service for inter-router, edge and claims', (ingress, type) => {
    const service = routerService({ settings: { ...settings, ingress } });
    expect(service.spec?.type).toBe(type);
    expect(service.spec?.ports?.map((port) => port.name)).toEqual(['inter-router', 'edge', 'claims']);
    // Every Service port is a port the router container has.
    const containerPorts = routerStatefulSet({ settings }).spec?.template.spec?.containers[0]?.ports?.map((port) => port.name);
    for (const port of service.spec?.ports ?? []) expect(containerPorts).toContain(port.targetPort);
  });

  it('an edge site opens no inter-router, edge or claims port, and has no ingress Service', () => {
    const edge = { ...settings, mode: 'edge' as const };
    expect(siteObjects(edge).filter((object) => object.kind === 'Service').map((object) => object.metadata?.name)).toEqual(['kskup-controller', 'kskup-router-local', 'kskup-router-peers']);
    expect(routerPeersService({ settings: edge }).spec?.ports?.map((port) => port.name)).toEqual(['amqp']);
    expect(routerStatefulSet({ settings: edge }).spec?.template.spec?.containers[0]?.ports?.map((port) => port.name)).toEqual(['amqp', 'http']);
  });

  it('routers are a StatefulSet behind a headless Service: a stable name per replica, each reading its own config key', () => {
    const set = routerStatefulSet({ settings: { ...settings, routers: 3 } });
    expect(set.kind).toBe('StatefulSet');
    expect(set.spec).toMatchObject({ replicas: 3, serviceName: 'kskup-router-peers', podManagementPolicy: 'Parallel' });
    const container = set.spec?.template.spec?.containers[0];
    // $(POD_NAME) is expanded by the kubelet from the downward API variable.
    expect(container?.args).toEqual(['-c', '/etc/kskup/router/$(POD_NAME).json']);
    expect(ROUTER_PATHS.configFile).toBe('/etc/kskup/router/$(POD_NAME).json');
    expect(container?.env).toEqual([{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }]);
    const peers = routerPeersService({ settings });
    expect(peers.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true, selector: set.spec?.selector.matchLabels });
    expect(peers.spec?.ports?.map((port) => [port.name, port.port])).toEqual([['amqp', 5671], ['inter-router', 55671]]);
    for (const port of peers.spec?.ports ?? []) expect(container?.ports?.map((p) => p.name)).toContain(port.targetPort);
  });

  it("the commands the manifests and the Containerfile run are package.json's bin entries", () => {
    const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    const commands = [routerStatefulSet({ settings }), controllerDeployment({ settings })].flatMap(
      (deployment) => deployment.spec?.template.spec?.containers.map((container) => container.command?.[0]) ?? [],
    );
    expect(commands).toEqual(['kskup-router', 'kskup']);
    for (const command of commands) expect(pkg.bin[command ?? '']).toBeDefined();
    const containerfile = readFileSync(resolve(ROOT, 'Containerfile'), 'utf8');
    for (const [name, file] of Object.entries(pkg.bin)) {
      expect(containerfile).toContain(`/opt/kskup/${file} /usr/local/bin/${name}`);
    }
    expect(containerfile).toMatch(/^FROM docker\.io\/library\/node:20-[a-z]+-slim$/m);
    expect(containerfile).toMatch(/^USER 1000:1000$/m);
  });
});
