// Service exposure across three local sites in a line, A - B - C: real site
// processes, service sync over the router network, data checked byte for byte.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useKskupHome } from './helpers/kskup-cli.js';
import { waitFor } from './helpers/router-process.js';
import { connect, receiveAll, sendStream, startEchoServer, startNamedEcho, startServer, whoAnswers, type TestServer } from './helpers/tcp-tools.js';

// Fast sync so that ageing out is quick to test; the defaults are 2 s / 10 s.
const TTL_MS = 3_000;
const home = useKskupHome('site-services', { KSKUP_SYNC_HEARTBEAT_MS: '500', KSKUP_SYNC_TTL_MS: String(TTL_MS), KSKUP_SYNC_HEALTH_MS: '1000' });

interface ServiceJson {
  address: string;
  backlog?: number;
  ports: number[];
  listeners: { host: string; port: number; servicePort: number }[];
  exposedAt: string[];
  targets: { site: string; host: string; port: number; healthy: boolean }[];
}

const services = async (site: string) => (await home.json<{ services: ServiceJson[] }>('service', 'status', '-n', site)).services;
const service = async (site: string, address: string) => (await services(site)).find((s) => s.address === address);

/** The listener port of `address` (for `servicePort`) at `site`, once it is there. */
async function listenerAt(site: string, address: string, servicePort: number): Promise<number> {
  return waitFor(`${address}:${servicePort} listener at ${site}`, async () => (await service(site, address))?.listeners.find((l) => l.servicePort === servicePort)?.port, 5_000);
}

/** The backlog of the socket listening on 127.0.0.1:`port`, as the kernel has it: ss shows it as a listening socket's Send-Q. */
function listenBacklog(port: number): number | undefined {
  const line = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' }).trim();
  return line === '' ? undefined : Number(line.split(/\s+/)[2]);
}

/** Sends `bytes` pseudo-random bytes through `port` to an echo service and checks they come back the same. */
async function echoThrough(port: number, bytes: number, seed: number): Promise<void> {
  const socket = await connect(port);
  const [sent, received] = await Promise.all([sendStream(socket, seed, bytes), receiveAll(socket)]);
  expect(received).toEqual({ bytes, sha256: sent });
  socket.destroy();
}

/** An echo server that first says who it is, so a client can tell which target it reached. */

let squatter: TestServer | undefined;

/** Stops a site's process, runs `whileDown`, and starts it again with kskup init. */
async function restartSite(site: string, whileDown: () => Promise<void> = async () => undefined): Promise<void> {
  const pid = (await home.json<{ process: { pid: number } }>('status', '-n', site)).process.pid;
  process.kill(pid, 'SIGTERM');
  await waitFor(`${site} stopped`, async () => ((await home.json<{ process: { running: boolean } }>('status', '-n', site)).process.running ? undefined : true), 5_000);
  await whileDown();
  await home.ok('init', '-n', site);
}

async function linkSites(issuer: string, linker: string): Promise<void> {
  const file = `${home.path}/${issuer}-${linker}.token`;
  await home.ok('token', 'create', file, '-n', issuer);
  await home.ok('link', 'create', file, '-n', linker);
  await home.ok('link', 'status', '-n', linker, '--wait', '5');
}

describe('three local sites in a line: A - B - C', () => {
  let echo: TestServer;

  beforeAll(async () => {
    for (const site of ['a', 'b', 'c']) await home.ok('init', '-n', site);
    await linkSites('a', 'b');
    await linkSites('b', 'c');
    echo = await startEchoServer();
  });
  afterAll(async () => {
    await echo?.close();
  });

  it('an echo server exposed at C is reachable byte-exact from A and B at the port service status reports', async () => {
    await home.ok('expose', 'host/127.0.0.1', '--port', String(echo.port), '--address', 'echo', '-n', 'c');
    for (const site of ['a', 'b']) {
      const port = await listenerAt(site, 'echo', echo.port);
      await waitFor(`echo routed at ${site}`, async () => (await service(site, 'echo'))?.targets[0]?.healthy || undefined, 5_000);
      await echoThrough(port, 1 << 20, 7);
    }
    const atA = await service('a', 'echo');
    expect(atA).toMatchObject({ ports: [echo.port], exposedAt: ['c'], targets: [{ site: 'c', host: '127.0.0.1', port: echo.port, healthy: true }] });
    // The echo server holds the service port on this machine, so A's listener got another one.
    expect(atA?.listeners[0]?.port).not.toBe(echo.port);
  });

  it('the same address exposed at A too: flows from B spread over both', async () => {
    const fromA = await startNamedEcho('A');
    const fromC = await startNamedEcho('C');
    try {
      // The service port stays the echo port; each target listens on its own port.
      await home.ok('unexpose', 'host/127.0.0.1', '--address', 'echo', '-n', 'c');
      await home.ok('expose', 'host/127.0.0.1', '--port', String(echo.port), '--target-port', String(fromC.port), '--address', 'echo', '-n', 'c');
      await home.ok('expose', 'host/localhost', '--port', String(echo.port), '--target-port', String(fromA.port), '--address', 'echo', '-n', 'a');
      await waitFor('echo exposed at both', async () => ((await service('b', 'echo'))?.exposedAt.length === 2 ? true : undefined), 5_000);
      const port = await listenerAt('b', 'echo', echo.port);
      const answers = new Map<string, number>();
      await waitFor('both targets answer from B', async () => {
        const who = await whoAnswers(port);
        answers.set(who, (answers.get(who) ?? 0) + 1);
        return answers.has('A') && answers.has('C') ? true : undefined;
      }, 10_000);
      expect([...answers.keys()].sort()).toEqual(['A', 'C']);

      // unexpose at C: A keeps serving, at A and at B.
      await home.ok('unexpose', 'host/127.0.0.1', '--address', 'echo', '-n', 'c');
      await waitFor('C gone from echo', async () => ((await service('b', 'echo'))?.exposedAt.join() === 'a' ? true : undefined), 5_000);
      for (let i = 0; i < 6; i++) expect(await whoAnswers(port)).toBe('A');
      expect(await whoAnswers(await listenerAt('a', 'echo', echo.port))).toBe('A');
    } finally {
      await home.ok('unexpose', 'host/localhost', '--address', 'echo', '-n', 'a');
      await fromA.close();
      await fromC.close();
    }
    // No target anywhere: the listeners go away at every site.
    for (const site of ['a', 'b', 'c']) await waitFor(`echo gone at ${site}`, async () => ((await service(site, 'echo')) === undefined ? true : undefined), 5_000);
  });

  it('a service with two ports', async () => {
    const second = await startEchoServer();
    try {
      await home.ok('expose', 'host/127.0.0.1', '--port', `${echo.port},${second.port}`, '--address', 'pair', '-n', 'c');
      const atA = await waitFor('pair at A', async () => ((await service('a', 'pair'))?.listeners.length === 2 ? service('a', 'pair') : undefined), 5_000);
      expect(atA?.ports).toEqual([echo.port, second.port].sort((x, y) => x - y));
      await echoThrough(await listenerAt('a', 'pair', echo.port), 256 * 1024, 11);
      await echoThrough(await listenerAt('a', 'pair', second.port), 256 * 1024, 12);
    } finally {
      await home.ok('unexpose', 'host/127.0.0.1', '--address', 'pair', '-n', 'c');
      await second.close();
    }
  });

  it('two service ports on one target port, as in a Kubernetes Service', async () => {
    try {
      await home.ok('expose', 'host/127.0.0.1', '--port', '80,8080', '--target-port', `${echo.port},${echo.port}`, '--address', 'shared', '-n', 'c');
      await echoThrough(await listenerAt('a', 'shared', 80), 64 * 1024, 21);
      await echoThrough(await listenerAt('a', 'shared', 8080), 64 * 1024, 22);
      expect((await service('a', 'shared'))?.targets).toEqual([
        expect.objectContaining({ site: 'c', port: echo.port }),
        expect.objectContaining({ site: 'c', port: echo.port }),
      ]);
    } finally {
      await home.ok('unexpose', 'host/127.0.0.1', '--address', 'shared', '-n', 'c');
    }
  });

  it('service status at the exposing site shows each host target port: healthy, or unhealthy with the probe\'s reason', async () => {
    // A port nothing listens on: bound once to learn a free one, then closed. The service ports differ from the
    // target ports: a service port is where every site's router listens, on this same host, and a listener at the
    // closed port would answer the probe.
    const closed = await startEchoServer();
    const closedPort = closed.port;
    await closed.close();
    const [open, shut] = [9301, 9302];
    try {
      await home.ok('expose', 'host/127.0.0.1', '--port', `${open},${shut}`, '--target-port', `${echo.port},${closedPort}`, '--address', 'half', '-n', 'c');
      type Here = { target: string; host: string; ports: { servicePort: number; port: number; takesFlows: boolean; health: string; reason?: string }[] };
      const here = await waitFor(
        'both ports of half probed at C',
        async () => {
          const row = (await home.json<{ services: { address: string; targetsHere: Here[] }[] }>('service', 'status', '-n', 'c')).services.find((s) => s.address === 'half')?.targetsHere[0];
          return row?.ports.every((port) => port.health !== 'unknown') ? row : undefined;
        },
        5_000,
      );
      expect(here).toEqual({
        target: 'host/127.0.0.1',
        host: '127.0.0.1',
        ports: [
          { servicePort: open, port: echo.port, takesFlows: true, health: 'healthy' },
          { servicePort: shut, port: closedPort, takesFlows: true, health: 'unhealthy', reason: 'connection refused (ECONNREFUSED)' },
        ],
      });
      const text = (await home.ok('service', 'status', '-n', 'c')).stdout;
      expect(text).toContain(`here:          host/127.0.0.1: `);
      expect(text).toContain(`${closedPort} for ${shut} NOT ANSWERING (connection refused (ECONNREFUSED))`);
    } finally {
      await home.ok('unexpose', 'host/127.0.0.1', '--address', 'half', '-n', 'c');
    }
  });

  it('an edge site linked to A uses services from C and serves its own to B', async () => {
    await home.ok('init', '-n', 'edge', '--router-mode', 'edge');
    await linkSites('a', 'edge');
    await home.ok('expose', 'host/127.0.0.1', '--port', String(echo.port), '--address', 'from-c', '-n', 'c');
    await echoThrough(await listenerAt('edge', 'from-c', echo.port), 64 * 1024, 21);
    await home.ok('expose', 'host/127.0.0.1', '--port', String(echo.port), '--address', 'from-edge', '-n', 'edge');
    await echoThrough(await listenerAt('b', 'from-edge', echo.port), 64 * 1024, 22);
    const network = await home.json<{ sites: { name: string; mode: string }[] }>('network', 'status', '-n', 'b');
    expect(network.sites.find((site) => site.name === 'edge')?.mode).toBe('edge');
    await home.ok('delete', '-n', 'edge');
    await home.ok('unexpose', 'host/127.0.0.1', '--address', 'from-c', '-n', 'c');
  });

  it('a listening site that restarts keeps its listener ports, and moves one that another program took meanwhile', async () => {
    await home.ok('expose', 'host/127.0.0.1', '--port', String(echo.port), '--address', 'steady', '-n', 'c');
    await home.ok('expose', 'host/127.0.0.1', '--port', String(echo.port), '--address', 'squatted', '-n', 'c');
    const steady = await listenerAt('a', 'steady', echo.port);
    const squattedBefore = await listenerAt('a', 'squatted', echo.port);
    await restartSite('a', async () => {
      // While A is down, another program takes the port of one of its listeners.
      squatter = await startServer((socket) => socket.end('squatter\n'));
      const document = await home.folder('a').read();
      await home.folder('a').update((current) => ({ document: { ...current, listenerPorts: { ...current.listenerPorts, [`squatted:${echo.port}`]: squatter!.port } }, result: undefined }));
      expect(document.listenerPorts[`squatted:${echo.port}`]).toBe(squattedBefore);
    });
    try {
      expect(await listenerAt('a', 'steady', echo.port)).toBe(steady);
      await echoThrough(steady, 64 * 1024, 31);
      const moved = await listenerAt('a', 'squatted', echo.port);
      expect(moved).not.toBe(squatter!.port);
      await echoThrough(moved, 64 * 1024, 32);
    } finally {
      await home.ok('unexpose', 'host/127.0.0.1', '--address', 'steady', '-n', 'c');
      await home.ok('unexpose', 'host/127.0.0.1', '--address', 'squatted', '-n', 'c');
      await squatter?.close();
    }
  });

  it('definitions survive a restart of the exposing site process, at the same listener port', async () => {
    await home.ok('expose', 'host/127.0.0.1', '--port', String(echo.port), '--address', 'kept', '-n', 'c');
    const before = await listenerAt('a', 'kept', echo.port);
    await restartSite('c');
    await home.ok('link', 'status', '-n', 'c', '--wait', '5');
    expect(await listenerAt('a', 'kept', echo.port)).toBe(before);
    expect(await listenerAt('c', 'kept', echo.port)).toBeGreaterThan(0);
    await waitFor('kept routed at A again', async () => ((await service('a', 'kept'))?.exposedAt.join() === 'c' ? true : undefined), 5_000);
    await echoThrough(before, 64 * 1024, 13);
  });

  it('expose --backlog at C travels with the service: the listener at A has that backlog, in service status too; a new --backlog 0 there means SOMAXCONN', async () => {
    const server = await startEchoServer();
    try {
      const exposed = await home.json<{ backlog?: number }>('expose', 'host/127.0.0.1', '--port', String(server.port), '--address', 'queued', '--backlog', '77', '-n', 'c');
      expect(exposed.backlog).toBe(77);
      const port = await listenerAt('a', 'queued', server.port);
      await waitFor('backlog 77 at A\'s listener', () => (listenBacklog(port) === 77 ? true : undefined), 5_000);
      expect(await service('a', 'queued')).toMatchObject({ backlog: 77 });
      expect((await home.ok('service', 'status', '-n', 'a')).stdout).toMatch(/^queued \(tcp, backlog 77\) port\(s\) \d+$/m);
      await waitFor('queued routed at A', async () => (await service('a', 'queued'))?.targets[0]?.healthy || undefined, 5_000);
      await echoThrough(port, 1 << 16, 11);

      const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
      await home.ok('expose', 'host/127.0.0.1', '--port', String(server.port), '--address', 'queued', '--backlog', '0', '-n', 'c');
      await waitFor('SOMAXCONN at A\'s listener', async () => (listenBacklog(await listenerAt('a', 'queued', server.port)) === somaxconn ? true : undefined), 5_000);
      expect(await service('a', 'queued')).toMatchObject({ backlog: 0 });
    } finally {
      await home.ok('unexpose', 'host/127.0.0.1', '--address', 'queued', '-n', 'c');
      await server.close();
    }
  });

  it('bad input exits with a clear message and changes nothing', async () => {
    const state = await readFile(home.folder('c').stateFile, 'utf8');
    const cases: [string[], number, RegExp][] = [
      [['expose', 'pod/web', '--port', '80'], 2, /"pod\/web": unknown type "pod"; use host\/HOSTNAME/],
      [['expose', 'deployment/web', '--port', '80'], 2, /a deployment needs the kubernetes platform/],
      [['expose', 'host/127.0.0.1', '--port', '70000', '--address', 'x'], 2, /"70000" is not a port number/],
      [['expose', 'host/127.0.0.1', '--port', '0', '--address', 'x'], 2, /"0" is not a port number/],
      [['expose', 'host/127.0.0.1', '--address', 'x'], 2, /option --port is required for host\//],
      [['expose', 'pods', '--selector', 'app=web', '--address', 'x', '--port', '80'], 2, /"pods": pods need the kubernetes platform/],
      [['expose', 'host/127.0.0.1', '--port', '80,81', '--target-port', '8080', '--address', 'x'], 2, /--target-port has 1 port\(s\) but --port has 2/],
      [['expose', 'host/127.0.0.1', '--port', '80'], 2, /the address defaults to the name "127.0.0.1", which cannot be a service address: give --address/],
      [['expose', 'host/127.0.0.1', '--port', '80', '--address', 'Bad_Name'], 2, /option --address: "Bad_Name" is not a valid name/],
      [['expose', 'host/127.0.0.1', '--port', '80', '--protocol', 'udp', '--address', 'x'], 2, /Allowed choices are tcp/],
      [['expose', 'host/127.0.0.1', '--port', '80', '--address', 'x', '--backlog', '-1'], 2, /option '--backlog <n>' argument '-1' is invalid\. "-1" is not a listen\(\) backlog: give a whole number of at least 0/],
      [['expose', 'host/127.0.0.1', '--port', '80', '--address', 'x', '--backlog', 'many'], 2, /option '--backlog <n>' argument 'many' is invalid/],
      [['expose', 'host/127.0.0.1', '--port', '80', '--address', 'x', '--backlog', '1.5'], 2, /"1\.5" is not a listen\(\) backlog/],
      // A second target must have the service's ports (its only target may change them: docs/services.md).
      [['expose', 'host/localhost', '--port', String(echo.port + 1), '--address', 'kept'], 1, /address "kept" is already exposed at this site \("c"\) with port\(s\) \d+/],
      [['expose', 'host/127.0.0.1', '--port', '80', '--target-port', '8080,8080', '--address', 'x'], 2, /--target-port has 2 port\(s\) but --port has 1/],
      [['unexpose', 'host/nowhere', '-n', 'c'], 1, /host\/nowhere is not exposed at site "c"/],
    ];
    for (const [argv, code, message] of cases) {
      const result = await home.kskup(...argv, ...(argv.includes('-n') ? [] : ['-n', 'c']));
      expect({ argv, code: result.code }).toEqual({ argv, code });
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
    // Exposed elsewhere with other ports: A knows "kept" from C through service sync.
    const elsewhere = await home.kskup('expose', 'host/127.0.0.1', '--port', '1', '--address', 'kept', '-n', 'a');
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr).toMatch(/address "kept" is already exposed at another site with port\(s\) \d+/);
    expect(await readFile(home.folder('c').stateFile, 'utf8')).toBe(state);
  });

  it('a deleted site says goodbye: its definitions leave A and B at once', async () => {
    await home.ok('init', '-n', 'd');
    await linkSites('b', 'd');
    await home.ok('expose', 'host/127.0.0.1', '--port', String(echo.port), '--address', 'short-lived', '-n', 'd');
    await listenerAt('a', 'short-lived', echo.port);
    const started = Date.now();
    await home.ok('delete', '-n', 'd');
    for (const site of ['a', 'b']) await waitFor(`short-lived gone at ${site}`, async () => ((await service(site, 'short-lived')) === undefined ? true : undefined), TTL_MS);
    expect(Date.now() - started).toBeLessThan(TTL_MS);
  });

  it('a site that dies without a word ages out at A and B after the TTL', async () => {
    await home.kill('c', 'SIGKILL', 'all');
    const killed = Date.now();
    for (const site of ['a', 'b']) await waitFor(`kept aged out at ${site}`, async () => ((await service(site, 'kept')) === undefined ? true : undefined), TTL_MS + 5_000);
    // Not before the TTL: heartbeats stopped, nothing else told them.
    expect(Date.now() - killed).toBeGreaterThanOrEqual(TTL_MS - 600);
    const network = await home.json<{ sites: { name: string }[] }>('network', 'status', '-n', 'a');
    expect(network.sites.map((s) => s.name).sort()).toEqual(['a', 'b']);
  });
});
