// Splitting a service's rate limits (ServiceLimits) into equal parts: among
// the sites that expose the service (service-controller/limits.ts), and, on
// Kubernetes, a site's share among its router replicas
// (site-controller/kubernetes/router-replicas.ts). Each part enforces its own
// figure, so for the sum over the parts to stay within the whole, each gets
// the whole divided by the number of parts, rounded down. At least 1: a
// router limit of 0 is not valid (router/config/parse.ts), and a part that
// allowed nothing would refuse every flow sent to it; so with more parts than
// a limit's value the sum can exceed it by that rounding (docs/traffic.md).
import type { ServiceLimits } from './model.js';

/** Limits that are split; the queue's size and time (flowQueue, flowQueueTimeoutMs) are each part's own. */
export const SPLIT_LIMITS: readonly (keyof ServiceLimits)[] = ['maxFlows', 'flowsPerSecond', 'flowBurst', 'bandwidth'];

/**
 * One of `parts` equal parts of `limits` (`parts` below 1 counts as 1): each
 * split field floor(value / parts), at least 1; the queue fields as they are,
 * dropped when neither maxFlows nor flowsPerSecond is set (nothing would wait,
 * and the router refuses a queue without them). Undefined when no limit is set.
 */
export function limitsPart(limits: ServiceLimits | undefined, parts: number): ServiceLimits | undefined {
  if (limits === undefined || Object.keys(limits).length === 0) return undefined;
  const count = Math.max(1, Math.floor(parts));
  const part: Record<string, number> = {};
  for (const [field, value] of Object.entries(limits) as [keyof ServiceLimits, number][]) {
    part[field] = SPLIT_LIMITS.includes(field) ? Math.max(1, Math.floor(value / count)) : value;
  }
  if (part.maxFlows === undefined && part.flowsPerSecond === undefined) {
    delete part.flowQueue;
    delete part.flowQueueTimeoutMs;
  }
  return part;
}
