// Links: made from a token of another site, kept in the site's state, turned
// into an sslProfile and a connector by the router config. Shared by every
// platform. Everything that can be checked is checked before anything is
// stored, so a refused token leaves the site as it was.
import { generateKeyPem } from '../pki/index.js';
import { redeemClaim } from '../token/redeem-claim.js';
import type { ClaimToken, Token } from '../token/token-secret.js';
import type { ClaimRequest, ClaimResponse } from '../token/claims.js';
import { linkOutRefusal } from '../policy/policy-rules.js';
import { SiteError } from './errors.js';
import { nameProblem, type LinkRecord, type SiteDocument } from './model.js';
import type { LinkSecrets, SiteStorage } from './storage.js';

export interface LinkOptions {
  readonly name?: string;
  readonly cost: number;
}

/** Redeems claims; tests and other transports may pass their own. */
export type ClaimRedeemer = (token: ClaimToken, request: ClaimRequest) => Promise<ClaimResponse>;

export async function createLink(storage: SiteStorage, token: Token, options: LinkOptions, redeem: ClaimRedeemer = redeemClaim, now = new Date()): Promise<LinkRecord> {
  const problem = options.name === undefined ? undefined : nameProblem(options.name);
  if (problem) throw new SiteError(`link name ${problem}`);
  const before = await storage.read();
  const name = options.name ?? defaultLinkName(before, token.siteName);
  checkToken(before, token, name, now);
  const role = before.site.mode === 'interior' ? 'inter-router' : 'edge';

  let secrets: LinkSecrets;
  let remote: { host: string; port: number };
  if (token.type === 'claim') {
    const keys = await generateKeyPem();
    const { site } = before;
    const response = await redeem(token, { password: token.password, publicKeyPem: keys.publicKeyPem, site: { id: site.id, name: site.name, mode: site.mode } });
    secrets = { caPem: response.caPem, certPem: response.certPem, keyPem: keys.keyPem };
    remote = role === 'inter-router' ? response.interRouter : response.edge;
  } else {
    secrets = { caPem: token.caPem, certPem: token.certPem, keyPem: token.keyPem };
    remote = role === 'inter-router' ? token.interRouter : token.edge;
  }

  const refused = linkOutRefusal(before.policy, remote.host);
  if (refused !== undefined) throw new SiteError(`site "${before.site.name}" may not link to site "${token.siteName}" at ${remote.host}: ${refused}`);
  const link: LinkRecord = {
    name,
    host: remote.host,
    port: remote.port,
    role,
    cost: options.cost,
    remoteSiteId: token.siteId,
    remoteSiteName: token.siteName,
    tokenName: token.name,
    createdAt: now.toISOString(),
  };
  return storage.update(async (document) => {
    // Checked again under the lock, and the secrets written only then: another
    // `link create` may have taken the name meanwhile, and its files must stay.
    checkToken(document, token, name, now);
    const refusedNow = linkOutRefusal(document.policy, link.host);
    if (refusedNow !== undefined) throw new SiteError(`site "${document.site.name}" may not link to site "${token.siteName}" at ${link.host}: ${refusedNow}`);
    await storage.writeLinkSecrets(name, secrets);
    return { document: { ...document, links: [...document.links, link] }, result: link };
  });
}

function checkToken(document: SiteDocument, token: Token, name: string, now: Date): void {
  const { site } = document;
  if (token.siteId === site.id) throw new SiteError(`token "${token.name}" was made by this site ("${site.name}"): give it to the site that should link to this one`);
  const existing = document.links.find((link) => link.remoteSiteId === token.siteId);
  if (existing) throw new SiteError(`site "${site.name}" is already linked to site "${token.siteName}" (link "${existing.name}"); delete that link first to replace it`);
  if (document.links.some((link) => link.name === name)) throw new SiteError(`site "${site.name}" already has a link named "${name}"; choose another with --name`);
  if (token.expiresAt.getTime() <= now.getTime()) throw new SiteError(`token "${token.name}" from site "${token.siteName}" expired at ${token.expiresAt.toISOString()}; ask for a new one`);
  // Before a claim is redeemed (a use spent): the host its URL names is where the link will go too.
  const host = token.type === 'claim' ? claimHost(token.url) : token.interRouter.host;
  const refused = host === undefined ? undefined : linkOutRefusal(document.policy, host);
  if (refused !== undefined) throw new SiteError(`site "${site.name}" may not link to site "${token.siteName}" at ${host}: ${refused}`);
}

function claimHost(url: string): string | undefined {
  try {
    // An IPv6 literal comes back in brackets; the policy names the bare address.
    return new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
  } catch {
    return undefined;
  }
}

/** Named after the remote site, so that status reads naturally; a suffix when that name is taken. */
function defaultLinkName(document: SiteDocument, remoteSiteName: string): string {
  const base = nameProblem(remoteSiteName) === undefined ? remoteSiteName : 'link';
  const taken = new Set(document.links.map((link) => link.name));
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) if (!taken.has(`${base}-${n}`)) return `${base}-${n}`;
}

export async function deleteLink(storage: SiteStorage, name: string): Promise<LinkRecord> {
  const link = await storage.update((document) => {
    const found = document.links.find((candidate) => candidate.name === name);
    if (!found) {
      const known = document.links.map((l) => l.name);
      throw new SiteError(`site "${document.site.name}" has no link named "${name}"${known.length ? ` (links: ${known.join(', ')})` : ' (it has no links)'}`);
    }
    return { document: { ...document, links: document.links.filter((candidate) => candidate !== found) }, result: found };
  });
  await storage.removeLinkSecrets(name);
  return link;
}
