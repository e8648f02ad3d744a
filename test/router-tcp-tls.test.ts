// TLS at the TCP edges, on real router processes, sockets and certificates:
//
//   remote:  client ==TLS==> A [tcpListener, mTLS] <==mTLS== B [tcpConnector] ==TLS==> backend (needs a client cert)
//   local:   client ==TLS==> S [tcpListener, mTLS] -> S [tcpConnector] ==TLS==> backend (spliced in one router)
//
// S also holds the failure cases: a plain client to a TLS tcpListener; missing,
// foreign and revoked client certificates; backends with a certificate from
// another CA or for another name; encrypted keys with env:, file: and wrong
// passwords. R is reconfigured: key material that stops loading unbinds its
// tcpListener (management says why), and fixing it brings the listener back.
import { createPrivateKey, createHash, randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueCertificate } from '../site-controller/pki/index.js';
import { ManagementClient } from '../router/management/management-client.js';
import { freePort, metric, RouterProcess, useRouters, waitFor, type Entity } from './helpers/router-process.js';
import { connect, exchangeStream, openAndWatchEnd, startServer, useEchoServer, type TestServer } from './helpers/tcp-tools.js';
import { useTestFolder } from './helpers/temp-dir.js';

const folder = useTestFolder('tcp-tls', { withPki: true });
const routers = useRouters();
const plainEcho = useEchoServer();
const MiB = 1024 * 1024;
const PASSWORD = 'correct horse battery staple';
const PASSWORD_ENV = 'KSKUP_TEST_TCP_TLS_KEY_PASSWORD';
/** The test PKI's keys are RSA. */
const TLS12_CIPHER = 'ECDHE-RSA-AES128-GCM-SHA256';

interface Files {
  /** A second client certificate from the test CA, whose serial S's profile revokes. */
  revokedClientCert: string;
  revokedClientKey: string;
  revokedSerial: string;
  /** A server certificate from the test CA for "elsewhere.example" only. */
  wrongNameCert: string;
  wrongNameKey: string;
  /** The server key encrypted with PASSWORD, and the password in a file. */
  encryptedServerKey: string;
  passwordFile: string;
}

let files: Files;
const servers: TestServer[] = [];
/** Everything the counting backend has received, over all its connections. */
let countedBytes = 0;
let counter: TestServer;
let tlsEcho: tls.Server;
let wrongNameEcho: tls.Server;
const PORT_NAMES = [
  'link', 'httpA', 'httpB', 'httpS', 'remote', 'remoteWrongCa', 'plainToTls', 'mtls', 'revoking', 'localMtls',
  'backendGood', 'backendWrongCa', 'backendWrongName', 'backendNameUnchecked', 'encEnv', 'encFile', 'encWrong',
  'tls12', 'amqpTls12', 'badCiphers',
] as const;
const ports = {} as Record<(typeof PORT_NAMES)[number] | 'tlsEcho' | 'wrongNameEcho', number>;
let s: RouterProcess;

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

/** A TLS echo server; with `clientCa`, it demands a client certificate signed by it. */
function tlsEchoServer(cert: string, key: string, clientCa?: string): tls.Server {
  const server = tls.createServer(
    { cert, key, ...(clientCa && { ca: clientCa, requestCert: true, rejectUnauthorized: true }), allowHalfOpen: true } as tls.TlsOptions,
    (socket) => {
      socket.on('error', () => undefined);
      socket.pipe(socket);
    },
  );
  server.on('tlsClientError', () => undefined);
  return server;
}

function read(path: string): Promise<string> {
  return readFile(path, 'utf8');
}

beforeAll(async () => {
  const pki = folder.pki;
  const caPem = await read(pki.caCert);
  const ca = { certPem: caPem, keyPem: await read(pki.caKey) };
  const [revoked, wrongName] = await Promise.all([
    issueCertificate(ca, { commonName: 'kskup-test-revoked-client', usage: 'client' }),
    issueCertificate(ca, { commonName: 'elsewhere.example', hosts: ['elsewhere.example'], usage: 'server' }),
  ]);
  const encrypted = createPrivateKey(await read(pki.serverKey)).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASSWORD });
  const at = (name: string) => join(folder.path, name);
  await Promise.all([
    writeFile(at('revoked.crt'), revoked.certPem),
    writeFile(at('revoked.key'), revoked.keyPem, { mode: 0o600 }),
    writeFile(at('wrong-name.crt'), wrongName.certPem),
    writeFile(at('wrong-name.key'), wrongName.keyPem, { mode: 0o600 }),
    writeFile(at('server-encrypted.key'), encrypted, { mode: 0o600 }),
    writeFile(at('password.txt'), `${PASSWORD}\n`, { mode: 0o600 }),
  ]);
  files = {
    revokedClientCert: at('revoked.crt'),
    revokedClientKey: at('revoked.key'),
    revokedSerial: new X509Certificate(revoked.certPem).serialNumber,
    wrongNameCert: at('wrong-name.crt'),
    wrongNameKey: at('wrong-name.key'),
    encryptedServerKey: at('server-encrypted.key'),
    passwordFile: at('password.txt'),
  };

  counter = await startServer((socket) => socket.on('data', (chunk: Buffer) => (countedBytes += chunk.length)));
  servers.push(counter);
  tlsEcho = tlsEchoServer(await read(pki.serverCert), await read(pki.serverKey), caPem);
  wrongNameEcho = tlsEchoServer(wrongName.certPem, wrongName.keyPem);
  ports.tlsEcho = await listen(tlsEcho);
  ports.wrongNameEcho = await listen(wrongNameEcho);

  for (const name of PORT_NAMES) ports[name] = await freePort();

  const clients = { name: 'clients', caCertFile: pki.caCert, certFile: pki.serverCert, privateKeyFile: pki.serverKey };
  const backendTrust = { name: 'backend', caCertFile: pki.caCert, certFile: pki.clientCert, privateKeyFile: pki.clientKey };
  const a = await RouterProcess.start(folder.path, 'A', [
    ['router', { id: 'A', mode: 'interior' }],
    ['sslProfile', { name: 'link', caCertFile: pki.caCert, certFile: pki.bothCert, privateKeyFile: pki.bothKey }],
    ['sslProfile', clients],
    ['listener', { name: 'inter-router', role: 'inter-router', host: '127.0.0.1', port: ports.link, sslProfile: 'link', authenticatePeer: true }],
    ['listener', { name: 'http', host: '127.0.0.1', port: ports.httpA, http: true }],
    ['tcpListener', { name: 'remote', host: '127.0.0.1', port: ports.remote, address: 'remote-tls', sslProfile: 'clients', authenticatePeer: true }],
    ['tcpListener', { name: 'remote-wrong-ca', host: '127.0.0.1', port: ports.remoteWrongCa, address: 'remote-wrong-ca' }],
  ]);
  const b = await RouterProcess.start(folder.path, 'B', [
    ['router', { id: 'B', mode: 'interior' }],
    ['sslProfile', { name: 'link', caCertFile: pki.caCert, certFile: pki.bothCert, privateKeyFile: pki.bothKey }],
    ['sslProfile', backendTrust],
    ['sslProfile', { name: 'other-ca', caCertFile: pki.otherCaCert }],
    ['connector', { name: 'to-a', role: 'inter-router', host: '127.0.0.1', port: ports.link, sslProfile: 'link' }],
    ['listener', { name: 'http', host: '127.0.0.1', port: ports.httpB, http: true }],
    ['tcpConnector', { name: 'remote', host: '127.0.0.1', port: ports.tlsEcho, address: 'remote-tls', sslProfile: 'backend' }],
    ['tcpConnector', { name: 'remote-wrong-ca', host: '127.0.0.1', port: ports.tlsEcho, address: 'remote-wrong-ca', sslProfile: 'other-ca' }],
  ]);
  process.env[PASSWORD_ENV] = PASSWORD;
  const encryptedProfile = (name: string, password: string) => ({ name, caCertFile: pki.caCert, certFile: pki.serverCert, privateKeyFile: files.encryptedServerKey, password });
  const tcpListener = (name: string, port: number, address: string, extra: Record<string, unknown> = {}): Entity => [
    'tcpListener',
    { name, host: '127.0.0.1', port, address, ...extra },
  ];
  s = await RouterProcess.start(folder.path, 'S', [
    ['router', { id: 'S', mode: 'interior' }],
    ['listener', { name: 'http', host: '127.0.0.1', port: ports.httpS, http: true }],
    ['sslProfile', clients],
    ['sslProfile', { ...clients, name: 'revoking', revokedSerials: files.revokedSerial }],
    ['sslProfile', backendTrust],
    ['sslProfile', { name: 'other-ca', caCertFile: pki.otherCaCert }],
    ['sslProfile', { name: 'ca-only', caCertFile: pki.caCert }],
    ['sslProfile', encryptedProfile('enc-env', `env:${PASSWORD_ENV}`)],
    ['sslProfile', encryptedProfile('enc-file', `file:${files.passwordFile}`)],
    ['sslProfile', encryptedProfile('enc-wrong', 'pass:not the password')],
    tcpListener('plain-to-tls', ports.plainToTls, 'counter', { sslProfile: 'clients' }),
    ['tcpConnector', { name: 'counter', host: '127.0.0.1', port: counter.port, address: 'counter' }],
    tcpListener('mtls', ports.mtls, 'echo', { sslProfile: 'clients', authenticatePeer: true }),
    tcpListener('revoking', ports.revoking, 'echo', { sslProfile: 'revoking', authenticatePeer: true }),
    ['tcpConnector', { name: 'echo', host: '127.0.0.1', port: plainEcho.port, address: 'echo' }],
    tcpListener('local-mtls', ports.localMtls, 'tls-echo', { sslProfile: 'clients', authenticatePeer: true }),
    tcpListener('backend-good', ports.backendGood, 'tls-echo'),
    ['tcpConnector', { name: 'tls-echo', host: '127.0.0.1', port: ports.tlsEcho, address: 'tls-echo', sslProfile: 'backend' }],
    tcpListener('backend-wrong-ca', ports.backendWrongCa, 'wrong-ca'),
    ['tcpConnector', { name: 'wrong-ca', host: '127.0.0.1', port: ports.tlsEcho, address: 'wrong-ca', sslProfile: 'other-ca' }],
    tcpListener('backend-wrong-name', ports.backendWrongName, 'wrong-name'),
    ['tcpConnector', { name: 'wrong-name', host: '127.0.0.1', port: ports.wrongNameEcho, address: 'wrong-name', sslProfile: 'ca-only' }],
    tcpListener('backend-name-unchecked', ports.backendNameUnchecked, 'name-unchecked'),
    ['tcpConnector', { name: 'name-unchecked', host: '127.0.0.1', port: ports.wrongNameEcho, address: 'name-unchecked', sslProfile: 'ca-only', verifyHostname: false }],
    tcpListener('enc-env', ports.encEnv, 'echo', { sslProfile: 'enc-env' }),
    tcpListener('enc-file', ports.encFile, 'echo', { sslProfile: 'enc-file' }),
    tcpListener('enc-wrong', ports.encWrong, 'echo', { sslProfile: 'enc-wrong' }),
    ['sslProfile', { ...clients, name: 'tls12', protocols: 'TLSv1.2', ciphers: TLS12_CIPHER }],
    ['sslProfile', { ...clients, name: 'bad-ciphers', ciphers: 'NO-SUCH-CIPHER' }],
    tcpListener('tls12', ports.tls12, 'echo', { sslProfile: 'tls12' }),
    ['listener', { name: 'amqp-tls12', host: '127.0.0.1', port: ports.amqpTls12, sslProfile: 'tls12' }],
    tcpListener('bad-ciphers', ports.badCiphers, 'echo', { sslProfile: 'bad-ciphers' }),
  ]);
  routers.push(a, b, s);
  await waitFor('S up', async () => (await fetch(`http://127.0.0.1:${ports.httpS}/healthz`).catch(() => undefined))?.ok);
  await waitFor('a route from A to B', async () => ((await metric(ports.httpA, 'kskup_tcp_listener_routes{address="remote-tls"}').catch(() => 0)) ?? 0) >= 1);
});

afterAll(async () => {
  delete process.env[PASSWORD_ENV];
  await Promise.all(servers.map((server) => server.close()));
  tlsEcho?.close();
  wrongNameEcho?.close();
});

interface ClientIdentity {
  cert?: string;
  key?: string;
}

/** A TLS client trusting the test CA; resolves once the handshake is done. */
function tlsConnect(port: number, identity: ClientIdentity = {}, extra: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const options = {
      host: '127.0.0.1',
      port,
      ca: readPem(folder.pki.caCert),
      ...(identity.cert && { cert: readPem(identity.cert), key: readPem(identity.key ?? '') }),
      allowHalfOpen: true,
      ...extra,
    };
    const socket = tls.connect(options as tls.ConnectionOptions, () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

const pemCache = new Map<string, Buffer>();
function readPem(path: string): Buffer {
  let pem = pemCache.get(path);
  if (!pem) {
    pem = readFileSync(path);
    pemCache.set(path, pem);
  }
  return pem;
}

function goodClient(): ClientIdentity {
  return { cert: folder.pki.clientCert, key: folder.pki.clientKey };
}

/**
 * What a refused TLS client sees: a failed handshake, or a connection closed
 * right after it, with not one byte from the other side.
 */
async function refusedOutcome(port: number, identity: ClientIdentity): Promise<{ bytes: number; ended: boolean }> {
  let bytes = 0;
  try {
    const socket = await tlsConnect(port, identity);
    socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
    socket.on('error', () => undefined);
    socket.write('hello, is anybody there?\n');
    await endOrClose(socket);
  } catch {
    // refused during the handshake
  }
  return { bytes, ended: true };
}

/**
 * The router ends a refused TLS client's connection (node:tls cannot reset
 * one); a half-open client sees the end first and its close only later.
 */
function endOrClose(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    socket.once('end', () => resolve());
    socket.once('close', () => resolve());
  });
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('tcpListener with an sslProfile', () => {
  it('S: a plain client to a TLS tcpListener gets nothing through (the backend receives zero bytes)', async () => {
    const before = countedBytes;
    const started = Date.now();
    const socket = await connect(ports.plainToTls);
    socket.on('error', () => undefined);
    socket.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(100)));
    await endOrClose(socket);
    expect(Date.now() - started).toBeLessThan(5_000);
    // A TLS client through the same listener does reach the counter: the count can move.
    const good = await tlsConnect(ports.plainToTls);
    good.write(randomBytes(1000));
    await waitFor('the TLS client bytes at the backend', () => countedBytes - before === 1000 || undefined);
    good.destroy();
    expect(countedBytes - before).toBe(1000);
    await s.waitForLog('the refusal', (line) => /tcpListener "plain-to-tls" refused a client: TLS: the client does not speak TLS/.test(line.msg));
  });

  it.each([
    ['remote', 'A->B', () => ports.remote],
    ['local', 'S (spliced)', () => ports.localMtls],
  ])('%s %s: a client with a good certificate, TLS at both edges, 1 MiB each way byte-exact with half-close', async (_path, _where, port) => {
    const socket = await tlsConnect(port(), goodClient());
    const { sent, got } = await exchangeStream(socket, 7, MiB);
    expect(got.bytes).toBe(MiB);
    expect(got.sha256).toBe(sent);
  });

  it('S mtls: random bytes both ways, byte-exact, the client half-closes first and still reads everything', async () => {
    const socket = await tlsConnect(ports.mtls, goodClient());
    const payload = randomBytes(MiB);
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    const ended = new Promise<void>((resolve) => socket.once('end', () => resolve()));
    socket.end(payload);
    await ended;
    expect(sha256(Buffer.concat(received))).toBe(sha256(payload));
  });

  it.each([
    ['no client certificate', () => ({}), 'TLS: client presented no certificate'],
    ['a certificate from another CA', () => ({ cert: folder.pki.otherClientCert, key: folder.pki.otherClientKey }), 'TLS: client certificate is not signed by the trusted CA'],
  ])('S mtls with authenticatePeer: %s is refused', async (_what, identity, reason) => {
    const outcome = await refusedOutcome(ports.mtls, identity());
    expect(outcome.bytes).toBe(0);
    await s.waitForLog(reason, (line) => line.msg === `tcpListener "mtls" refused a client: ${reason}`);
  });

  it('S revoking: a revoked serial is refused while another certificate from the same CA works', async () => {
    const outcome = await refusedOutcome(ports.revoking, { cert: files.revokedClientCert, key: files.revokedClientKey });
    expect(outcome.bytes).toBe(0);
    await s.waitForLog('the revocation', (line) => line.msg === 'tcpListener "revoking" refused a client: TLS: client certificate has been revoked');
    const socket = await tlsConnect(ports.revoking, goodClient());
    const { sent, got } = await exchangeStream(socket, 3, 64 * 1024);
    expect(got.sha256).toBe(sent);
  });
});

describe('tcpConnector with an sslProfile', () => {
  it('S: the right CA (and a client certificate the backend demands) works byte-exact', async () => {
    const socket = await connect(ports.backendGood);
    const { sent, got } = await exchangeStream(socket, 11, MiB);
    expect(got.bytes).toBe(MiB);
    expect(got.sha256).toBe(sent);
  });

  it.each([
    ['S', 'wrong-ca', () => ports.backendWrongCa, () => s, 'TLS: server certificate is not signed by the trusted CA'],
    ['S', 'wrong-name', () => ports.backendWrongName, () => s, 'TLS: server certificate does not match the host name'],
    ['A->B', 'remote-wrong-ca', () => ports.remoteWrongCa, () => routers[1]!, 'TLS: server certificate is not signed by the trusted CA'],
  ])('%s tcpConnector "%s": the flow fails, the client gets no byte, one logged reason', async (_where, name, port, router, reason) => {
    const socket = await connect(port());
    let bytes = 0;
    socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
    socket.on('error', () => undefined);
    socket.write('secret request\n');
    await endOrClose(socket);
    expect(bytes).toBe(0);
    const expected = new RegExp(`^tcpConnector "${name}": TLS with backend 127\\.0\\.0\\.1:\\d+ failed: ${reason}; flow closed$`);
    await router().waitForLog(reason, (line) => expected.test(line.msg));
    expect(router().lines.filter((line) => expected.test(line.msg))).toHaveLength(1);
  });

  it('S: a backend certificate for another name works with verifyHostname false', async () => {
    const socket = await connect(ports.backendNameUnchecked);
    const { sent, got } = await exchangeStream(socket, 13, 256 * 1024);
    expect(got.sha256).toBe(sent);
  });
});

describe('encrypted private keys', () => {
  it.each([
    ['env:', () => ports.encEnv],
    ['file:', () => ports.encFile],
  ])('S: password in the %s form unlocks the key', async (_form, port) => {
    const socket = await tlsConnect(port());
    const { sent, got } = await exchangeStream(socket, 17, 64 * 1024);
    expect(got.sha256).toBe(sent);
  });

  it('S: a wrong password stops that tcpListener (named, port unbound), and the router serves the rest', async () => {
    const line = await s.waitForLog('the error', (l) => l.level === 'error' && String(l.msg).startsWith('tcpListener "enc-wrong"'));
    expect(line.msg).toBe('tcpListener "enc-wrong": sslProfile "enc-wrong": password does not unlock privateKeyFile ' + files.encryptedServerKey + ' (or the key is not valid PEM); not started');
    const { ended } = openAndWatchEnd(ports.encWrong);
    expect((await ended).code).toBe('ECONNREFUSED');
    const socket = await tlsConnect(ports.encEnv);
    const { sent, got } = await exchangeStream(socket, 19, 1024);
    expect(got.sha256).toBe(sent);
    for (const text of s.stderrText) expect(text).not.toContain(PASSWORD);
    for (const text of s.stderrText) expect(text).not.toMatch(/BEGIN (ENCRYPTED )?PRIVATE KEY/);
  });
});

describe('reconfiguration never falls back to plain', () => {
  it('R: a key that stops loading on reload unbinds the tcpListener, management says why; fixed, it serves TLS again', async () => {
    const [tcpPort, amqpPort] = [await freePort(), await freePort()];
    const pki = folder.pki;
    const config = (privateKeyFile: string): Entity[] => [
      ['router', { id: 'R', mode: 'interior' }],
      ['listener', { name: 'amqp', host: '127.0.0.1', port: amqpPort }],
      ['sslProfile', { name: 'p', caCertFile: pki.caCert, certFile: pki.serverCert, privateKeyFile }],
      ['tcpListener', { name: 'secure', host: '127.0.0.1', port: tcpPort, address: 'echo', sslProfile: 'p' }],
      ['tcpConnector', { name: 'echo', host: '127.0.0.1', port: plainEcho.port, address: 'echo' }],
    ];
    const r = await RouterProcess.start(folder.path, 'R', config(pki.serverKey));
    routers.push(r);
    await waitFor('R serving TLS', async () => (await tlsConnect(tcpPort).then((socket) => (socket.destroy(), true)).catch(() => undefined)));
    const management = await ManagementClient.connect({ host: '127.0.0.1', port: amqpPort }, { timeoutMs: 5_000 });
    try {
      const [up] = await management.query('tcpListener');
      expect(up).toMatchObject({ name: 'secure', operStatus: 'up', operStatusMsg: '' });

      // The encrypted key without its password cannot be loaded.
      await r.rewrite(config(files.encryptedServerKey));
      await r.waitForLog('the reload error', (l) => l.level === 'error' && String(l.msg).startsWith('tcpListener "secure": sslProfile "p": privateKeyFile'));
      await waitFor('the port to close', async () => ((await openAndWatchEnd(tcpPort).ended).code === 'ECONNREFUSED' ? true : undefined));
      const [down] = await management.query('tcpListener');
      expect(down).toMatchObject({ name: 'secure', operStatus: 'down' });
      expect(String(down?.operStatusMsg)).toMatch(/^sslProfile "p": privateKeyFile .* cannot be loaded/);

      await r.rewrite(config(pki.serverKey));
      const socket = await waitFor('TLS again', async () => tlsConnect(tcpPort).catch(() => undefined));
      const { sent, got } = await exchangeStream(socket, 23, 64 * 1024);
      expect(got.sha256).toBe(sent);
      const [again] = await management.query('tcpListener');
      expect(again).toMatchObject({ operStatus: 'up', operStatusMsg: '' });
    } finally {
      await management.close();
    }
  });
});

describe('sslProfile protocols and ciphers', () => {
  it.each([
    ['tcpListener', () => ports.tls12],
    ['AMQP listener', () => ports.amqpTls12],
  ])('S %s: protocols "TLSv1.2" and ciphers are what the handshake gets; a TLS 1.3-only client is refused', async (_what, port) => {
    const socket = await tlsConnect(port());
    expect(socket.getProtocol()).toBe('TLSv1.2');
    expect(socket.getCipher().standardName).toBe('TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256');
    socket.destroy();
    await expect(tlsConnect(port(), {}, { minVersion: 'TLSv1.3' })).rejects.toThrow();
    await expect(tlsConnect(port(), {}, { ciphers: 'ECDHE-RSA-AES256-GCM-SHA384', maxVersion: 'TLSv1.2' })).rejects.toThrow();
  });

  it('S: a cipher list OpenSSL does not accept stops that tcpListener, named, port unbound', async () => {
    const line = await s.waitForLog('the error', (l) => l.level === 'error' && String(l.msg).startsWith('tcpListener "bad-ciphers"'));
    expect(line.msg).toMatch(/^tcpListener "bad-ciphers": sslProfile "bad-ciphers": ciphers "NO-SUCH-CIPHER" is not accepted by the local OpenSSL .*; not started$/);
    const { ended } = openAndWatchEnd(ports.badCiphers);
    expect((await ended).code).toBe('ECONNREFUSED');
  });
});

describe('sslProfile changes reach the tcp edges', () => {
  it('V: a serial revoked on reload ends the open connection that presented it, refuses it from then on, and leaves the other connection and the port alone', async () => {
    const tcpPort = await freePort();
    const pki = folder.pki;
    const config = (revokedSerials?: string): Entity[] => [
      ['router', { id: 'V', mode: 'interior' }],
      ['sslProfile', { name: 'p', caCertFile: pki.caCert, certFile: pki.serverCert, privateKeyFile: pki.serverKey, ...(revokedSerials && { revokedSerials }) }],
      ['tcpListener', { name: 'secure', host: '127.0.0.1', port: tcpPort, address: 'echo', sslProfile: 'p', authenticatePeer: true }],
      ['tcpConnector', { name: 'echo', host: '127.0.0.1', port: plainEcho.port, address: 'echo' }],
    ];
    const v = await RouterProcess.start(folder.path, 'V', config());
    routers.push(v);
    const revokedIdentity = { cert: files.revokedClientCert, key: files.revokedClientKey };
    const soonRevoked = await waitFor('V serving TLS', async () => tlsConnect(tcpPort, revokedIdentity).catch(() => undefined));
    const kept = await tlsConnect(tcpPort, goodClient());
    // Both connections carry bytes before the change.
    const echoOf = async (socket: tls.TLSSocket, data: Buffer) => {
      const got: Buffer[] = [];
      const onData = (chunk: Buffer) => got.push(chunk);
      socket.on('data', onData);
      socket.write(data);
      await waitFor('the echo', () => (Buffer.concat(got).length >= data.length ? true : undefined));
      socket.off('data', onData);
      return Buffer.concat(got);
    };
    expect(await echoOf(soonRevoked, Buffer.from('one'))).toEqual(Buffer.from('one'));
    expect(await echoOf(kept, Buffer.from('two'))).toEqual(Buffer.from('two'));

    soonRevoked.on('error', () => undefined);
    const revokedEnded = endOrClose(soonRevoked);
    await v.rewrite(config(files.revokedSerial));
    await revokedEnded;
    await v.waitForLog('the drop', (l) => l.msg === 'tcpListener "secure" dropped 1 client connection: TLS: client certificate has been revoked');
    const payload = randomBytes(64 * 1024);
    expect(sha256(await echoOf(kept, payload))).toBe(sha256(payload));
    expect((await refusedOutcome(tcpPort, revokedIdentity)).bytes).toBe(0);
    // Applied in place: the listener was not restarted.
    expect(v.lines.filter((l) => String(l.msg).startsWith('tcpListener "secure"') && String(l.msg).endsWith('listening'))).toHaveLength(1);
    kept.destroy();
  });

  it('R2: management CREATE of a tcpListener whose sslProfile key cannot be loaded leaves it down, with the reason in the reply', async () => {
    const [tcpPort, amqpPort] = [await freePort(), await freePort()];
    const pki = folder.pki;
    const r = await RouterProcess.start(folder.path, 'R2', [
      ['router', { id: 'R2', mode: 'interior' }],
      ['listener', { name: 'amqp', host: '127.0.0.1', port: amqpPort }],
      ['sslProfile', { name: 'locked', caCertFile: pki.caCert, certFile: pki.serverCert, privateKeyFile: files.encryptedServerKey }],
    ]);
    routers.push(r);
    const management = await waitFor('management', async () =>
      ManagementClient.connect({ host: '127.0.0.1', port: amqpPort }, { timeoutMs: 5_000 }).catch(() => undefined),
    );
    try {
      const created = await management.create('tcpListener', 'secure', { host: '127.0.0.1', port: tcpPort, address: 'echo', sslProfile: 'locked' });
      expect(created).toMatchObject({ name: 'secure', operStatus: 'down' });
      expect(String(created.operStatusMsg)).toMatch(/^sslProfile "locked": privateKeyFile .* cannot be loaded/);
      expect((await openAndWatchEnd(tcpPort).ended).code).toBe('ECONNREFUSED');
    } finally {
      await management.close();
    }
  });
});
