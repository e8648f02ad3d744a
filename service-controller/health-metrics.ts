// The Prometheus counter of health-check state changes (docs/metrics.md).
// It is registered in the registry the platform gives the site's services
// (SiteServicesDeps.metrics): the router's own on a local site, whose router
// runs in the site process, so it is served at the router's /metrics beside
// the per-service flow metrics; the controller's /metrics on Kubernetes,
// where the router is another pod.
import client from 'prom-client';

export const HEALTH_CHANGES_METRIC = 'kskup_service_health_changes_total';

/** Counts one change of a target: `address` the service's address (`kskup expose --address`), `target` HOST:PORT, `to` its new state. */
export type CountHealthChange = (address: string, target: string, to: 'healthy' | 'unhealthy') => void;

/**
 * The counter in `registry`, made once per registry: a site controller made
 * again in the same process (Kubernetes, when the site reappears) counts on
 * in the same series rather than failing to register a second one.
 */
export function healthChangesCounter(registry: client.Registry | undefined): CountHealthChange {
  if (registry === undefined) return () => undefined;
  const existing = registry.getSingleMetric(HEALTH_CHANGES_METRIC) as client.Counter<'address' | 'target' | 'to'> | undefined;
  const counter =
    existing ??
    new client.Counter({
      name: HEALTH_CHANGES_METRIC,
      help: "Health-check state changes of a service's targets at this site (kskup expose --health); a target's first result counts as one",
      labelNames: ['address', 'target', 'to'],
      registers: [registry],
    });
  return (address, target, to) => counter.inc({ address, target, to });
}
