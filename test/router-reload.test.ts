// Live reconfiguration of links and logging, on real router processes:
//
//   client --> A [tcpListener] <==mTLS== B [tcpConnector] --> echo
//
// B starts with no connector; its sslProfile and connector are added by
// rewriting B's file (the way `kskup link create` adds a link), then removed.
// A separate router checks per-module log levels.
import { describe, expect, it } from 'vitest';
import { useTestFolder } from './helpers/temp-dir.js';
import { freePort, metric, RouterProcess, useRouters, waitFor, type Entity } from './helpers/router-process.js';
import { connect, exchangeStream, openAndWatchEnd, useEchoServer } from './helpers/tcp-tools.js';

const folder = useTestFolder('reload', { withPki: true });
const echo = useEchoServer();
const routers = useRouters();

async function connectionsUp(httpPort: number): Promise<number> {
  return (await metric(httpPort, 'kskup_inter_router_connections').catch(() => -1)) ?? -1;
}

describe('live reconfiguration', () => {
  it('A<==B a connector and its sslProfile added to a running router link it; removed, unlink it', async () => {
    const [linkPort, httpA, httpB, tcpPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const a = await RouterProcess.start(folder.path, 'A', [
      ['router', { id: 'A', mode: 'interior' }],
      ['sslProfile', { name: 'tls', caCertFile: folder.pki.caCert, certFile: folder.pki.serverCert, privateKeyFile: folder.pki.serverKey }],
      ['listener', { name: 'inter-router', role: 'inter-router', host: '127.0.0.1', port: linkPort, sslProfile: 'tls', authenticatePeer: true }],
      ['listener', { name: 'http', host: '127.0.0.1', port: httpA, http: true }],
      ['tcpListener', { name: 'echo', host: '127.0.0.1', port: tcpPort, address: 'echo' }],
    ]);
    const bBase: Entity[] = [
      ['router', { id: 'B', mode: 'interior' }],
      ['listener', { name: 'http', host: '127.0.0.1', port: httpB, http: true }],
      ['tcpConnector', { name: 'echo', host: '127.0.0.1', port: echo.port, address: 'echo' }],
    ];
    const b = await RouterProcess.start(folder.path, 'B', bBase);
    routers.push(a, b);
    await waitFor('B up', async () => (await connectionsUp(httpB)) === 0);
    const pid = b.child.pid;

    await b.rewrite([
      ...bBase,
      ['sslProfile', { name: 'link-to-a', caCertFile: folder.pki.caCert, certFile: folder.pki.clientCert, privateKeyFile: folder.pki.clientKey }],
      ['connector', { name: 'link-to-a', role: 'inter-router', host: 'localhost', port: linkPort, sslProfile: 'link-to-a' }],
    ]);
    await waitFor('the link', async () => (await connectionsUp(httpA)) === 1 && (await connectionsUp(httpB)) === 1);
    await waitFor('the route', async () => ((await metric(httpA, 'kskup_tcp_listener_routes{address="echo"}')) ?? 0) >= 1);
    const socket = await connect(tcpPort);
    const { sent, got } = await exchangeStream(socket, 1, 2 * 1024 * 1024);
    expect(got.sha256).toBe(sent);
    expect(b.child.pid).toBe(pid); // no restart
    expect(b.lines.some((l) => l.msg === 'configuration applied')).toBe(true);

    await b.rewrite(bBase);
    await waitFor('the link to go', async () => (await connectionsUp(httpA)) === 0 && (await connectionsUp(httpB)) === 0);
    expect(await metric(httpA, 'kskup_tcp_listener_routes{address="echo"}')).toBe(0);
  });

  it('log entities set levels per module; --log-level beats DEFAULT but not a module entity', async () => {
    const [tcpPort, httpPort] = [await freePort(), await freePort()];
    const r = await RouterProcess.start(
      folder.path,
      'logs',
      [
        ['router', { id: 'L', mode: 'interior' }],
        ['log', { module: 'DEFAULT', enable: 'error+' }],
        ['log', { module: 'TCP_ADAPTOR', enable: 'debug+' }],
        ['listener', { name: 'http', host: '127.0.0.1', port: httpPort, http: true }],
        ['tcpListener', { name: 'echo', host: '127.0.0.1', port: tcpPort, address: 'echo' }],
        ['tcpConnector', { name: 'echo', host: '127.0.0.1', port: echo.port, address: 'echo' }],
      ],
      ['--log-level', 'warn'],
    );
    routers.push(r);
    await waitFor('the http listener', async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`).catch(() => undefined))?.ok);
    // A flow to a refused port makes a TCP_ADAPTOR debug line.
    await r.rewrite([
      ['router', { id: 'L', mode: 'interior' }],
      ['log', { module: 'DEFAULT', enable: 'error+' }],
      ['log', { module: 'TCP_ADAPTOR', enable: 'debug+' }],
      ['listener', { name: 'http', host: '127.0.0.1', port: httpPort, http: true }],
      ['tcpListener', { name: 'nobody', host: '127.0.0.1', port: tcpPort, address: 'nobody' }],
    ]);
    await waitFor('the reload', async () => (await metric(httpPort, 'kskup_tcp_listener_routes{address="nobody"}')) === 0);
    await openAndWatchEnd(tcpPort).ended;
    await r.waitForLog('a TCP_ADAPTOR debug line', (l) => l.module === 'TCP_ADAPTOR' && l.level === 'debug');
    // ROUTER and SERVER have no entity: --log-level warn applies, so their info lines are gone.
    expect(r.lines.filter((l) => l.module !== 'TCP_ADAPTOR' && (l.level === 'info' || l.level === 'debug'))).toEqual([]);
  });
});

/**
 * Writes `files` into `folder` as the kubelet's atomic writer does for a
 * ConfigMap volume: each file a link to `..data/NAME`, `..data` a link to a
 * timestamped folder, replaced by renaming a new link over it.
 */
async function kubeletVolumeWrite(folder: string, files: Record<string, string>): Promise<void> {
  const { mkdir, readlink, rename, rm, symlink, writeFile: write } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const stamp = `..${new Date().toISOString().replace(/[-:.TZ]/g, '_')}${Math.random().toString(36).slice(2, 8)}`;
  await mkdir(join(folder, stamp), { recursive: true });
  for (const [name, text] of Object.entries(files)) await write(join(folder, stamp, name), text);
  const previous = await readlink(join(folder, '..data')).catch(() => undefined);
  await symlink(stamp, join(folder, '..data_tmp'));
  await rename(join(folder, '..data_tmp'), join(folder, '..data'));
  for (const name of Object.keys(files)) await symlink(join('..data', name), join(folder, name)).catch(() => undefined);
  if (previous) await rm(join(folder, previous), { recursive: true, force: true });
}

describe('config from a Kubernetes ConfigMap volume', () => {
  it("a ..data swap of the mounted folder is a change of the config: a tcpListener added that way listens", async () => {
    const { join } = await import('node:path');
    const { mkdir } = await import('node:fs/promises');
    const volume = join(folder.path, 'configmap-volume');
    await mkdir(volume);
    const [httpPort, tcpPort] = [await freePort(), await freePort()];
    const base: Entity[] = [
      ['router', { id: 'K', mode: 'interior' }],
      ['listener', { name: 'http', host: '127.0.0.1', port: httpPort, http: true }],
      ['tcpConnector', { name: 'echo', host: '127.0.0.1', port: echo.port, address: 'echo' }],
    ];
    await kubeletVolumeWrite(volume, { 'K.json': JSON.stringify(base) });
    // Written through the link: the same bytes, so the router starts on the volume's file.
    const router = await RouterProcess.start(volume, 'K', base);
    routers.push(router);
    await waitFor('the http listener', async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`).catch(() => undefined))?.ok);
    await kubeletVolumeWrite(volume, { 'K.json': JSON.stringify([...base, ['tcpListener', { name: 'echo', host: '127.0.0.1', port: tcpPort, address: 'echo' }]]) });
    await router.waitForLog('the new config applied', (line) => line.msg === 'configuration applied', 5_000);
    const socket = await connect(tcpPort);
    const { sent, got } = await exchangeStream(socket, 1, 256 * 1024);
    expect(got.sha256).toBe(sent);
  });
});
