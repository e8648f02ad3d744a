// Issuing access to a site: tokens, the client certificates granted through
// them, and taking that access back. Shared by every platform (storage is the
// platform's); the rules of redeeming a claim are in ../token/claims.ts.
import { randomBytes } from 'node:crypto';
import { certificateInfo, certifyPublicKey, issueCertificate, PkiError } from '../pki/index.js';
import { judgeClaim, passwordDigest, type ClaimRequest } from '../token/claims.js';
import type { RedeemResult } from '../token/claims-server.js';
import { claimUrl } from '../token/redeem-claim.js';
import type { Token } from '../token/token-secret.js';
import { SiteError } from './errors.js';
import { nameProblem, type GrantRecord, type SiteDocument, type TokenRecord, type TokenType } from './model.js';
import type { SiteStorage } from './storage.js';

/** Client certificates of links outlive the token that carried them: a link is meant to stay. */
const LINK_CERTIFICATE_DAYS = 825;

export interface TokenOptions {
  readonly type: TokenType;
  readonly name?: string;
  readonly expiryMs: number;
  readonly uses: number;
}

export async function createToken(storage: SiteStorage, options: TokenOptions, now = new Date()): Promise<Token> {
  const problem = options.name === undefined ? undefined : nameProblem(options.name);
  if (problem) throw new SiteError(`token name ${problem}`);
  // During a CA rotation: signed by the new CA, and the token carries both CAs
  // (the server certificate is still the old one's until the cut-over).
  const [ca, trustedCaPem] = await Promise.all([storage.certificateAuthority(), storage.trustedCaPem()]);
  // The certificate of a cert token is made before taking the lock: key generation is the slow part.
  const document = await storage.read();
  assertCanIssue(document, options.type);
  const name = options.name ?? `${options.type}-${randomBytes(4).toString('hex')}`;
  const issued = options.type === 'cert' ? await issueCertificate(ca, { commonName: clientCommonName(document.site.name, name), usage: 'client', validityDays: LINK_CERTIFICATE_DAYS }) : undefined;
  const password = randomBytes(24).toString('base64url');
  const expiresAt = new Date(now.getTime() + options.expiryMs);
  return storage.update<Token>((current) => {
    assertCanIssue(current, options.type);
    if (current.tokens.some((token) => token.name === name)) throw new SiteError(`site "${current.site.name}" already has a token named "${name}"`);
    const { site } = current;
    const record: TokenRecord = {
      name,
      type: options.type,
      createdAt: now.toISOString(),
      expiresAt: expiresAt.toISOString(),
      usesAllowed: options.type === 'claim' ? options.uses : 1,
      usesMade: 0,
      ...(options.type === 'claim' && { passwordSha256: passwordDigest(password) }),
    };
    const common = { name, siteId: site.id, siteName: site.name, expiresAt, caPem: trustedCaPem };
    if (!issued) {
      const token: Token = { ...common, type: 'claim', url: claimUrl(site.ingressHost, site.ports.claims, name), password };
      return { document: { ...current, tokens: [...current.tokens, record] }, result: token };
    }
    const grant = grantOf(issued.certPem, ca.certPem, name, now);
    const token: Token = {
      ...common,
      type: 'cert',
      certPem: issued.certPem,
      keyPem: issued.keyPem,
      interRouter: { host: site.ingressHost, port: site.ports.interRouter },
      edge: { host: site.ingressHost, port: site.ports.edge },
    };
    return { document: { ...current, tokens: [...current.tokens, record], grants: [...current.grants, grant] }, result: token };
  });
}

function assertCanIssue(document: SiteDocument, type: TokenType): void {
  const { site } = document;
  const allowed = document.policy?.incomingLinks;
  if (allowed !== undefined && allowed.length === 0) {
    throw new SiteError(`site "${site.name}" has a policy whose incomingLinks is empty: no site may link to it, so it issues no tokens (kskup policy show)`);
  }
  // A cert token's holder is not named to this site, so a policy that names who may link in cannot let it.
  if (allowed !== undefined && type === 'cert') {
    throw new SiteError(`site "${site.name}" has a policy that names the sites that may link in (incomingLinks): a cert token's holder is never named, so use a claim (--token-type claim)`);
  }
  if (site.mode === 'edge') {
    throw new SiteError(`site "${site.name}" is an edge site: edge sites accept no links, so they cannot issue tokens; create the token at an interior site`);
  }
  if (site.ingress === 'none') {
    throw new SiteError(`site "${site.name}" has --ingress none: no other site can reach it, so it cannot issue tokens; link from it to a site that has an ingress, or init it with --ingress loadbalancer or nodeport`);
  }
  if (site.ingressHost === '') {
    throw new SiteError(`site "${site.name}" does not know its ingress address yet (kskup status says why); tokens name it, so try again once it is known`);
  }
}

/** The claims endpoint's answer to one claim: checks, signs the caller's key, counts the use, records the grant. */
export async function redeemClaimAt(storage: SiteStorage, tokenName: string, request: ClaimRequest, now = new Date()): Promise<RedeemResult> {
  const [ca, trustedCaPem] = await Promise.all([storage.certificateAuthority(), storage.trustedCaPem()]);
  return storage.update<RedeemResult>((document) => {
    const verdict = judgeClaim(document, tokenName, request, now);
    if (!verdict.ok) return { result: { ok: false, status: verdict.status, reason: verdict.reason } };
    let certPem: string;
    try {
      ({ certPem } = certifyPublicKey(ca, request.publicKeyPem, { commonName: clientCommonName(request.site.name, tokenName), usage: 'client', validityDays: LINK_CERTIFICATE_DAYS }));
    } catch (error) {
      if (error instanceof PkiError) return { result: { ok: false, status: 400, reason: error.message } };
      throw error;
    }
    const grant: GrantRecord = { ...grantOf(certPem, ca.certPem, tokenName, now), siteId: request.site.id, siteName: request.site.name };
    const tokens = document.tokens.map((token) => (token.name === tokenName ? { ...token, usesMade: token.usesMade + 1 } : token));
    const { site } = document;
    return {
      document: { ...document, tokens, grants: [...document.grants, grant] },
      result: {
        ok: true,
        response: {
          caPem: trustedCaPem,
          certPem,
          site: { id: site.id, name: site.name },
          interRouter: { host: site.ingressHost, port: site.ports.interRouter },
          edge: { host: site.ingressHost, port: site.ports.edge },
        },
      },
    };
  });
}

/**
 * The CN of a link's client certificate: for people only (a linking site is
 * known by the CA that signed it and the serial), so cut to the 64 characters a
 * CN may have: two valid names (up to 63 each) would otherwise be refused.
 */
function clientCommonName(siteName: string, tokenName: string): string {
  return `${siteName}/${tokenName}`.slice(0, 64);
}

function grantOf(certPem: string, caPem: string, tokenName: string, now: Date): GrantRecord {
  const info = certificateInfo(certPem);
  return { serial: info.serialHex, tokenName, issuedAt: now.toISOString(), expiresAt: info.notAfter.toISOString(), caSerial: certificateInfo(caPem).serialHex };
}

/**
 * `kskup token revoke`: a claim can no longer be redeemed; the certificate of a
 * cert token is revoked (it is the access itself). Returns what was revoked.
 */
export async function revokeToken(storage: SiteStorage, name: string, now = new Date()): Promise<{ token: TokenRecord; certificates: number }> {
  return storage.update((document) => {
    const token = document.tokens.find((candidate) => candidate.name === name);
    if (!token) {
      const known = document.tokens.map((t) => t.name);
      throw new SiteError(`site "${document.site.name}" has no token named "${name}"${known.length ? ` (tokens: ${known.join(', ')})` : ''}`);
    }
    const at = now.toISOString();
    const revoked = { ...token, revokedAt: token.revokedAt ?? at };
    const affected = (grant: GrantRecord) => token.type === 'cert' && grant.tokenName === name && grant.revokedAt === undefined;
    const certificates = document.grants.filter(affected).length;
    return {
      document: {
        ...document,
        tokens: document.tokens.map((t) => (t.name === name ? revoked : t)),
        grants: document.grants.map((grant) => (affected(grant) ? { ...grant, revokedAt: at } : grant)),
      },
      result: { token: revoked, certificates },
    };
  });
}

/**
 * `kskup revoke-access`: revokes the client certificates this site granted,
 * all of them or only those of one site (by name or id). The router refuses
 * them from then on and drops the links that use them.
 */
export async function revokeAccess(storage: SiteStorage, options: { site?: string }, now = new Date()): Promise<GrantRecord[]> {
  return storage.update((document) => {
    const matches = (grant: GrantRecord) => options.site === undefined || grant.siteName === options.site || grant.siteId === options.site;
    const targets = document.grants.filter((grant) => grant.revokedAt === undefined && matches(grant));
    if (options.site !== undefined && !document.grants.some(matches)) {
      const known = [...new Set(document.grants.flatMap((grant) => (grant.siteName ? [grant.siteName] : [])))];
      throw new SiteError(
        `site "${document.site.name}" has granted no access to a site "${options.site}"${known.length ? ` (sites: ${known.join(', ')})` : ''}; ` +
          'links made with cert tokens are revoked by token name: kskup token revoke NAME',
      );
    }
    const at = now.toISOString();
    const serials = new Set(targets.map((grant) => grant.serial));
    // Tokens are revoked too, so that nothing can be redeemed again from the same claim.
    const tokens = options.site === undefined ? document.tokens.map((token) => ({ ...token, revokedAt: token.revokedAt ?? at })) : document.tokens;
    return {
      document: { ...document, tokens, grants: document.grants.map((grant) => (serials.has(grant.serial) ? { ...grant, revokedAt: at } : grant)) },
      result: targets,
    };
  });
}
