// The parts of the benchmark (bench/) that decide what a figure means:
//
//   client.mjs burst ──N connections at once──> echo server (in this process:
//                                               faithful, one that changes a
//                                               byte, or one that resets)
//
// - the connection-burst client counts a connection as done only when its own
//   bytes came back intact, and counts mismatches and resets as failures;
// - the one tunnel description gives kskup a config it loads without a warning,
//   and skupper-router a config in its own terms (names unique across entity
//   types, as skrouterd demands, and no kskup-only attribute or entity);
// - kskup and skupper-router are measured one right after the other in every
//   run, with the first of the two alternating.
import { execFile } from 'node:child_process';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { entityType, parseRouterConfig } from '../router/config/index.js';

const BENCH = resolve(import.meta.dirname, '..', 'bench');
const run = promisify(execFile);

type Entities = [string, Record<string, unknown>][];
interface Description {
  pki: { caCert: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string };
  interRouterPort: number;
  services: { address: string; listenPort: number; targetPort: number }[];
  maxFrameSize?: number;
}
const { tunnelConfigs } = (await import(pathToFileURL(join(BENCH, 'lib', 'router-configs.mjs')).href)) as {
  tunnelConfigs: (flavour: string, description: Description, extra?: { httpPortA?: number; httpPortB?: number }) => { A: Entities; B: Entities };
};
const { runOrder } = (await import(pathToFileURL(join(BENCH, 'lib', 'side-by-side.mjs')).href)) as {
  runOrder: (paths: string[], run: number) => string[];
};

interface BurstReport {
  count: number;
  completed: number;
  failed: number;
  resets: number;
  errors: Record<string, number>;
  totalMs: number;
}

/** Runs `client.mjs burst` as its own process, as the bench does, and returns its report. */
async function burst(port: number, count: number, bytes: number): Promise<BurstReport> {
  const { stdout } = await run(process.execPath, [join(BENCH, 'lib', 'client.mjs'), 'burst', String(port), String(count), String(bytes), '20'], { timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as BurstReport;
}

const servers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/**
 * An echo server on 127.0.0.1; `spoil(n, socket, chunk)` may act on the n-th
 * connection's data instead of echoing it (return true when it did).
 */
async function echoServer(spoil?: (n: number, socket: net.Socket, chunk: Buffer) => boolean): Promise<number> {
  let connections = 0;
  const server = net.createServer((socket) => {
    const n = connections++;
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => {
      if (!spoil?.(n, socket, chunk)) socket.write(chunk);
    });
  });
  server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 });
  await new Promise((r) => server.once('listening', r));
  servers.push(server);
  return (server.address() as net.AddressInfo).port;
}

describe('bench connection burst client', () => {
  it('300 connections at once to an echo server: all checked, none failed', async () => {
    const report = await burst(await echoServer(), 300, 2048);
    expect(report).toMatchObject({ count: 300, completed: 300, failed: 0, resets: 0, errors: {} });
    expect(report.totalMs).toBeGreaterThan(0);
  });

  it('a server that changes one byte of every 10th connection fails those connections (EMISMATCH)', async () => {
    const port = await echoServer((n, socket, chunk) => {
      if (n % 10 !== 0) return false;
      const copy = Buffer.from(chunk);
      copy[0] = (copy[0] ?? 0) ^ 0xff;
      socket.write(copy);
      return true;
    });
    const report = await burst(port, 200, 1024);
    expect(report).toMatchObject({ completed: 180, failed: 20, resets: 0, errors: { EMISMATCH: 20 } });
  });

  it('a server that resets every 4th connection: those count as failed and as resets', async () => {
    const port = await echoServer((n, socket) => {
      if (n % 4 !== 0) return false;
      socket.resetAndDestroy();
      return true;
    });
    const report = await burst(port, 200, 1024);
    expect(report).toMatchObject({ completed: 150, failed: 50, resets: 50, errors: { ECONNRESET: 50 } });
  });
});

describe('bench tunnel configs (one description, two routers)', () => {
  const description: Description = {
    pki: { caCert: '/pki/ca.crt', serverCert: '/pki/server.crt', serverKey: '/pki/server.key', clientCert: '/pki/client.crt', clientKey: '/pki/client.key' },
    interRouterPort: 25671,
    services: [
      { address: 'iperf', listenPort: 25001, targetPort: 25101 },
      { address: 'echo', listenPort: 25002, targetPort: 25102 },
    ],
    maxFrameSize: 65536,
  };

  it('kskup loads both routers\' configs without a warning', () => {
    const { A, B } = tunnelConfigs('kskup', description, { httpPortA: 25090, httpPortB: 25091 });
    for (const config of [A, B]) expect(parseRouterConfig(JSON.stringify(config), 'bench.json').warnings).toEqual([]);
  });

  it.each(['kskup', 'skrouterd'])('%s: every entity name is unique across entity types (skupper-router refuses duplicates)', (flavour) => {
    const { A, B } = tunnelConfigs(flavour, description, { httpPortA: 25090, httpPortB: 25091 });
    for (const config of [A, B]) {
      const names = config.map(([, attributes]) => attributes.name).filter((name) => name !== undefined);
      expect(new Set(names).size).toBe(names.length);
    }
  });

  it('skrouterd: only skupper-router entity types and attributes, the same tunnel as kskup\'s', () => {
    const skr = tunnelConfigs('skrouterd', description);
    const ks = tunnelConfigs('kskup', description, { httpPortA: 25090, httpPortB: 25091 });
    for (const config of [skr.A, skr.B]) {
      for (const [typeName, attributes] of config) {
        const type = entityType(typeName);
        expect(type, typeName).toBeDefined();
        expect(type!.kskup, typeName).toBeUndefined();
        for (const attribute of Object.keys(attributes)) {
          if (attribute === 'name') continue; // the base type's
          expect(type!.attributes[attribute], `${typeName}.${attribute}`).toBeDefined();
          expect(type!.attributes[attribute]!.kskup, `${typeName}.${attribute}`).toBeUndefined();
        }
      }
    }
    // The HTTP listener (kskup's readiness probe) and the log entity are the only differences.
    const tunnelOnly = (config: Entities) => config.filter(([type, a]) => type !== 'log' && !(type === 'listener' && a.http));
    expect(tunnelOnly(skr.A)).toEqual(tunnelOnly(ks.A));
    expect(tunnelOnly(skr.B)).toEqual(tunnelOnly(ks.B));
    expect(skr.A.some(([type, a]) => type === 'listener' && a.http)).toBe(false);
  });

  it('refuses an unknown flavour and a kskup config without metrics ports, naming what is wrong', () => {
    expect(() => tunnelConfigs('qdrouterd', description)).toThrow(/unknown flavour "qdrouterd"/);
    expect(() => tunnelConfigs('kskup', description)).toThrow(/httpPortA and httpPortB/);
  });
});

describe('bench run order', () => {
  const paths = ['direct', 'stunnel', 'kskup', 'skrouterd', 'kskup-16k'];

  it.each([0, 1, 2, 3, 4, 5])('run %i: every path once, kskup and skrouterd one right after the other', (runIndex) => {
    const order = runOrder(paths, runIndex);
    expect([...order].sort()).toEqual([...paths].sort());
    expect(Math.abs(order.indexOf('kskup') - order.indexOf('skrouterd'))).toBe(1);
  });

  it('which of kskup and skrouterd goes first alternates from run to run', () => {
    const firsts = [0, 1, 2, 3].map((r) => {
      const order = runOrder(paths, r);
      return order.indexOf('kskup') < order.indexOf('skrouterd') ? 'kskup' : 'skrouterd';
    });
    expect(firsts).toEqual(['kskup', 'skrouterd', 'kskup', 'skrouterd']);
  });

  it('without skrouterd the order rotates by one every run, as before', () => {
    expect(runOrder(['direct', 'stunnel', 'kskup', 'kskup-16k'], 1)).toEqual(['stunnel', 'kskup', 'kskup-16k', 'direct']);
  });
});
