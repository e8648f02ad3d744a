// The linking side of a claim: POST the password, who we are and our public key
// to the URL in the token, trusting only the CA in the token, and get back a
// client certificate and where to dial. Every failure is a ClaimRefusedError
// whose message says what happened in words a user can act on.
import { SiteError } from '../site/errors.js';
import { request } from 'node:https';
import { CLAIMS_PATH, type ClaimRequest, type ClaimResponse } from './claims.js';
import type { ClaimToken } from './token-secret.js';

export class ClaimRefusedError extends SiteError {
  override readonly name: string = 'ClaimRefusedError';
}

export async function redeemClaim(token: ClaimToken, claim: ClaimRequest, timeoutMs = 10_000): Promise<ClaimResponse> {
  const where = `site "${token.siteName}" at ${new URL(token.url).host}`;
  const body = JSON.stringify(claim);
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const outgoing = request(
      token.url,
      { method: 'POST', ca: token.caPem, timeout: timeoutMs, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      },
    );
    outgoing.on('timeout', () => outgoing.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    outgoing.on('error', reject);
    outgoing.end(body);
  }).catch((error: unknown) => {
    throw new ClaimRefusedError(`cannot redeem claim "${token.name}": ${where} ${unreachable(error)}`);
  });
  const json = parseJson(text);
  if (status !== 200) {
    const reason = typeof json?.error === 'string' ? json.error : `HTTP ${status}`;
    throw new ClaimRefusedError(`claim "${token.name}" refused by ${where}: ${reason}`);
  }
  if (!isClaimResponse(json)) throw new ClaimRefusedError(`claim "${token.name}": ${where} sent an answer that is not a claim response`);
  return json;
}

/** The claims URL of a token named `name` at host:port. */
export function claimUrl(host: string, port: number, name: string): string {
  const bracketed = host.includes(':') ? `[${host}]` : host;
  return `https://${bracketed}:${port}${CLAIMS_PATH}${encodeURIComponent(name)}`;
}

function unreachable(error: unknown): string {
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  switch (code) {
    case 'ECONNREFUSED':
      return 'refused the connection (is the site running? was it deleted?)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'cannot be found: name not found';
    case 'ETIMEDOUT':
      return 'did not answer in time';
    case 'ECONNRESET':
      return 'closed the connection';
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return 'answered with a certificate not signed by the CA in the token (a different site, or the site was re-created)';
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return 'answered with a certificate that is not for that host name';
    default:
      return `cannot be reached (${code || String(error)})`;
  }
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function isClaimResponse(value: Record<string, unknown> | undefined): value is Record<string, unknown> & ClaimResponse {
  if (!value) return false;
  const endpoint = (e: unknown) => typeof e === 'object' && e !== null && typeof (e as Record<string, unknown>).host === 'string' && typeof (e as Record<string, unknown>).port === 'number';
  const site = value.site as Record<string, unknown> | undefined;
  return (
    typeof value.caPem === 'string' &&
    typeof value.certPem === 'string' &&
    typeof site?.id === 'string' &&
    typeof site.name === 'string' &&
    endpoint(value.interRouter) &&
    endpoint(value.edge)
  );
}
