// Property-based tests (fast-check) of token files, what `kskup link create
// FILE` reads (site-controller/token/token-secret.ts): whatever the file holds,
// reading it gives a token or throws TokenFileError whose message starts with
// the file's name and says what is wrong, and never quotes the token's
// password or private key. Never another exception.
//
// Inputs: real claim and cert tokens (a real CA and certificate) written by
// tokenToYaml, then changed as a Secret (fields deleted, or given values of
// other types, other base64, other PEM) or as text (characters deleted or
// inserted, lines swapped), as YAML or JSON, and random text.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { createCertificateAuthority, issueCertificate } from '../site-controller/pki/index.js';
import { TokenFileError, tokenFromYaml, tokenToYaml, type Token } from '../site-controller/token/token-secret.js';
import { fuzzParameters, fuzzTimeout } from './helpers/fuzz.js';

const FILE = 'fuzz/west.token';
const PASSWORD = 'fuzz-claim-password-0123456789abcdef';
let texts: { claim: string; cert: string };
let keyBody: string;

beforeAll(async () => {
  const ca = await createCertificateAuthority({ commonName: 'kskup fuzz CA' });
  const leaf = await issueCertificate(ca, { commonName: 'east/fuzz', usage: 'client' });
  const common = { siteId: 'west-id', siteName: 'west', expiresAt: new Date('2030-01-01T00:00:00Z'), caPem: ca.certPem };
  const claim: Token = { ...common, name: 'for-east', type: 'claim', url: 'https://west.example:8081/claims/for-east', password: PASSWORD };
  const cert: Token = { ...common, name: 'cert-east', type: 'cert', certPem: leaf.certPem, keyPem: leaf.keyPem, interRouter: { host: 'west.example', port: 55671 }, edge: { host: 'west.example', port: 45671 } };
  texts = { claim: tokenToYaml(claim), cert: tokenToYaml(cert) };
  // A line from the middle of the key: no message may hold any of it.
  keyBody = leaf.keyPem.split('\n')[5]!;
  expect(tokenFromYaml(texts.claim, FILE)).toEqual(claim);
});

const PATHS = [
  ['apiVersion'], ['kind'], ['type'], ['metadata'], ['metadata', 'name'], ['metadata', 'labels'], ['metadata', 'labels', 'kskup.io/type'],
  ['metadata', 'annotations'], ['metadata', 'annotations', 'kskup.io/url'], ['metadata', 'annotations', 'kskup.io/expires'],
  ['metadata', 'annotations', 'kskup.io/generated-by'], ['metadata', 'annotations', 'kskup.io/site-name'],
  ['metadata', 'annotations', 'kskup.io/inter-router-port'], ['metadata', 'annotations', 'kskup.io/edge-host'],
  ['data'], ['data', 'ca.crt'], ['data', 'password'], ['data', 'tls.crt'], ['data', 'tls.key'],
];

const junkArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, '', 0, -1, 65536, true, [], {}, 'v1', 'Secret', 'token-claim', 'connection-token', 'http://x/claims/a', 'https://', 'not a date', '2030-13-45'),
  fc.string({ maxLength: 30 }),
  fc.string({ maxLength: 40 }).map((text) => Buffer.from(text).toString('base64')),
  fc.constantFrom('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n').map((pem) => Buffer.from(pem).toString('base64')),
  fc.integer(),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
);

type SecretEdit = { readonly path: number; readonly value: unknown; readonly remove: boolean };
const secretEditArb: fc.Arbitrary<SecretEdit> = fc.record({ path: fc.nat(), value: junkArb, remove: fc.boolean() });

function editSecret(secret: Record<string, unknown>, edit: SecretEdit): void {
  const path = PATHS[edit.path % PATHS.length]!;
  let node: Record<string, unknown> = secret;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null) return;
    node = next as Record<string, unknown>;
  }
  if (edit.remove) delete node[path.at(-1)!];
  else node[path.at(-1)!] = edit.value;
}

const textEditArb = fc.oneof(
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 12 }) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), text: fc.oneof(fc.constantFrom(':', '- ', '  ', '\n', '"', "'", '{', '[', '&a', '*a', '!!binary ', '#', '\t', '---\n'), fc.string({ maxLength: 6 })) }),
);

const tokenTextArb = (kind: 'claim' | 'cert'): fc.Arbitrary<string> =>
  fc.oneof(
    fc.tuple(fc.array(secretEditArb, { minLength: 1, maxLength: 3 }), fc.boolean()).map(([edits, asJson]) => {
      const secret = parse(texts[kind]) as Record<string, unknown>;
      for (const edit of edits) editSecret(secret, edit);
      return asJson ? JSON.stringify(secret) : stringify(secret);
    }),
    fc.array(textEditArb, { minLength: 1, maxLength: 3 }).map((edits) =>
      edits.reduce((text, edit) => {
        const at = edit.at % (text.length + 1);
        return edit.op === 'delete' ? text.slice(0, at) + text.slice(at + edit.length) : text.slice(0, at) + edit.text + text.slice(at);
      }, texts[kind]),
    ),
  );

const anyTextArb = fc.oneof(tokenTextArb('claim'), tokenTextArb('cert'), fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 }));

describe('token files (fast-check)', () => {
  it(
    'any file reads as a token, or throws TokenFileError naming the file, without the password or the key in the message',
    () => {
      fc.assert(
        fc.property(anyTextArb, (text) => {
          let token: Token;
          try {
            token = tokenFromYaml(text, FILE);
          } catch (error) {
            if (!(error instanceof TokenFileError)) throw new Error(`not a TokenFileError: ${String(error)}\n${(error as Error).stack ?? ''}`);
            expect(error.message.startsWith(`${FILE}: `)).toBe(true);
            expect(error.message.length).toBeGreaterThan(FILE.length + 10);
            expect(error.message).not.toContain(PASSWORD);
            expect(error.message).not.toContain(Buffer.from(PASSWORD).toString('base64'));
            expect(error.message).not.toContain(keyBody);
            return;
          }
          // What it accepts is a whole token.
          expect(token.name).not.toBe('');
          expect(Number.isNaN(token.expiresAt.getTime())).toBe(false);
          if (token.type === 'claim') {
            expect(token.url).toMatch(/^https:\/\/[^/]+\/.+/);
            expect(token.password).not.toBe('');
          } else {
            expect(token.keyPem).toMatch(/-----BEGIN (RSA )?PRIVATE KEY-----/);
            expect(token.interRouter.port).toBeGreaterThan(0);
          }
        }),
        fuzzParameters('token files', 3_000),
      );
    },
    fuzzTimeout(30_000),
  );
});

// Faults the property found, kept as plain cases.
describe('token files found by fuzzing', () => {
  it.each([
    ['an alias without an anchor', '*!'],
    ['an alias inside a Secret', 'apiVersion: v1\nkind: *kind\n'],
  ])('%s: TokenFileError, not a ReferenceError', (_what, text) => {
    expect(() => tokenFromYaml(text, FILE)).toThrow(new TokenFileError(`${FILE}: not a token: not valid YAML (an alias that cannot be resolved)`));
  });
});
