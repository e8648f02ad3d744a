// The router replicas of a Kubernetes site (site-controller/kubernetes/router-replicas.ts
// and replica-status.ts): each replica's config is the site's with its own
// router id and, at an interior site, links to the lower replicas; the
// replicas' client certificate; the site's link and listener state from
// every replica's answer.
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCertificateAuthority } from '../site-controller/pki/index.js';
import { siteLinks, siteListeners, type ReplicaReport } from '../site-controller/kubernetes/replica-status.js';
import { CERT_FILES, kubernetesRouterState } from '../site-controller/kubernetes/router-materials.js';
import { peerCredentialsToIssue, replicaConfigKey, replicaConfigs, replicaHostPatterns, replicaRouterId, SITE_CONFIG_KEY } from '../site-controller/kubernetes/router-replicas.js';
import { routerConfigText } from '../site-controller/site/desired-router-config.js';
import { ROUTER_POD_PORTS } from '../site-controller/kubernetes/manifests.js';
import { allocateListenerPorts } from '../service-controller/listener-ports.js';
import { parseRouterConfig } from '../router/config/index.js';
import { westSiteDocument } from './helpers/site-fixtures.js';
import { limitsPart } from '../site-controller/site/limit-shares.js';
import type { ServiceLimits } from '../site-controller/site/model.js';

const pem = (what: string) => `-----BEGIN ${what}-----\n-----END ${what}-----\n`;
const full = { 'ca.crt': pem('CA'), 'tls.crt': pem('CERT'), 'tls.key': pem('KEY') };
const link = {
  name: 'east',
  host: 'east.example.com',
  port: 55671,
  role: 'inter-router' as const,
  cost: 1,
  remoteSiteId: 'east-id',
  remoteSiteName: 'east',
  tokenName: 't',
  createdAt: '2026-11-29T00:00:00.000Z',
};

function siteConfig(mode: 'interior' | 'edge', limits?: ServiceLimits): { text: string; id: string } {
  const base = westSiteDocument({ platform: 'kubernetes' });
  const document = { ...base, site: { ...base.site, mode }, links: [{ ...link, role: mode === 'edge' ? ('edge' as const) : ('inter-router' as const) }] };
  const state = {
    ...kubernetesRouterState(document, 'team-a', { siteServer: full, localServer: full, links: new Map([['east', full]]) }),
    serviceListeners: [{ address: 'backend:80', host: '0.0.0.0', port: 1024 }],
    serviceConnectors: [
      { address: 'db:5432', host: '10.0.0.9', port: 5432, ...(limits && { limits }) },
      { address: 'web:80', host: '10.0.0.7', port: 8080 },
    ],
  };
  return { text: routerConfigText(state), id: document.site.id };
}

const parse = (text: string) => parseRouterConfig(text, 'test').config;

describe('router replica configs', () => {
  it('one key per replica plus the site config; replica 0 runs the site config itself, byte for byte', () => {
    const { text } = siteConfig('interior');
    const data = replicaConfigs(text, { replicas: 3, namespace: 'team-a', peerCredentials: true });
    expect(Object.keys(data).sort()).toEqual(['kskup-router-0.json', 'kskup-router-1.json', 'kskup-router-2.json', SITE_CONFIG_KEY]);
    expect(replicaConfigKey(2)).toBe('kskup-router-2.json');
    expect(data['kskup-router-0.json']).toBe(text);
    expect(data[SITE_CONFIG_KEY]).toBe(text);
    // One replica: exactly what a single router ran before replicas.
    expect(replicaConfigs(text, { replicas: 1, namespace: 'team-a', peerCredentials: true })).toEqual({ [SITE_CONFIG_KEY]: text, 'kskup-router-0.json': text });
  });

  it('each replica has its own router id: the site id for replica 0 (kept when the site grows), SITEID-K for the others', () => {
    const { text, id } = siteConfig('interior');
    const data = replicaConfigs(text, { replicas: 3, namespace: 'team-a', peerCredentials: true });
    const ids = [0, 1, 2].map((index) => parse(data[replicaConfigKey(index)]!).router.id);
    expect(ids).toEqual([id, `${id}-1`, `${id}-2`]);
    expect(ids.map((_, index) => replicaRouterId(id, index))).toEqual(ids);
    expect(new Set(ids).size).toBe(3);
  });

  it('interior replicas: K links to every lower replica at its stable name, over the site CA with the replicas\' client certificate; all carry the links, listeners and connectors', () => {
    const { text } = siteConfig('interior');
    const site = parse(text);
    const data = replicaConfigs(text, { replicas: 3, namespace: 'team-a', peerCredentials: true });
    const peersOf = (index: number) => [...parse(data[replicaConfigKey(index)]!).connectors.values()].filter((c) => c.name.startsWith('peer-'));
    expect(peersOf(0)).toEqual([]);
    expect(peersOf(1).map((c) => [c.name, c.host, c.port, c.role, c.sslProfile])).toEqual([['peer-kskup-router-0', 'kskup-router-0.kskup-router-peers.team-a.svc', 55671, 'inter-router', 'router-peer']]);
    expect(peersOf(2).map((c) => c.host)).toEqual(['kskup-router-0.kskup-router-peers.team-a.svc', 'kskup-router-1.kskup-router-peers.team-a.svc']);
    const replica2 = parse(data[replicaConfigKey(2)]!);
    expect(replica2.sslProfiles.get('router-peer')).toMatchObject({
      caCertFile: site.sslProfiles.get('site-server')?.caCertFile,
      certFile: `/etc/kskup/certs/${CERT_FILES.routerPeerCert}`,
      privateKeyFile: `/etc/kskup/certs/${CERT_FILES.routerPeerKey}`,
    });
    for (const index of [1, 2]) {
      const replica = parse(data[replicaConfigKey(index)]!);
      expect(replica.connectors.get('link-east')).toEqual(site.connectors.get('link-east'));
      expect(replica.tcpListeners).toEqual(site.tcpListeners);
      expect(replica.tcpConnectors).toEqual(site.tcpConnectors);
      expect(replica.listeners).toEqual(site.listeners);
    }
  });

  it('no replica dials another before kskup-router-certs has their client certificate', () => {
    const { text, id } = siteConfig('interior');
    const replica1 = parse(replicaConfigs(text, { replicas: 2, namespace: 'team-a', peerCredentials: false })[replicaConfigKey(1)]!);
    expect([...replica1.connectors.keys()]).toEqual(['link-east']);
    expect(replica1.router.id).toBe(`${id}-1`);
  });

  it('edge replicas never link to each other: each has its own uplinks', () => {
    const { text, id } = siteConfig('edge');
    const data = replicaConfigs(text, { replicas: 2, namespace: 'team-a', peerCredentials: true });
    const replica1 = parse(data[replicaConfigKey(1)]!);
    expect([...replica1.connectors.values()].map((c) => [c.name, c.role])).toEqual([['link-east', 'edge']]);
    expect(replica1.router).toMatchObject({ id: `${id}-1`, mode: 'edge' });
  });

  it('rate limits: each replica enforces the site\'s share divided by the replicas, rounded down, at least 1; the queue is each replica\'s own', () => {
    const share = { maxFlows: 7, flowsPerSecond: 10, flowBurst: 1, bandwidth: 1_000_001, flowQueue: 20, flowQueueTimeoutMs: 2000 };
    const { text } = siteConfig('interior', share);
    const data = replicaConfigs(text, { replicas: 2, namespace: 'team-a', peerCredentials: true });
    // The site config keeps the site's share (what service status shows); each replica's config has half of it.
    expect(parse(data[SITE_CONFIG_KEY]!).tcpConnectors.get('db:5432@10.0.0.9:5432')).toMatchObject(share);
    for (const index of [0, 1]) {
      const replica = parse(data[replicaConfigKey(index)]!);
      expect(replica.tcpConnectors.get('db:5432@10.0.0.9:5432')).toMatchObject({ maxFlows: 3, flowsPerSecond: 5, flowBurst: 1, bandwidth: 500_000, flowQueue: 20, flowQueueTimeoutMs: 2000 });
      // A connector without limits gets none.
      expect(replica.tcpConnectors.get('web:80@10.0.0.7:8080')?.maxFlows).toBeUndefined();
    }
    // Replica 0 keeps the site's router id and dials no replica, as without limits.
    const { text: plain, id } = siteConfig('interior');
    const zero = parse(data[replicaConfigKey(0)]!);
    expect(zero.router.id).toBe(id);
    expect([...zero.connectors.keys()]).toEqual([...parse(plain).connectors.keys()]);
    // Three replicas, a share of 2: each gets 1 (3 over the site, the rounding that says "at least 1").
    const three = replicaConfigs(siteConfig('interior', { maxFlows: 2 }).text, { replicas: 3, namespace: 'team-a', peerCredentials: true });
    expect([0, 1, 2].map((index) => parse(three[replicaConfigKey(index)]!).tcpConnectors.get('db:5432@10.0.0.9:5432')?.maxFlows)).toEqual([1, 1, 1]);
    // One replica: the site's share as it is, byte for byte.
    const one = replicaConfigs(text, { replicas: 1, namespace: 'team-a', peerCredentials: true });
    expect(one[replicaConfigKey(0)]).toBe(text);
  });

  it('the split: floor(value / parts), at least 1; queue fields unsplit; nothing set, nothing to split', () => {
    expect(limitsPart({ maxFlows: 100, flowsPerSecond: 9, bandwidth: 10, flowQueue: 5 }, 4)).toEqual({ maxFlows: 25, flowsPerSecond: 2, bandwidth: 2, flowQueue: 5 });
    expect(limitsPart({ maxFlows: 1, flowBurst: 3, flowsPerSecond: 3 }, 2)).toEqual({ maxFlows: 1, flowBurst: 1, flowsPerSecond: 1 });
    expect(limitsPart({ maxFlows: 10 }, 0)).toEqual({ maxFlows: 10 });
    expect(limitsPart({ bandwidth: 100, flowQueue: 5, flowQueueTimeoutMs: 100 }, 2)).toEqual({ bandwidth: 50 });
    expect(limitsPart({}, 2)).toBeUndefined();
    expect(limitsPart(undefined, 2)).toBeUndefined();
  });

  it('the site server certificate names every replica (wildcards, so scaling needs no new certificate)', () => {
    expect(replicaHostPatterns('team-a')).toEqual(['*.kskup-router-peers.team-a', '*.kskup-router-peers.team-a.svc', '*.kskup-router-peers.team-a.svc.cluster.local']);
  });

  it('the replicas\' client certificate: client use only, from the site CA, kept while valid and re-issued for another CA', async () => {
    const ca = await createCertificateAuthority({ commonName: 'test CA', validityDays: 30 });
    const issued = await peerCredentialsToIssue(ca, 'west', undefined);
    expect(issued).toBeDefined();
    const cert = new X509Certificate(issued!.certPem);
    expect(cert.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
    expect(cert.toLegacyObject().ext_key_usage).toEqual(['1.3.6.1.5.5.7.3.2']);
    const kept = { 'tls.crt': issued!.certPem, 'tls.key': issued!.keyPem, 'ca.crt': ca.certPem };
    expect(await peerCredentialsToIssue(ca, 'west', kept)).toBeUndefined();
    const other = await createCertificateAuthority({ commonName: 'other CA', validityDays: 30 });
    expect(await peerCredentialsToIssue(other, 'west', kept)).toBeDefined();
    // Within 30 days of its end: renewed.
    expect(await peerCredentialsToIssue(ca, 'west', kept, Date.parse(cert.validTo) - 10 * 86_400_000)).toBeDefined();
  });
});

describe('the site state from every replica', () => {
  const report = (pod: string, links: ReplicaReport['links'], listeners: ReplicaReport['listeners'] = {}): ReplicaReport => ({ pod, answered: true, id: pod, links, peers: {}, listeners });
  const silent: ReplicaReport = { pod: 'kskup-router-1', answered: false, reason: 'the router does not answer: ECONNREFUSED', links: {}, peers: {}, listeners: {} };

  it('a link is up when some replica has it up; the replicas that have it down are named', () => {
    const links = siteLinks([report('kskup-router-0', { east: { connected: true, reason: '' } }), silent], ['east']);
    expect(links.get('east')).toEqual({ connected: true, reason: 'kskup-router-1: the router does not answer: ECONNREFUSED' });
    const down = siteLinks([report('kskup-router-0', { east: { connected: false, reason: 'TLS: bad certificate' } })], []);
    // One replica: the reason as it was before replicas.
    expect(down.get('east')).toEqual({ connected: false, reason: 'TLS: bad certificate' });
  });

  it('a service listener is listening only when every replica listens', () => {
    const up = { port: 1024, listening: true } as const;
    const failed = { port: 1024, listening: false, reason: 'EADDRINUSE', failed: true } as const;
    expect(siteListeners([report('kskup-router-0', {}, { 'backend:80': up }), report('kskup-router-1', {}, { 'backend:80': up })]).get('backend:80')).toEqual(up);
    expect(siteListeners([report('kskup-router-0', {}, { 'backend:80': up }), report('kskup-router-1', {}, { 'backend:80': failed })]).get('backend:80')).toEqual({ ...failed, reason: 'kskup-router-1: EADDRINUSE' });
  });

  it("the ports the router pod's own listeners hold are never given to a service's tcpListener", async () => {
    for (const mode of ['interior', 'edge'] as const) {
      const config = parse(siteConfig(mode).text);
      const own = [...config.listeners.values(), ...[...config.tcpListeners.values()].filter((l) => l.address !== 'backend:80')].map((l) => Number(l.port));
      expect(own.length).toBeGreaterThanOrEqual(2);
      for (const port of own) expect(ROUTER_POD_PORTS.has(port), `${mode} site: router port ${port}`).toBe(true);
    }
    // A service whose port is one of them (as the edge port once was) gets another listener port.
    const wanted = new Map([...ROUTER_POD_PORTS].map((port) => [`svc:${port}`, port] as const));
    const allocated = await allocateListenerPorts({}, wanted, '127.0.0.1', { avoid: async () => ROUTER_POD_PORTS });
    expect(Object.values(allocated ?? {}).filter((port) => ROUTER_POD_PORTS.has(port))).toEqual([]);
    expect(Object.keys(allocated ?? {}).sort()).toEqual([...wanted.keys()].sort());
  });
});
