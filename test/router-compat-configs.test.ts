// Config files written by other people for skupper-router and Qpid Dispatch
// Router (../shared/compat/router-configs/, read-only), each loaded by a real
// kskup-router process, which must do what the folder's README says
// skupper-router 3.5.1 does with it: start (and serve what the test probes),
// or refuse the file with an error naming the entity, attribute and line.
//
// Only port numbers and certificate paths are changed, in a copy: each port
// number becomes a free port, the named ports (amqp, amqps) are mapped to free
// ports through KSKUP_SERVICES_FILE (the one documented place, see
// docs/router-config.md), and file 11's certificate paths point at the test
// PKI, its server key encrypted with the file's own password.
import { execFileSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { ManagementClient } from '../router/management/management-client.js';
import { freePort, RouterProcess, routerLogsOnFailure, useRouters, waitFor } from './helpers/router-process.js';
import { exchangeStream, howItEnds, useEchoServer } from './helpers/tcp-tools.js';
import { useTestFolder } from './helpers/temp-dir.js';

/** `../shared/compat/router-configs` beside the project root (or beside a folder above it: a worktree). */
function findCompatDir(): string {
  for (let dir = resolve(import.meta.dirname, '..'); dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dirname(dir), 'shared', 'compat', 'router-configs');
    if (existsSync(candidate)) return candidate;
  }
  throw new Error('../shared/compat/router-configs not found beside the project root: the compat test data is missing');
}

const COMPAT_DIR = findCompatDir();
const folder = useTestFolder('compat', { withPki: true });
const routers = useRouters();
routerLogsOnFailure(() => routers);
const echo = useEchoServer();

/** File 11's certificate paths, neutralised in the data, and the test PKI's files that replace them. */
const CERT_PATHS: Record<string, (pki: typeof folder.pki, encryptedKey: string) => string> = {
  '/home/user/ssl_certs/ca-certificate.pem': (pki) => pki.caCert,
  '/home/user/ssl_certs/server-certificate.pem': (pki) => pki.serverCert,
  '/home/user/ssl_certs/server-private-key.pem': (_pki, encryptedKey) => encryptedKey,
};
/** File 11's sslProfile password, which stays as written: the test key is encrypted with it. */
const FILE_11_PASSWORD = 'server-password';

interface Copy {
  readonly path: string;
  /** Each port number of the original file and the free port that replaced it. */
  readonly ports: ReadonlyMap<number, number>;
  /** Where the named ports point. */
  readonly amqp: number;
  readonly servicesFile: string;
  /** 1-based line of the first line of the original holding `text`. */
  lineOf(text: string): number;
}

async function copyOf(file: string): Promise<Copy> {
  const original = await readFile(join(COMPAT_DIR, file), 'utf8');
  const ports = new Map<number, number>();
  const numbers = [...original.matchAll(/"port"\s*:\s*"?(\d+)"?|^\s*port\s*:\s*(\d+)\s*$/gm)].map((m) => Number(m[1] ?? m[2]));
  for (const number of numbers) if (!ports.has(number)) ports.set(number, await freePort());
  let text = original
    .replace(/("port"\s*:\s*"?)(\d+)/g, (_all, before: string, number: string) => `${before}${ports.get(Number(number))}`)
    .replace(/^(\s*port\s*:\s*)(\d+)(\s*)$/gm, (_all, before: string, number: string, after: string) => `${before}${ports.get(Number(number))}${after}`);
  if (Object.keys(CERT_PATHS).some((path) => text.includes(path))) {
    const encryptedKey = join(folder.path, 'server-encrypted.key');
    const pem = createPrivateKey(readFileSync(folder.pki.serverKey)).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: FILE_11_PASSWORD });
    await writeFile(encryptedKey, pem, { mode: 0o600 });
    for (const [path, replacement] of Object.entries(CERT_PATHS)) text = text.replaceAll(path, replacement(folder.pki, encryptedKey));
  }
  const [amqp, amqps] = [await freePort(), await freePort()];
  const servicesFile = join(folder.path, `${file}.services`);
  await writeFile(servicesFile, `amqp ${amqp}/tcp\namqps ${amqps}/tcp\n`);
  const path = join(folder.path, file);
  await writeFile(path, text);
  const lines = original.split('\n');
  return { path, ports, amqp, servicesFile, lineOf: (needle) => lines.findIndex((line) => line.includes(needle)) + 1 };
}

function start(file: string, copy: Copy): RouterProcess {
  const router = RouterProcess.run(file, copy.path, { KSKUP_SERVICES_FILE: copy.servicesFile });
  routers.push(router);
  return router;
}

function accepts(port: number, host = '127.0.0.1'): Promise<boolean | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(undefined));
  });
}

async function startsServing(router: RouterProcess, ports: readonly number[]): Promise<void> {
  for (const port of ports) {
    await waitFor(`${router.name} to accept on port ${port}`, async () => {
      if (router.child.exitCode !== null) throw new Error(`${router.name} exited ${router.child.exitCode}:\n${router.stderrText.join('\n')}`);
      return accepts(port);
    });
  }
  expect(router.child.exitCode).toBeNull();
  expect(router.lines.filter((line) => line.level === 'error' || line.level === 'fatal')).toEqual([]);
}

async function refuses(router: RouterProcess, says: readonly string[]): Promise<string> {
  expect(await router.exited).toBe(1);
  const stderr = router.stderrText.join('\n');
  for (const text of says) expect(stderr).toContain(text);
  expect(stderr).not.toMatch(/\n\s+at /);
  return stderr;
}

async function withManagement<T>(port: number, use: (client: ManagementClient) => Promise<T>): Promise<T> {
  const client = await ManagementClient.connect({ host: '127.0.0.1', port }, { timeoutMs: 5_000 });
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

function port(copy: Copy, original: number): number {
  const mapped = copy.ports.get(original);
  if (mapped === undefined) throw new Error(`port ${original} is not in the file`);
  return mapped;
}

describe('config files written for skupper-router, as skupper-router 3.5.1 treats them', () => {
  it('the folder holds the ten files of its README table', async () => {
    const files = (await readdir(COMPAT_DIR)).filter((name) => name !== 'README.md').sort();
    expect(files).toHaveLength(10);
    const readme = await readFile(join(COMPAT_DIR, 'README.md'), 'utf8');
    for (const file of files) expect(readme).toContain(`| ${file} |`);
  });

  it('02-knetsim-solo0.json (JSON, skupper\'s own): starts, serves management, metrics and its tcpListener', async () => {
    const copy = await copyOf('02-knetsim-solo0.json');
    const router = start('02', copy);
    await startsServing(router, [port(copy, 55671), port(copy, 45671), port(copy, 9090), port(copy, 1028)]);
    const metrics = await (await fetch(`http://127.0.0.1:${port(copy, 9090)}/metrics`)).text();
    expect(metrics).toContain('kskup_');
    // The tcpListener carries flows once a tcpConnector for its address exists (here created through management).
    await withManagement(port(copy, 5672), async (client) => {
      const [routerRow] = await client.query('router', ['id', 'mode']);
      expect(routerRow).toEqual({ id: 'c0', mode: 'interior' });
      await client.create('tcpConnector', 'backend', { host: '127.0.0.1', port: echo.port, address: 'backend:8080' });
    });
    const socket = net.connect({ port: port(copy, 1028), host: '127.0.0.1' });
    const { sent, got } = await exchangeStream(socket, 2, 256 * 1024);
    expect(got.sha256).toBe(sent);
  });

  it('03-collector-site.json (JSON with a site entity): starts; the site entity is ignored with one warning', async () => {
    const copy = await copyOf('03-collector-site.json');
    const router = start('03', copy);
    await startsServing(router, [port(copy, 5672), port(copy, 8180)]);
    expect(router.lines.filter((line) => String(line.msg).includes('"site"')).map((line) => line.msg)).toEqual(['entity type "site" is not supported by kskup yet and is ignored']);
  });

  it('05-skrouter-config1-A.json (JSON with # comment lines): refused for its container entity, with its line; the comments are fine', async () => {
    const copy = await copyOf('05-skrouter-config1-A.json');
    const stderr = await refuses(start('05', copy), [
      `line ${copy.lineOf('["container"')}: container #1: is not an entity type of skupper-router 3`,
      '1 problem',
    ]);
    expect(stderr).not.toContain('JSON');
  });

  it('06-skrouterd-etc.conf (the file skupper-router ships): starts standalone with a generated id, its listener on the named port amqp', async () => {
    const copy = await copyOf('06-skrouterd-etc.conf');
    const router = start('06', copy);
    await startsServing(router, [copy.amqp]);
    const generated = await router.waitForLog('the generated id', (line) => String(line.msg).startsWith('router id not set; using generated id '));
    const id = String(generated.msg).slice('router id not set; using generated id '.length);
    expect(id).toMatch(/^Standalone_\S{15}$/);
    await withManagement(copy.amqp, async (client) => {
      expect(await client.query('router', ['id', 'mode'])).toEqual([{ id, mode: 'standalone' }]);
      expect(await client.query('listener', ['name', 'port'])).toEqual([{ name: 'listener/0.0.0.0:amqp', port: copy.amqp }]);
      // Management edits keep the generated id (it is not written in the file the edit is checked as).
      await client.create('tcpConnector', 'echo', { host: '127.0.0.1', port: echo.port, address: 'echo' });
      expect(await client.query('tcpConnector', ['name', 'address'])).toEqual([{ name: 'echo', address: 'echo' }]);
      expect(await client.query('router', ['id'])).toEqual([{ id }]);
    });
  });

  it('07-skrouter-INTB.conf (.conf, yes/no booleans): starts interior with an edge listener', async () => {
    const copy = await copyOf('07-skrouter-INTB.conf');
    const router = start('07', copy);
    await startsServing(router, [port(copy, 20002), port(copy, 15002)]);
    await withManagement(port(copy, 20002), async (client) => {
      expect(await client.query('router', ['id', 'mode'])).toEqual([{ id: 'INT.B', mode: 'interior' }]);
      const listeners = await client.query('listener', ['port', 'role', 'authenticatePeer']);
      expect(listeners).toEqual(expect.arrayContaining([{ port: port(copy, 15002), role: 'edge', authenticatePeer: false }]));
      expect(await client.query('connector', ['name', 'role'])).toEqual([{ name: `connector/127.0.0.1:${port(copy, 10001)}`, role: 'inter-router' }]);
    });
  });

  it('08-flimflam-tcp-1.conf: starts, its unnamed tcpListener named as skrouterd names it', async () => {
    const copy = await copyOf('08-flimflam-tcp-1.conf');
    const router = start('08', copy);
    await startsServing(router, [port(copy, 20001), port(copy, 56721)]);
    await withManagement(port(copy, 56721), async (client) => {
      expect(await client.query('tcpListener', ['name', 'address', 'backlog'])).toEqual([{ name: `tcpListener/127.0.0.1:${port(copy, 20001)}`, address: 'flimflam/tcp', backlog: 0 }]);
    });
    // backlog 0 (skupper-router's default) is the operating system's maximum: ss shows a listening socket's backlog as Send-Q.
    const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
    const listening = execFileSync('ss', ['-ltnH', `sport = :${port(copy, 20001)}`], { encoding: 'utf8' }).trim().split(/\s+/);
    expect(Number(listening[2])).toBe(somaxconn);
    // The one part it ignores is named once; the connector to the other router (not running here) retries.
    expect(router.lines.filter((line) => String(line.msg).endsWith('is ignored')).map((line) => line.msg)).toEqual(['router "skrouterd-tcp-1": attribute "workerThreads" is not supported by kskup yet and is ignored']);
  });

  it('09-flimflam-tcp-2.conf: refused, notice+ is not a log level of skupper-router 3', async () => {
    const copy = await copyOf('09-flimflam-tcp-2.conf');
    await refuses(start('09', copy), [`line ${copy.lineOf('notice+')}: log "DEFAULT": enable "notice+" has unknown level "notice"`, '1 problem']);
  });

  it('10-flimflam-http1-1.conf: refused, no httpListener in skupper-router 3 (and notice+)', async () => {
    const copy = await copyOf('10-flimflam-http1-1.conf');
    await refuses(start('10', copy), [
      `line ${copy.lineOf('httpListener {')}: httpListener #4: is not an entity type of skupper-router 3`,
      `line ${copy.lineOf('notice+')}: log "DEFAULT": enable "notice+"`,
    ]);
  });

  it('11-tls-router-A.conf (encrypted key with password, TLS tcpListener): starts; the tcpListener requires TLS with a client certificate', async () => {
    const copy = await copyOf('11-tls-router-A.conf');
    const router = start('11', copy);
    const tcpPort = port(copy, 7777);
    await startsServing(router, [copy.amqp, port(copy, 21924)]);
    await waitFor('the TLS tcpListener', () => accepts(tcpPort, 'localhost'));
    await withManagement(copy.amqp, async (client) => {
      await client.create('tcpConnector', 'echo', { host: '127.0.0.1', port: echo.port, address: 'update/me' });
    });
    const ca = readFileSync(folder.pki.caCert);
    // A TLS client with a certificate from the test CA: served, byte for byte.
    const good = await tlsClient(tcpPort, { ca, cert: readFileSync(folder.pki.clientCert), key: readFileSync(folder.pki.clientKey) });
    const { sent, got } = await exchangeStream(good, 11, 256 * 1024);
    expect(got.sha256).toBe(sent);
    // No client certificate, or one from another CA: nothing gets through (the echo would answer an accepted client).
    const refusedIdentities: tls.ConnectionOptions[] = [{}, { cert: readFileSync(folder.pki.otherClientCert), key: readFileSync(folder.pki.otherClientKey) }];
    for (const identity of refusedIdentities) {
      const echoed = await tlsClient(tcpPort, { ca, ...identity, allowHalfOpen: false }).then(
        (socket) =>
          new Promise<number>((resolve) => {
            let bytes = 0;
            socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
            socket.on('error', () => undefined);
            // The router ends a refused client right after the handshake: its end (or a reset) is the answer.
            socket.once('end', () => resolve(bytes));
            socket.once('close', () => resolve(bytes));
            socket.write('hello');
          }),
        () => 0,
      );
      expect(echoed).toBe(0);
    }
    // A plain client gets nothing back.
    const plain = net.connect({ port: tcpPort, host: 'localhost' });
    plain.on('data', () => expect.fail('a plain client got bytes from the TLS tcpListener'));
    plain.write('GET / HTTP/1.0\r\n\r\n');
    expect(await howItEnds(plain)).not.toBe('open');
    await router.waitForLog('the refusals', (line) => String(line.msg).includes('refused a client'));
  });

  it('14-qdr-config-2-broker-A.conf (Qpid Dispatch): refused, no linkRoute in skupper-router 3', async () => {
    const copy = await copyOf('14-qdr-config-2-broker-A.conf');
    await refuses(start('14', copy), [
      `line ${copy.lineOf('linkRoute {')}: linkRoute #6: is not an entity type of skupper-router 3 (Qpid Dispatch Router's; skupper-router 3 has no link routes)`,
      '6 problems',
    ]);
  });
});

function tlsClient(port: number, options: tls.ConnectionOptions & { allowHalfOpen?: boolean }): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: 'localhost', port, servername: 'localhost', allowHalfOpen: true, ...options } as tls.ConnectionOptions, () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}
