// What a policy blocks at a site now: its links out and in, its exposed
// targets, the network's services it would import, and the sites that could
// no longer reach its services. The dry run of `kskup policy check` and what
// link status and service status show as blocked. Pure: the caller reads the
// site document and what the site knows of the network.
import type { SiteDocument } from '../site/model.js';
import { exposeRefusal, importRefusal, linkInRefusal, linkOutRefusal, reachRefusal } from './policy-rules.js';
import { grantSite } from './policy-state.js';
import type { SitePolicy } from './site-policy.js';

/** What the site knows of the network (the controller's snapshot), as far as a policy check needs it. */
export interface KnownNetwork {
  readonly sites: readonly { readonly id: string; readonly name: string }[];
  readonly services: readonly { readonly address: string; readonly exposedAt: readonly { readonly id: string }[] }[];
}

export type BlockKind = 'outgoing-link' | 'incoming-link' | 'expose' | 'import' | 'reach';

export interface PolicyBlock {
  readonly kind: BlockKind;
  /** What is blocked: a link name, a client certificate's site, `deployment/web`, a service, `service <- site`. */
  readonly subject: string;
  readonly reason: string;
}

/** Everything `policy` (undefined: none) blocks at the site of `document`, in the order of BlockKind. */
export function policyBlocks(policy: SitePolicy | undefined, document: SiteDocument, network: KnownNetwork | undefined, now = new Date()): PolicyBlock[] {
  if (policy === undefined) return [];
  const blocks: PolicyBlock[] = [];
  const add = (kind: BlockKind, subject: string, reason: string | undefined) => reason !== undefined && blocks.push({ kind, subject, reason });
  for (const link of document.links) add('outgoing-link', `link "${link.name}" to site "${link.remoteSiteName}" (${link.host})`, linkOutRefusal(policy, link.host));
  for (const grant of document.grants) {
    if (grant.revokedAt !== undefined || Date.parse(grant.expiresAt) <= now.getTime()) continue;
    const who = grant.siteName !== undefined ? `site "${grant.siteName}"` : `a cert token's holder (token "${grant.tokenName}")`;
    add('incoming-link', `link from ${who}, certificate ${grant.serial}`, linkInRefusal(policy, grantSite(grant)));
  }
  for (const service of document.services) {
    for (const target of service.targets) add('expose', `${target.type}/${target.name} as "${service.address}"`, exposeRefusal(policy, target.type, target.name));
  }
  const self = document.site.id;
  for (const service of network?.services ?? []) {
    if (service.exposedAt.every((site) => site.id === self)) continue;
    add('import', `service "${service.address}"`, importRefusal(policy, service.address));
  }
  const others = (network?.sites ?? []).filter((site) => site.id !== self);
  for (const service of document.services) {
    for (const site of others) add('reach', `service "${service.address}" from site "${site.name}"`, reachRefusal(policy, service.address, site));
  }
  return blocks;
}
