// The site policy document and its rules (site-controller/policy/), table-driven.
import { describe, expect, it } from 'vitest';
import { exposeRefusal, importRefusal, linkInRefusal, linkOutRefusal, matchesPattern, reachRefusal, serviceOfAddress, sitesAllowedToReach } from '../site-controller/policy/policy-rules.js';
import { routerStateWithinPolicy, servicesWithinPolicy } from '../site-controller/policy/policy-state.js';
import { parseSitePolicy, PolicyError, type SitePolicy } from '../site-controller/policy/site-policy.js';
import { allowedSitesOf, originAllowed } from '../router/policy/flow-policy.js';
import { WEST_SITE, westSiteDocument } from './helpers/site-fixtures.js';

const HEAD = 'apiVersion: kskup.io/v1alpha1\nkind: SitePolicy\n';

function problems(text: string): readonly string[] {
  try {
    parseSitePolicy(text, 'p.yaml');
  } catch (error) {
    if (error instanceof PolicyError) return error.problems;
    throw error;
  }
  return [];
}

describe('parseSitePolicy', () => {
  it.each([
    ['not YAML', 'a: [', 'not YAML or JSON'],
    ['a list', '- a', 'is not a mapping'],
    ['no apiVersion', 'kind: SitePolicy\n', 'apiVersion missing: must be "kskup.io/v1alpha1"'],
    ['another kind', 'apiVersion: kskup.io/v1alpha1\nkind: Policy\n', 'kind "Policy": must be "SitePolicy"'],
    ['an unknown field', `${HEAD}incomingLink: [a]\n`, 'field "incomingLink" is not a policy field'],
    ['a string for a list', `${HEAD}outgoingLinks: "*.example.com"\n`, 'outgoingLinks: must be a list'],
    ['a number in a list', `${HEAD}importedServices: [web, 5]\n`, 'importedServices[1]: must be a non-empty string, not 5'],
    ['a pattern for a site', `${HEAD}incomingLinks: ["w*"]\n`, 'incomingLinks[0]: "w*" is a pattern'],
    ['a space in a pattern', `${HEAD}exposedResources: ["host/a b"]\n`, 'exposedResources[0]: "host/a b" has characters'],
    ['serviceAccess not a list', `${HEAD}serviceAccess: {db: [a]}\n`, 'serviceAccess: must be a list of {service, sites}'],
    ['a rule without sites', `${HEAD}serviceAccess:\n  - service: db\n`, 'serviceAccess[0].sites: missing'],
  ])('%s', (_what, text, expected) => {
    expect(problems(text).join('\n')).toContain(expected);
  });

  it('collects every problem', () => {
    expect(problems(`apiVersion: v1\nkind: X\nfoo: 1\nimportedServices: 3\n`)).toHaveLength(4);
  });

  it('reads YAML and JSON to the same frozen policy', () => {
    const yaml = parseSitePolicy(`${HEAD}incomingLinks: [west, west]\nserviceAccess:\n  - service: "db*"\n    sites: []\n`, 'p.yaml');
    const json = parseSitePolicy(JSON.stringify({ apiVersion: 'kskup.io/v1alpha1', kind: 'SitePolicy', incomingLinks: ['west'], serviceAccess: [{ service: 'db*', sites: [] }] }), 'p.json');
    expect(json).toEqual(yaml);
    expect(yaml.incomingLinks).toEqual(['west']);
    expect(Object.isFrozen(yaml)).toBe(true);
  });
});

const policy = (fields: Partial<SitePolicy>): SitePolicy => ({ apiVersion: 'kskup.io/v1alpha1', kind: 'SitePolicy', ...fields });

describe('rules', () => {
  it.each([
    ['*', 'anything', true],
    ['*.example.com', 'a.example.com', true],
    ['*.example.com', 'example.com', false],
    ['deployment/*', 'deployment/web', true],
    ['deployment/*', 'statefulset/web', false],
    ['db', 'db2', false],
    ['a.b', 'axb', false],
  ])('pattern %s matches %s: %s', (pattern, value, expected) => {
    expect(matchesPattern(pattern, value)).toBe(expected);
  });

  it('no policy or no list allows everything; [] allows nothing', () => {
    expect(linkInRefusal(undefined, { name: 'x' })).toBeUndefined();
    expect(linkInRefusal(policy({}), { name: 'x' })).toBeUndefined();
    expect(linkInRefusal(policy({ incomingLinks: [] }), { name: 'x' })).toContain('an empty list: none allowed');
    expect(linkInRefusal(policy({ incomingLinks: ['id-1'] }), { id: 'id-1', name: 'x' })).toBeUndefined();
    expect(linkInRefusal(policy({ incomingLinks: ['x'] }), {})).toContain('a cert token');
    expect(linkOutRefusal(policy({ outgoingLinks: ['*.example.com'] }), '10.0.0.1')).toContain('host "10.0.0.1"');
    expect(exposeRefusal(policy({ exposedResources: ['deployment/*'] }), 'host', 'db')).toContain('host/db');
    expect(importRefusal(policy({ importedServices: ['web-*'] }), 'web-a')).toBeUndefined();
  });

  it('a service matched by several serviceAccess rules takes flows only from sites each allows', () => {
    const p = policy({ serviceAccess: [{ service: 'db*', sites: ['a', 'b'] }, { service: 'db', sites: ['b', 'c'] }] });
    expect(sitesAllowedToReach(p, 'db')).toEqual(['b']);
    expect(sitesAllowedToReach(p, 'dbx')).toEqual(['a', 'b']);
    expect(sitesAllowedToReach(p, 'web')).toBeUndefined();
    expect(reachRefusal(p, 'db', { name: 'a' })).toContain('serviceAccess allows b');
  });

  it.each([
    ['db:5432', 'db'],
    ['db', 'db'],
    ['pg-0.db:5432', 'pg-0.db'],
  ])('service of %s is %s', (address, service) => {
    expect(serviceOfAddress(address)).toBe(service);
  });
});

describe('router allowedSites', () => {
  it.each([
    [undefined, 'r-b', 'b', true],
    ['', 'r-b', 'b', false],
    ['', 'self', undefined, true],
    ['a, b', 'r-b', 'b', true],
    ['a r-b', 'r-b', undefined, true],
    ['site-1', 'site-1-2', undefined, true],
    ['site-1', 'site-12', undefined, false],
    ['a', 'r-b', undefined, false],
  ])('allowedSites %j, origin router %s of site %s: %s', (allowed, router, site, expected) => {
    expect(originAllowed(allowedSitesOf(allowed === undefined ? {} : { allowedSites: allowed }), { router, ...(site !== undefined && { site }) }, 'self')).toBe(expected);
  });
});

describe('a policy applied to the router config input', () => {
  const document = westSiteDocument(
    {},
    {
      grants: [
        { serial: 'aa', tokenName: 't1', siteId: 'east-id', siteName: 'east', issuedAt: '', expiresAt: '2099-01-01T00:00:00Z' },
        { serial: 'bb', tokenName: 't2', siteId: 'north-id', siteName: 'north', issuedAt: '', expiresAt: '2099-01-01T00:00:00Z' },
      ],
      services: [
        { address: 'db', protocol: 'tcp', ports: [5432], createdAt: '', targets: [{ type: 'host', name: 'db.local', host: 'db.local', targetPorts: [5432] }, { type: 'deployment', name: 'pg', host: 'pg', targetPorts: [5432] }] },
      ],
    },
  );
  const state = {
    ...WEST_SITE,
    links: [{ name: 'hub', host: 'hub.example.com', port: 1, role: 'inter-router' as const, cost: 1, caCertFile: '', certFile: '', privateKeyFile: '' }, { name: 'rogue', host: '10.0.0.9', port: 1, role: 'inter-router' as const, cost: 1, caCertFile: '', certFile: '', privateKeyFile: '' }],
    serviceConnectors: [{ address: 'db:5432', host: 'db.local', port: 5432 }],
    serviceListeners: [{ address: 'db:5432', host: '127.0.0.1', port: 5432 }, { address: 'web:80', host: '127.0.0.1', port: 80 }],
  };

  it('without a policy: the same objects', () => {
    expect(routerStateWithinPolicy(state, document)).toBe(state);
    expect(servicesWithinPolicy(document)).toBe(document);
  });

  it('drops links, revokes certificates, narrows listeners and tells tcpConnectors who may reach them', () => {
    const p = policy({ incomingLinks: ['east'], outgoingLinks: ['*.example.com'], importedServices: ['web'], serviceAccess: [{ service: 'db', sites: ['east'] }], exposedResources: ['host/*'] });
    const next = routerStateWithinPolicy(state, { ...document, policy: p });
    expect(next.links.map((link) => link.name)).toEqual(['hub']);
    expect(next.revokedSerials).toEqual(['bb']);
    expect(next.serviceListeners?.map((listener) => listener.address)).toEqual(['web:80']);
    expect(next.serviceConnectors?.[0]?.allowedSites).toEqual([WEST_SITE.id, 'west', 'east']);
    const served = servicesWithinPolicy({ ...document, policy: p });
    expect(served.services[0]?.targets.map((target) => `${target.type}/${target.name}`)).toEqual(['host/db.local']);
  });
});
