// Redeeming a claim, the rules: what the issuing site checks before it signs a
// client certificate for the site that presents the claim. Pure, so every
// platform's claims endpoint answers the same way for the same state.
import { createHash, timingSafeEqual } from 'node:crypto';
import { linkInRefusal } from '../policy/policy-rules.js';
import type { RouterMode, SiteDocument, TokenRecord } from '../site/model.js';
import type { Endpoint } from './token-secret.js';

/** The path of a claim at the issuing site's claims endpoint. */
export const CLAIMS_PATH = '/claims/';

/** What the redeeming site sends (POST, JSON). Its private key stays at home: only the public key travels. */
export interface ClaimRequest {
  readonly password: string;
  readonly site: { readonly id: string; readonly name: string; readonly mode: RouterMode };
  readonly publicKeyPem: string;
}

/** What it gets back (200, JSON). */
export interface ClaimResponse {
  readonly caPem: string;
  readonly certPem: string;
  readonly site: { readonly id: string; readonly name: string };
  readonly interRouter: Endpoint;
  readonly edge: Endpoint;
}

/** Any refusal is `{ "error": reason }` with one of these statuses; the reason is about the claim, which the caller names. */
export type ClaimVerdict = { readonly ok: true; readonly token: TokenRecord } | { readonly ok: false; readonly status: 400 | 403 | 404; readonly reason: string };

export function passwordDigest(password: string): string {
  return createHash('sha256').update(password).digest('hex');
}

export function judgeClaim(document: SiteDocument, tokenName: string, request: ClaimRequest, now: Date): ClaimVerdict {
  const token = document.tokens.find((candidate) => candidate.name === tokenName && candidate.type === 'claim');
  if (!token || token.passwordSha256 === undefined) {
    return { ok: false, status: 404, reason: `no such claim at site "${document.site.name}"` };
  }
  // Compared in constant time: the answer must not tell how much of a guess was right.
  const expected = Buffer.from(token.passwordSha256, 'hex');
  const given = Buffer.from(passwordDigest(request.password), 'hex');
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    return { ok: false, status: 403, reason: 'wrong password' };
  }
  if (token.revokedAt !== undefined) {
    return { ok: false, status: 403, reason: `revoked at ${token.revokedAt}` };
  }
  if (Date.parse(token.expiresAt) <= now.getTime()) {
    return { ok: false, status: 403, reason: `expired at ${token.expiresAt}` };
  }
  if (token.usesMade >= token.usesAllowed) {
    return { ok: false, status: 403, reason: `used up (${token.usesMade} of ${token.usesAllowed} uses)` };
  }
  if (request.site.id === document.site.id) {
    return { ok: false, status: 400, reason: `a site cannot link to itself` };
  }
  const refused = linkInRefusal(document.policy, request.site);
  if (refused !== undefined) {
    return { ok: false, status: 403, reason: `site "${document.site.name}" refuses the link: ${refused}` };
  }
  return { ok: true, token };
}

/** Reads a request body, or says what is wrong with it. */
export function parseClaimRequest(body: unknown): ClaimRequest | string {
  if (typeof body !== 'object' || body === null) return 'the body is not a JSON object';
  const { password, site, publicKeyPem } = body as Record<string, unknown>;
  if (typeof password !== 'string') return 'password is missing';
  if (typeof publicKeyPem !== 'string') return 'publicKeyPem is missing';
  if (typeof site !== 'object' || site === null) return 'site is missing';
  const { id, name, mode } = site as Record<string, unknown>;
  if (typeof id !== 'string' || typeof name !== 'string' || (mode !== 'interior' && mode !== 'edge')) {
    return 'site needs id, name and mode (interior or edge)';
  }
  return { password, publicKeyPem, site: { id, name, mode } };
}
