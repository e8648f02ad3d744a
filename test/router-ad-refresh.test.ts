// Link-state refresh beyond one hop, real router processes in a line A - B - C
// with a short re-advertise interval (1 s) and max age (3 s): after many max
// ages without any change, A still knows C and routes flows to it; when C
// stops, A forgets it within about a max age. (A refresh that was only a copy
// of the old ad stopped at B, so routers two links apart forgot each other.)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManagementClient } from '../router/management/management-client.js';
import { freePort, metric, RouterProcess, waitFor, type Entity } from './helpers/router-process.js';
import { connect, receiveAll, sendStream, startEchoServer, type TestServer } from './helpers/tcp-tools.js';

const NAMES = ['A', 'B', 'C'] as const;
let dir: string;
const routers: Record<string, RouterProcess> = {};
const ports: Record<string, { link: number; amqp: number; http: number }> = {};
let echo: TestServer;
let tcpPort: number;
let management: ManagementClient;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kskup-refresh-'));
  echo = await startEchoServer();
  tcpPort = await freePort();
  for (const name of NAMES) ports[name] = { link: await freePort(), amqp: await freePort(), http: await freePort() };
  for (const [index, name] of NAMES.entries()) {
    const p = ports[name]!;
    const entities: Entity[] = [
      ['router', { id: `refresh-${name}`, raIntervalSeconds: 1, remoteLsMaxAgeSeconds: 3, mode: 'interior' }],
      ['listener', { name: 'inter-router', role: 'inter-router', host: '127.0.0.1', port: p.link }],
      ['listener', { name: 'amqp', host: '127.0.0.1', port: p.amqp }],
      ['listener', { name: 'http', host: '127.0.0.1', port: p.http, http: true }],
    ];
    if (index > 0) entities.push(['connector', { name: 'prev', role: 'inter-router', host: '127.0.0.1', port: ports[NAMES[index - 1]!]!.link }]);
    if (name === 'A') entities.push(['tcpListener', { name: 'echo', host: '127.0.0.1', port: tcpPort, address: 'echo' }]);
    if (name === 'C') entities.push(['tcpConnector', { name: 'echo', host: '127.0.0.1', port: echo.port, address: 'echo' }]);
    routers[name] = await RouterProcess.start(dir, name, entities);
  }
  await waitFor('A routes echo', async () => ((await metric(ports.A!.http, 'kskup_tcp_listener_routes{address="echo"}').catch(() => 0)) === 1 ? true : undefined), 15_000);
  management = await ManagementClient.connect({ host: '127.0.0.1', port: ports.A!.amqp }, { timeoutMs: 5_000 });
});

afterAll(async () => {
  await management?.close();
  await Promise.all(Object.values(routers).map((r) => r.stop()));
  await echo?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const knownAtA = async () => (await management.query('router.node')).map((node) => String(node.id)).sort();

describe('link-state refresh', () => {
  it('A still knows C and reaches it after three max ages with nothing changing', async () => {
    await new Promise((resolve) => setTimeout(resolve, 9_500));
    expect(await knownAtA()).toEqual(['refresh-A', 'refresh-B', 'refresh-C']);
    expect(routers.A!.lines.some((line) => String(line.msg).includes('expired'))).toBe(false);
    const socket = await connect(tcpPort);
    const [sent, received] = await Promise.all([sendStream(socket, 5, 128 * 1024), receiveAll(socket)]);
    expect(received).toEqual({ bytes: 128 * 1024, sha256: sent });
  });

  it('a router that stops is forgotten two links away within about a max age', async () => {
    const stopped = Date.now();
    await routers.C!.stop();
    await waitFor('A forgets C', async () => ((await knownAtA()).includes('refresh-C') ? undefined : true), 8_000);
    // B drops C at once (hello timeout is 3 s) and advertises that; A follows B's new ad or the max age.
    expect(Date.now() - stopped).toBeLessThan(8_000);
  });
});
