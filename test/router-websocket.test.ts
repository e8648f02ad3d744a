// Links over WebSocket, for sites that can only be reached through an HTTP(S)
// ingress or proxy, on real router processes:
//
//   client --> A [tcpListener, https listener with websockets, mTLS] <==wss== B [tcpConnector] --> echo
//   A <==ws== C (no TLS)            A <==wss== D with a certificate from another CA: refused, 403
import { describe, expect, it } from 'vitest';
import { useTestFolder } from './helpers/temp-dir.js';
import { freePort, metric, RouterProcess, useRouters, waitFor, type Entity } from './helpers/router-process.js';
import { connect, exchangeStream, useEchoServer } from './helpers/tcp-tools.js';

const folder = useTestFolder('ws', { withPki: true });
const echo = useEchoServer();
const routers = useRouters();

async function startPair(name: string, protocol: 'ws' | 'wss', dialerCert?: { cert: string; key: string }) {
  const [web, httpB, tcpPort] = [await freePort(), await freePort(), await freePort()];
  const tls = protocol === 'wss';
  const a = await RouterProcess.start(folder.path, `${name}-A`, [
    ['router', { id: `${name}-A`, mode: 'interior' }],
    ...(tls ? [['sslProfile', { name: 'tls', caCertFile: folder.pki.caCert, certFile: folder.pki.serverCert, privateKeyFile: folder.pki.serverKey }] as Entity] : []),
    ['listener', { name: 'web', role: 'inter-router', host: '127.0.0.1', port: web, http: true, websockets: true, ...(tls ? { sslProfile: 'tls', authenticatePeer: true } : {}) }],
    ['tcpListener', { name: 'echo', host: '127.0.0.1', port: tcpPort, address: 'echo' }],
  ]);
  const cert = dialerCert ?? { cert: folder.pki.clientCert, key: folder.pki.clientKey };
  const b = await RouterProcess.start(folder.path, `${name}-B`, [
    ['router', { id: `${name}-B`, mode: 'interior' }],
    ...(tls ? [['sslProfile', { name: 'tls', caCertFile: folder.pki.caCert, certFile: cert.cert, privateKeyFile: cert.key }] as Entity] : []),
    ['connector', { name: 'to-a', role: 'inter-router', host: 'localhost', port: web, protocol, websocketPath: '/kskup', ...(tls ? { sslProfile: 'tls' } : {}) }],
    ['listener', { name: 'http', host: '127.0.0.1', port: httpB, http: true }],
    ['tcpConnector', { name: 'echo', host: '127.0.0.1', port: echo.port, address: 'echo' }],
  ]);
  routers.push(a, b);
  return { a, b, httpB, tcpPort };
}

describe('links over WebSocket', () => {
  it.each(['wss', 'ws'] as const)('A<==%s==B carries flows byte-exact', async (protocol) => {
    const { b, httpB, tcpPort } = await startPair(`ws-${protocol}`, protocol);
    await waitFor('the link', async () => (await metric(httpB, 'kskup_inter_router_connections').catch(() => 0)) === 1, 10_000);
    await b.waitForLog('the connector up', (l) => String(l.msg).includes('connector "to-a"') && String(l.msg).includes('is up'));
    await waitFor('the route at A', async () => {
      try {
        const socket = await connect(tcpPort);
        const { sent, got } = await exchangeStream(socket, 1, 4 * 1024 * 1024);
        return got.sha256 === sent;
      } catch {
        return undefined;
      }
    });
  });

  it('A<==wss==D with a certificate from another CA: refused with the reason, at both ends', async () => {
    const { a, b } = await startPair('ws-bad', 'wss', { cert: folder.pki.otherClientCert, key: folder.pki.otherClientKey });
    const down = await b.waitForLog('the refusal', (l) => l.level === 'warn' && String(l.reason).includes('WebSocket upgrade refused'), 10_000);
    expect(String(down.reason)).toContain('HTTP 403 (TLS: client certificate is not signed by the trusted CA)');
    await a.waitForLog('the listener side', (l) => String(l.msg).includes('refused a WebSocket link: TLS: client certificate is not signed by the trusted CA'));
  });
});
