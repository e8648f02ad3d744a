// The console's HTTP server: the page and its assets (built by Vite into
// dist/console), the snapshot as JSON, and one server-sent event stream
// (/api/events, the WHATWG HTML "server-sent events" format) with a
// `snapshot` event each time it changes. Every request needs the password
// (HTTP Basic); a request without it, or with a wrong one, gets 401 and nothing else.
// Over HTTPS (`tls`), a client certificate issued by `tls.clientCaPem` logs in
// instead of the password; a certificate that is presented but not issued by
// that CA gets 403, password or not: whoever presents it meant to log in with it.
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONSOLE_REALM, type ConsoleAuth } from './console-auth.js';
import type { FeedState, SnapshotFeed } from './snapshot-feed.js';
import type { ConsoleSnapshot } from './console-data.js';

/** Where `npm run build:console` puts the page: dist/console beside dist/cli. */
export const CONSOLE_ASSETS = fileURLToPath(new URL('../../console/', import.meta.url));
/** A comment line this often keeps proxies and port-forwards from closing an idle stream. */
const KEEPALIVE_MS = 15_000;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** HTTPS: the server's certificate and key, and the CA whose client certificates log in (all PEM). */
export interface ConsoleServerTls {
  readonly cert: string;
  readonly key: string;
  readonly clientCaPem: string;
}

export interface ConsoleServerOptions {
  readonly auth: ConsoleAuth;
  readonly feed: SnapshotFeed<ConsoleSnapshot>;
  readonly assets?: string;
  /** Serve HTTPS and take client certificates; plain HTTP without. */
  readonly tls?: ConsoleServerTls;
}

export function createConsoleServer({ auth, feed, assets = CONSOLE_ASSETS, tls }: ConsoleServerOptions): Server {
  const listener = (request: IncomingMessage, response: ServerResponse) => {
    void handle(request, response).catch(() => {
      if (!response.headersSent) send(response, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else response.destroy();
    });
  };
  // requestCert asks every client for a certificate; rejectUnauthorized false
  // lets one without any through to the password check (handle() refuses a wrong one).
  const server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key, ca: tls.clientCaPem, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' }, listener) : createHttpServer(listener);

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    response.setHeader('X-Content-Type-Options', 'nosniff');
    response.setHeader('X-Frame-Options', 'DENY');
    response.setHeader('Referrer-Policy', 'no-referrer');
    const certificate = tls ? clientCertificate(request.socket as TLSSocket) : 'none';
    if (certificate !== 'none' && certificate !== 'accepted') {
      send(response, 403, 'text/plain; charset=utf-8', `client certificate refused (${certificate}): the console takes the site's client certificate only, or no certificate and the password\n`);
      return;
    }
    if (certificate !== 'accepted' && !auth.accepts(request.headers.authorization)) {
      response.setHeader('WWW-Authenticate', `Basic realm="${CONSOLE_REALM}", charset="UTF-8"`);
      send(response, 401, 'text/plain; charset=utf-8', 'authentication required: user admin and the password kskup console printed\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('Allow', 'GET, HEAD');
      send(response, 405, 'text/plain; charset=utf-8', 'only GET\n');
      return;
    }
    const path = new URL(request.url ?? '/', 'http://console').pathname;
    if (path === '/api/snapshot') return sendState(response, await feed.ready());
    if (path === '/api/events') return stream(request, response);
    if (path.startsWith('/api/')) return send(response, 404, 'text/plain; charset=utf-8', `no such endpoint: ${path}\n`);
    return sendAsset(response, path === '/' ? '/index.html' : path);
  }

  function sendState(response: ServerResponse, state: FeedState<ConsoleSnapshot>): void {
    response.setHeader('Cache-Control', 'no-store');
    send(response, state.snapshot ? 200 : 503, 'application/json', JSON.stringify(state));
  }

  function stream(request: IncomingMessage, response: ServerResponse): void {
    response.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
    const push = (state: FeedState<ConsoleSnapshot>) => response.write(`event: snapshot\ndata: ${JSON.stringify(state)}\n\n`);
    push(feed.state);
    const unsubscribe = feed.subscribe(push);
    const keepalive = setInterval(() => response.write(': keepalive\n\n'), KEEPALIVE_MS);
    const end = () => {
      unsubscribe();
      clearInterval(keepalive);
    };
    request.on('close', end);
    response.on('error', end);
  }

  async function sendAsset(response: ServerResponse, path: string): Promise<void> {
    const file = normalize(join(assets, decodeURIComponent(path)));
    // Nothing outside the assets folder, whatever ../ or %2e%2e the path holds.
    if (!file.startsWith(assets.endsWith(sep) ? assets : assets + sep)) return send(response, 404, 'text/plain; charset=utf-8', 'not found\n');
    let body: Buffer;
    try {
      body = await readFile(file);
    } catch {
      const hint = path === '/index.html' ? ' (the console page is not built: npm run build:console)' : '';
      return send(response, 404, 'text/plain; charset=utf-8', `not found${hint}\n`);
    }
    response.setHeader('Content-Security-Policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:");
    send(response, 200, TYPES[extname(file)] ?? 'application/octet-stream', body);
  }

  return server;
}

/**
 * Whether the TLS client presented a certificate, and if so whether it chains
 * to the client CA: 'accepted', 'none', or why OpenSSL refused it.
 */
function clientCertificate(socket: TLSSocket): 'accepted' | 'none' | string {
  if (socket.authorized) return 'accepted';
  const peer = socket.getPeerCertificate();
  if (!peer || Object.keys(peer).length === 0) return 'none';
  return String(socket.authorizationError ?? 'not issued by the site');
}

function send(response: ServerResponse, status: number, type: string, body: string | Buffer): void {
  response.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  response.end(body);
}
