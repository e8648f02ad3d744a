// What site policies block, as the console shows it (docs/policy.md): for the
// console's own site, its links out and in that its policy drops or refuses,
// the services it leaves out (importedServices), the services no exposing
// site lets it reach (their announced serviceAccess), and policy refusals of
// flows from or at it; for another site, what it announces (listeners it
// cannot have and why) and the refusals of flows from or at it. Per service:
// who may reach it where, why the console's site has no listener, and the
// flows refused. Pure: console-data gathers the inputs.
import { importRefusal } from '../../site-controller/policy/policy-rules.js';
import type { SiteDocument } from '../../site-controller/site/model.js';
import { serviceMatches } from '../../router/flows/flow-query.js';
import type { DeniedFlows } from '../../service-controller/flows/flow-gatherer.js';
import type { AnnouncedListener } from '../../service-controller/sync/announcement.js';
import { ACCESS_REFUSAL_PREFIX, serviceAccessRefusal, type NetworkService } from '../../service-controller/sync/network-view.js';
import type { SiteStatus } from '../site/site-status.js';

/** One thing a policy blocks at a site, and why (the policy's own words). */
export interface ConsoleBlock {
  readonly kind: 'link out' | 'link in' | 'import' | 'access' | 'flows refused';
  /** What is blocked: `link "to-hub" to site "hub"`, `service "db"`, `db:5432 from east at hub`. */
  readonly subject: string;
  readonly reason: string;
}

export interface ConsoleServicePolicy {
  /** The exposing sites that let only some sites reach it (their serviceAccess, as announced), with those sites. */
  readonly access: readonly { readonly site: string; readonly allowedSites: readonly string[] }[];
  /** Why the console's site has no listener for it: no exposing site lets it in. */
  readonly deniedHere?: string;
  /** Why the console's site does not import it (its own importedServices). */
  readonly notImportedHere?: string;
  /** Flows refused by policy network-wide (listener-side totals): from which site, refused at which. */
  readonly refused: readonly DeniedFlows[];
}

/** The console's own site: everything its state and the network tell of what is blocked. */
export function ownSiteBlocks(status: Pick<SiteStatus, 'document' | 'links' | 'incoming'>, services: readonly NetworkService[], denied: readonly DeniedFlows[]): ConsoleBlock[] {
  const { document } = status;
  return [
    ...status.links.flatMap((link): ConsoleBlock[] => (link.blocked === undefined ? [] : [{ kind: 'link out', subject: `link "${link.name}" to site "${link.remoteSite}"`, reason: link.blocked }])),
    ...status.incoming.flatMap((link): ConsoleBlock[] => (link.blocked === undefined ? [] : [{ kind: 'link in', subject: `link from site "${link.site}"`, reason: link.blocked }])),
    ...services.flatMap((service): ConsoleBlock[] => {
      const reason = exposedAt(service, document) ? undefined : importRefusal(document.policy, service.address);
      return reason === undefined ? [] : [{ kind: 'import', subject: `service "${service.address}"`, reason }];
    }),
    ...services.flatMap((service): ConsoleBlock[] => {
      const reason = serviceAccessRefusal(service, document.site);
      return reason === undefined ? [] : [{ kind: 'access', subject: `service "${service.address}"`, reason }];
    }),
    ...refusalsOf(document.site.name, denied),
  ];
}

/** Another site: the listeners it announces it cannot have because of a policy, and refusals of flows from or at it. */
export function otherSiteBlocks(site: string, listeners: readonly AnnouncedListener[] | undefined, denied: readonly DeniedFlows[]): ConsoleBlock[] {
  return [
    ...(listeners ?? []).flatMap((listener): ConsoleBlock[] =>
      // The announced reason of a listener no exposing site lets in (serviceAccessRefusal's words).
      !listener.listening && listener.reason?.startsWith(ACCESS_REFUSAL_PREFIX) ? [{ kind: 'access', subject: `listener for ${listener.address}`, reason: listener.reason }] : [],
    ),
    ...refusalsOf(site, denied),
  ];
}

/** A service's policy, as the console's site sees it. */
export function servicePolicy(service: NetworkService, document: SiteDocument, denied: readonly DeniedFlows[]): ConsoleServicePolicy {
  const deniedHere = serviceAccessRefusal(service, document.site);
  const notImportedHere = exposedAt(service, document) ? undefined : importRefusal(document.policy, service.address);
  return {
    access: (service.access ?? []).map((access) => ({ site: access.siteName, allowedSites: access.allowedSites })),
    ...(deniedHere !== undefined && { deniedHere }),
    ...(notImportedHere !== undefined && { notImportedHere }),
    refused: denied.filter((flows) => serviceMatches(flows.vanAddress, service.address)),
  };
}

function refusalsOf(site: string, denied: readonly DeniedFlows[]): ConsoleBlock[] {
  return denied
    .filter((flows) => flows.from === site || flows.at === site)
    .map((flows) => ({
      kind: 'flows refused',
      subject: `${flows.vanAddress} from ${flows.from} at ${flows.at}`,
      reason: `${flows.flows} flow(s) refused by site ${flows.at}'s policy (serviceAccess)`,
    }));
}

function exposedAt(service: NetworkService, document: SiteDocument): boolean {
  return service.exposedAt.some((site) => site.id === document.site.id);
}
