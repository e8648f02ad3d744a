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

/** Limits split among sites; the queue's size and time are each site's own and not split. */
const SHARED: readonly (keyof ServiceLimits)[] = ['maxFlows', 'flowsPerSecond', 'flowBurst', 'bandwidth'];

/** One exposing site's share of `limits` when `sites` sites expose the service (at least 1). */
export function siteShare(limits: ServiceLimits | undefined, sites: number): ServiceLimits | undefined {
  if (limits === undefined || Object.keys(limits).length === 0) return undefined;
  const count = Math.max(1, sites);
  const share: Record<string, number> = {};
  for (const [field, value] of Object.entries(limits) as [keyof ServiceLimits, number][]) {
    share[field] = SHARED.includes(field) ? Math.max(1, Math.floor(value / count)) : value;
  }
  // The queue is for flows over maxFlows or flowsPerSecond: without either, the router would refuse it.
  if (share.maxFlows === undefined && share.flowsPerSecond === undefined) {
    delete share.flowQueue;
    delete share.flowQueueTimeoutMs;
  }
  return share;
}
