// `router stat --site NAME` (or `kskup -n NAME router stat`): the router of a
// site, reached with the site's local credentials. A local site's router is on
// this host (its local AMQP port); a cluster site's is reached by port-forward
// through the API to its router pod, as `kubectl port-forward` would
// (site-controller/kubernetes/router-access.ts). The platform is chosen as
// for every site command (--platform, KSKUP_PLATFORM, a kubeconfig found).
import type { ManagementTarget } from '../../router/management/management-client.js';
import type { CommandContext } from '../command-context.js';
import { RuntimeError } from '../errors.js';

export interface SiteRouter {
  readonly target: ManagementTarget;
  /** Turns a failure to reach the router into one that says how it was reached; undefined keeps it as is. */
  readonly explain?: (error: unknown) => Error | undefined;
  /** Ends the port-forward, if any. */
  close(): Promise<void>;
}

export interface SiteRouterOptions {
  readonly platform?: string;
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly debug?: true;
}

export async function openSiteRouter(site: string | undefined, options: SiteRouterOptions, context: CommandContext): Promise<SiteRouter> {
  const { resolveSite } = await import('../site/site-options.js');
  const resolved = await resolveSite({ ...options, namespace: site, output: 'text' }, context);
  if (resolved.platform === 'local') {
    const { localRouterTarget } = await import('../site/site-status.js');
    return { target: await localRouterTarget(resolved.folder, await resolved.folder.read()), close: async () => undefined };
  }
  const { openRouterAccess } = await import('../../site-controller/kubernetes/router-access.js');
  const access = await openRouterAccess(resolved.site.access);
  const where = `router pod ${access.pod} in namespace "${resolved.namespace}" (through port-forward)`;
  return {
    target: access.target,
    // The management client names 127.0.0.1:PORT; the user asked for a site. A refusal of the forward itself says more than "connection closed".
    explain: (error) => new RuntimeError(`cannot reach the ${where}: ${access.forward.lastError ?? (error instanceof Error ? error.message : String(error))}`, { cause: error }),
    close: () => access.forward.close(),
  };
}
