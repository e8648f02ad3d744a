// `npm run demo`: two kskup routers on this machine, linked over mutual TLS,
// carrying a service from one "site" to the other. Everything it starts runs
// on 127.0.0.1 and is stopped at the end.
//
//   curl/client --> router-a [tcpListener :P] ==mTLS AMQP==> router-b [tcpConnector] --> http service
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const routerBin = join(root, 'dist/router/main.js');
const { createCertificateAuthority, issueCertificate } = await import(join(root, 'dist/site-controller/pki/index.js'));

const say = (text) => process.stdout.write(`${text}\n`);
const children = [];
let dir;

async function freePort() {
  return new Promise((ok, fail) => {
    const server = net.createServer().on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

async function waitFor(what, probe, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      if (await probe()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function startRouter(name, configPath) {
  const child = spawn(process.execPath, [routerBin, '-c', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (chunk) => (log += chunk));
  children.push({ name, child, log: () => log });
  return child;
}

async function main() {
  dir = await mkdtemp(join(tmpdir(), 'kskup-demo-'));
  say('1. Making a CA and a certificate per router (RSA 2048, node-forge)');
  const ca = await createCertificateAuthority({ commonName: 'kskup-demo-ca' });
  const files = {};
  for (const router of ['a', 'b']) {
    const cert = await issueCertificate(ca, { commonName: `router-${router}`, hosts: ['localhost', '127.0.0.1'], usage: 'both' });
    files[router] = { cert: join(dir, `router-${router}.crt`), key: join(dir, `router-${router}.key`) };
    await writeFile(files[router].cert, cert.certPem);
    await writeFile(files[router].key, cert.keyPem, { mode: 0o600 });
  }
  await writeFile(join(dir, 'ca.crt'), ca.certPem);

  say('2. Starting a small HTTP service (it answers with the sha256 of what it got)');
  const service = http.createServer((request, response) => {
    const hash = createHash('sha256');
    let bytes = 0;
    request.on('data', (chunk) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    request.on('end', () => response.end(JSON.stringify({ service: 'hello from site B', bytes, sha256: hash.digest('hex') })));
  });
  await new Promise((r) => service.listen(0, '127.0.0.1', r));
  const servicePort = service.address().port;

  const [linkPort, httpA, httpB, listenPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const profile = (r) => ['sslProfile', { name: 'inter-router', caCertFile: join(dir, 'ca.crt'), certFile: files[r].cert, privateKeyFile: files[r].key }];
  const configA = [
    ['router', { id: 'router-a', mode: 'interior' }],
    profile('a'),
    ['listener', { name: 'inter-router', role: 'inter-router', host: '127.0.0.1', port: linkPort, sslProfile: 'inter-router', authenticatePeer: true, saslMechanisms: 'EXTERNAL' }],
    ['listener', { name: 'http', host: '127.0.0.1', port: httpA, http: true }],
    ['tcpListener', { name: 'hello', host: '127.0.0.1', port: listenPort, address: 'hello' }],
  ];
  const configB = [
    ['router', { id: 'router-b', mode: 'interior' }],
    profile('b'),
    ['connector', { name: 'to-a', role: 'inter-router', host: 'localhost', port: linkPort, sslProfile: 'inter-router', saslMechanisms: 'EXTERNAL' }],
    ['listener', { name: 'http', host: '127.0.0.1', port: httpB, http: true }],
    ['tcpConnector', { name: 'hello', host: '127.0.0.1', port: servicePort, address: 'hello' }],
  ];
  await writeFile(join(dir, 'router-a.json'), JSON.stringify(configA, null, 2));
  await writeFile(join(dir, 'router-b.json'), JSON.stringify(configB, null, 2));

  say(`3. Starting router-a (tcpListener 127.0.0.1:${listenPort}) and router-b (tcpConnector to the service), linked with mutual TLS`);
  startRouter('router-a', join(dir, 'router-a.json'));
  startRouter('router-b', join(dir, 'router-b.json'));
  await waitFor('the route to "hello"', async () => {
    const text = await (await fetch(`http://127.0.0.1:${httpA}/metrics`)).text();
    return /kskup_tcp_listener_routes\{address="hello"\} [1-9]/.test(text);
  });
  say('   link up, address "hello" reachable from router-a');

  const body = Buffer.alloc(16 * 1024 * 1024);
  for (let i = 0; i < body.length; i += 4) body.writeUInt32LE((i * 2654435761) >>> 0, i);
  const sent = createHash('sha256').update(body).digest('hex');
  say(`4. POSTing 16 MiB to the service through router-a -> router-b (sha256 ${sent.slice(0, 16)}...)`);
  const started = Date.now();
  const response = await fetch(`http://127.0.0.1:${listenPort}/`, { method: 'POST', body });
  const answer = await response.json();
  const ms = Date.now() - started;
  say(`   answer: ${JSON.stringify(answer)}`);
  if (answer.sha256 !== sent || answer.bytes !== body.length) throw new Error('the bytes that arrived differ from the bytes sent');
  say(`   byte-exact: the service received exactly what was sent (${ms} ms)`);

  const metrics = await (await fetch(`http://127.0.0.1:${httpA}/metrics`)).text();
  say('5. router-a metrics:');
  for (const line of metrics.split('\n')) if (/^kskup_(tcp|inter)/.test(line)) say(`   ${line}`);
}

async function cleanUp() {
  for (const { child } of children) child.kill('SIGTERM');
  await Promise.all(children.map(({ child }) => new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)))));
  if (dir) await rm(dir, { recursive: true, force: true });
}

try {
  await main();
  await cleanUp();
  say('6. Stopped both routers and removed the demo files. Demo passed.');
  process.exit(0);
} catch (error) {
  process.stderr.write(`demo failed: ${error.message}\n`);
  for (const { name, log } of children) process.stderr.write(`--- ${name} log ---\n${log()}\n`);
  await cleanUp();
  process.exit(1);
}
