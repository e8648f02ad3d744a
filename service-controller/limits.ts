// How a service's rate limits (`kskup service limit`) are shared among the
// sites that expose it. Each limit is enforced by the routers that dial the
// service's targets (router/tcp/flow-limiter.ts), so for the total over the
// network to stay within the limit, each exposing site takes an equal share:
// the limit divided by the number of exposing sites, rounded down, at least 1
// (so with more sites than a limit's value the total can exceed it by the
// rounding: said in docs/traffic.md). An equal share rather than one by
// weight: weights move flows between sites from one second to the next
// (blue-green), and a limit that moved with them would briefly allow the old
// and the new site's shares at once.
import type { ServiceLimits } from '../site-controller/site/model.js';
import { limitsPart } from '../site-controller/site/limit-shares.js';

/**
 * One exposing site's share of `limits` when `sites` sites expose the service
 * (at least 1): limitsPart (site-controller/site/limit-shares.ts). On
 * Kubernetes the site's router replicas split this share again among them
 * (site-controller/kubernetes/router-replicas.ts).
 */
export function siteShare(limits: ServiceLimits | undefined, sites: number): ServiceLimits | undefined {
  return limitsPart(limits, sites);
}
