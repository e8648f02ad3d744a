// The claims endpoint of an interior site: HTTPS with the site's server
// certificate (the token pins the site CA), one route, POST /claims/NAME with
// a JSON ClaimRequest. Refusals are a status and `{ "error": reason }`, so the
// redeeming site can say exactly why. Bodies are small and capped.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { CLAIMS_PATH, parseClaimRequest, type ClaimRequest, type ClaimResponse } from './claims.js';
import { GuessLimiter } from './guess-limit.js';

const MAX_BODY_BYTES = 64 * 1024;

export type RedeemResult = { readonly ok: true; readonly response: ClaimResponse } | { readonly ok: false; readonly status: number; readonly reason: string };

export interface ClaimsServerOptions {
  readonly host: string;
  readonly port: number;
  readonly certPem: string;
  readonly keyPem: string;
  readonly log: Logger;
  readonly redeem: (tokenName: string, request: ClaimRequest) => Promise<RedeemResult>;
  /** Password guessing limits (guess-limit.ts); by default its DEFAULT_GUESS_LIMITS. */
  readonly guessLimiter?: GuessLimiter;
}

export async function startClaimsServer(given: ClaimsServerOptions): Promise<Server> {
  const options = { ...given, guessLimiter: given.guessLimiter ?? new GuessLimiter(given.log) };
  const server = createServer({ cert: options.certPem, key: options.keyPem }, (request, response) => {
    handle(request, response, options).catch((error: unknown) => {
      // A client that went away (reset, aborted body) is no failure of ours: there is no one to answer.
      if (request.destroyed || response.destroyed) {
        options.log.debug({ reason: String(error), remote: request.socket.remoteAddress }, 'claims client went away before its answer');
        return;
      }
      options.log.error({ reason: String(error) }, 'claims endpoint failed on a request');
      answer(response, 500, { error: 'internal error at the issuing site' });
    });
  });
  // Slow or silent clients must not hold sockets open.
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('tlsClientError', () => undefined);
  // After the bind, an error of the server itself (e.g. EMFILE on accept) is logged; the server goes on.
  server.on('error', (error: NodeJS.ErrnoException) => options.log.error({ reason: error.code ?? error.message }, 'claims endpoint error'));
  return server;
}

async function handle(request: IncomingMessage, response: ServerResponse, options: ClaimsServerOptions & { guessLimiter: GuessLimiter }): Promise<void> {
  const path = new URL(request.url ?? '/', 'https://claims').pathname;
  if (!path.startsWith(CLAIMS_PATH) || path.length === CLAIMS_PATH.length) {
    answer(response, 404, { error: 'not a claim' });
    return;
  }
  if (request.method !== 'POST') {
    response.setHeader('allow', 'POST');
    answer(response, 405, { error: 'claims are redeemed with POST' });
    return;
  }
  let tokenName: string;
  try {
    tokenName = decodeURIComponent(path.slice(CLAIMS_PATH.length));
  } catch {
    answer(response, 400, { error: 'the claim name in the path is not valid percent-encoding' });
    return;
  }
  const remote = request.socket.remoteAddress ?? '';
  const verdict = options.guessLimiter.check(remote, tokenName);
  if (!verdict.allowed) {
    response.setHeader('retry-after', String(verdict.retryAfterSeconds));
    answer(response, 429, { error: verdict.reason });
    return;
  }
  const body = await readBody(request);
  if (body === undefined) {
    answer(response, 413, { error: `the body is larger than ${MAX_BODY_BYTES} bytes` });
    return;
  }
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    answer(response, 400, { error: 'the body is not JSON' });
    return;
  }
  const claim = parseClaimRequest(json);
  if (typeof claim === 'string') {
    answer(response, 400, { error: claim });
    return;
  }
  const result = await options.redeem(tokenName, claim);
  options.guessLimiter.record(remote, tokenName, result.ok ? 200 : result.status);
  if (result.ok) {
    options.log.info({ claim: tokenName, site: claim.site.name, siteId: claim.site.id, remote }, `claim "${tokenName}" redeemed by site "${claim.site.name}"`);
    answer(response, 200, result.response);
  } else {
    options.log.warn({ claim: tokenName, site: claim.site.name, remote, status: result.status }, `claim "${tokenName}" refused: ${result.reason}`);
    answer(response, result.status, { error: result.reason });
  }
}

async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function answer(response: ServerResponse, status: number, body: unknown): void {
  // A client that left while its claim was redeemed gets nothing.
  if (response.headersSent || response.destroyed) return;
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}
