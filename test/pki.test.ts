// The PKI module, checked from the outside: certificates are read back with
// node:crypto's X509Certificate (OpenSSL, not the node-forge that wrote them)
// and exercised in real mutual-TLS handshakes over loopback.

import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import forge from 'node-forge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PkiError,
  certificateInfo,
  createCertificateAuthority,
  issueCertificate,
  type CertificateAuthority,
} from '../site-controller/pki/index.js';
import { createTestPki, type TestPki } from './helpers/test-pki.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const SKEW_MS = 5 * 60 * 1000;
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

/** PEM contents of the test PKI, read once. */
interface Pems {
  ca: CertificateAuthority;
  server: string;
  serverKey: string;
  client: string;
  clientKey: string;
  both: string;
  bothKey: string;
  otherCa: string;
  otherClient: string;
  otherClientKey: string;
}

let dir: string;
let pki: TestPki;
let pems: Pems;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kskup-pki-'));
  pki = await createTestPki(dir);
  const read = (path: string): Promise<string> => readFile(path, 'utf8');
  pems = {
    ca: { certPem: await read(pki.caCert), keyPem: await read(pki.caKey) },
    server: await read(pki.serverCert),
    serverKey: await read(pki.serverKey),
    client: await read(pki.clientCert),
    clientKey: await read(pki.clientKey),
    both: await read(pki.bothCert),
    bothKey: await read(pki.bothKey),
    otherCa: await read(pki.otherCaCert),
    otherClient: await read(pki.otherClientCert),
    otherClientKey: await read(pki.otherClientKey),
  };
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------- TLS harness

interface TlsIdentity {
  cert?: string;
  key?: string;
  ca: string;
}

interface HandshakeResult {
  /** The server completed a handshake, and with whom (peer CN). */
  serverAccepted: boolean;
  /** Only with `strict: false`: why OpenSSL would have refused the client. */
  serverAuthorizationError?: string;
  serverPeerCommonName?: string;
  serverError?: Error;
  clientError?: Error;
  /** What the server sent after the handshake; '' if it never got that far. */
  clientReceived: string;
}

const GREETING = 'hello from kskup';

/**
 * One connection between a mutual-TLS server (requestCert + rejectUnauthorized,
 * as a router's inter-router listener is set up) and a client. Resolves once the
 * client socket is closed and the server has decided.
 */
async function handshake(
  server: TlsIdentity,
  client: TlsIdentity,
  connect: { servername?: string } = { servername: 'localhost' },
  strict = true,
): Promise<HandshakeResult> {
  const result: HandshakeResult = { serverAccepted: false, clientReceived: '' };
  // Strict is the real setup. Node then drops a refused client without saying
  // why (tlsClientError is a bare ECONNRESET), so the lenient mode lets a test
  // read OpenSSL's verdict from the accepted socket instead.
  const tlsServer = tls.createServer({ ...server, requestCert: true, rejectUnauthorized: strict });
  const serverDecided = new Promise<void>((resolveDecision) => {
    tlsServer.on('secureConnection', (socket) => {
      result.serverAccepted = true;
      result.serverPeerCommonName = socket.getPeerX509Certificate()?.subject;
      if (!socket.authorized) result.serverAuthorizationError = String(socket.authorizationError);
      socket.end(GREETING);
      resolveDecision();
    });
    tlsServer.on('tlsClientError', (error) => {
      result.serverError = error;
      resolveDecision();
    });
  });
  await new Promise<void>((resolveListen) => tlsServer.listen(0, '127.0.0.1', resolveListen));
  const { port } = tlsServer.address() as AddressInfo;
  try {
    await new Promise<void>((resolveClosed) => {
      const socket = tls.connect({ ...client, ...connect, host: '127.0.0.1', port });
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (result.clientReceived += chunk));
      socket.on('error', (error) => (result.clientError = error));
      socket.on('close', () => resolveClosed());
    });
    await withTimeout(serverDecided, 5_000, 'server never accepted nor rejected the client');
  } finally {
    await new Promise<void>((resolveClose) => tlsServer.close(() => resolveClose()));
  }
  return result;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const serverIdentity = (): TlsIdentity => ({ cert: pems.server, key: pems.serverKey, ca: pems.ca.certPem });
const clientIdentity = (): TlsIdentity => ({ cert: pems.client, key: pems.clientKey, ca: pems.ca.certPem });

function expectRefused(result: HandshakeResult): void {
  expect(result.serverAccepted).toBe(false);
  expect(result.clientReceived).toBe('');
}

// ---------------------------------------------------------------- real TLS

describe('mutual TLS with the issued certificates', () => {
  it('accepts a client cert from the CA and the client verifies the server', async () => {
    const result = await handshake(serverIdentity(), clientIdentity());
    expect(result.clientError).toBeUndefined();
    expect(result.serverError).toBeUndefined();
    expect(result.serverAccepted).toBe(true);
    expect(result.serverPeerCommonName).toBe('CN=kskup-test-client');
    expect(result.clientReceived).toBe(GREETING);
  });

  it('verifies the server by its IP subjectAltName when connecting to 127.0.0.1', async () => {
    const result = await handshake(serverIdentity(), clientIdentity(), {});
    expect(result.clientError).toBeUndefined();
    expect(result.clientReceived).toBe(GREETING);
  });

  it('works with one usage "both" certificate on each side', async () => {
    const router: TlsIdentity = { cert: pems.both, key: pems.bothKey, ca: pems.ca.certPem };
    const result = await handshake(router, router);
    expect(result.serverPeerCommonName).toBe('CN=kskup-test-router');
    expect(result.clientReceived).toBe(GREETING);
  });

  it('refuses a client whose certificate comes from another CA', async () => {
    const stranger: TlsIdentity = { cert: pems.otherClient, key: pems.otherClientKey, ca: pems.ca.certPem };
    const result = await handshake(serverIdentity(), stranger);
    expectRefused(result);
    expect(result.serverError).toBeInstanceOf(Error);
  });

  it('refuses a client that presents no certificate', async () => {
    const result = await handshake(serverIdentity(), { ca: pems.ca.certPem });
    expectRefused(result);
    expect(result.serverError).toBeInstanceOf(Error);
  });

  it('refuses a server-only certificate used as a client certificate (extKeyUsage)', async () => {
    const misused: TlsIdentity = { cert: pems.server, key: pems.serverKey, ca: pems.ca.certPem };
    const result = await handshake(serverIdentity(), misused);
    expectRefused(result);
    expect(result.serverError).toBeInstanceOf(Error);
  });

  it('the server refuses those clients for the expected reasons', async () => {
    const verdict = async (client: TlsIdentity): Promise<string | undefined> =>
      (await handshake(serverIdentity(), client, { servername: 'localhost' }, false)).serverAuthorizationError;
    expect(await verdict(clientIdentity())).toBeUndefined();
    // Node reports a leaf whose issuer is unknown under either of these names.
    expect(await verdict({ cert: pems.otherClient, key: pems.otherClientKey, ca: pems.ca.certPem })).toMatch(
      /^UNABLE_TO_(VERIFY_LEAF_SIGNATURE|GET_ISSUER_CERT_LOCALLY)$/,
    );
    expect(await verdict({ cert: pems.server, key: pems.serverKey, ca: pems.ca.certPem })).toBe('INVALID_PURPOSE');
  });

  it('a client trusting only another CA refuses the server', async () => {
    const result = await handshake(serverIdentity(), { ...clientIdentity(), ca: pems.otherCa });
    expectRefused(result);
    // The server sends the CA along with its leaf, so OpenSSL reports the
    // untrusted root rather than a missing issuer; either means "not our CA".
    const code = (result.clientError as NodeJS.ErrnoException | undefined)?.code;
    expect(['SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE']).toContain(code);
  });

  it('a client refuses the server under a name the certificate does not carry', async () => {
    const result = await handshake(serverIdentity(), clientIdentity(), { servername: 'example.com' });
    expectRefused(result);
    expect(result.clientError).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });
});

// ---------------------------------------------------------------- contents

/** notBefore/notAfter as OpenSSL reports them. */
function validity(cert: X509Certificate): { from: number; to: number } {
  return { from: Date.parse(cert.validFrom), to: Date.parse(cert.validTo) };
}

/** Seconds-precision certificate times, checked against when issuing began/ended. */
function expectValidity(cert: X509Certificate, startedAt: number, endedAt: number, days: number): void {
  const { from, to } = validity(cert);
  expect(from).toBeGreaterThanOrEqual(startedAt - SKEW_MS - 1000);
  expect(from).toBeLessThanOrEqual(endedAt - SKEW_MS);
  expect(to).toBeGreaterThanOrEqual(startedAt + days * DAY_MS - 1000);
  expect(to).toBeLessThanOrEqual(endedAt + days * DAY_MS);
}

describe('certificate contents, read back by node:crypto', () => {
  it('the CA is a self-signed RSA 2048 CA with the asked CN and ten-year default validity', async () => {
    const startedAt = Date.now();
    const ca = await createCertificateAuthority({ commonName: 'kskup-ca-contents' });
    const endedAt = Date.now();
    const cert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.subject).toBe('CN=kskup-ca-contents');
    expect(cert.issuer).toBe('CN=kskup-ca-contents');
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(cert.checkPrivateKey(createPrivateKey(ca.keyPem))).toBe(true);
    expectValidity(cert, startedAt, endedAt, 3650);
  });

  it('the CA carries critical basicConstraints, keyCertSign+cRLSign and a key identifier', () => {
    // X509Certificate does not expose these, so ask the openssl-independent parser.
    const cert = forge.pki.certificateFromPem(pems.ca.certPem);
    expect(cert.getExtension('basicConstraints')).toMatchObject({ cA: true, critical: true });
    expect(cert.getExtension('keyUsage')).toMatchObject({ keyCertSign: true, cRLSign: true, digitalSignature: false });
    expect(cert.verifySubjectKeyIdentifier()).toBe(true);
    expect(cert.siginfo.algorithmOid).toBe(forge.pki.oids['sha256WithRSAEncryption']);
  });

  it('the server cert has the asked CN, SANs, serverAuth only and chains to the CA', () => {
    const ca = new X509Certificate(pems.ca.certPem);
    const cert = new X509Certificate(pems.server);
    expect(cert.subject).toBe('CN=localhost');
    expect(cert.issuer).toBe('CN=kskup-test-ca');
    expect(cert.ca).toBe(false);
    expect(cert.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1');
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.keyUsage).toEqual([SERVER_AUTH]);
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(cert.checkPrivateKey(createPrivateKey(pems.serverKey))).toBe(true);
  });

  it('leaf extensions: critical CA:false, digitalSignature+keyEncipherment, AKI = CA SKI', () => {
    const ca = forge.pki.certificateFromPem(pems.ca.certPem);
    const cert = forge.pki.certificateFromPem(pems.server);
    expect(cert.getExtension('basicConstraints')).toMatchObject({ cA: false });
    expect(cert.getExtension('keyUsage')).toMatchObject({ digitalSignature: true, keyEncipherment: true, keyCertSign: false });
    expect(cert.siginfo.algorithmOid).toBe(forge.pki.oids['sha256WithRSAEncryption']);
    // OpenSSL matches these two when it builds the chain.
    const caSki = (ca.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier: string }).subjectKeyIdentifier;
    const aki = authorityKeyIdentifierHex(cert);
    expect(aki).toBe(caSki);
  });

  it('the client cert is clientAuth only, without SANs; the router cert is both', () => {
    const client = new X509Certificate(pems.client);
    expect(client.subject).toBe('CN=kskup-test-client');
    expect(client.keyUsage).toEqual([CLIENT_AUTH]);
    expect(client.subjectAltName).toBeUndefined();
    const both = new X509Certificate(pems.both);
    expect(both.keyUsage).toEqual([SERVER_AUTH, CLIENT_AUTH]);
    expect(both.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1');
    const otherClient = new X509Certificate(pems.otherClient);
    expect(otherClient.checkIssued(new X509Certificate(pems.ca.certPem))).toBe(false);
    expect(otherClient.checkIssued(new X509Certificate(pems.otherCa))).toBe(true);
  });

  it('serials are random, 16 bytes and positive', async () => {
    const options = { commonName: 'same', usage: 'client' } as const;
    const [a, b] = await Promise.all([issueCertificate(pems.ca, options), issueCertificate(pems.ca, options)]);
    const serials = [a, b, { certPem: pems.server }, { certPem: pems.client }].map(
      (issued) => new X509Certificate(issued.certPem).serialNumber,
    );
    expect(new Set(serials).size).toBe(serials.length);
    for (const serial of serials) {
      expect(serial).toMatch(/^[0-9A-F]{32}$/);
      expect(parseInt(serial.slice(0, 2), 16)).toBeLessThan(0x80);
    }
  });

  it('honours validityDays and defaults a leaf to 825 days', async () => {
    const startedAt = Date.now();
    const [short, byDefault] = await Promise.all([
      issueCertificate(pems.ca, { commonName: 'short', usage: 'server', hosts: ['localhost'], validityDays: 30 }),
      issueCertificate(pems.ca, { commonName: 'default', usage: 'server', hosts: ['localhost'] }),
    ]);
    const endedAt = Date.now();
    expectValidity(new X509Certificate(short.certPem), startedAt, endedAt, 30);
    expectValidity(new X509Certificate(byDefault.certPem), startedAt, endedAt, 825);
    expect(short.caPem).toBe(pems.ca.certPem);
  });

  it('encodes IPv6 and IPv4-mapped addresses and de-duplicates hosts', async () => {
    const hosts = ['::1', 'router.ns.svc.cluster.local', '10.1.2.3', '::ffff:10.0.0.1', '10.1.2.3'];
    const issued = await issueCertificate(pems.ca, { commonName: 'v6', usage: 'both', hosts });
    const cert = new X509Certificate(issued.certPem);
    expect(cert.checkIP('::1')).toBe('::1');
    expect(cert.checkIP('10.1.2.3')).toBe('10.1.2.3');
    expect(cert.checkIP('::ffff:10.0.0.1')).toBe('::ffff:10.0.0.1');
    expect(cert.checkHost('router.ns.svc.cluster.local')).toBe('router.ns.svc.cluster.local');
    expect(cert.subjectAltName?.split(', ')).toHaveLength(4);
  });
});

/** The keyIdentifier of a parsed authorityKeyIdentifier extension, as lower-case hex. */
function authorityKeyIdentifierHex(cert: forge.pki.Certificate): string {
  const ext = cert.getExtension('authorityKeyIdentifier') as { value: string } | undefined;
  if (!ext) throw new Error('no authorityKeyIdentifier');
  // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING, ... }
  const seq = forge.asn1.fromDer(ext.value);
  const first = (seq.value as forge.asn1.Asn1[])[0];
  if (!first || first.tagClass !== forge.asn1.Class.CONTEXT_SPECIFIC || first.type !== 0) throw new Error('no keyIdentifier');
  return forge.util.bytesToHex(first.value as string);
}

// ---------------------------------------------------------------- certificateInfo

describe('certificateInfo', () => {
  it('agrees with node:crypto about the server certificate', () => {
    const info = certificateInfo(pems.server);
    const cert = new X509Certificate(pems.server);
    expect(info.subjectCommonName).toBe('localhost');
    expect(info.issuerCommonName).toBe('kskup-test-ca');
    expect(info.serialHex).toBe(cert.serialNumber.toLowerCase());
    expect(info.notBefore.getTime()).toBe(validity(cert).from);
    expect(info.notAfter.getTime()).toBe(validity(cert).to);
    expect(info.dnsNames).toEqual(['localhost']);
    expect(info.ipAddresses).toEqual(['127.0.0.1']);
  });

  it('reports no names for a client certificate', () => {
    const info = certificateInfo(pems.client);
    expect(info.dnsNames).toEqual([]);
    expect(info.ipAddresses).toEqual([]);
  });
});

// ---------------------------------------------------------------- errors

/** Runs `action`, expecting a PkiError with `code` whose message quotes no key. */
async function expectPkiError(action: () => unknown, code: string): Promise<PkiError> {
  let caught: unknown;
  try {
    await action();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(PkiError);
  const error = caught as PkiError;
  expect(error.code).toBe(code);
  expect(error.message).not.toMatch(/BEGIN|PRIVATE|[A-Za-z0-9+/]{40}/);
  return error;
}

describe('errors', () => {
  it('rejects text that is not a certificate, without echoing it', async () => {
    await expectPkiError(() => certificateInfo('not a pem'), 'KSKUP_PKI_INVALID_PEM');
    // A key handed over where a certificate belongs must not end up in the message.
    await expectPkiError(() => certificateInfo(pems.serverKey), 'KSKUP_PKI_INVALID_PEM');
  });

  it('rejects a CA key that does not belong to the CA certificate', async () => {
    const ca = { certPem: pems.ca.certPem, keyPem: pems.otherClientKey };
    await expectPkiError(() => issueCertificate(ca, { commonName: 'x', usage: 'client' }), 'KSKUP_PKI_KEY_MISMATCH');
  });

  it('rejects an unreadable CA key', async () => {
    const ca = { certPem: pems.ca.certPem, keyPem: pems.serverKey.slice(0, 200) };
    await expectPkiError(() => issueCertificate(ca, { commonName: 'x', usage: 'client' }), 'KSKUP_PKI_INVALID_PEM');
  });

  it('refuses to sign with a leaf certificate', async () => {
    const leafAsCa = { certPem: pems.server, keyPem: pems.serverKey };
    await expectPkiError(() => issueCertificate(leafAsCa, { commonName: 'x', usage: 'client' }), 'KSKUP_PKI_NOT_A_CA');
  });

  it('rejects bad arguments before generating a key', async () => {
    const code = 'KSKUP_PKI_INVALID_ARGUMENT';
    await expectPkiError(() => createCertificateAuthority({ commonName: '' }), code);
    await expectPkiError(() => createCertificateAuthority({ commonName: 'x'.repeat(65) }), code);
    await expectPkiError(() => createCertificateAuthority({ commonName: 'ca', validityDays: 0 }), code);
    await expectPkiError(() => issueCertificate(pems.ca, { commonName: 'x', usage: 'server', hosts: ['bad host'] }), code);
    await expectPkiError(() => issueCertificate(pems.ca, { commonName: 'x', usage: 'server', hosts: ['fe80::1%eth0'] }), code);
    await expectPkiError(() => issueCertificate(pems.ca, { commonName: 'x', usage: 'server', validityDays: Number.NaN }), code);
  });
});

// ---------------------------------------------------------------- test helper

describe('createTestPki', () => {
  it('writes keys readable by the owner only and returns absolute paths', async () => {
    for (const key of [pki.caKey, pki.serverKey, pki.clientKey, pki.bothKey, pki.otherClientKey]) {
      expect((await stat(key)).mode & 0o777).toBe(0o600);
    }
    for (const path of Object.values(pki)) expect(path.startsWith('/')).toBe(true);
    expect(pki.otherCaCert.endsWith('other-ca.crt')).toBe(true);
  });
});
