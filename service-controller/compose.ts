// How every platform's entry gives a site its services: the local site process
// (cli/site-process-main.ts) and the Kubernetes controller (`kskup controller
// run`, cli/controller-command.ts) both pass this to their site controller, so
// the site (site-controller/) never imports the services (service-controller/).
import type { SiteServicesFactory } from '../site-controller/site/site-controller.js';
import { ServiceController, type SyncTimings } from './service-controller.js';

export function siteServices(timings: SyncTimings): SiteServicesFactory {
  return (deps, document) => new ServiceController({ ...deps, timings }, document);
}
