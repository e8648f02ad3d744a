// One GET for tests of HTTP servers (the console, the claims endpoint): the
// status, headers and whole body as text. https: URLs go through node:https,
// so `options` can carry a CA, a client certificate or a PKCS#12 bundle.
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';

export interface HttpReply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** GETs `url`; rejects on a connection or TLS error. */
export function httpGet(url: string | URL, options: RequestOptions = {}): Promise<HttpReply> {
  const target = new URL(url);
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((done, fail) => {
    const outgoing = request(target, options, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => done({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    outgoing.on('error', fail);
    outgoing.end();
  });
}

/** Request options with an Authorization header, or none. */
export function withAuthorization(authorization: string | undefined): RequestOptions {
  return authorization === undefined ? {} : { headers: { authorization } };
}
