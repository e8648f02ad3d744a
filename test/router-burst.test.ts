// A connection burst through a tcpListener (issue 11: 1,500 clients at once
// through a router used to get 943 resets, from a listen() backlog of 128):
//
//   2,000 clients at once --> A [tcpListener, backlog 0 = SOMAXCONN] ==> B [tcpConnector] --> echo (backlog 4096)
//
// Every client sends its own bytes (seeded by its index) and ends; each must
// get exactly those bytes back and a clean end, none a reset. The time the
// burst takes is printed, not asserted (bench/ measures the rate).
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, metric, RouterProcess, routerLogsOnFailure, useRouters, waitFor } from './helpers/router-process.js';
import { pseudoRandomChunks } from './helpers/tcp-tools.js';
import { useTestFolder } from './helpers/temp-dir.js';

const CLIENTS = 2_000;
/** Each client's bytes: one TCP segment's worth and more, so that each flow carries data both ways. */
const BYTES_PER_CLIENT = 4_096;
/**
 * File descriptors the busiest process needs: this one holds every client
 * socket and every echo socket (2 x CLIENTS), plus Node's and vitest's own.
 * The routers each hold CLIENTS sockets and inherit this process's limit.
 */
const FDS_NEEDED = 2 * CLIENTS + 500;

const folder = useTestFolder('burst');
const routers = useRouters();
routerLogsOnFailure(() => routers);
let echo: net.Server;
const ports = { link: 0, http: 0, burst: 0 };

/** This process's soft and hard RLIMIT_NOFILE, from /proc (Node has no getrlimit). */
function openFileLimits(): { soft: number; hard: number } {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files')) ?? '';
  const [soft, hard] = line.replace('Max open files', '').trim().split(/\s+/);
  const value = (text: string | undefined) => (text === 'unlimited' ? Number.POSITIVE_INFINITY : Number(text));
  return { soft: value(soft), hard: value(hard) };
}

/**
 * Raises the soft limit to the hard one when it is too low for the burst
 * (prlimit on this process: Node cannot call setrlimit itself); the routers,
 * started after, inherit it. A hard limit too low is a failure that says so.
 */
function ensureOpenFiles(): void {
  const before = openFileLimits();
  if (before.soft >= FDS_NEEDED) return;
  if (before.hard < FDS_NEEDED) throw new Error(`the burst needs ${FDS_NEEDED} open files; the hard limit (ulimit -Hn) is ${before.hard}`);
  execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${before.hard}:${before.hard}`]);
  const after = openFileLimits();
  if (after.soft < FDS_NEEDED) throw new Error(`the burst needs ${FDS_NEEDED} open files; prlimit left the soft limit at ${after.soft}`);
}

beforeAll(async () => {
  ensureOpenFiles();
  // The backend must not be the bottleneck: its accept queue holds the whole burst.
  echo = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => echo.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, resolve));
  for (const key of Object.keys(ports) as (keyof typeof ports)[]) ports[key] = await freePort();
  const a = await RouterProcess.start(folder.path, 'A', [
    ['router', { id: 'A', mode: 'interior' }],
    ['listener', { name: 'inter-router', role: 'inter-router', host: '127.0.0.1', port: ports.link }],
    ['listener', { name: 'http', host: '127.0.0.1', port: ports.http, http: true }],
    ['tcpListener', { name: 'burst', host: '127.0.0.1', port: ports.burst, address: 'burst' }],
  ]);
  const b = await RouterProcess.start(folder.path, 'B', [
    ['router', { id: 'B', mode: 'interior' }],
    ['connector', { name: 'to-a', role: 'inter-router', host: '127.0.0.1', port: ports.link }],
    ['tcpConnector', { name: 'echo', host: '127.0.0.1', port: (echo.address() as net.AddressInfo).port, address: 'burst' }],
  ]);
  routers.push(a, b);
  await waitFor('A to route "burst" to B', async () => ((await metric(ports.http, 'kskup_tcp_listener_routes{address="burst"}').catch(() => undefined)) === 1 ? true : undefined), 15_000);
});

afterAll(async () => {
  await new Promise((resolve) => echo?.close(resolve));
});

/** What one client saw: its echo's sha256 and length, and how its connection ended. */
interface Outcome {
  readonly sha256: string;
  readonly bytes: number;
  readonly ending: string;
}

function client(index: number): { expected: string; done: Promise<Outcome> } {
  const payload = Buffer.concat([...pseudoRandomChunks(index, BYTES_PER_CLIENT)]);
  const expected = createHash('sha256').update(payload).digest('hex');
  const done = new Promise<Outcome>((resolve) => {
    const hash = createHash('sha256');
    let bytes = 0;
    let ending = 'closed before its end';
    const socket = net.connect({ port: ports.burst, host: '127.0.0.1', allowHalfOpen: true });
    socket.on('connect', () => socket.end(payload));
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    socket.on('end', () => {
      ending = 'end';
      socket.end();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => (ending = `error ${error.code ?? error.message}`));
    socket.on('close', () => resolve({ sha256: hash.digest('hex'), bytes, ending }));
  });
  return { expected, done };
}

describe('connection burst', () => {
  it(`${CLIENTS} clients at once through A's tcpListener to B's tcpConnector: all complete byte-exact, none reset`, { timeout: 180_000 }, async () => {
    // The clients dial in one go, without waiting for each other.
    const started = performance.now();
    const clients = Array.from({ length: CLIENTS }, (_, index) => client(index));
    const outcomes = await Promise.all(clients.map((c) => c.done));
    const seconds = (performance.now() - started) / 1000;
    console.log(`burst: ${CLIENTS} connections of ${BYTES_PER_CLIENT} bytes each way completed in ${seconds.toFixed(2)} s (${Math.round(CLIENTS / seconds)} connections/s)`);

    const endings = new Map<string, number>();
    for (const outcome of outcomes) endings.set(outcome.ending, (endings.get(outcome.ending) ?? 0) + 1);
    expect(Object.fromEntries(endings)).toEqual({ end: CLIENTS });
    const wrong = outcomes.flatMap((outcome, index) => (outcome.sha256 === clients[index]!.expected && outcome.bytes === BYTES_PER_CLIENT ? [] : [index]));
    expect(wrong).toEqual([]);
    expect(await metric(ports.http, 'kskup_tcp_flows_failed_total{address="burst"}')).toBe(0);
    expect(await metric(ports.http, 'kskup_tcp_flows_opened_total{address="burst"}')).toBe(CLIENTS);
  });
});
