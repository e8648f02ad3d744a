// Listener ports of local sites that share one host (and one --listener-host),
// A - B linked: every listener port `service status` reports at a site is held
// by that site's own process (checked with the kernel's socket tables, not with
// what the site says), and carries bytes unchanged to the service. A listener
// that cannot bind (a port another site or program took between the choice and
// the bind) moves to a free port within seconds; status reports only listeners
// that are bound, and says why one is not.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useKskupHome } from './helpers/kskup-cli.js';
import { portsListenedBy } from './helpers/port-owner.js';
import { freePort, waitFor } from './helpers/router-process.js';
import { connect, receiveAll, sendStream, startEchoServer, startServer, type TestServer } from './helpers/tcp-tools.js';

// Fast heartbeats: a site hears of a service while its exposing site is still
// choosing and binding the port, which is when two sites pick the same one.
const home = useKskupHome('listener-ports', { KSKUP_SYNC_HEARTBEAT_MS: '100', KSKUP_SYNC_TTL_MS: '3000', KSKUP_SYNC_HEALTH_MS: '500' });

interface ListenerJson {
  host: string;
  port: number;
  servicePort: number;
}
interface ServiceJson {
  address: string;
  ports: number[];
  listeners: ListenerJson[];
  notListening?: (ListenerJson & { reason: string })[];
}

const services = async (site: string) => (await home.json<{ services: ServiceJson[] }>('service', 'status', '-n', site)).services;
// The site process's pid (its router's ports), not its supervisor's.
const pidOf = async (site: string) => (await home.json<{ process: { site: { pid: number } } }>('status', '-n', site)).process.site.pid;

async function echoThrough(port: number, bytes: number, seed: number): Promise<void> {
  const socket = await connect(port);
  const [sent, received] = await Promise.all([sendStream(socket, seed, bytes), receiveAll(socket)]);
  expect(received).toEqual({ bytes, sha256: sent });
  socket.destroy();
}

async function linkSites(issuer: string, linker: string): Promise<void> {
  const file = `${home.path}/${issuer}-${linker}.token`;
  await home.ok('token', 'create', file, '-n', issuer);
  await home.ok('link', 'create', file, '-n', linker);
  await home.ok('link', 'status', '-n', linker, '--wait', '5');
}

/** Listener ports that `site` reports but its own process does not hold (empty when all is well). */
async function reportedButNotHeld(site: string, addresses: readonly string[]): Promise<string[]> {
  const held = await portsListenedBy(await pidOf(site));
  const reported = (await services(site)).filter((s) => addresses.includes(s.address));
  return reported.flatMap((s) => s.listeners.filter((l) => !held.has(l.port)).map((l) => `${site}: ${s.address} at ${l.host}:${l.port}`));
}

describe('two local sites on one host: A - B', () => {
  let echo: TestServer;

  beforeAll(async () => {
    for (const site of ['a', 'b']) await home.ok('init', '-n', site);
    await linkSites('a', 'b');
    echo = await startEchoServer();
  });
  afterAll(async () => {
    await echo?.close();
  });

  it('15 services exposed at A on free service ports: every listener either site reports is its own, and serves byte-exact', async () => {
    // Free service ports: both sites want each one for their listener.
    const ports: number[] = [];
    for (let i = 0; i < 15; i++) ports.push(await freePort());
    const addresses = ports.map((_port, i) => `race-${i}`);
    for (const [i, port] of ports.entries()) {
      await home.ok('expose', 'host/127.0.0.1', '--port', String(port), '--target-port', String(echo.port), '--address', addresses[i]!, '-n', 'a');
    }
    for (const site of ['a', 'b']) {
      await waitFor(
        `a listener for each of the 15 services at ${site}`,
        async () => {
          const listed = (await services(site)).filter((s) => addresses.includes(s.address) && s.listeners.length === 1);
          return listed.length === addresses.length || undefined;
        },
        15_000,
      );
    }
    expect([...(await reportedButNotHeld('a', addresses)), ...(await reportedButNotHeld('b', addresses))]).toEqual([]);
    for (const [index, site] of ['a', 'b'].entries()) {
      const listed = (await services(site)).filter((s) => addresses.includes(s.address));
      for (const [i, entry] of listed.entries()) await echoThrough(entry.listeners[0]!.port, 32 * 1024, 100 * index + i);
    }
    for (const address of addresses) await home.ok('unexpose', 'host/127.0.0.1', '--address', address, '-n', 'a');
  });

  it('a recorded port another program holds while the site runs: the listener moves within seconds and serves byte-exact; the program keeps its port', async () => {
    await home.ok('expose', 'host/127.0.0.1', '--port', String(echo.port), '--address', 'squatted', '-n', 'a');
    const address = `squatted:${echo.port}`;
    const before = await waitFor('squatted listening at B', async () => (await services('b')).find((s) => s.address === 'squatted')?.listeners[0]?.port, 5_000);
    const squatter = await startServer((socket) => socket.end('squatter\n'));
    try {
      // As if the program had taken the port between B's choice and its bind: B's record now names it.
      const started = Date.now();
      await home.folder('b').update((current) => ({ document: { ...current, listenerPorts: { ...current.listenerPorts, [address]: squatter.port } }, result: undefined }));
      const moved = await waitFor(
        'B to move the listener off the squatted port',
        async () => {
          const recorded = (await home.folder('b').read()).listenerPorts[address];
          if (recorded === undefined || recorded === squatter.port) return undefined;
          const listener = (await services('b')).find((s) => s.address === 'squatted')?.listeners[0];
          return listener?.port === recorded ? recorded : undefined;
        },
        5_000,
      );
      const tookMs = Date.now() - started;
      expect(tookMs).toBeLessThan(3_000);
      expect(moved).not.toBe(squatter.port);
      expect(await portsListenedBy(await pidOf('b'))).toContain(moved);
      await echoThrough(moved, 256 * 1024, 41);
      // The squatter was never disturbed, and B's status never claimed its port.
      const socket = await connect(squatter.port);
      expect((await receiveAll(socket)).bytes).toBe('squatter\n'.length);
      expect((await services('b')).find((s) => s.address === 'squatted')?.listeners.map((l) => l.port)).toEqual([moved]);
    } finally {
      await squatter.close();
      await home.ok('unexpose', 'host/127.0.0.1', '--address', 'squatted', '-n', 'a');
    }
  });

  it('a recorded port another program took while the site was stopped: the listener moves when it starts', async () => {
    await home.ok('expose', 'host/127.0.0.1', '--port', String(echo.port), '--address', 'while-down', '-n', 'a');
    const address = `while-down:${echo.port}`;
    await waitFor('while-down listening at B', async () => (await services('b')).find((s) => s.address === 'while-down')?.listeners[0]?.port, 5_000);
    const pid = await pidOf('b');
    process.kill(pid, 'SIGTERM');
    await waitFor('B stopped', async () => ((await home.json<{ process: { running: boolean } }>('status', '-n', 'b')).process.running ? undefined : true), 5_000);
    // Stopped: nothing of B listens, and status says so.
    const stopped = (await services('b')).find((s) => s.address === 'while-down');
    expect(stopped?.listeners).toEqual([]);
    expect(stopped?.notListening?.[0]?.reason).toBe('the site process is not running');
    const squatter = await startServer((socket) => socket.end('squatter\n'));
    try {
      await home.folder('b').update((current) => ({ document: { ...current, listenerPorts: { ...current.listenerPorts, [address]: squatter.port } }, result: undefined }));
      await home.ok('init', '-n', 'b');
      const moved = await waitFor('while-down listening at B again', async () => (await services('b')).find((s) => s.address === 'while-down')?.listeners[0]?.port, 10_000);
      expect(moved).not.toBe(squatter.port);
      expect(await portsListenedBy(await pidOf('b'))).toContain(moved);
      await home.ok('link', 'status', '-n', 'b', '--wait', '5');
      await waitFor('while-down routed at B', async () => ((await services('b')).find((s) => s.address === 'while-down') ? true : undefined), 5_000);
      await echoThrough(moved, 64 * 1024, 42);
    } finally {
      await squatter.close();
      await home.ok('unexpose', 'host/127.0.0.1', '--address', 'while-down', '-n', 'a');
    }
  });

  it('a site whose listener host is not an address of this machine: status shows each listener as not listening, with the reason', async () => {
    // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never an address of this host, so
    // binding it fails with EADDRNOTAVAIL (unless net.ipv4.ip_nonlocal_bind is set).
    // No port anywhere can help: the listener stays down, and status says why.
    await home.ok('init', '-n', 'nowhere', '--listener-host', '192.0.2.1');
    await linkSites('a', 'nowhere');
    await home.ok('expose', 'host/127.0.0.1', '--port', String(echo.port), '--address', 'unbindable', '-n', 'a');
    const entry = await waitFor(
      'unbindable known at nowhere, with a reason',
      async () => {
        const found = (await services('nowhere')).find((s) => s.address === 'unbindable');
        return found?.notListening?.[0]?.reason.includes('EADDRNOTAVAIL') ? found : undefined;
      },
      5_000,
    );
    expect(entry.listeners).toEqual([]);
    expect(entry.notListening).toEqual([{ servicePort: echo.port, host: '192.0.2.1', port: expect.any(Number), reason: 'address not available on this host (EADDRNOTAVAIL)' }]);
    const text = (await home.ok('service', 'status', '-n', 'nowhere')).stdout;
    expect(text).toMatch(new RegExp(`unbindable \\(tcp\\)[^]*listener here: none\n  NOT LISTENING: for port ${echo.port} at 192\\.0\\.2\\.1:\\d+: address not available on this host \\(EADDRNOTAVAIL\\)`));
    // The site carries on: still linked, still hearing the network.
    await home.ok('link', 'status', '-n', 'nowhere', '--wait', '5');
    await home.ok('delete', '-n', 'nowhere');
    await home.ok('unexpose', 'host/127.0.0.1', '--address', 'unbindable', '-n', 'a');
  });
});
