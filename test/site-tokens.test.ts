// Tokens, claims, grants and links without processes or network: token files
// (a Kubernetes Secret in YAML), the rules of redeeming a claim, the site
// operations over an in-memory SiteStorage, revoked serials in the router
// config, and the duration options of the CLI.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { InvalidArgumentError } from 'commander';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { formatDuration, parseDuration } from '../cli/arguments.js';
import { normaliseSerial } from '../router/config/index.js';
import { createCertificateAuthority, generateKeyPem, issueCertificate, type CertificateAuthority, type IssuedCertificate } from '../site-controller/pki/index.js';
import { desiredRouterConfig, desiredRouterEntities, routerConfigText, type SiteState } from '../site-controller/site/desired-router-config.js';
import { SiteError } from '../site-controller/site/errors.js';
import { createLink, deleteLink, type ClaimRedeemer } from '../site-controller/site/links.js';
import { revokedSerials, type GrantRecord, type LinkRecord, type SiteDocument, type SiteRecord, type TokenRecord } from '../site-controller/site/model.js';
import { createToken, redeemClaimAt, revokeAccess, revokeToken } from '../site-controller/site/tokens.js';
import { judgeClaim, parseClaimRequest, passwordDigest, type ClaimRequest, type ClaimResponse } from '../site-controller/token/claims.js';
import { TokenFileError, tokenFromYaml, tokenToYaml, type CertToken, type ClaimToken, type Token } from '../site-controller/token/token-secret.js';
import { MemoryStorage } from './helpers/memory-storage.js';
import { WEST_SITE, westSiteDocument } from './helpers/site-fixtures.js';

const NOW = new Date('2030-06-01T12:00:00.000Z');
const MINUTE = 60_000;
const at = (offsetMs: number) => new Date(NOW.getTime() + offsetMs);

// RSA keys take ~50-100 ms each: two site CAs, one leaf and one key pair, shared by every test.
let westCa: CertificateAuthority;
let eastCa: CertificateAuthority;
let westLeaf: IssuedCertificate;
let eastKeys: { keyPem: string; publicKeyPem: string };
beforeAll(async () => {
  [westCa, eastCa, eastKeys] = await Promise.all([
    createCertificateAuthority({ commonName: 'kskup site CA west' }),
    createCertificateAuthority({ commonName: 'kskup site CA east' }),
    generateKeyPem(),
  ]);
  westLeaf = await issueCertificate(westCa, { commonName: 'east/for-east', usage: 'client' });
});

const spki = (key: KeyObject) => key.export({ type: 'spki', format: 'der' });
/** True when the certificate is signed by the CA (both checks node:crypto offers). */
function signedBy(certPem: string, caPem: string): boolean {
  const cert = new X509Certificate(certPem);
  const ca = new X509Certificate(caPem);
  return cert.checkIssued(ca) && cert.verify(ca.publicKey);
}
const serialOf = (certPem: string) => new X509Certificate(certPem).serialNumber.toLowerCase();

// ---------------------------------------------------------------------------
// Sites and an in-memory storage

/** Site "west" as these tests know it (its id is west-id). */
function siteDocument(site: Partial<SiteRecord> = {}, rest: Partial<Omit<SiteDocument, 'site'>> = {}): SiteDocument {
  return westSiteDocument({ id: 'west-id', ...site }, rest);
}

describe('MemoryStorage (the test double itself)', () => {
  it('applies updates one after another, even when they are started together', async () => {
    const storage = new MemoryStorage(siteDocument(), westCa);
    const addLink = (name: string) =>
      storage.update(async (document) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return { document: { ...document, links: [...document.links, { name } as LinkRecord] }, result: document.links.length };
      });
    const seen = await Promise.all([addLink('a'), addLink('b'), addLink('c')]);
    expect(seen).toEqual([0, 1, 2]);
    expect(storage.document.links.map((link) => link.name)).toEqual(['a', 'b', 'c']);
  });

  it('a change that throws stores nothing and does not block the next one', async () => {
    const storage = new MemoryStorage(siteDocument(), westCa);
    await expect(storage.update(() => { throw new Error('no'); })).rejects.toThrow('no');
    await expect(storage.update((document) => ({ result: document.site.name }))).resolves.toBe('west');
  });
});

// ---------------------------------------------------------------------------
// Token files

function claimToken(overrides: Partial<ClaimToken> = {}): ClaimToken {
  return {
    type: 'claim',
    name: 'for-east',
    siteId: 'west-id',
    siteName: 'west',
    expiresAt: at(15 * MINUTE),
    caPem: westCa.certPem,
    url: 'https://west.example:8443/claims/for-east',
    password: 'correct horse battery staple',
    ...overrides,
  };
}

function certToken(overrides: Partial<CertToken> = {}): CertToken {
  return {
    type: 'cert',
    name: 'cert-for-east',
    siteId: 'west-id',
    siteName: 'west',
    expiresAt: at(15 * MINUTE),
    caPem: westCa.certPem,
    certPem: westLeaf.certPem,
    keyPem: westLeaf.keyPem,
    interRouter: { host: 'west.example', port: 55671 },
    edge: { host: 'west-edge.example', port: 45671 },
    ...overrides,
  };
}

interface SecretShape {
  apiVersion: unknown;
  kind: unknown;
  type: unknown;
  metadata: { name: unknown; labels: Record<string, unknown>; annotations: Record<string, unknown> };
  data: Record<string, string>;
}
const decode = (base64: string | undefined) => Buffer.from(base64 ?? '', 'base64').toString('utf8');

describe('token files', () => {
  it('a claim token is an Opaque Secret labelled token-claim, and reads back as it was', () => {
    const token = claimToken();
    const yaml = tokenToYaml(token);
    expect(yaml).toMatch(/^# kskup claim token from site "west"/);
    const secret = parse(yaml) as SecretShape;
    expect(secret.apiVersion).toBe('v1');
    expect(secret.kind).toBe('Secret');
    expect(secret.type).toBe('Opaque');
    expect(secret.metadata.name).toBe('for-east');
    expect(secret.metadata.labels).toEqual({ 'kskup.io/type': 'token-claim' });
    expect(secret.metadata.annotations).toEqual({
      'kskup.io/generated-by': 'west-id',
      'kskup.io/site-name': 'west',
      'kskup.io/expires': token.expiresAt.toISOString(),
      'kskup.io/url': token.url,
    });
    expect(Object.keys(secret.data).sort()).toEqual(['ca.crt', 'password']);
    expect(decode(secret.data['ca.crt'])).toBe(westCa.certPem);
    expect(decode(secret.data.password)).toBe(token.password);
    // Nothing secret in the clear.
    expect(yaml).not.toContain(token.password);

    expect(tokenFromYaml(yaml, 'west.token')).toEqual(token);
  });

  it('a cert token is a kubernetes.io/tls Secret labelled connection-token, and reads back as it was', () => {
    const token = certToken();
    const yaml = tokenToYaml(token);
    const secret = parse(yaml) as SecretShape;
    expect(secret.kind).toBe('Secret');
    expect(secret.type).toBe('kubernetes.io/tls');
    expect(secret.metadata.labels).toEqual({ 'kskup.io/type': 'connection-token' });
    expect(secret.metadata.annotations).toMatchObject({
      'kskup.io/inter-router-host': 'west.example',
      'kskup.io/inter-router-port': '55671',
      'kskup.io/edge-host': 'west-edge.example',
      'kskup.io/edge-port': '45671',
    });
    expect(Object.keys(secret.data).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
    expect(decode(secret.data['tls.crt'])).toBe(westLeaf.certPem);
    expect(decode(secret.data['tls.key'])).toBe(westLeaf.keyPem);

    const read = tokenFromYaml(yaml, 'west.token');
    expect(read).toEqual(token);
    expect(read.expiresAt).toBeInstanceOf(Date);
  });

  it('accepts base64 that a YAML editor wrapped over several lines', () => {
    const secret = parse(tokenToYaml(claimToken())) as SecretShape;
    const wrapped = secret.data['ca.crt']!.replace(/(.{76})/g, '$1 ');
    expect(wrapped).toContain(' ');
    const token = tokenFromYaml(stringify({ ...secret, data: { ...secret.data, 'ca.crt': wrapped } }), 'wrapped.token');
    expect(token.caPem).toBe(westCa.certPem);
  });

  describe('a token file that cannot be used is one TokenFileError naming the file and the problem', () => {
    /** The token's Secret, changed by `edit`, as YAML. */
    function edited(token: Token, edit: (secret: SecretShape) => void): string {
      const secret = parse(tokenToYaml(token)) as SecretShape;
      edit(secret);
      return stringify(secret);
    }
    function problem(text: string, file = 'tokens/east.yaml'): TokenFileError {
      try {
        tokenFromYaml(text, file);
      } catch (error) {
        expect(error).toBeInstanceOf(TokenFileError);
        expect(error).toBeInstanceOf(SiteError);
        expect((error as Error).message.startsWith(`${file}: `)).toBe(true);
        return error as TokenFileError;
      }
      throw new Error('tokenFromYaml accepted the file');
    }

    it('not YAML', () => {
      expect(problem('kind: [Secret\n  apiVersion: v1').message).toMatch(/^tokens\/east\.yaml: not a token: not valid YAML \(/);
    });

    it('YAML that is not a Secret', () => {
      expect(problem('apiVersion: v1\nkind: ConfigMap\n').message).toContain('expected a Kubernetes Secret (apiVersion v1, kind Secret)');
      expect(problem('- a list\n').message).toContain('expected a Kubernetes Secret');
      expect(problem(edited(claimToken(), (s) => void (s.apiVersion = 'v2'))).message).toContain('expected a Kubernetes Secret');
    });

    it('a Secret without the kskup.io/type label, or with another value', () => {
      const unlabelled = problem(edited(claimToken(), (s) => void (s.metadata.labels = {})));
      expect(unlabelled.message).toContain('not a token: a Secret without the label kskup.io/type: token-claim|connection-token');
      expect(problem(edited(claimToken(), (s) => void (s.metadata.labels['kskup.io/type'] = 'something-else'))).message).toContain('without the label kskup.io/type');
    });

    it('a missing annotation, or an empty one', () => {
      const missing = problem(edited(claimToken(), (s) => void delete s.metadata.annotations['kskup.io/site-name']));
      expect(missing.message).toBe('tokens/east.yaml: incomplete token: annotation kskup.io/site-name is missing');
      const empty = problem(edited(certToken(), (s) => void (s.metadata.annotations['kskup.io/edge-host'] = '')));
      expect(empty.message).toContain('annotation kskup.io/edge-host is missing');
    });

    it('a port annotation that is not a port', () => {
      for (const port of ['70000', '0', 'http', '80.5']) {
        const error = problem(edited(certToken(), (s) => void (s.metadata.annotations['kskup.io/inter-router-port'] = port)));
        expect(error.message).toContain('damaged token: annotation kskup.io/inter-router-port is not a port');
      }
    });

    it('an expiry that is not a date', () => {
      const error = problem(edited(claimToken(), (s) => void (s.metadata.annotations['kskup.io/expires'] = 'next tuesday')));
      expect(error.message).toContain('damaged token: annotation kskup.io/expires is not a date');
    });

    it('a data value that is not base64', () => {
      const error = problem(edited(claimToken(), (s) => void (s.data.password = `${s.data.password}!*`)));
      expect(error.message).toContain('damaged token: data.password is not valid base64');
    });

    it('a ca.crt that is not a certificate', () => {
      const error = problem(edited(claimToken(), (s) => void (s.data['ca.crt'] = Buffer.from('-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n').toString('base64'))));
      expect(error.message).toContain('damaged token: data.ca.crt is not a PEM certificate');
    });

    it('a cert token without tls.key, or with something else in it', () => {
      expect(problem(edited(certToken(), (s) => void delete s.data['tls.key'])).message).toContain('incomplete token: data.tls.key is missing');
      expect(problem(edited(certToken(), (s) => void (s.data['tls.key'] = Buffer.from(westLeaf.certPem).toString('base64')))).message).toContain(
        'damaged token: data.tls.key is not a PEM private key',
      );
    });

    it('a claim URL that is not https', () => {
      for (const url of ['http://west.example:8443/claims/for-east', 'https://west.example:8443', 'west.example:8443/claims/for-east']) {
        const error = problem(edited(claimToken(), (s) => void (s.metadata.annotations['kskup.io/url'] = url)));
        expect(error.message).toContain('damaged token: annotation kskup.io/url is not an https URL');
      }
    });
  });
});

// ---------------------------------------------------------------------------
// The rules of a claim

describe('judgeClaim', () => {
  const PASSWORD = 'the password';
  const claimRecord = (overrides: Partial<TokenRecord> = {}): TokenRecord => ({
    name: 'for-east',
    type: 'claim',
    createdAt: NOW.toISOString(),
    expiresAt: at(15 * MINUTE).toISOString(),
    usesAllowed: 1,
    usesMade: 0,
    passwordSha256: passwordDigest(PASSWORD),
    ...overrides,
  });
  const request = (overrides: Partial<ClaimRequest> = {}): ClaimRequest => ({
    password: PASSWORD,
    site: { id: 'east-id', name: 'east', mode: 'interior' },
    publicKeyPem: 'not looked at here',
    ...overrides,
  });
  const judge = (token: TokenRecord, claim = request(), now = NOW) => judgeClaim(siteDocument({}, { tokens: [token] }), token.name, claim, now);

  it('passwordDigest is the hex SHA-256 of the password', () => {
    expect(passwordDigest('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('accepts a good claim and hands back its record', () => {
    const token = claimRecord();
    expect(judge(token)).toEqual({ ok: true, token });
  });

  it('404 for a name that is not a claim of this site, including the name of a cert token', () => {
    const document = siteDocument({}, { tokens: [claimRecord(), { ...claimRecord({ name: 'cert-1', type: 'cert' }) }] });
    expect(judgeClaim(document, 'nope', request(), NOW)).toEqual({ ok: false, status: 404, reason: 'no such claim at site "west"' });
    // Even a cert token record that (wrongly) had a password hash is not a claim.
    expect(judgeClaim(document, 'cert-1', request(), NOW)).toMatchObject({ ok: false, status: 404 });
  });

  it('403 for a wrong password', () => {
    expect(judge(claimRecord(), request({ password: 'guess' }))).toEqual({ ok: false, status: 403, reason: 'wrong password' });
    expect(judge(claimRecord(), request({ password: '' }))).toMatchObject({ status: 403, reason: 'wrong password' });
  });

  it('403 when revoked, expired or used up', () => {
    expect(judge(claimRecord({ revokedAt: '2030-06-01T11:00:00.000Z' }))).toEqual({ ok: false, status: 403, reason: 'revoked at 2030-06-01T11:00:00.000Z' });
    expect(judge(claimRecord({ expiresAt: at(-1).toISOString() }))).toEqual({ ok: false, status: 403, reason: `expired at ${at(-1).toISOString()}` });
    expect(judge(claimRecord({ usesAllowed: 3, usesMade: 3 }))).toEqual({ ok: false, status: 403, reason: 'used up (3 of 3 uses)' });
    expect(judge(claimRecord({ usesAllowed: 3, usesMade: 2 }))).toMatchObject({ ok: true });
  });

  it('a claim is expired at the instant it expires, not a millisecond later', () => {
    const token = claimRecord({ expiresAt: NOW.toISOString() });
    expect(judge(token, request(), NOW)).toMatchObject({ ok: false, status: 403, reason: expect.stringMatching(/^expired at/) });
    expect(judge(token, request(), at(-1))).toMatchObject({ ok: true });
  });

  it('400 for a site that claims its own token', () => {
    const verdict = judge(claimRecord(), request({ site: { id: 'west-id', name: 'west', mode: 'interior' } }));
    expect(verdict).toEqual({ ok: false, status: 400, reason: 'a site cannot link to itself' });
  });

  it('tells nothing about the claim without the password: a wrong password comes before every other refusal', () => {
    const hopeless = claimRecord({ revokedAt: NOW.toISOString(), expiresAt: at(-MINUTE).toISOString(), usesMade: 1 });
    expect(judge(hopeless, request({ password: 'guess' }))).toMatchObject({ status: 403, reason: 'wrong password' });
    expect(judge(claimRecord(), request({ password: 'guess', site: { id: 'west-id', name: 'west', mode: 'interior' } }))).toMatchObject({
      status: 403,
      reason: 'wrong password',
    });
    // With the password: revoked, then expired, then used up, then the site.
    expect(judge(hopeless)).toMatchObject({ reason: expect.stringMatching(/^revoked at/) });
    expect(judge({ ...hopeless, revokedAt: undefined })).toMatchObject({ reason: expect.stringMatching(/^expired at/) });
    expect(judge(claimRecord({ usesMade: 1 }), request({ site: { id: 'west-id', name: 'west', mode: 'interior' } }))).toMatchObject({ reason: expect.stringMatching(/^used up/) });
  });
});

describe('parseClaimRequest', () => {
  const good = { password: 'p', publicKeyPem: '-----BEGIN PUBLIC KEY-----', site: { id: 'east-id', name: 'east', mode: 'edge' } };

  it('reads a good body and keeps only what it knows', () => {
    expect(parseClaimRequest(good)).toEqual(good);
    expect(parseClaimRequest({ ...good, extra: 1, site: { ...good.site, admin: true } })).toEqual(good);
    expect(parseClaimRequest({ ...good, site: { ...good.site, mode: 'interior' } })).toMatchObject({ site: { mode: 'interior' } });
  });

  it('says what is wrong with a bad body', () => {
    expect(parseClaimRequest(null)).toBe('the body is not a JSON object');
    expect(parseClaimRequest('password')).toBe('the body is not a JSON object');
    expect(parseClaimRequest({ ...good, password: undefined })).toBe('password is missing');
    expect(parseClaimRequest({ ...good, password: 42 })).toBe('password is missing');
    expect(parseClaimRequest({ ...good, publicKeyPem: undefined })).toBe('publicKeyPem is missing');
    expect(parseClaimRequest({ ...good, site: undefined })).toBe('site is missing');
    expect(parseClaimRequest({ ...good, site: 'east' })).toBe('site is missing');
    const siteProblem = 'site needs id, name and mode (interior or edge)';
    expect(parseClaimRequest({ ...good, site: { ...good.site, mode: 'hub' } })).toBe(siteProblem);
    expect(parseClaimRequest({ ...good, site: { name: 'east', mode: 'edge' } })).toBe(siteProblem);
    expect(parseClaimRequest({ ...good, site: { id: 'east-id', name: 7, mode: 'edge' } })).toBe(siteProblem);
  });
});

// ---------------------------------------------------------------------------
// Tokens and grants of a site

const eastRequest = (password: string, publicKeyPem = eastKeys.publicKeyPem): ClaimRequest => ({
  password,
  publicKeyPem,
  site: { id: 'east-id', name: 'east', mode: 'interior' },
});

describe('createToken', () => {
  it('a claim: a token with the claims URL and a password; the site keeps only its SHA-256, the uses and the expiry', async () => {
    const storage = new MemoryStorage(siteDocument(), westCa);
    const token = await createToken(storage, { type: 'claim', name: 'for-east', expiryMs: 15 * MINUTE, uses: 3 }, NOW);
    expect(token).toMatchObject({
      type: 'claim',
      name: 'for-east',
      siteId: 'west-id',
      siteName: 'west',
      expiresAt: at(15 * MINUTE),
      caPem: westCa.certPem,
      url: 'https://west.example:8443/claims/for-east',
    });
    if (token.type !== 'claim') throw new Error('expected a claim token');
    expect(token.password.length).toBeGreaterThanOrEqual(16);
    expect(storage.document.tokens).toEqual([
      {
        name: 'for-east',
        type: 'claim',
        createdAt: NOW.toISOString(),
        expiresAt: at(15 * MINUTE).toISOString(),
        usesAllowed: 3,
        usesMade: 0,
        passwordSha256: createHash('sha256').update(token.password).digest('hex'),
      },
    ]);
    expect(storage.document.grants).toEqual([]);
    expect(JSON.stringify(storage.document)).not.toContain(token.password);
  });

  it('names a token when no name is given, and two claims get different passwords', async () => {
    const storage = new MemoryStorage(siteDocument(), westCa);
    const a = (await createToken(storage, { type: 'claim', expiryMs: MINUTE, uses: 1 }, NOW)) as ClaimToken;
    const b = (await createToken(storage, { type: 'claim', expiryMs: MINUTE, uses: 1 }, NOW)) as ClaimToken;
    expect(a.name).toMatch(/^claim-[0-9a-f]{8}$/);
    expect(b.name).not.toBe(a.name);
    expect(b.password).not.toBe(a.password);
  });

  it('a cert token: a client certificate signed by the site CA, recorded as a grant under its serial', async () => {
    const storage = new MemoryStorage(siteDocument(), westCa);
    const token = await createToken(storage, { type: 'cert', name: 'cert-east', expiryMs: 60 * MINUTE, uses: 5 }, NOW);
    if (token.type !== 'cert') throw new Error('expected a cert token');
    expect(token).toMatchObject({ interRouter: { host: 'west.example', port: 55671 }, edge: { host: 'west.example', port: 45671 }, caPem: westCa.certPem });
    expect(signedBy(token.certPem, westCa.certPem)).toBe(true);
    expect(signedBy(token.certPem, eastCa.certPem)).toBe(false);
    const cert = new X509Certificate(token.certPem);
    expect(spki(createPublicKey(createPrivateKey(token.keyPem)))).toEqual(spki(cert.publicKey));
    expect(cert.subject).toContain('CN=west/cert-east');

    const [record] = storage.document.tokens;
    expect(record).toMatchObject({ name: 'cert-east', type: 'cert', usesAllowed: 1, usesMade: 0 });
    expect(record?.passwordSha256).toBeUndefined();
    expect(storage.document.grants).toEqual([
      { serial: serialOf(token.certPem), tokenName: 'cert-east', issuedAt: NOW.toISOString(), expiresAt: new Date(cert.validTo).toISOString(), caSerial: serialOf(westCa.certPem) },
    ]);
    // The file written from it reads back to the same token.
    expect(tokenFromYaml(tokenToYaml(token), 'cert-east.token')).toEqual(token);
  });

  it('the longest valid site and token names still make a certificate (its CN cut to the 64 characters a CN may have)', async () => {
    const siteName = 's'.repeat(63);
    const storage = new MemoryStorage(siteDocument({ name: siteName }), westCa);
    const token = await createToken(storage, { type: 'cert', name: 't'.repeat(63), expiryMs: MINUTE, uses: 1 }, NOW);
    if (token.type !== 'cert') throw new Error('expected a cert token');
    expect(new X509Certificate(token.certPem).subject).toBe(`CN=${`${siteName}/${'t'.repeat(63)}`.slice(0, 64)}`);
  });

  it('an edge site cannot issue tokens', async () => {
    const storage = new MemoryStorage(siteDocument({ mode: 'edge' }), westCa);
    await expect(createToken(storage, { type: 'claim', expiryMs: MINUTE, uses: 1 }, NOW)).rejects.toThrow(SiteError);
    await expect(createToken(storage, { type: 'claim', expiryMs: MINUTE, uses: 1 }, NOW)).rejects.toThrow(/site "west" is an edge site/);
    expect(storage.document.tokens).toEqual([]);
  });

  it('refuses a name that is taken, and stores nothing for it (no grant for a cert token either)', async () => {
    const storage = new MemoryStorage(siteDocument(), westCa);
    await createToken(storage, { type: 'claim', name: 'once', expiryMs: MINUTE, uses: 1 }, NOW);
    const before = storage.document;
    await expect(createToken(storage, { type: 'claim', name: 'once', expiryMs: MINUTE, uses: 1 }, NOW)).rejects.toThrow('site "west" already has a token named "once"');
    await expect(createToken(storage, { type: 'cert', name: 'once', expiryMs: MINUTE, uses: 1 }, NOW)).rejects.toThrow(SiteError);
    expect(storage.document).toBe(before);
  });

  it('refuses a name that cannot name a token', async () => {
    const storage = new MemoryStorage(siteDocument(), westCa);
    for (const name of ['Upper', 'under_score', '-dash', '']) {
      await expect(createToken(storage, { type: 'claim', name, expiryMs: MINUTE, uses: 1 }, NOW)).rejects.toThrow(`token name "${name}" is not a valid name`);
    }
    expect(storage.document.tokens).toEqual([]);
  });
});

describe('redeemClaimAt', () => {
  async function siteWithClaim(uses: number) {
    const storage = new MemoryStorage(siteDocument(), westCa);
    const token = (await createToken(storage, { type: 'claim', name: 'for-east', expiryMs: 15 * MINUTE, uses }, NOW)) as ClaimToken;
    return { storage, token };
  }

  it('certifies the public key of the claimant with the site CA, counts the use and records the grant', async () => {
    const { storage, token } = await siteWithClaim(2);
    const redeemedAt = at(MINUTE);
    const result = await redeemClaimAt(storage, 'for-east', eastRequest(token.password), redeemedAt);
    if (!result.ok) throw new Error(`refused: ${result.reason}`);
    const { response } = result;
    expect(response).toMatchObject({
      caPem: westCa.certPem,
      site: { id: 'west-id', name: 'west' },
      interRouter: { host: 'west.example', port: 55671 },
      edge: { host: 'west.example', port: 45671 },
    });
    const cert = new X509Certificate(response.certPem);
    // The certificate is for the key pair the claimant kept: its private half never travelled.
    expect(spki(cert.publicKey)).toEqual(spki(createPublicKey(eastKeys.publicKeyPem)));
    expect(spki(cert.publicKey)).toEqual(spki(createPublicKey(createPrivateKey(eastKeys.keyPem))));
    expect(signedBy(response.certPem, westCa.certPem)).toBe(true);
    expect(signedBy(response.certPem, eastCa.certPem)).toBe(false);
    expect(cert.subject).toContain('CN=east/for-east');

    expect(storage.document.tokens[0]?.usesMade).toBe(1);
    expect(storage.document.grants).toEqual([
      {
        serial: serialOf(response.certPem),
        tokenName: 'for-east',
        siteId: 'east-id',
        siteName: 'east',
        issuedAt: redeemedAt.toISOString(),
        expiresAt: new Date(cert.validTo).toISOString(),
        caSerial: serialOf(westCa.certPem),
      },
    ]);
  });

  it('a claim of two uses can be redeemed twice, then it is used up and nothing more is recorded', async () => {
    const { storage, token } = await siteWithClaim(2);
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await redeemClaimAt(storage, 'for-east', eastRequest(token.password), NOW));
    expect(results.map((r) => r.ok)).toEqual([true, true, false]);
    expect(results[2]).toEqual({ ok: false, status: 403, reason: 'used up (2 of 2 uses)' });
    expect(storage.document.tokens[0]?.usesMade).toBe(2);
    expect(storage.document.grants).toHaveLength(2);
    expect(new Set(storage.document.grants.map((grant) => grant.serial)).size).toBe(2);
  });

  it('refuses (and counts nothing for) a wrong password, an unknown claim or a claim that expired', async () => {
    const { storage, token } = await siteWithClaim(1);
    const before = storage.document;
    expect(await redeemClaimAt(storage, 'for-east', eastRequest('guess'), NOW)).toEqual({ ok: false, status: 403, reason: 'wrong password' });
    expect(await redeemClaimAt(storage, 'for-west', eastRequest(token.password), NOW)).toMatchObject({ ok: false, status: 404 });
    expect(await redeemClaimAt(storage, 'for-east', eastRequest(token.password), at(15 * MINUTE))).toMatchObject({ ok: false, status: 403, reason: expect.stringMatching(/^expired/) });
    expect(storage.document).toBe(before);
  });

  it('a claimant with the longest valid site name, for the longest valid claim name, gets its certificate', async () => {
    const storage = new MemoryStorage(siteDocument(), westCa);
    const name = 'c'.repeat(63);
    const token = (await createToken(storage, { type: 'claim', name, expiryMs: MINUTE, uses: 1 }, NOW)) as ClaimToken;
    const request = { ...eastRequest(token.password), site: { id: 'east-id', name: 'e'.repeat(63), mode: 'interior' as const } };
    const result = await redeemClaimAt(storage, name, request, NOW);
    if (!result.ok) throw new Error(`refused: ${result.reason}`);
    expect(new X509Certificate(result.response.certPem).subject).toBe(`CN=${'e'.repeat(63)}/`);
  });

  it('400 for a public key that is too weak or not a key, and the use is not counted', async () => {
    const { storage, token } = await siteWithClaim(1);
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(await redeemClaimAt(storage, 'for-east', eastRequest(token.password, weak), NOW)).toEqual({ ok: false, status: 400, reason: 'public key is weaker than RSA 2048' });
    for (const garbage of ['not a key', ec, westCa.certPem]) {
      expect(await redeemClaimAt(storage, 'for-east', eastRequest(token.password, garbage), NOW)).toEqual({ ok: false, status: 400, reason: 'public key is not an RSA public key in PEM form' });
    }
    expect(storage.document.tokens[0]?.usesMade).toBe(0);
    expect(storage.document.grants).toEqual([]);
    // The claim is still good for a proper key.
    expect(await redeemClaimAt(storage, 'for-east', eastRequest(token.password), NOW)).toMatchObject({ ok: true });
  });
});

describe('revokeToken', () => {
  it('a claim: only the token is revoked; certificates already granted through it stay valid', async () => {
    const storage = new MemoryStorage(siteDocument(), westCa);
    const token = (await createToken(storage, { type: 'claim', name: 'for-east', expiryMs: 15 * MINUTE, uses: 2 }, NOW)) as ClaimToken;
    expect(await redeemClaimAt(storage, 'for-east', eastRequest(token.password), NOW)).toMatchObject({ ok: true });

    const revoked = await revokeToken(storage, 'for-east', at(MINUTE));
    expect(revoked.certificates).toBe(0);
    expect(revoked.token).toMatchObject({ name: 'for-east', revokedAt: at(MINUTE).toISOString(), usesMade: 1 });
    expect(storage.document.tokens[0]?.revokedAt).toBe(at(MINUTE).toISOString());
    expect(storage.document.grants[0]?.revokedAt).toBeUndefined();
    expect(revokedSerials(storage.document)).toEqual([]);
    expect(await redeemClaimAt(storage, 'for-east', eastRequest(token.password), at(2 * MINUTE))).toEqual({
      ok: false,
      status: 403,
      reason: `revoked at ${at(MINUTE).toISOString()}`,
    });
  });

  it('a cert token: its certificate is revoked too, once', async () => {
    const storage = new MemoryStorage(siteDocument(), westCa);
    const token = (await createToken(storage, { type: 'cert', name: 'cert-east', expiryMs: 15 * MINUTE, uses: 1 }, NOW)) as CertToken;
    const first = await revokeToken(storage, 'cert-east', at(MINUTE));
    expect(first.certificates).toBe(1);
    expect(storage.document.grants[0]).toMatchObject({ serial: serialOf(token.certPem), revokedAt: at(MINUTE).toISOString() });
    expect(revokedSerials(storage.document)).toEqual([serialOf(token.certPem)]);

    // Again: nothing new is revoked and the first time stays the time of revocation.
    const again = await revokeToken(storage, 'cert-east', at(2 * MINUTE));
    expect(again.certificates).toBe(0);
    expect(again.token.revokedAt).toBe(at(MINUTE).toISOString());
    expect(storage.document.grants[0]?.revokedAt).toBe(at(MINUTE).toISOString());
  });

  it('an unknown token is an error that lists the tokens there are', async () => {
    const storage = new MemoryStorage(siteDocument({}, { tokens: [{ name: 'a', type: 'claim', createdAt: '', expiresAt: '', usesAllowed: 1, usesMade: 0 }] }), westCa);
    await expect(revokeToken(storage, 'b')).rejects.toThrow(new SiteError('site "west" has no token named "b" (tokens: a)'));
    await expect(revokeToken(new MemoryStorage(siteDocument(), westCa), 'b')).rejects.toThrow(new SiteError('site "west" has no token named "b"'));
  });
});

describe('revokeAccess', () => {
  const grant = (serial: string, more: Partial<GrantRecord> = {}): GrantRecord => ({
    serial,
    tokenName: 'for-east',
    issuedAt: NOW.toISOString(),
    expiresAt: at(1000 * MINUTE).toISOString(),
    ...more,
  });
  const EARLIER = at(-MINUTE).toISOString();
  const LATER = at(MINUTE);
  const grants = [
    grant('e1', { siteId: 'east-id', siteName: 'east' }),
    grant('e2', { siteId: 'east-id', siteName: 'east', revokedAt: EARLIER }),
    grant('n1', { siteId: 'north-id', siteName: 'north', tokenName: 'for-north' }),
    grant('c1', { tokenName: 'cert-1' }),
  ];
  const tokens: TokenRecord[] = [
    { name: 'for-east', type: 'claim', createdAt: '', expiresAt: '', usesAllowed: 1, usesMade: 1 },
    { name: 'old', type: 'claim', createdAt: '', expiresAt: '', usesAllowed: 1, usesMade: 0, revokedAt: EARLIER },
  ];
  const storage = () => new MemoryStorage(siteDocument({}, { grants, tokens }), westCa);
  const revokedAtBySerial = (document: SiteDocument) => Object.fromEntries(document.grants.map((g) => [g.serial, g.revokedAt]));

  it('one site by name: its grants not yet revoked, nothing else', async () => {
    const s = storage();
    const revoked = await revokeAccess(s, { site: 'east' }, LATER);
    expect(revoked.map((g) => g.serial)).toEqual(['e1']);
    expect(revokedAtBySerial(s.document)).toEqual({ e1: LATER.toISOString(), e2: EARLIER, n1: undefined, c1: undefined });
    expect(s.document.tokens).toEqual(tokens);
  });

  it('one site by id', async () => {
    const s = storage();
    expect((await revokeAccess(s, { site: 'north-id' }, LATER)).map((g) => g.serial)).toEqual(['n1']);
    expect(revokedSerials(s.document).sort()).toEqual(['e2', 'n1']);
  });

  it('a site whose access is already revoked: nothing is counted again', async () => {
    const s = storage();
    await revokeAccess(s, { site: 'east' }, LATER);
    expect(await revokeAccess(s, { site: 'east' }, at(2 * MINUTE))).toEqual([]);
    expect(revokedAtBySerial(s.document).e1).toBe(LATER.toISOString());
  });

  it('all: every grant not yet revoked, cert tokens included, and every token', async () => {
    const s = storage();
    const revoked = await revokeAccess(s, {}, LATER);
    expect(revoked.map((g) => g.serial)).toEqual(['e1', 'n1', 'c1']);
    expect(revokedAtBySerial(s.document)).toEqual({ e1: LATER.toISOString(), e2: EARLIER, n1: LATER.toISOString(), c1: LATER.toISOString() });
    expect(s.document.tokens.map((t) => t.revokedAt)).toEqual([LATER.toISOString(), EARLIER]);
    expect(await revokeAccess(s, {}, at(2 * MINUTE))).toEqual([]);
  });

  it('an unknown site is an error that lists the sites that have access', async () => {
    const s = storage();
    const before = s.document;
    await expect(revokeAccess(s, { site: 'south' }, LATER)).rejects.toThrow(SiteError);
    await expect(revokeAccess(s, { site: 'south' }, LATER)).rejects.toThrow('site "west" has granted no access to a site "south" (sites: east, north); ');
    // A cert token's grant names no site: "cert-1" is a token, not a site.
    await expect(revokeAccess(s, { site: 'cert-1' }, LATER)).rejects.toThrow(/kskup token revoke NAME/);
    expect(s.document).toBe(before);
  });
});

// ---------------------------------------------------------------------------
// Links

describe('createLink and deleteLink', () => {
  /** East links to west. */
  const eastSite = (mode: 'interior' | 'edge' = 'interior', links: LinkRecord[] = []) =>
    new MemoryStorage(siteDocument({ name: 'east', id: 'east-id', mode, ingressHost: 'east.example' }, { links }), eastCa);
  const existingLink = (name: string, remoteSiteId: string): LinkRecord => ({
    name,
    host: `${name}.example`,
    port: 55671,
    role: 'inter-router',
    cost: 1,
    remoteSiteId,
    remoteSiteName: name,
    tokenName: 'some-token',
    createdAt: NOW.toISOString(),
  });

  /** A stand-in for west's claims endpoint: records what it was sent. */
  function fakeWest() {
    const calls: { token: ClaimToken; request: ClaimRequest }[] = [];
    const redeem: ClaimRedeemer = async (token, request) => {
      calls.push({ token, request });
      const response: ClaimResponse = {
        caPem: westCa.certPem,
        certPem: westLeaf.certPem,
        site: { id: 'west-id', name: 'west' },
        interRouter: { host: 'west.example', port: 55671 },
        edge: { host: 'west-edge.example', port: 45671 },
      };
      return response;
    };
    return { calls, redeem };
  }
  const mustNotRedeem: ClaimRedeemer = async () => {
    throw new Error('the redeemer was called');
  };

  it('from a claim: sends its public key and who it is, keeps the private key, and stores the link', async () => {
    const storage = eastSite();
    const west = fakeWest();
    const token = claimToken();
    const link = await createLink(storage, token, { cost: 3 }, west.redeem, NOW);
    expect(link).toEqual({
      name: 'west',
      host: 'west.example',
      port: 55671,
      role: 'inter-router',
      cost: 3,
      remoteSiteId: 'west-id',
      remoteSiteName: 'west',
      tokenName: 'for-east',
      createdAt: NOW.toISOString(),
    });
    expect(storage.document.links).toEqual([link]);

    expect(west.calls).toHaveLength(1);
    const request = west.calls[0]?.request;
    expect(request).toMatchObject({ password: token.password, site: { id: 'east-id', name: 'east', mode: 'interior' } });
    const secrets = storage.secrets.get('west');
    expect(secrets).toMatchObject({ caPem: westCa.certPem, certPem: westLeaf.certPem });
    expect(spki(createPublicKey(createPrivateKey(secrets!.keyPem)))).toEqual(spki(createPublicKey(request!.publicKeyPem)));
    expect(JSON.stringify(request)).not.toContain('PRIVATE KEY');
  });

  it('from an edge site: role edge and the edge endpoint', async () => {
    const storage = eastSite('edge');
    const west = fakeWest();
    const fromClaim = await createLink(storage, claimToken(), { cost: 1 }, west.redeem, NOW);
    expect(fromClaim).toMatchObject({ role: 'edge', host: 'west-edge.example', port: 45671 });
    expect(west.calls[0]?.request.site.mode).toBe('edge');

    const fromCert = await createLink(eastSite('edge'), certToken(), { cost: 1 }, mustNotRedeem, NOW);
    expect(fromCert).toMatchObject({ role: 'edge', host: 'west-edge.example', port: 45671 });
  });

  it('from a cert token: no claim is redeemed, the token holds the secrets', async () => {
    const storage = eastSite();
    const token = certToken();
    const link = await createLink(storage, token, { name: 'to-west', cost: 1 }, mustNotRedeem, NOW);
    expect(link).toMatchObject({ name: 'to-west', role: 'inter-router', host: 'west.example', port: 55671, tokenName: 'cert-for-east' });
    expect(storage.secrets.get('to-west')).toEqual({ caPem: token.caPem, certPem: token.certPem, keyPem: token.keyPem });
  });

  it('names a link after the remote site, with a suffix when that name is taken by a link to another site', async () => {
    const storage = eastSite('interior', [existingLink('west', 'old-west-id')]);
    expect((await createLink(storage, certToken({ siteId: 'west-2-id' }), { cost: 1 }, mustNotRedeem, NOW)).name).toBe('west-2');
    expect((await createLink(storage, certToken({ siteId: 'west-3-id' }), { cost: 1 }, mustNotRedeem, NOW)).name).toBe('west-3');
    expect(storage.document.links.map((l) => l.name)).toEqual(['west', 'west-2', 'west-3']);
  });

  describe('refuses, and stores nothing', () => {
    async function refused(storage: MemoryStorage, token: Token, options: { name?: string; cost: number }, message: string | RegExp, redeem = mustNotRedeem) {
      const before = storage.document;
      await expect(createLink(storage, token, options, redeem, NOW)).rejects.toThrow(message);
      expect(storage.document).toBe(before);
      expect(storage.secrets.size).toBe(0);
    }

    it('a token this site made', async () => {
      await refused(eastSite(), claimToken({ siteId: 'east-id', siteName: 'east' }), { cost: 1 }, 'token "for-east" was made by this site ("east")');
    });

    it('a token from a site it is already linked to', async () => {
      await refused(eastSite('interior', [existingLink('old', 'west-id')]), claimToken(), { name: 'new', cost: 1 }, 'site "east" is already linked to site "west" (link "old")');
    });

    it('a token that expired (at the instant it expires)', async () => {
      await refused(eastSite(), claimToken({ expiresAt: NOW }), { cost: 1 }, `token "for-east" from site "west" expired at ${NOW.toISOString()}`);
    });

    it('a link name that is taken or invalid', async () => {
      await refused(eastSite('interior', [existingLink('mine', 'north-id')]), claimToken(), { name: 'mine', cost: 1 }, 'site "east" already has a link named "mine"');
      await refused(eastSite(), claimToken(), { name: 'Mine!', cost: 1 }, /^link name "Mine!" is not a valid name/);
    });

    it('a claim the remote site refuses', async () => {
      const refusing: ClaimRedeemer = async () => {
        throw new SiteError('claim "for-east" refused by site "west": wrong password');
      };
      await refused(eastSite(), claimToken(), { cost: 1 }, 'wrong password', refusing);
    });
  });

  it('deleteLink removes the link and its secrets; an unknown name lists the links there are', async () => {
    const storage = eastSite();
    await createLink(storage, certToken(), { name: 'a', cost: 1 }, mustNotRedeem, NOW);
    await createLink(storage, certToken({ siteId: 'north-id', siteName: 'north' }), { name: 'b', cost: 1 }, mustNotRedeem, NOW);
    await expect(deleteLink(storage, 'c')).rejects.toThrow(new SiteError('site "east" has no link named "c" (links: a, b)'));

    const deleted = await deleteLink(storage, 'a');
    expect(deleted).toMatchObject({ name: 'a', remoteSiteId: 'west-id' });
    expect(storage.document.links.map((l) => l.name)).toEqual(['b']);
    expect([...storage.secrets.keys()]).toEqual(['b']);

    await deleteLink(storage, 'b');
    await expect(deleteLink(storage, 'b')).rejects.toThrow(new SiteError('site "east" has no link named "b" (it has no links)'));
  });
});

// ---------------------------------------------------------------------------
// Revoked serials in the router config

describe('revokedSerials in the desired router config', () => {
  const site: SiteState = {
    ...WEST_SITE,
    id: 'west-id',
    links: [
      {
        name: 'north',
        host: 'north.example',
        port: 55671,
        role: 'inter-router',
        cost: 1,
        caCertFile: '/sites/west/links/north/ca.crt',
        certFile: '/sites/west/links/north/tls.crt',
        privateKeyFile: '/sites/west/links/north/tls.key',
      },
    ],
  };
  const profileEntity = (state: SiteState, name: string) =>
    desiredRouterEntities(state).find(([kind, attributes]) => kind === 'sslProfile' && attributes.name === name)?.[1];

  const A = '5f0c3a9d1e2b4c6d7e8f901a2b3c4d5e';
  const B = '1a2b3c4d5e6f708192a3b4c5d6e7f809';
  const C = '7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d';

  it('none when nothing is revoked', () => {
    for (const state of [site, { ...site, revokedSerials: [] }]) {
      expect(profileEntity(state, 'site-server')).toBeDefined();
      expect(profileEntity(state, 'site-server')).not.toHaveProperty('revokedSerials');
      expect(desiredRouterConfig(state).sslProfiles.get('site-server')?.revokedSerials).toBeUndefined();
    }
  });

  it('on the site-server sslProfile only: one string of hex serials, sorted, without duplicates', () => {
    const state = { ...site, revokedSerials: [C, A, B, A] };
    expect(profileEntity(state, 'site-server')).toMatchObject({ revokedSerials: `${B} ${A} ${C}` });
    expect(profileEntity(state, 'link-north')).not.toHaveProperty('revokedSerials');

    const config = desiredRouterConfig(state);
    expect(config.sslProfiles.get('site-server')?.revokedSerials).toEqual([B, A, C]);
    expect(config.sslProfiles.get('link-north')?.revokedSerials).toBeUndefined();
    expect(routerConfigText(state)).toContain(`"revokedSerials": "${B} ${A} ${C}"`);
    // The order they were revoked in does not change the config.
    expect(routerConfigText({ ...state, revokedSerials: [A, B, C] })).toBe(routerConfigText(state));
  });

  it('an edge site has no listener to refuse them on', () => {
    const edge = desiredRouterConfig({ ...site, mode: 'edge', revokedSerials: [A] });
    expect(edge.sslProfiles.has('site-server')).toBe(false);
  });

  it('the serials of revoked grants reach the listeners', async () => {
    const storage = new MemoryStorage(siteDocument(), westCa);
    const token = (await createToken(storage, { type: 'cert', name: 'cert-1', expiryMs: MINUTE, uses: 1 }, NOW)) as CertToken;
    await revokeToken(storage, 'cert-1', NOW);
    const config = desiredRouterConfig({ ...site, revokedSerials: revokedSerials(storage.document) });
    // The config holds serials normalised (no leading zeros): a random serial starts with 0 one time in 16.
    expect(config.sslProfiles.get('site-server')?.revokedSerials).toEqual([normaliseSerial(serialOf(token.certPem))]);
  });
});

// ---------------------------------------------------------------------------
// Durations on the command line

describe('parseDuration and formatDuration', () => {
  it('reads a number and a unit, or several', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('15m')).toBe(15 * MINUTE);
    expect(parseDuration('1h30m')).toBe(90 * MINUTE);
    expect(parseDuration('7d')).toBe(7 * 24 * 60 * MINUTE);
    expect(parseDuration('0m15s')).toBe(15_000);
  });

  it('refuses a number without a unit, an unknown unit, zero and nothing', () => {
    for (const value of ['10', '1x', '15M', '1.5h', '-5m', ' 15m', 'm', '']) {
      expect(() => parseDuration(value), value).toThrow(InvalidArgumentError);
      expect(() => parseDuration(value), value).toThrow(/^not a duration/);
    }
    for (const value of ['0m', '0s0h']) expect(() => parseDuration(value), value).toThrow('must be longer than 0.');
  });

  it('writes durations for people, the largest unit first', () => {
    expect(formatDuration(15 * MINUTE)).toBe('15m');
    expect(formatDuration(90 * MINUTE)).toBe('1h30m');
    expect(formatDuration(90_000)).toBe('1m30s');
    expect(formatDuration(7 * 24 * 60 * MINUTE)).toBe('7d');
    expect(formatDuration(((24 + 1) * 60 + 1) * MINUTE + 1_000)).toBe('1d1h1m1s');
    expect(formatDuration(0)).toBe('0s');
    for (const text of ['15m', '1h30m', '7d', '2d3h4m5s']) expect(formatDuration(parseDuration(text))).toBe(text);
  });
});
