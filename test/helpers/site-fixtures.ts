// A site's router-config input, as the config tests share it: an interior site
// "west" with files under /sites/west and no links. Tests spread and override.
import type { SiteState } from '../../site-controller/site/desired-router-config.js';

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
