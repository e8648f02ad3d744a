// A site's router-config input, as the config tests share it: an interior site
// "west" with files under /sites/west and no links. Tests spread and override.
import type { SiteState } from '../../site-controller/site/desired-router-config.js';
import type { SiteDocument, SiteRecord } from '../../site-controller/site/model.js';

export const WEST_SITE: SiteState = {
  name: 'west',
  id: 'west-1a2b',
  mode: 'interior',
  listenHost: '0.0.0.0',
  interRouterPort: 55671,
  edgePort: 45671,
  amqpPort: 5672,
  httpPort: 9090,
  caCertFile: '/sites/west/ca.crt',
  serverCertFile: '/sites/west/server.crt',
  serverKeyFile: '/sites/west/server.key',
  links: [],
};

/** Site "west" as its state document records it; `site` and `rest` override. */
export function westSiteDocument(site: Partial<SiteRecord> = {}, rest: Partial<Omit<SiteDocument, 'site'>> = {}): SiteDocument {
  const record: SiteRecord = {
    name: 'west',
    id: 'west-1a2b',
    mode: 'interior',
    platform: 'local',
    ingressHost: 'west.example',
    bindHost: '0.0.0.0',
    listenerHost: '127.0.0.1',
    ports: { interRouter: 55671, edge: 45671, claims: 8443, amqp: 5672, http: 9090 },
    createdAt: '2030-01-01T00:00:00.000Z',
    ...site,
  };
  return { site: record, links: [], tokens: [], grants: [], services: [], listenerPorts: {}, ...rest };
}
