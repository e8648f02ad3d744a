// Tokens as files: a Kubernetes Secret in YAML, so that the same file can be
// given to `kskup link create` or applied with kubectl to a cluster site. A
// claim token holds a URL, a password and the CA that pins the URL's TLS; a
// cert token holds a client certificate and key and where to dial. Reading
// checks everything a link needs before anything is stored, and every problem
// is one message naming the file and what is wrong with it.
import { SiteError } from '../site/errors.js';
import { X509Certificate } from 'node:crypto';
import { parseDocument, stringify } from 'yaml';
import type { TokenType } from '../site/model.js';

const PREFIX = 'kskup.io';
export const TOKEN_TYPE_LABEL = `${PREFIX}/type`;
const TYPE_LABELS: Record<TokenType, string> = { claim: 'token-claim', cert: 'connection-token' };
/** The TOKEN_TYPE_LABEL values of token Secrets, for a label selector (`kskup.io/type in (...)`). */
export const TOKEN_TYPE_VALUES: readonly string[] = Object.values(TYPE_LABELS);
const ANNOTATIONS = {
  generatedBy: `${PREFIX}/generated-by`,
  siteName: `${PREFIX}/site-name`,
  expires: `${PREFIX}/expires`,
  url: `${PREFIX}/url`,
  interRouterHost: `${PREFIX}/inter-router-host`,
  interRouterPort: `${PREFIX}/inter-router-port`,
  edgeHost: `${PREFIX}/edge-host`,
  edgePort: `${PREFIX}/edge-port`,
} as const;

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

interface TokenCommon {
  readonly name: string;
  /** The issuing site. */
  readonly siteId: string;
  readonly siteName: string;
  readonly expiresAt: Date;
  readonly caPem: string;
}

export interface ClaimToken extends TokenCommon {
  readonly type: 'claim';
  readonly url: string;
  readonly password: string;
}

export interface CertToken extends TokenCommon {
  readonly type: 'cert';
  readonly certPem: string;
  readonly keyPem: string;
  readonly interRouter: Endpoint;
  readonly edge: Endpoint;
}

export type Token = ClaimToken | CertToken;

/** A token file that cannot be used; the message names the file. */
export class TokenFileError extends SiteError {
  override readonly name: string = 'TokenFileError';
}

export function tokenToYaml(token: Token): string {
  const common = {
    [ANNOTATIONS.generatedBy]: token.siteId,
    [ANNOTATIONS.siteName]: token.siteName,
    [ANNOTATIONS.expires]: token.expiresAt.toISOString(),
  };
  const base64 = (text: string) => Buffer.from(text).toString('base64');
  const secret =
    token.type === 'claim'
      ? {
          annotations: { ...common, [ANNOTATIONS.url]: token.url },
          type: 'Opaque',
          data: { 'ca.crt': base64(token.caPem), password: base64(token.password) },
        }
      : {
          annotations: {
            ...common,
            [ANNOTATIONS.interRouterHost]: token.interRouter.host,
            [ANNOTATIONS.interRouterPort]: String(token.interRouter.port),
            [ANNOTATIONS.edgeHost]: token.edge.host,
            [ANNOTATIONS.edgePort]: String(token.edge.port),
          },
          type: 'kubernetes.io/tls',
          data: { 'ca.crt': base64(token.caPem), 'tls.crt': base64(token.certPem), 'tls.key': base64(token.keyPem) },
        };
  const document = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: token.name, labels: { [TOKEN_TYPE_LABEL]: TYPE_LABELS[token.type] }, annotations: secret.annotations },
    type: secret.type,
    data: secret.data,
  };
  return `# kskup ${token.type} token from site "${token.siteName}"; use it once with: kskup link create FILE\n${stringify(document)}`;
}

/** A token Secret read from the Kubernetes API (data base64, as in the file); `what` names it in errors. */
export function tokenFromSecret(secret: object, what: string): Token {
  // JSON is YAML: the one parser checks both.
  return tokenFromYaml(JSON.stringify(secret), what);
}

/** Parses a token file's text; `file` names it in errors. */
export function tokenFromYaml(text: string, file: string): Token {
  const fail = (problem: string): never => {
    throw new TokenFileError(`${file}: ${problem}`);
  };
  const parsed = parseDocument(text, { prettyErrors: false });
  if (parsed.errors.length > 0) {
    const [first] = parsed.errors;
    fail(`not a token: not valid YAML (${first?.message.split('\n')[0] ?? 'parse error'})`);
  }
  let document: unknown;
  try {
    document = parsed.toJS();
  } catch {
    // An alias without its anchor, or aliases that expand without end; yaml's message may quote the file.
    fail('not a token: not valid YAML (an alias that cannot be resolved)');
  }
  if (!isRecord(document) || document.kind !== 'Secret' || document.apiVersion !== 'v1') {
    fail('not a token: expected a Kubernetes Secret (apiVersion v1, kind Secret) as written by `kskup token create`');
  }
  const secret = document as Record<string, unknown>;
  const metadata = isRecord(secret.metadata) ? secret.metadata : {};
  const labels = isRecord(metadata.labels) ? metadata.labels : {};
  const typeLabel = labels[TOKEN_TYPE_LABEL];
  const type = (Object.keys(TYPE_LABELS) as TokenType[]).find((key) => TYPE_LABELS[key] === typeLabel);
  if (type === undefined) {
    fail(`not a token: a Secret without the label ${TOKEN_TYPE_LABEL}: ${TYPE_LABELS.claim}|${TYPE_LABELS.cert}`);
  }
  const annotations = isRecord(metadata.annotations) ? metadata.annotations : {};
  const data = isRecord(secret.data) ? secret.data : {};
  const annotation = (key: string): string => {
    const value = annotations[key];
    return typeof value === 'string' && value !== '' ? value : fail(`incomplete token: annotation ${key} is missing`);
  };
  const field = (key: string): string => {
    const value = data[key];
    if (typeof value !== 'string' || value === '') fail(`incomplete token: data.${key} is missing`);
    const decoded = Buffer.from(value as string, 'base64').toString('utf8');
    // Buffer.from ignores what is not base64; a re-encode that differs means the value was damaged.
    if (Buffer.from(decoded).toString('base64').replace(/=+$/, '') !== (value as string).replace(/\s+/g, '').replace(/=+$/, '')) {
      fail(`damaged token: data.${key} is not valid base64`);
    }
    return decoded;
  };
  const certificate = (key: string): string => {
    const pem = field(key);
    try {
      new X509Certificate(pem);
    } catch {
      fail(`damaged token: data.${key} is not a PEM certificate`);
    }
    return pem;
  };
  const port = (key: string): number => {
    const value = Number(annotation(key));
    return Number.isInteger(value) && value >= 1 && value <= 65535 ? value : fail(`damaged token: annotation ${key} is not a port`);
  };
  const expiresAt = new Date(annotation(ANNOTATIONS.expires));
  if (Number.isNaN(expiresAt.getTime())) fail(`damaged token: annotation ${ANNOTATIONS.expires} is not a date`);
  const common = {
    name: typeof metadata.name === 'string' && metadata.name !== '' ? metadata.name : fail('incomplete token: metadata.name is missing'),
    siteId: annotation(ANNOTATIONS.generatedBy),
    siteName: annotation(ANNOTATIONS.siteName),
    expiresAt,
    caPem: certificate('ca.crt'),
  };
  if (type === 'claim') {
    const url = annotation(ANNOTATIONS.url);
    if (!/^https:\/\/[^/]+\/.+/.test(url)) fail(`damaged token: annotation ${ANNOTATIONS.url} is not an https URL`);
    return { ...common, type, url, password: field('password') };
  }
  const keyPem = field('tls.key');
  if (!/-----BEGIN (RSA )?PRIVATE KEY-----/.test(keyPem)) fail('damaged token: data.tls.key is not a PEM private key');
  return {
    ...common,
    type: 'cert',
    certPem: certificate('tls.crt'),
    keyPem,
    interRouter: { host: annotation(ANNOTATIONS.interRouterHost), port: port(ANNOTATIONS.interRouterPort) },
    edge: { host: annotation(ANNOTATIONS.edgeHost), port: port(ANNOTATIONS.edgePort) },
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
