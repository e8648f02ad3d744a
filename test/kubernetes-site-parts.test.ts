// Pure parts of a Kubernetes site: where other sites reach it (from its
// ingress Service), and what its router pods are given (certificates in one
// Secret, a config that names only files that Secret has).
import type { V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { resolveIngress } from '../site-controller/kubernetes/ingress.js';
import { CERT_FILES, kubernetesRouterState, routerCertsData } from '../site-controller/kubernetes/router-materials.js';
import { PORTS, ROUTER_PATHS } from '../site-controller/kubernetes/manifests.js';
import { desiredRouterConfig } from '../site-controller/site/desired-router-config.js';
import { westSiteDocument } from './helpers/site-fixtures.js';

function service(type: string, status?: V1Service['status'], nodePorts = false): V1Service {
  const port = (name: string, value: number, nodePort: number) => ({ name, port: value, ...(nodePorts && { nodePort }) });
  return {
    metadata: { name: 'kskup-router' },
    spec: { type, ports: [port('inter-router', PORTS.interRouter, 31001), port('edge', PORTS.edge, 31002), port('claims', PORTS.claims, 31003)] },
    ...(status && { status }),
  };
}

describe('ingress address', () => {
  it('a LoadBalancer is pending until the cloud gives it an address, and names the way out', () => {
    const pending = resolveIngress({ type: 'loadbalancer' }, service('LoadBalancer'));
    expect(pending).toEqual({ ok: false, pending: expect.stringMatching(/Service kskup-router has no LoadBalancer address yet; use --ingress nodeport or --ingress-host/) });
    expect(resolveIngress({ type: 'loadbalancer' }, service('LoadBalancer', { loadBalancer: { ingress: [{ ip: '203.0.113.7' }] } }))).toEqual({
      ok: true,
      address: { host: '203.0.113.7', interRouter: PORTS.interRouter, edge: PORTS.edge, claims: PORTS.claims },
    });
    const named = resolveIngress({ type: 'loadbalancer' }, service('LoadBalancer', { loadBalancer: { ingress: [{ hostname: 'lb.example.com' }] } }));
    expect(named.ok && named.address.host).toBe('lb.example.com');
  });

  it('a NodePort is reached at the node address and the node ports', () => {
    expect(resolveIngress({ type: 'nodeport', nodeAddress: '192.0.2.10' }, service('NodePort', undefined, true))).toEqual({
      ok: true,
      address: { host: '192.0.2.10', interRouter: 31001, edge: 31002, claims: 31003 },
    });
    expect(resolveIngress({ type: 'nodeport', nodeAddress: '192.0.2.10' }, service('NodePort')).ok).toBe(false);
    expect(resolveIngress({ type: 'nodeport' }, service('NodePort', undefined, true))).toEqual({ ok: false, pending: expect.stringMatching(/use --ingress-host/) });
  });

  it('--ingress-host overrides the address read from the Service; --ingress none reaches nobody', () => {
    const forced = resolveIngress({ type: 'loadbalancer', ingressHost: 'west.example.com' }, service('LoadBalancer'));
    expect(forced.ok && forced.address.host).toBe('west.example.com');
    expect(resolveIngress({ type: 'none' }, service('ClusterIP'))).toEqual({ ok: false, pending: expect.stringMatching(/--ingress none/) });
    expect(resolveIngress({ type: 'loadbalancer' }, undefined)).toEqual({ ok: false, pending: 'Service kskup-router does not exist yet' });
  });
});

describe('router materials', () => {
  const pem = (what: string) => `-----BEGIN ${what}-----\n-----END ${what}-----\n`;
  const link = (name: string) => ({
    name,
    host: `${name}.example.com`,
    port: 55671,
    role: 'inter-router' as const,
    cost: 1,
    remoteSiteId: `${name}-id`,
    remoteSiteName: name,
    tokenName: 't',
    createdAt: '2026-11-29T00:00:00.000Z',
  });
  const document = { ...westSiteDocument({ platform: 'kubernetes' }), links: [link('east'), link('north')] };
  const full = { 'ca.crt': pem('CA'), 'tls.crt': pem('CERT'), 'tls.key': pem('KEY') };
  const secrets = {
    siteServer: full,
    localServer: full,
    // north's Secret is not there yet.
    links: new Map([['east', full], ['north', undefined]]),
  };

  it('one Secret holds every file; a link whose Secret is missing is left out of both the Secret and the config', () => {
    const data = routerCertsData(secrets);
    expect(Object.keys(data).sort()).toEqual(
      [CERT_FILES.siteCa, CERT_FILES.siteServerCert, CERT_FILES.siteServerKey, CERT_FILES.localCa, CERT_FILES.localServerCert, CERT_FILES.localServerKey, CERT_FILES.linkCa('east'), CERT_FILES.linkCert('east'), CERT_FILES.linkKey('east')].sort(),
    );
    const config = desiredRouterConfig(kubernetesRouterState(document, 'team-a', secrets));
    expect([...config.connectors.keys()]).toEqual(['link-east']);
    // Every file the config names is a key of the Secret, under the mounted folder.
    const named = [...config.sslProfiles.values()].flatMap((profile) => [profile.caCertFile, profile.certFile, profile.privateKeyFile]).filter((file) => file !== undefined);
    for (const file of named) {
      expect(file.startsWith(`${ROUTER_PATHS.certsFolder}/`)).toBe(true);
      expect(data[file.slice(ROUTER_PATHS.certsFolder.length + 1)]).toBeDefined();
    }
  });

  it('a service TLS bundle Secret: its keys go into kskup-router-certs, and the tls-NAME sslProfile names exactly those files', () => {
    const bundles = {
      ...secrets,
      tlsBundles: new Map<string, Record<string, string>>([
        ['web-tls', full],
        // A CA alone (Opaque Secret): no certificate keys are invented.
        ['db-ca', { 'ca.crt': pem('CA') }],
      ]),
    };
    const data = routerCertsData(bundles);
    expect(data[CERT_FILES.tlsCert('web-tls')]).toBe(full['tls.crt']);
    expect(data[CERT_FILES.tlsKey('web-tls')]).toBe(full['tls.key']);
    expect(data[CERT_FILES.tlsCa('web-tls')]).toBe(full['ca.crt']);
    expect(Object.keys(data).filter((key) => key.startsWith('tls-')).sort()).toEqual([CERT_FILES.tlsCa('db-ca'), CERT_FILES.tlsCa('web-tls'), CERT_FILES.tlsCert('web-tls'), CERT_FILES.tlsKey('web-tls')].sort());
    const state = {
      ...kubernetesRouterState(document, 'team-a', bundles),
      serviceListeners: [
        { address: 'web:443', host: '0.0.0.0', port: 443, tlsCredentials: 'web-tls' },
        { address: 'api:443', host: '0.0.0.0', port: 8443, tlsCredentials: 'api-tls' },
      ],
      serviceConnectors: [{ address: 'db:5432', host: 'db', port: 5432, tlsTrust: { name: 'db-ca', verifyHostname: true } }],
    };
    const config = desiredRouterConfig(state);
    expect(config.tcpListeners.get('web:443')?.sslProfile).toBe('tls-web-tls');
    // No Secret api-tls: no listener, not a plain one.
    expect(config.tcpListeners.has('api:443')).toBe(false);
    expect(config.tcpConnectors.get('db:5432@db:5432')).toMatchObject({ sslProfile: 'tls-db-ca', verifyHostname: true });
    for (const name of ['tls-web-tls', 'tls-db-ca']) {
      const profile = config.sslProfiles.get(name);
      const files = [profile?.caCertFile, profile?.certFile, profile?.privateKeyFile].filter((file) => file !== undefined);
      expect(files.length).toBeGreaterThan(0);
      for (const file of files) expect(data[file.slice(ROUTER_PATHS.certsFolder.length + 1)]).toBeDefined();
    }
  });

  it('listens on all interfaces in the pod and passes claims on to the controller', () => {
    const config = desiredRouterConfig(kubernetesRouterState(document, 'team-a', secrets));
    expect(config.listeners.get('amqp')).toMatchObject({ host: '0.0.0.0', port: PORTS.amqp, authenticatePeer: true });
    expect(config.listeners.get('http')).toMatchObject({ host: '0.0.0.0', port: PORTS.http });
    expect(config.tcpListeners.get('claims')).toMatchObject({ port: PORTS.claims, address: `kskup.claims/${document.site.id}` });
    expect(config.tcpConnectors.get('claims')).toMatchObject({ host: 'kskup-controller.team-a.svc', port: PORTS.claims, address: `kskup.claims/${document.site.id}` });
  });
});
