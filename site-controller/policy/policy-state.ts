// A policy applied to what a site runs: the router config's input (links,
// revoked client certificates, service tcpConnectors and tcpListeners) and
// the services the site serves, narrowed to what the policy allows. Pure: the
// site control loop calls these on every pass, so a policy change applies at
// the next pass (the next `kskup policy set` wakes it) and what it now forbids
// leaves the router as a config diff: a link's connector goes (its connection
// closes), an incoming link's certificate is revoked (its connection closes),
// a listener goes (its open flows carry on until they end).
import type { SiteState, ServiceConnector } from '../site/desired-router-config.js';
import type { SiteDocument } from '../site/model.js';
import { exposeRefusal, importRefusal, linkInRefusal, linkOutRefusal, serviceOfAddress, sitesAllowedToReach } from './policy-rules.js';

/** The router config's input with the policy of `document` applied; the same object when it has none. */
export function routerStateWithinPolicy(state: SiteState, document: SiteDocument): SiteState {
  const { policy } = document;
  if (policy === undefined) return state;
  const barred = document.grants
    .filter((grant) => grant.revokedAt === undefined && linkInRefusal(policy, grantSite(grant)) !== undefined)
    .map((grant) => grant.serial);
  const self = [document.site.id, document.site.name];
  return {
    ...state,
    links: state.links.filter((link) => linkOutRefusal(policy, link.host) === undefined),
    ...(barred.length > 0 && { revokedSerials: [...(state.revokedSerials ?? []), ...barred] }),
    ...(state.serviceConnectors && {
      serviceConnectors: state.serviceConnectors.map((connector): ServiceConnector => {
        const sites = sitesAllowedToReach(policy, serviceOfAddress(connector.address));
        // This site's own routers (its other replicas) always reach its services.
        return sites === undefined ? connector : { ...connector, allowedSites: [...new Set([...self, ...sites])] };
      }),
    }),
    ...(state.serviceListeners && {
      serviceListeners: state.serviceListeners.filter((listener) => importRefusal(policy, serviceOfAddress(listener.address)) === undefined),
    }),
  };
}

/** The site document with the targets the policy forbids exposing left out (and services left with none); the same object when nothing is. */
export function servicesWithinPolicy(document: SiteDocument): SiteDocument {
  const { policy } = document;
  if (policy?.exposedResources === undefined) return document;
  let changed = false;
  const services = document.services.flatMap((service) => {
    const targets = service.targets.filter((target) => exposeRefusal(policy, target.type, target.name) === undefined);
    if (targets.length === service.targets.length) return [service];
    changed = true;
    return targets.length === 0 ? [] : [{ ...service, targets }];
  });
  return changed ? { ...document, services } : document;
}

/** A grant's site as a policy names it: known for claims, unknown for cert tokens. */
export function grantSite(grant: { readonly siteId?: string; readonly siteName?: string }): { id?: string; name?: string } {
  return { ...(grant.siteId !== undefined && { id: grant.siteId }), ...(grant.siteName !== undefined && { name: grant.siteName }) };
}
