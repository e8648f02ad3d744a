// What the console shows of site policies (cli/console/console-policy.ts),
// from inputs made by hand: the console's own site's blocks of every kind in
// order, another site's from its announced listeners, a service's policy, and
// the network's policy refusals counted from listener-side flow totals.
import { describe, expect, it } from 'vitest';
import { otherSiteBlocks, ownSiteBlocks, servicePolicy } from '../cli/console/console-policy.js';
import { deniedFlows, type GatheredFlows } from '../service-controller/flows/flow-gatherer.js';
import type { NetworkService } from '../service-controller/sync/network-view.js';
import { westSiteDocument } from './helpers/site-fixtures.js';

const policy = { apiVersion: 'kskup.io/v1alpha1' as const, kind: 'SitePolicy' as const, importedServices: ['db'] };
const document = westSiteDocument({}, { policy });
const service = (address: string, access?: string[]): NetworkService => ({
  address,
  protocol: 'tcp',
  ports: [80],
  exposedAt: [{ id: 'hub-1', name: 'hub' }],
  targets: [],
  ...(access && { access: [{ siteId: 'hub-1', siteName: 'hub', allowedSites: access }] }),
});
const link = { connected: false, reason: '', cost: 1, remoteSiteId: 'hub-1', host: 'hub.example', port: 55671 };
const ended = { closed: 0, 'reset-by-client': 0, 'reset-by-server': 0, refused: 0, 'no-route': 0, unreachable: 0, denied: 0 };
const totals = (router: string, site: string, peerRouter: string, denied: number, role: 'listener-side' | 'connector-side' = 'listener-side') => ({
  vanAddress: 'db:80',
  role,
  router,
  site,
  peerRouter,
  opened: denied,
  ended: { ...ended, denied },
  octets: 0,
  octetsReverse: 0,
});

describe('console policy', () => {
  const gathered = {
    records: [],
    links: [],
    more: 0,
    routers: [
      { router: 'west-r', site: 'west', state: 'answered', matched: 0, returned: 0 },
      { router: 'hub-r', site: 'hub', state: 'answered', matched: 0, returned: 0 },
    ],
    // The connector side's count of the same flows is not counted twice; routers without a site name are named by id.
    totals: [totals('west-r', 'west', 'hub-r', 3), totals('hub-r', 'hub', 'west-r', 3, 'connector-side'), { ...totals('edge-9', 'west', 'hub-r', 2), site: undefined }],
  } as unknown as GatheredFlows;

  it('counts refusals per listening and refusing site from listener-side totals', () => {
    expect(deniedFlows(gathered)).toEqual([
      { vanAddress: 'db:80', from: 'west', at: 'hub', flows: 3 },
      { vanAddress: 'db:80', from: 'edge-9', at: 'hub', flows: 2 },
    ]);
  });

  it('lists the own site\'s blocks: links out and in, imports, access, refused flows', () => {
    const denied = deniedFlows(gathered);
    const blocks = ownSiteBlocks(
      {
        document,
        links: [
          { ...link, name: 'to-hub', remoteSite: 'hub', blocked: 'policy: host "hub.example" matches no pattern of outgoingLinks (*.corp)' },
          { ...link, name: 'to-east', remoteSite: 'east', connected: true },
        ],
        incoming: [{ site: 'north', siteId: 'north-1', connected: false, role: '', blocked: 'policy: site "north" (north-1) is not in incomingLinks (east)' }],
      },
      [service('web'), service('db', ['east'])],
      denied,
    );
    expect(blocks.map((b) => `${b.kind} | ${b.subject} | ${b.reason}`)).toEqual([
      'link out | link "to-hub" to site "hub" | policy: host "hub.example" matches no pattern of outgoingLinks (*.corp)',
      'link in | link from site "north" | policy: site "north" (north-1) is not in incomingLinks (east)',
      'import | service "web" | policy: service "web" matches no pattern of importedServices (db)',
      'access | service "db" | not allowed by site "hub"\'s policy (serviceAccess allows east)',
      'flows refused | db:80 from west at hub | 3 flow(s) refused by site hub\'s policy (serviceAccess)',
    ]);
  });

  it('another site: a listener it announces kept out by policy, and refusals at it; other reasons are not blocks', () => {
    const listeners = [
      { address: 'db:80', host: '127.0.0.1', port: 4000, listening: false, reason: 'not allowed by site "hub"\'s policy (serviceAccess allows east)' },
      { address: 'web:80', host: '127.0.0.1', port: 4001, listening: false, reason: 'address already in use' },
    ];
    expect(otherSiteBlocks('hub', listeners, deniedFlows(gathered)).map((b) => `${b.kind} | ${b.subject}`)).toEqual([
      'access | listener for db:80',
      'flows refused | db:80 from west at hub',
      'flows refused | db:80 from edge-9 at hub',
    ]);
    expect(otherSiteBlocks('north', undefined, [])).toEqual([]);
  });

  it('a service\'s policy: who may reach it where, why no listener here, the flows refused', () => {
    expect(servicePolicy(service('db', ['east']), document, deniedFlows(gathered))).toEqual({
      access: [{ site: 'hub', allowedSites: ['east'] }],
      deniedHere: 'not allowed by site "hub"\'s policy (serviceAccess allows east)',
      refused: deniedFlows(gathered),
    });
    expect(servicePolicy(service('web'), westSiteDocument(), [])).toEqual({ access: [], refused: [] });
  });
});
