// Inter-router links that must NOT come up, each a pair of real router processes:
//
//   L [inter-router listener, mutual TLS, trusts the test CA]  <==  D [connector]
//
//   - D presents a client certificate signed by another CA      -> refused
//   - D presents no client certificate                          -> refused
//   - D trusts another CA, so it refuses L's server certificate -> refused
//
// Each case: no inter-router connection on either side after several retries,
// and the logs of both routers say why, once per reason (not once per retry).
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useTestFolder } from './helpers/temp-dir.js';
import { freePort, metric, RouterProcess, type Entity } from './helpers/router-process.js';

const folder = useTestFolder('tls', { withPki: true });
const started: RouterProcess[] = [];

afterAll(async () => {
  await Promise.all(started.map((r) => r.stop()));
});

async function pair(name: string, dialerProfile: Record<string, unknown>) {
  const [linkPort, httpL, httpD] = [await freePort(), await freePort(), await freePort()];
  const listenerSide: Entity[] = [
    ['router', { id: `${name}-L`, mode: 'interior' }],
    ['sslProfile', { name: 'tls', caCertFile: folder.pki.caCert, certFile: folder.pki.serverCert, privateKeyFile: folder.pki.serverKey }],
    ['listener', { name: 'inter-router', role: 'inter-router', host: '127.0.0.1', port: linkPort, sslProfile: 'tls', authenticatePeer: true }],
    ['listener', { name: 'http', host: '127.0.0.1', port: httpL, http: true }],
  ];
  const dialerSide: Entity[] = [
    ['router', { id: `${name}-D`, mode: 'interior' }],
    ['sslProfile', { name: 'tls', ...dialerProfile }],
    ['connector', { name: 'uplink', role: 'inter-router', host: 'localhost', port: linkPort, sslProfile: 'tls' }],
    ['listener', { name: 'http', host: '127.0.0.1', port: httpD, http: true }],
  ];
  const l = await RouterProcess.start(folder.path, `${name}-L`, listenerSide);
  const d = await RouterProcess.start(folder.path, `${name}-D`, dialerSide);
  started.push(l, d);
  // Counted from when both serve /metrics: how long a process takes to start
  // depends on the machine's load (3 s from spawn was not always enough).
  for (const router of [l, d]) {
    await router.waitForLog('its http listener', (line) => line.msg === 'http listener "http" listening', 30_000);
  }
  // Backoff starts at 250 ms: 3 s is several attempts.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  return { l, d, httpL, httpD };
}

describe('inter-router link refused', () => {
  it.each([
    {
      name: 'wrong-ca',
      what: 'D presents a client certificate from another CA',
      profile: () => ({ caCertFile: folder.pki.caCert, certFile: folder.pki.otherClientCert, privateKeyFile: folder.pki.otherClientKey }),
      dialerSays: /closed by peer: TLS: client certificate is not signed by the trusted CA/,
      listenerSays: /TLS: client certificate is not signed by the trusted CA/,
    },
    {
      name: 'no-cert',
      what: 'D presents no client certificate',
      profile: () => ({ caCertFile: folder.pki.caCert }),
      dialerSays: /closed by peer: TLS: client presented no certificate/,
      listenerSays: /TLS: client presented no certificate/,
    },
    {
      name: 'untrusted-server',
      what: 'D does not trust L (other CA)',
      profile: () => ({ caCertFile: folder.pki.otherCaCert, certFile: folder.pki.clientCert, privateKeyFile: folder.pki.clientKey }),
      dialerSays: /TLS: server certificate is not signed by the trusted CA/,
      listenerSays: /refused a connection/,
    },
  ])('L<==D $what: link stays down and both logs say why', async ({ name, profile, dialerSays, listenerSays }) => {
    const { l, d, httpL, httpD } = await pair(name, profile());
    expect(await metric(httpL, 'kskup_inter_router_connections')).toBe(0);
    expect(await metric(httpD, 'kskup_inter_router_connections')).toBe(0);

    const dialerDown = d.lines.filter((line) => line.level === 'warn' && String(line.msg).includes('connector "uplink"'));
    expect(dialerDown.length).toBeGreaterThan(0);
    // The first attempt may race the listener's bind ("connection refused"); the TLS reason follows.
    expect(dialerDown.map((line) => String(line.reason)).join('\n')).toMatch(dialerSays);
    // Several attempts were made, but each distinct reason is logged once.
    const reasons = dialerDown.map((line) => String(line.reason));
    expect(new Set(reasons).size).toBe(reasons.length);

    const refusals = l.lines.filter((line) => String(line.msg).includes('refused a connection'));
    expect(refusals.length).toBeGreaterThan(0);
    expect(refusals.map((line) => String(line.msg)).join('\n')).toMatch(listenerSays);
    const refusalReasons = refusals.map((line) => String(line.reason));
    expect(new Set(refusalReasons).size).toBe(refusalReasons.length);
    // Keys and certificates are never logged.
    for (const line of [...l.stderrText, ...d.stderrText]) expect(line).not.toMatch(/BEGIN (RSA |EC )?PRIVATE KEY|BEGIN CERTIFICATE/);
  });
});
