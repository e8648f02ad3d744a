// Service sync and exposure, unit by unit: what a site announces and how an
// announcement is checked; how a site's view of the network follows
// announcements (newest wins, final means gone, silence means gone); the rules
// of expose/unexpose on an in-memory site; which local port each listener gets
// (real sockets on 127.0.0.1); and the router entities that services become.
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { allocateListenerPorts } from '../service-controller/listener-ports.js';
import { exposeService, unexposeService, type ExposeRequest } from '../service-controller/services.js';
import { announce, MAX_ALLOWED_SITES, parseAnnouncement, SYNC_PREFIX, type AnnouncedService, type SiteAnnouncement } from '../service-controller/sync/announcement.js';
import { NetworkView, networkServices, serviceAccessRefusal } from '../service-controller/sync/network-view.js';
import { StallClock } from '../service-controller/stall-clock.js';
import { desiredRouterConfig, routerConfigText, type SiteState } from '../site-controller/site/desired-router-config.js';
import { SiteError } from '../site-controller/site/errors.js';
import type { LinkRecord, ServiceRecord, SiteDocument } from '../site-controller/site/model.js';
import { MemoryStorage } from './helpers/memory-storage.js';
import { WEST_SITE, westSiteDocument } from './helpers/site-fixtures.js';

// ---------------------------------------------------------------- fixtures

const CREATED = '2025-01-01T00:00:00.000Z';

function link(name: string, remoteSiteId: string, remoteSiteName: string): LinkRecord {
  return { name, host: `${remoteSiteName}.example`, port: 55671, role: 'inter-router', cost: 1, remoteSiteId, remoteSiteName, tokenName: `token-${name}`, createdAt: CREATED };
}

function siteDocument(overrides: Partial<Omit<SiteDocument, 'site'>> = {}): SiteDocument {
  return westSiteDocument({}, overrides);
}

const dbService: ServiceRecord = {
  address: 'db',
  protocol: 'tcp',
  ports: [5432, 5433],
  targets: [
    { type: 'host', name: 'db-primary', host: '10.0.0.5', targetPorts: [15432, 15433] },
    { type: 'host', name: 'db-replica', host: '10.0.0.6', targetPorts: [5432, 5433] },
  ],
  createdAt: CREATED,
};

/** A valid announcement of another site, with the fields a test cares about. */
function heard(id: string, name: string, seq: number, options: { services?: AnnouncedService[]; connected?: boolean; final?: boolean } = {}): SiteAnnouncement {
  return {
    site: { id, name, platform: 'local', mode: 'interior' },
    seq,
    final: options.final ?? false,
    links: [{ remoteSiteId: 'west-1a2b', remoteSiteName: 'west', connected: options.connected ?? true }],
    services: options.services ?? [],
  };
}

const webService = (host = 'web-1', healthy = true): AnnouncedService => ({ address: 'web', protocol: 'tcp', ports: [80], targets: [{ host, ports: [8080], healthy }] });

// ---------------------------------------------------------------- announce / parseAnnouncement

describe('announce', () => {
  const document = siteDocument({ links: [link('to-east', 'east-9z', 'east'), link('to-north', 'north-7y', 'north')], services: [dbService] });

  it('says who the site is (id, name, platform, mode only) and carries the seq', () => {
    const announcement = announce(document, 42, { connectedLinks: new Set(), healthy: () => true });
    expect(announcement.site).toEqual({ id: 'west-1a2b', name: 'west', platform: 'local', mode: 'interior' });
    expect(announcement.seq).toBe(42);
    expect(announcement.final).toBe(false);
  });

  it('lists links with connected taken from the set of link names, their cost, and why one is down', () => {
    const announcement = announce(document, 1, { connectedLinks: new Set(['to-north']), healthy: () => true, linkProblem: (name) => `${name}: connection refused` });
    expect(announcement.links).toEqual([
      { remoteSiteId: 'east-9z', remoteSiteName: 'east', connected: false, cost: 1, reason: 'to-east: connection refused' },
      { remoteSiteId: 'north-7y', remoteSiteName: 'north', connected: true, cost: 1 },
    ]);
  });

  it('carries the version and the listeners when given, a reason cut to 500 characters, and no listeners when final', () => {
    const listeners = [
      { address: 'db:5432', host: '127.0.0.1', port: 41000, listening: true },
      { address: 'db:5433', host: '127.0.0.1', port: 41001, listening: false, reason: 'x'.repeat(600) },
    ];
    const announcement = announce(document, 1, { connectedLinks: new Set(), healthy: () => true, version: '1.2.3', listeners });
    expect(announcement.version).toBe('1.2.3');
    expect(announcement.listeners?.[0]).toEqual(listeners[0]);
    expect(announcement.listeners?.[1]?.reason).toHaveLength(500);
    expect(announce(document, 2, { connectedLinks: new Set(), healthy: () => true, listeners }, true).listeners).toBeUndefined();
  });

  it('lists services with their targets; a target is healthy only if every one of its ports is', () => {
    const asked: string[] = [];
    const healthy = (host: string, port: number) => {
      asked.push(`${host}:${port}`);
      return !(host === '10.0.0.5' && port === 15433);
    };
    const announcement = announce(document, 1, { connectedLinks: new Set(), healthy });
    expect(announcement.services).toEqual([
      {
        address: 'db',
        protocol: 'tcp',
        ports: [5432, 5433],
        targets: [
          { host: '10.0.0.5', ports: [15432, 15433], healthy: false },
          { host: '10.0.0.6', ports: [5432, 5433], healthy: true },
        ],
      },
    ]);
    // Health is asked of the target's ports, not the service's.
    expect(asked).toContain('10.0.0.5:15432');
    expect(asked).toContain('10.0.0.6:5433');
    expect(asked).not.toContain('10.0.0.5:5432');
  });

  it('a final announcement carries no services (but still says who and its links)', () => {
    const announcement = announce(document, 7, { connectedLinks: new Set(['to-east']), healthy: () => true }, true);
    expect(announcement.final).toBe(true);
    expect(announcement.services).toEqual([]);
    expect(announcement.site.id).toBe('west-1a2b');
    expect(announcement.links).toHaveLength(2);
  });
});

describe('parseAnnouncement', () => {
  const valid = announce(siteDocument({ links: [link('to-east', 'east-9z', 'east'), link('to-north', 'north-7y', 'north')], services: [dbService] }), 1_700_000_000_000, {
    connectedLinks: new Set(['to-east']),
    healthy: (_, port) => port !== 15433,
    linkProblem: () => 'connection refused',
    version: '0.9.0',
    listeners: [{ address: 'db:5432', host: '127.0.0.1', port: 41000, listening: false, reason: 'address already in use (EADDRINUSE)' }],
  });

  /** The valid announcement as plain JSON data, changed by `change`. */
  function variant(change: (value: Record<string, any>) => void): Record<string, unknown> {
    const value = JSON.parse(JSON.stringify(valid)) as Record<string, any>;
    change(value);
    return value;
  }

  it('round-trips what announce makes, from a JSON string and from an object', () => {
    expect(parseAnnouncement(JSON.stringify(valid))).toEqual(valid);
    expect(parseAnnouncement(JSON.parse(JSON.stringify(valid)))).toEqual(valid);
    const final = announce(siteDocument(), 2, { connectedLinks: new Set(), healthy: () => true }, true);
    expect(parseAnnouncement(JSON.stringify(final))).toEqual(final);
  });

  it('accepts the announcement of a site older than version, listeners, and a link\'s cost and reason', () => {
    const older = variant((v) => {
      delete v.version;
      delete v.listeners;
      for (const l of v.links) {
        delete l.cost;
        delete l.reason;
      }
    });
    const parsed = parseAnnouncement(older);
    if (typeof parsed === 'string') throw new Error(parsed);
    expect(parsed.version).toBeUndefined();
    expect(parsed.listeners).toBeUndefined();
    expect(parsed.links[1]).toEqual({ remoteSiteId: 'north-7y', remoteSiteName: 'north', connected: false });
    expect(parsed.services).toEqual(valid.services);
  });

  it('keeps only the known fields of links and listeners', () => {
    const parsed = parseAnnouncement(variant((v) => ((v.links[0].extra = 'x'), (v.listeners[0].extra = 'y'))));
    expect(parsed).toEqual(valid);
  });

  it('rejects a body that is not JSON or not an object', () => {
    expect(parseAnnouncement('{"site":')).toBe('body is not JSON');
    expect(parseAnnouncement('[1,2]')).toBe('body is not an object');
    expect(parseAnnouncement('null')).toBe('body is not an object');
    expect(parseAnnouncement('"text"')).toBe('body is not an object');
    expect(parseAnnouncement(42)).toBe('body is not an object');
    expect(parseAnnouncement(undefined)).toBe('body is not an object');
  });

  const malformed: [string, (value: Record<string, any>) => void][] = [
    ['no site', (v) => delete v.site],
    ['site is not an object', (v) => (v.site = 'west')],
    ['no site id', (v) => delete v.site.id],
    ['empty site id', (v) => (v.site.id = '')],
    ['site id not a string', (v) => (v.site.id = 12)],
    ['empty site name', (v) => (v.site.name = '')],
    ['unknown platform', (v) => (v.site.platform = 'openshift')],
    ['no platform', (v) => delete v.site.platform],
    ['unknown mode', (v) => (v.site.mode = 'standalone')],
    ['seq a string', (v) => (v.seq = '17')],
    ['seq not an integer', (v) => (v.seq = 1.5)],
    ['seq not safe', (v) => (v.seq = 2 ** 60)],
    ['no seq', (v) => delete v.seq],
    ['links not an array', (v) => (v.links = {})],
    ['link not an object', (v) => (v.links = ['to-east'])],
    ['link without remoteSiteId', (v) => delete v.links[0].remoteSiteId],
    ['link with empty remoteSiteId', (v) => (v.links[0].remoteSiteId = '')],
    ['link without remoteSiteName', (v) => delete v.links[0].remoteSiteName],
    ['link with connected not a boolean', (v) => (v.links[0].connected = 'yes')],
    ['link with cost 0', (v) => (v.links[0].cost = 0)],
    ['link with cost a string', (v) => (v.links[0].cost = '1')],
    ['link with reason not a string', (v) => (v.links[1].reason = 5)],
    ['link with a reason too long', (v) => (v.links[1].reason = 'x'.repeat(501))],
    ['version not a string', (v) => (v.version = 1)],
    ['listeners not an array', (v) => (v.listeners = {})],
    ['listener without address', (v) => delete v.listeners[0].address],
    ['listener port out of range', (v) => (v.listeners[0].port = 70000)],
    ['listener listening not a boolean', (v) => (v.listeners[0].listening = 1)],
    ['listener host not a string', (v) => (v.listeners[0].host = ['127.0.0.1'])],
    ['services not an array', (v) => (v.services = null)],
    ['service without address', (v) => delete v.services[0].address],
    ['service protocol udp', (v) => (v.services[0].protocol = 'udp')],
    ['service protocol http', (v) => (v.services[0].protocol = 'http')],
    ['service ports empty', (v) => (v.services[0].ports = [])],
    ['service port 0', (v) => (v.services[0].ports = [0])],
    ['service port 65536', (v) => (v.services[0].ports = [5432, 65536])],
    ['service port not an integer', (v) => (v.services[0].ports = [5432.5])],
    ['service port a string', (v) => (v.services[0].ports = ['5432'])],
    ['targets not an array', (v) => (v.services[0].targets = {})],
    ['target without host', (v) => delete v.services[0].targets[0].host],
    ['target ports empty', (v) => (v.services[0].targets[0].ports = [])],
    ['target port out of range', (v) => (v.services[0].targets[1].ports = [-1])],
    ['target without healthy', (v) => delete v.services[0].targets[0].healthy],
    ['target healthy not a boolean', (v) => (v.services[0].targets[0].healthy = 'true')],
  ];

  it.each(malformed)('rejects %s, giving a reason', (_, change) => {
    const value = variant(change);
    const fromObject = parseAnnouncement(value);
    expect(typeof fromObject).toBe('string');
    expect(fromObject).not.toBe('');
    // Same verdict from the message body as text.
    expect(parseAnnouncement(JSON.stringify(value))).toBe(fromObject);
  });

  it('names the part that is wrong', () => {
    expect(parseAnnouncement(variant((v) => (v.site.mode = 'hub')))).toMatch(/site/);
    expect(parseAnnouncement(variant((v) => (v.seq = 'x')))).toMatch(/seq/);
    expect(parseAnnouncement(variant((v) => (v.links = 3)))).toMatch(/links/);
    expect(parseAnnouncement(variant((v) => (v.services[0].protocol = 'udp')))).toMatch(/services/);
  });
});

// ---------------------------------------------------------------- NetworkView

describe('NetworkView.hear', () => {
  const SELF = 'west-1a2b';

  it('ignores announcements with its own site id', () => {
    const view = new NetworkView(SELF);
    expect(view.hear(heard(SELF, 'west', 5), 1_000)).toBe('ignored');
    expect(view.remote()).toEqual([]);
  });

  it("is 'new' for a site first heard, then 'same' for the same content with a higher seq (and the site is heard anew)", () => {
    const view = new NetworkView(SELF);
    expect(view.hear(heard('east-9z', 'east', 10, { services: [webService()] }), 1_000)).toBe('new');
    expect(view.hear(heard('east-9z', 'east', 11, { services: [webService()] }), 2_000)).toBe('same');
    expect(view.remote()).toHaveLength(1);
    expect(view.remote()[0]?.heardAt).toBe(2_000);
    expect(view.remote()[0]?.announcement.seq).toBe(11);
  });

  it("is 'changed' when the services or the links change", () => {
    const view = new NetworkView(SELF);
    view.hear(heard('east-9z', 'east', 1, { services: [webService()] }), 1_000);
    expect(view.hear(heard('east-9z', 'east', 2, { services: [webService('web-1', false)] }), 1_001)).toBe('changed');
    expect(view.hear(heard('east-9z', 'east', 3, { services: [webService('web-2', false)] }), 1_002)).toBe('changed');
    expect(view.hear(heard('east-9z', 'east', 4, { services: [] }), 1_003)).toBe('changed');
    expect(view.hear(heard('east-9z', 'east', 5, { services: [], connected: false }), 1_004)).toBe('changed');
    expect(view.hear(heard('east-9z', 'east', 6, { services: [], connected: false }), 1_005)).toBe('same');
    expect(view.remote()[0]?.announcement.links[0]?.connected).toBe(false);
  });

  it("'ignored' for an older or equal seq, which changes nothing", () => {
    const view = new NetworkView(SELF);
    view.hear(heard('east-9z', 'east', 10, { services: [webService()] }), 1_000);
    expect(view.hear(heard('east-9z', 'east', 10, { services: [] }), 2_000)).toBe('ignored');
    expect(view.hear(heard('east-9z', 'east', 9, { services: [] }), 3_000)).toBe('ignored');
    const [east] = view.remote();
    expect(east?.announcement.seq).toBe(10);
    expect(east?.announcement.services).toEqual([webService()]);
    expect(east?.heardAt).toBe(1_000);
  });

  it('after a restart (seq jumps ahead), a delayed announcement from before is ignored', () => {
    const view = new NetworkView(SELF);
    view.hear(heard('east-9z', 'east', 5, { services: [webService()] }), 1_000);
    expect(view.hear(heard('east-9z', 'east', 1_700_000_000_000, { services: [] }), 2_000)).toBe('changed');
    expect(view.hear(heard('east-9z', 'east', 6, { services: [webService()] }), 2_001)).toBe('ignored');
    expect(view.remote()[0]?.announcement.services).toEqual([]);
  });

  it("'gone' for a final announcement: the site is forgotten at once", () => {
    const view = new NetworkView(SELF);
    view.hear(heard('east-9z', 'east', 1, { services: [webService()] }), 1_000);
    view.hear(heard('north-7y', 'north', 1), 1_000);
    expect(view.hear(heard('east-9z', 'east', 2, { final: true }), 1_500)).toBe('gone');
    expect(view.remote().map((h) => h.announcement.site.name)).toEqual(['north']);
  });

  it("a final announcement of an unknown site, or an older one than we have, is 'ignored'", () => {
    const view = new NetworkView(SELF);
    expect(view.hear(heard('east-9z', 'east', 3, { final: true }), 1_000)).toBe('ignored');
    view.hear(heard('north-7y', 'north', 10), 1_000);
    expect(view.hear(heard('north-7y', 'north', 9, { final: true }), 1_001)).toBe('ignored');
    expect(view.remote()).toHaveLength(1);
  });

  it('a heartbeat delayed past the goodbye does not bring a departed site back', () => {
    const view = new NetworkView(SELF);
    view.hear(heard('east-9z', 'east', 10, { services: [webService()] }), 1_000);
    expect(view.hear(heard('east-9z', 'east', 12, { final: true }), 1_100)).toBe('gone');
    expect(view.hear(heard('east-9z', 'east', 11, { services: [webService()] }), 1_200)).toBe('ignored');
    expect(view.hear(heard('east-9z', 'east', 12, { services: [webService()] }), 1_200)).toBe('ignored');
    expect(view.remote()).toEqual([]);
    // The site coming back (a newer seq) is a new site again.
    expect(view.hear(heard('east-9z', 'east', 13, { services: [webService()] }), 1_300)).toBe('new');
    expect(view.remote()).toHaveLength(1);
  });

  it('forgets departed sites after the TTL (memory stays bounded)', () => {
    const view = new NetworkView(SELF);
    view.hear(heard('east-9z', 'east', 10), 1_000);
    view.hear(heard('east-9z', 'east', 12, { final: true }), 1_000);
    view.expire(5_000, 10_000); // 4 s after the goodbye: still remembered
    expect(view.hear(heard('east-9z', 'east', 11), 5_000)).toBe('ignored');
    view.expire(11_001, 10_000); // more than the TTL after the goodbye: forgotten
    expect(view.hear(heard('east-9z', 'east', 11), 11_001)).toBe('new');
  });
});

describe('NetworkView.expire and remote', () => {
  it('removes only sites unheard for longer than the TTL, and returns them', () => {
    const view = new NetworkView('west-1a2b');
    view.hear(heard('east-9z', 'east', 1), 1_000);
    view.hear(heard('north-7y', 'north', 1), 4_000);
    view.hear(heard('south-5x', 'south', 1), 2_000);
    view.hear(heard('south-5x', 'south', 2), 5_000); // heard again: the clock restarts
    expect(view.expire(10_000, 6_000)).toEqual([{ id: 'east-9z', name: 'east', platform: 'local', mode: 'interior' }]);
    expect(view.remote().map((h) => h.announcement.site.name)).toEqual(['north', 'south']);
    // north is now exactly the TTL old: kept; one ms more is not.
    expect(view.expire(10_000, 6_000)).toEqual([]);
    expect(view.expire(10_001, 6_000).map((s) => s.name)).toEqual(['north']);
    expect(view.remote().map((h) => h.announcement.site.name)).toEqual(['south']);
  });

  it('pardon(ms): the time this process stood still does not count against the others (sites and departures)', () => {
    const view = new NetworkView('west-1a2b');
    view.hear(heard('east-9z', 'east', 1), 1_000);
    view.hear({ ...heard('north-7y', 'north', 5), final: true }, 1_000);
    // Paused from 2 s to 62 s: at 62 s east has been silent 61 s, 59 s of them while we did not listen.
    view.pardon(60_000);
    expect(view.expire(62_000, 10_000)).toEqual([]);
    // The departure still holds back an older announcement of north.
    expect(view.hear(heard('north-7y', 'north', 4), 62_000)).toBe('ignored');
    // East has the rest of its TTL, counted while we listened: 9 s from 62 s.
    expect(view.expire(71_000, 10_000)).toEqual([]);
    expect(view.expire(71_001, 10_000).map((s) => s.name)).toEqual(['east']);
  });

  it('deaf (service sync lost its router connection): nothing expires; listening again pardons the deaf time, and hearing() says which', () => {
    const view = new NetworkView('west-1a2b');
    view.hear(heard('east-9z', 'east', 1), 1_000);
    view.hear(heard('north-7y', 'north', 1), 1_000);
    expect(view.hearing()).toBe(true);
    // Deaf from 3 s to 20 s (a router replica deleted behind its Service, slow to come back); a second deaf() keeps the first time.
    view.deaf(3_000);
    view.deaf(5_000);
    expect(view.hearing()).toBe(false);
    expect(view.expire(15_000, 10_000)).toEqual([]);
    expect(view.expire(20_000, 10_000)).toEqual([]);
    view.listening(20_000);
    expect(view.hearing()).toBe(true);
    // North speaks at once; east stays silent and has the 8 s it had left when we went deaf (2 s heard), from 20 s.
    view.hear(heard('north-7y', 'north', 2), 20_500);
    expect(view.expire(28_000, 10_000)).toEqual([]);
    expect(view.expire(28_001, 10_000).map((s) => s.name)).toEqual(['east']);
    expect(view.remote().map((h) => h.announcement.site.name)).toEqual(['north']);
    // listening() while hearing changes nothing.
    view.listening(40_000);
    expect(view.expire(30_501, 10_000).map((s) => s.name)).toEqual(['north']);
  });

  it('remote() is sorted by site name, whatever the order sites were heard in', () => {
    const view = new NetworkView('west-1a2b');
    view.hear(heard('c', 'west-2', 1), 1);
    view.hear(heard('a', 'north', 1), 1);
    view.hear(heard('b', 'east', 1), 1);
    expect(view.remote().map((h) => h.announcement.site.name)).toEqual(['east', 'north', 'west-2']);
  });
});

describe('StallClock', () => {
  it('reports a tick more than a whole period late as a stall of the ms beyond the period; a busy turn is none', () => {
    const clock = new StallClock(2_000, 0);
    expect(clock.tick(2_000)).toBe(0);
    expect(clock.tick(5_900)).toBe(0); // 1.9 s late: less than a period
    expect(clock.tick(67_900)).toBe(60_000); // paused for a minute
    expect(clock.tick(69_900)).toBe(0);
  });
});

describe('networkServices', () => {
  const service = (address: string, ports: number[], host: string, healthy = true): AnnouncedService => ({
    address,
    protocol: 'tcp',
    ports,
    targets: [{ host, ports, healthy }],
  });

  it('merges services by address across sites, sorted by address', () => {
    const west = heard('w-1', 'west', 1, { services: [service('web', [80], 'web-w'), service('db', [5432], 'db-w')] });
    const east = heard('e-1', 'east', 1, { services: [service('db', [5433, 5432], 'db-e', false), service('api', [8080], 'api-e')] });
    const merged = networkServices([west, east]);
    expect(merged.map((s) => s.address)).toEqual(['api', 'db', 'web']);
    const db = merged.find((s) => s.address === 'db');
    expect(db).toEqual({
      address: 'db',
      protocol: 'tcp',
      ports: [5432, 5433],
      exposedAt: [
        { id: 'e-1', name: 'east' },
        { id: 'w-1', name: 'west' },
      ],
      targets: [
        { siteId: 'w-1', siteName: 'west', host: 'db-w', ports: [5432], healthy: true },
        { siteId: 'e-1', siteName: 'east', host: 'db-e', ports: [5433, 5432], healthy: false },
      ],
    });
    expect(merged.find((s) => s.address === 'web')?.exposedAt).toEqual([{ id: 'w-1', name: 'west' }]);
  });

  it('sorts the union of ports numerically and lists each site once however many targets it has', () => {
    const west = heard('w-1', 'west', 1, {
      services: [{ address: 'db', protocol: 'tcp', ports: [10000, 9000], targets: [{ host: 'a', ports: [1, 2], healthy: true }, { host: 'b', ports: [1, 2], healthy: true }] }],
    });
    const east = heard('e-1', 'east', 1, { services: [service('db', [9000, 10000], 'c')] });
    const [db] = networkServices([west, east]);
    expect(db?.ports).toEqual([9000, 10000]);
    expect(db?.exposedAt.map((s) => s.name)).toEqual(['east', 'west']);
    expect(db?.targets.map((t) => `${t.siteName}/${t.host}`)).toEqual(['west/a', 'west/b', 'east/c']);
  });

  it('is empty for no services', () => {
    expect(networkServices([])).toEqual([]);
    expect(networkServices([heard('e-1', 'east', 1)])).toEqual([]);
  });
});

describe('service access in service sync (a policy\'s serviceAccess, announced)', () => {
  const policy = (sites: string[]) => ({ apiVersion: 'kskup.io/v1alpha1' as const, kind: 'SitePolicy' as const, serviceAccess: [{ service: 'db*', sites }] });
  const restricted = (sites: string[]) => ({ ...webService(), address: 'db', allowedSites: sites });

  it('a service the policy restricts is announced with the sites it allows; others without the field; it round-trips', () => {
    const announcement = announce(siteDocument({ services: [dbService, { ...dbService, address: 'web' }], policy: policy(['east', 'north-7y']) }), 1, { connectedLinks: new Set(), healthy: () => true });
    expect(announcement.services.map((s) => [s.address, s.allowedSites])).toEqual([
      ['db', ['east', 'north-7y']],
      ['web', undefined],
    ]);
    expect('allowedSites' in announcement.services[1]!).toBe(false);
    expect(parseAnnouncement(JSON.stringify(announcement))).toEqual(announcement);
    expect(announce(siteDocument({ services: [dbService], policy: policy([]) }), 1, { connectedLinks: new Set(), healthy: () => true }).services[0]?.allowedSites).toEqual([]);
  });

  it('a policy naming more sites than an announcement may carry is not announced (the router enforces it), never cut', () => {
    const many = Array.from({ length: MAX_ALLOWED_SITES + 1 }, (_, i) => `site-${i}`);
    const announcement = announce(siteDocument({ services: [dbService], policy: policy(many) }), 1, { connectedLinks: new Set(), healthy: () => true });
    expect(announcement.services[0]?.allowedSites).toBeUndefined();
  });

  it.each([
    ['not a list', 'east'],
    ['a list with a number', ['east', 7]],
    ['a list with an empty name', ['']],
    ['too long a list', Array.from({ length: MAX_ALLOWED_SITES + 1 }, (_, i) => `s${i}`)],
    ['too long a name', ['x'.repeat(254)]],
  ])('an announcement whose allowedSites is %s is dropped whole', (_what, value) => {
    const bad = heard('hub-1', 'hub', 1, { services: [{ ...webService(), allowedSites: value as string[] }] });
    expect(parseAnnouncement(JSON.stringify(bad))).toBe('services are malformed');
  });

  it('networkServices keeps each restricting site\'s list; serviceAccessRefusal says which policies keep a site out', () => {
    const hub = heard('hub-1', 'hub', 1, { services: [restricted(['west'])] });
    const [db] = networkServices([hub]);
    expect(db?.access).toEqual([{ siteId: 'hub-1', siteName: 'hub', allowedSites: ['west'] }]);
    expect(serviceAccessRefusal(db!, { id: 'west-1', name: 'west' })).toBeUndefined();
    expect(serviceAccessRefusal(db!, { id: 'east-1', name: 'east' })).toBe('not allowed by site "hub"\'s policy (serviceAccess allows west)');
    // Named by id; the exposing site itself; another exposing site that restricts nothing: each lets east in.
    expect(serviceAccessRefusal(networkServices([heard('hub-1', 'hub', 1, { services: [restricted(['east-1'])] })])[0]!, { id: 'east-1', name: 'east' })).toBeUndefined();
    expect(serviceAccessRefusal(db!, { id: 'hub-1', name: 'hub' })).toBeUndefined();
    const open = heard('north-1', 'north', 1, { services: [{ ...webService(), address: 'db' }] });
    expect(serviceAccessRefusal(networkServices([hub, open])[0]!, { id: 'east-1', name: 'east' })).toBeUndefined();
    // Two sites that both keep east out: both named.
    const south = heard('south-1', 'south', 1, { services: [restricted([])] });
    expect(serviceAccessRefusal(networkServices([hub, south])[0]!, { id: 'east-1', name: 'east' })).toBe(
      'not allowed by site "hub"\'s policy (serviceAccess allows west) nor by site "south"\'s policy (serviceAccess allows no other site)',
    );
    expect(networkServices([open])[0]?.access).toBeUndefined();
  });

  it('a change of the list is a change of the network (the sites that hear it follow at once)', () => {
    const view = new NetworkView('east-1');
    expect(view.hear(heard('hub-1', 'hub', 1, { services: [restricted(['west'])] }), 0)).toBe('new');
    expect(view.hear(heard('hub-1', 'hub', 2, { services: [restricted(['west', 'east'])] }), 0)).toBe('changed');
    expect(view.hear(heard('hub-1', 'hub', 3, { services: [{ ...webService(), address: 'db' }] }), 0)).toBe('changed');
  });
});

// ---------------------------------------------------------------- exposeService / unexposeService

/** A site in memory: update() runs changes one after another, as the real storages do. */

const unknownElsewhere = () => undefined;
const NOW = new Date('2025-06-01T12:00:00.000Z');

function expose(overrides: Partial<ExposeRequest> = {}): ExposeRequest {
  return { type: 'host', name: 'db-primary', host: '10.0.0.5', address: 'db', ports: [5432], targetPorts: [15432], ...overrides };
}

/** Awaits `promise`, expecting it to fail with a SiteError; returns the message. */
async function siteError(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SiteError);
  return (error as SiteError).message;
}

describe('exposeService', () => {
  it('makes a new service with the target', async () => {
    const storage = new MemoryStorage(siteDocument());
    const outcome = await exposeService(storage, expose(), unknownElsewhere, NOW);
    const service: ServiceRecord = {
      address: 'db',
      protocol: 'tcp',
      ports: [5432],
      targets: [{ type: 'host', name: 'db-primary', host: '10.0.0.5', targetPorts: [15432] }],
      createdAt: NOW.toISOString(),
    };
    expect(outcome).toEqual({ service, changed: true });
    expect(storage.document.services).toEqual([service]);
  });

  it('exposing the same target again changes nothing', async () => {
    const storage = new MemoryStorage(siteDocument());
    await exposeService(storage, expose(), unknownElsewhere, NOW);
    const before = storage.document;
    const writes = storage.writes;
    const outcome = await exposeService(storage, expose(), unknownElsewhere, new Date('2030-01-01T00:00:00.000Z'));
    expect(outcome.changed).toBe(false);
    expect(outcome.service).toBe(before.services[0]);
    expect(storage.document).toBe(before);
    expect(storage.writes).toBe(writes);
  });

  it('adds a second target to the same address and ports, keeping the service', async () => {
    const storage = new MemoryStorage(siteDocument());
    await exposeService(storage, expose(), unknownElsewhere, NOW);
    const outcome = await exposeService(storage, expose({ name: 'db-replica', host: '10.0.0.6', targetPorts: [5432] }), unknownElsewhere, new Date('2030-01-01T00:00:00.000Z'));
    expect(outcome.changed).toBe(true);
    expect(storage.document.services).toHaveLength(1);
    expect(storage.document.services[0]?.createdAt).toBe(NOW.toISOString());
    expect(storage.document.services[0]?.targets.map((t) => `${t.name}@${t.host}:${t.targetPorts.join(',')}`)).toEqual(['db-primary@10.0.0.5:15432', 'db-replica@10.0.0.6:5432']);
  });

  it('a different target port for the same target replaces it', async () => {
    const storage = new MemoryStorage(siteDocument());
    await exposeService(storage, expose(), unknownElsewhere, NOW);
    const outcome = await exposeService(storage, expose({ targetPorts: [25432] }), unknownElsewhere, NOW);
    expect(outcome.changed).toBe(true);
    expect(storage.document.services[0]?.targets).toEqual([{ type: 'host', name: 'db-primary', host: '10.0.0.5', targetPorts: [25432] }]);
  });

  it('refuses other ports than the service has at this site, naming the address and ports; the site stays as it was', async () => {
    const storage = new MemoryStorage(siteDocument());
    await exposeService(storage, expose({ ports: [5432, 5433], targetPorts: [5432, 5433] }), unknownElsewhere, NOW);
    const before = storage.document;
    const message = await siteError(exposeService(storage, expose({ name: 'other', ports: [5432], targetPorts: [5432] }), unknownElsewhere, NOW));
    expect(message).toContain('"db"');
    expect(message).toContain('5432,5433');
    expect(message).toContain('at this site ("west")');
    expect(storage.document).toBe(before);
  });

  it('refuses other ports than another site exposes the address with', async () => {
    const storage = new MemoryStorage(siteDocument());
    const asked: string[] = [];
    const knownElsewhere = (address: string) => {
      asked.push(address);
      return address === 'db' ? [6543] : undefined;
    };
    const message = await siteError(exposeService(storage, expose(), knownElsewhere, NOW));
    expect(asked).toEqual(['db']);
    expect(message).toContain('"db"');
    expect(message).toContain('6543');
    expect(message).toContain('at another site');
    expect(storage.document.services).toEqual([]);
    // The same ports as elsewhere are fine.
    expect((await exposeService(storage, expose({ ports: [6543], targetPorts: [6543] }), knownElsewhere, NOW)).changed).toBe(true);
  });

  it('keeps services sorted by address', async () => {
    const storage = new MemoryStorage(siteDocument());
    for (const address of ['web', 'api', 'db', 'cache']) await exposeService(storage, expose({ address }), unknownElsewhere, NOW);
    expect(storage.document.services.map((s) => s.address)).toEqual(['api', 'cache', 'db', 'web']);
  });

  it('works from the stored document, so concurrent exposes all land', async () => {
    const storage = new MemoryStorage(siteDocument());
    await Promise.all(['a', 'b', 'c'].map((name) => exposeService(storage, expose({ name }), unknownElsewhere, NOW)));
    expect(storage.document.services[0]?.targets.map((t) => t.name).sort()).toEqual(['a', 'b', 'c']);
  });
});

describe('unexposeService', () => {
  async function siteWith(...requests: Partial<ExposeRequest>[]): Promise<MemoryStorage> {
    const storage = new MemoryStorage(siteDocument());
    for (const request of requests) await exposeService(storage, expose(request), unknownElsewhere, NOW);
    return storage;
  }

  it('removes the target; the service stays while it has others', async () => {
    const storage = await siteWith({}, { name: 'db-replica', host: '10.0.0.6' });
    const outcome = await unexposeService(storage, 'host', 'db-primary', 'db');
    expect(outcome.removed).toEqual([{ address: 'db', serviceGone: false }]);
    expect(storage.document.services[0]?.targets.map((t) => t.name)).toEqual(['db-replica']);
  });

  it('the service goes with its last target', async () => {
    const storage = await siteWith({}, { address: 'web', name: 'web-1', ports: [80], targetPorts: [8080] });
    const outcome = await unexposeService(storage, 'host', 'db-primary', 'db');
    expect(outcome.removed).toEqual([{ address: 'db', serviceGone: true }]);
    expect(storage.document.services.map((s) => s.address)).toEqual(['web']);
  });

  it('without an address, removes the target from every service it serves', async () => {
    const storage = await siteWith({}, { address: 'db-admin', ports: [9000], targetPorts: [9000] }, { address: 'db-admin', name: 'other', ports: [9000], targetPorts: [9000] });
    const outcome = await unexposeService(storage, 'host', 'db-primary');
    expect(outcome.removed).toEqual([
      { address: 'db', serviceGone: true },
      { address: 'db-admin', serviceGone: false },
    ]);
    expect(storage.document.services.map((s) => `${s.address}:${s.targets.map((t) => t.name).join(',')}`)).toEqual(['db-admin:other']);
  });

  it('with an address, leaves the target at other addresses alone', async () => {
    const storage = await siteWith({}, { address: 'db-admin', ports: [9000], targetPorts: [9000] });
    await unexposeService(storage, 'host', 'db-primary', 'db-admin');
    expect(storage.document.services.map((s) => s.address)).toEqual(['db']);
  });

  it('refuses a target that is not exposed, listing what is; the site stays as it was', async () => {
    const storage = await siteWith({});
    const before = storage.document;
    const other = await siteError(unexposeService(storage, 'host', 'nobody'));
    expect(other).toContain('host/nobody is not exposed');
    expect(other).toContain('"west"');
    expect(other).toContain('host/db-primary as db');
    const elsewhere = await siteError(unexposeService(storage, 'host', 'db-primary', 'web'));
    expect(elsewhere).toContain('host/db-primary is not exposed as "web"');
    const wrongType = await siteError(unexposeService(storage, 'deployment', 'db-primary'));
    expect(wrongType).toContain('deployment/db-primary is not exposed');
    expect(storage.document).toBe(before);
  });

  it('says when nothing is exposed at all', async () => {
    const storage = new MemoryStorage(siteDocument());
    expect(await siteError(unexposeService(storage, 'host', 'db-primary'))).toContain('nothing is exposed here');
  });
});

// ---------------------------------------------------------------- allocateListenerPorts (real sockets)

const HOST = '127.0.0.1';
const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
});

/** Holds a port on 127.0.0.1 until the test ends (0: any free one); returns it. */
async function hold(port = 0): Promise<number> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: HOST, port, exclusive: true }, () => resolve());
  });
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('no address');
  return address.port;
}

/** A port that was free a moment ago. */
async function freePort(): Promise<number> {
  const server = createServer();
  const port = await new Promise<number>((resolve) => server.listen({ host: HOST, port: 0 }, () => resolve((server.address() as { port: number }).port)));
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('allocateListenerPorts', () => {
  it('gives a service its own port when that is free', async () => {
    const port = await freePort();
    expect(await allocateListenerPorts({}, new Map([[`db:${port}`, port]]), HOST)).toEqual({ [`db:${port}`]: port });
  });

  it('gives another free port when the service port is taken', async () => {
    const taken = await hold();
    const table = await allocateListenerPorts({}, new Map([[`db:${taken}`, taken]]), HOST);
    const port = table?.[`db:${taken}`];
    expect(port).toBeTypeOf('number');
    expect(port).not.toBe(taken);
    // It really is free: we can listen on it.
    expect(await hold(port)).toBe(port);
  });

  it('keeps existing allocations, even when something listens there (our own listener)', async () => {
    const mine = await hold();
    const port = await freePort();
    const table = await allocateListenerPorts({ 'db:5432': mine }, new Map([['db:5432', 5432], [`web:${port}`, port]]), HOST);
    expect(table).toEqual({ 'db:5432': mine, [`web:${port}`]: port });
  });

  it('never gives the same port twice: not a port already allocated, not the same port to two addresses', async () => {
    const port = await freePort();
    // `port` is free, but allocated already (to a listener that is not up yet).
    const table = await allocateListenerPorts({ 'old:1': port }, new Map([['old:1', 1], [`new:${port}`, port]]), HOST);
    expect(table?.['old:1']).toBe(port);
    expect(table?.[`new:${port}`]).not.toBe(port);

    const shared = await freePort();
    const both = await allocateListenerPorts({}, new Map([[`a:${shared}`, shared], [`b:${shared}`, shared]]), HOST);
    expect(both?.[`a:${shared}`]).toBe(shared); // addresses are allocated in name order
    expect(both?.[`b:${shared}`]).not.toBe(shared);
    expect(new Set(Object.values(both ?? {})).size).toBe(2);
  });

  it('drops addresses no longer wanted', async () => {
    expect(await allocateListenerPorts({ 'db:5432': 40001, 'web:80': 40002 }, new Map([['web:80', 80]]), HOST)).toEqual({ 'web:80': 40002 });
    expect(await allocateListenerPorts({ 'db:5432': 40001 }, new Map(), HOST)).toEqual({});
  });

  it('keeps the ports of retained addresses not wanted now (a service out of sight for a while), and drops the others', async () => {
    const table = { 'db:5432': 40001, 'web:80': 40002, 'old:22': 40003 };
    expect(await allocateListenerPorts(table, new Map([['web:80', 80]]), HOST, { prune: true, retain: new Set(['db:5432']), recheck: new Set() })).toEqual({ 'db:5432': 40001, 'web:80': 40002 });
  });

  it('keeps the ports of addresses not wanted now when told not to prune (a site that just started)', async () => {
    const keep = { prune: false, recheck: new Set<string>() };
    expect(await allocateListenerPorts({ 'db:5432': 40001 }, new Map(), HOST, keep)).toBeUndefined();
    const port = await freePort();
    expect(await allocateListenerPorts({ 'db:5432': port }, new Map([[`web:${port}`, port]]), HOST, keep)).toEqual({ 'db:5432': port, [`web:${port}`]: expect.any(Number) });
  });

  it('moves a recorded port it does not hold yet when another program took it', async () => {
    const taken = await hold();
    const free = await freePort();
    const table = await allocateListenerPorts({ 'db:5432': taken, 'web:80': free }, new Map([['db:5432', 5432], ['web:80', 80]]), HOST, { prune: true, recheck: new Set(['db:5432', 'web:80']) });
    expect(table?.['web:80']).toBe(free);
    expect(table?.['db:5432']).not.toBe(taken);
    // Not rechecked (our own listener holds it): kept.
    expect(await allocateListenerPorts({ 'db:5432': taken }, new Map([['db:5432', 5432]]), HOST, { prune: true, recheck: new Set() })).toBeUndefined();
  });

  it('moves a listener that could not bind to another free port, never the one that failed', async () => {
    const failed = await freePort();
    const other = await freePort();
    // The service port is the failed one (what two sites on one host both pick).
    const table = await allocateListenerPorts({ [`db:${failed}`]: failed, 'web:80': other }, new Map([[`db:${failed}`, failed], ['web:80', 80]]), HOST, { move: new Set([`db:${failed}`]) });
    expect(table?.['web:80']).toBe(other);
    expect(table?.[`db:${failed}`]).toBeTypeOf('number');
    expect(table?.[`db:${failed}`]).not.toBe(failed);
    expect(table?.[`db:${failed}`]).not.toBe(other);
  });

  it('keeps the recorded port of a listener to move when no port can be had on the host', async () => {
    // TEST-NET-1 (RFC 5737): nothing can listen there.
    expect(await allocateListenerPorts({ 'db:5432': 40001 }, new Map([['db:5432', 5432]]), '192.0.2.1', { move: new Set(['db:5432']) })).toBeUndefined();
  });

  it('never chooses a port another site recorded, for a new, rechecked or moved listener', async () => {
    const [servicePort, recorded, failed] = [await freePort(), await freePort(), await freePort()];
    const avoid = async () => new Set([servicePort, recorded]);
    const table = await allocateListenerPorts(
      { 'kept:1': recorded, [`moved:${failed}`]: failed },
      new Map([[`new:${servicePort}`, servicePort], ['kept:1', 1], [`moved:${failed}`, failed]]),
      HOST,
      { recheck: new Set(['kept:1']), move: new Set([`moved:${failed}`]), avoid },
    );
    const chosen = Object.values(table ?? {});
    expect(chosen).toHaveLength(3);
    for (const port of [servicePort, recorded, failed]) expect(chosen).not.toContain(port);
  });

  it('returns undefined when nothing changed', async () => {
    expect(await allocateListenerPorts({}, new Map(), HOST)).toBeUndefined();
    expect(await allocateListenerPorts({ 'db:5432': 40001, 'web:80': 40002 }, new Map([['db:5432', 5432], ['web:80', 80]]), HOST)).toBeUndefined();
  });
});

// ---------------------------------------------------------------- router entities of services

describe('desired router config: services', () => {
  const site: SiteState = {
    ...WEST_SITE,
    links: [],
  };
  const connectors = [
    { address: 'db:5432', host: '10.0.0.6', port: 5432 },
    { address: 'api:80', host: 'api.local', port: 8080 },
    { address: 'db:5432', host: '10.0.0.5', port: 15432 },
  ];
  const listeners = [
    { address: 'web:80', host: '127.0.0.1', port: 40080 },
    { address: 'db:5432', host: '127.0.0.1', port: 5432 },
  ];

  it('targets become tcpConnectors named address@host:port, sorted by name', () => {
    const config = desiredRouterConfig({ ...site, serviceConnectors: connectors });
    expect([...config.tcpConnectors.keys()]).toEqual(['api:80@api.local:8080', 'db:5432@10.0.0.5:15432', 'db:5432@10.0.0.6:5432']);
    expect(config.tcpConnectors.get('db:5432@10.0.0.5:15432')).toMatchObject({ address: 'db:5432', host: '10.0.0.5', port: 15432 });
  });

  it('listeners become tcpListeners named after their address, sorted by name', () => {
    const config = desiredRouterConfig({ ...site, serviceListeners: listeners });
    expect([...config.tcpListeners.keys()]).toEqual(['db:5432', 'web:80']);
    expect(config.tcpListeners.get('web:80')).toMatchObject({ address: 'web:80', host: '127.0.0.1', port: 40080 });
  });

  it('the order services come in does not change the config text', () => {
    const a = routerConfigText({ ...site, serviceConnectors: connectors, serviceListeners: listeners });
    const b = routerConfigText({ ...site, serviceConnectors: [...connectors].reverse(), serviceListeners: [...listeners].reverse() });
    expect(a).toBe(b);
    expect(a).not.toBe(routerConfigText(site));
  });

  it('always has the multicast address for service sync, at interior and edge sites, with or without services', () => {
    const syncAddress = { prefix: SYNC_PREFIX, distribution: 'multicast' };
    expect(SYNC_PREFIX).toBe('kskup.sync');
    for (const state of [site, { ...site, mode: 'edge' as const }, { ...site, serviceConnectors: connectors, serviceListeners: listeners }]) {
      expect(desiredRouterConfig(state).addresses).toContainEqual(expect.objectContaining(syncAddress));
    }
  });
});

// ---------------------------------------------------------------- TLS: names travel, keys do not

describe('TLS credentials in service sync', () => {
  const tlsWeb: ServiceRecord = { ...dbService, address: 'web', ports: [443], targets: [{ type: 'host', name: 'web', host: 'web', targetPorts: [8443], tlsTrust: { name: 'web-ca', verifyHostname: true } }], tlsCredentials: 'web-tls' };

  it('an announcement carries the credentials name and nothing of the target trust', () => {
    const announcement = announce(siteDocument({ services: [tlsWeb] }), 1, { connectedLinks: new Set(), healthy: () => true });
    expect(announcement.services).toEqual([{ address: 'web', protocol: 'tcp', ports: [443], targets: [{ host: 'web', ports: [8443], healthy: true }], tlsCredentials: 'web-tls' }]);
    expect(parseAnnouncement(JSON.stringify(announcement))).toEqual(announcement);
  });

  it.each([
    ['a number', 7],
    ['an empty name', ''],
    ['a path', '../../etc'],
  ])('an announcement whose tlsCredentials is %s is dropped whole', (_what, value) => {
    const bad = heard('east-9z', 'east', 1, { services: [{ ...webService(), tlsCredentials: value as string }] });
    expect(parseAnnouncement(JSON.stringify(bad))).toBe('services are malformed');
  });

  it('sites that agree give the name; sites that disagree (or plain and TLS) give a conflict and no name', () => {
    const tls = (name?: string) => ({ ...webService(), ...(name !== undefined && { tlsCredentials: name }) });
    const agree = networkServices([heard('a-1', 'a', 1, { services: [tls('web-tls')] }), heard('b-1', 'b', 1, { services: [tls('web-tls')] })]);
    expect(agree[0]).toMatchObject({ tlsCredentials: 'web-tls' });
    expect(agree[0]?.tlsConflict).toBeUndefined();
    const mixed = networkServices([heard('a-1', 'a', 1, { services: [tls('web-tls')] }), heard('b-1', 'b', 1, { services: [tls()] })]);
    expect(mixed[0]?.tlsCredentials).toBeUndefined();
    expect(mixed[0]?.tlsConflict).toBe('the exposing sites disagree on TLS (no TLS at b; TLS credentials "web-tls" at a): expose it with the same --tls-credentials everywhere');
  });

  it('router entities: an sslProfile per bundle used; a listener or connector whose bundle is missing is left out, never plain', () => {
    const state: SiteState = {
      ...WEST_SITE,
      links: [],
      tlsBundles: { 'web-tls': { certFile: '/tls/web-tls/tls.crt', privateKeyFile: '/tls/web-tls/tls.key', caCertFile: '/tls/web-tls/ca.crt' }, 'ca-only': { caCertFile: '/tls/ca-only/ca.crt' } },
      serviceListeners: [
        { address: 'web:443', host: '127.0.0.1', port: 1443, tlsCredentials: 'web-tls' },
        { address: 'gone:443', host: '127.0.0.1', port: 2443, tlsCredentials: 'missing' },
        // A CA alone cannot serve TLS.
        { address: 'half:443', host: '127.0.0.1', port: 3443, tlsCredentials: 'ca-only' },
      ],
      serviceConnectors: [
        { address: 'db:5432', host: 'db.internal', port: 5432, tlsTrust: { name: 'ca-only', verifyHostname: false } },
        { address: 'db:5432', host: 'db2.internal', port: 5432, tlsTrust: { name: 'missing', verifyHostname: true } },
      ],
    };
    const config = desiredRouterConfig(state);
    expect([...config.tcpListeners.values()].filter((l) => l.name !== 'claims').map((l) => [l.name, l.sslProfile])).toEqual([['web:443', 'tls-web-tls']]);
    expect([...config.tcpConnectors.values()].map((c) => [c.name, c.sslProfile, c.verifyHostname])).toEqual([['db:5432@db.internal:5432', 'tls-ca-only', false]]);
    expect(config.sslProfiles.get('tls-web-tls')).toMatchObject({ certFile: '/tls/web-tls/tls.crt', privateKeyFile: '/tls/web-tls/tls.key', caCertFile: '/tls/web-tls/ca.crt' });
    expect(config.sslProfiles.get('tls-ca-only')).toMatchObject({ caCertFile: '/tls/ca-only/ca.crt' });
    expect(config.sslProfiles.has('tls-missing')).toBe(false);
  });
});
