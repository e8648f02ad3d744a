// The site's router config is a pure function of the site's state: same state,
// same text; links in any order, same config; a new link is one added
// sslProfile and connector in the diff, nothing else.
import { describe, expect, it } from 'vitest';
import { diffRouterConfig } from '../router/config/index.js';
import { desiredRouterConfig, routerConfigText, type SiteState } from '../site-controller/site/desired-router-config.js';
import { WEST_SITE } from './helpers/site-fixtures.js';

const site: SiteState = WEST_SITE;
const link = (name: string) => ({
  name,
  host: `${name}.example`,
  port: 55671,
  role: 'inter-router' as const,
  cost: 1,
  caCertFile: `/sites/west/links/${name}/ca.crt`,
  certFile: `/sites/west/links/${name}/tls.crt`,
  privateKeyFile: `/sites/west/links/${name}/tls.key`,
});

describe('desiredRouterConfig', () => {
  it('is stable: the same state gives the same text, whatever the order of links', () => {
    const a = routerConfigText({ ...site, links: [link('east'), link('north')] });
    const b = routerConfigText({ ...site, links: [link('north'), link('east')] });
    expect(a).toBe(b);
    expect(routerConfigText(site)).toBe(routerConfigText({ ...site }));
  });

  it('an interior site listens for links with mutual TLS; an edge site does not listen', () => {
    const interior = desiredRouterConfig(site);
    expect(interior.listeners.get('inter-router')).toMatchObject({ role: 'inter-router', authenticatePeer: true, sslProfile: 'site-server', port: 55671 });
    expect(interior.listeners.get('edge')).toMatchObject({ role: 'edge', authenticatePeer: true });
    const edge = desiredRouterConfig({ ...site, mode: 'edge' });
    expect([...edge.listeners.keys()].sort()).toEqual(['amqp', 'http']);
  });

  it('a new link is exactly one added sslProfile and one added connector', () => {
    const before = desiredRouterConfig(site);
    const after = desiredRouterConfig({ ...site, links: [link('east')] });
    const diff = diffRouterConfig(before, after);
    expect(diff.connectors.added.map((c) => c.name)).toEqual(['link-east']);
    expect(diff.sslProfiles.added.map((p) => p.name)).toEqual(['link-east']);
    expect(diff.listeners).toEqual({ added: [], removed: [], changed: [] });
    expect(after.connectors.get('link-east')).toMatchObject({ host: 'east.example', sslProfile: 'link-east', cost: 1 });
  });
});
