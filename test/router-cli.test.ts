// The kskup-router binary at start: usage errors exit 2, a bad config file exits 1
// with every problem named, a tcpListener whose port is taken does not stop the
// router (it is retried until free), and the skupper-router seed config from our
// issue loads as is (ports changed) and carries a flow:
//
//   client --> c0 [tcpListener "backend:8080"] ==inter-router==> c1 [tcpConnector] --> echo
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTER_NODE_FLAGS } from '../router/node-flags.js';
import { watchProcess } from './helpers/crash-watch.js';
import { freePort, metric, ROUTER_BIN, RouterProcess, waitFor } from './helpers/router-process.js';
import { connect, exchangeStream, receiveAll, startEchoServer, startServer, type TestServer } from './helpers/tcp-tools.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kskup-cli-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [ROUTER_BIN, ...args], { env: { ...process.env, ...env } });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.stdout.on('data', (chunk) => (stdout += chunk));
    let status: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    watchProcess(`kskup-router ${args.join(' ')} (pid ${child.pid})`, { output: () => stderr + stdout, exit: () => status });
    child.on('exit', (code, signal) => {
      status = { code, signal };
      resolve({ code, stderr, stdout });
    });
  });
}

describe('kskup-router start-up', () => {
  it.each([
    { args: [], code: 2, says: 'no config file: give -c FILE or set KSKUP_ROUTER_CONFIG' },
    { args: ['--bogus'], code: 2, says: "unknown option '--bogus'" },
    { args: ['-c'], code: 2, says: "option '-c, --config <file>' argument missing" },
    { args: ['-c', 'x.json', '--log-level', 'loud'], code: 2, says: 'must be one of trace, debug, info, warn, error, fatal, silent' },
  ])('usage error $args exits $code', async ({ args, code, says }) => {
    const result = await run(args, { KSKUP_ROUTER_CONFIG: '' });
    expect(result.code).toBe(code);
    expect(result.stderr).toContain(says);
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('--version prints the package version and exits 0', async () => {
    const result = await run(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('run as a command, its shebang gives node the router flags of router/node-flags.ts', async () => {
    const firstLine = (await readFile(ROUTER_BIN, 'utf8')).split('\n', 1)[0];
    expect(firstLine).toBe(`#!/usr/bin/env -S node ${ROUTER_NODE_FLAGS.join(' ')}`);
    // Executed through the shebang, as the image's kskup-router is: env -S must split the flags for node to start.
    const child = spawn(ROUTER_BIN, ['--version'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it.each([
    {
      what: 'a missing file',
      content: undefined,
      says: ['missing.json', 'cannot be read'],
    },
    {
      what: 'invalid JSON',
      content: '[["router", {"id": "x"}],,]',
      says: ['is not valid JSON', 'line 1'],
    },
    {
      what: 'several problems at once',
      content: JSON.stringify([
        ['router', { id: 'x', mode: 'core' }],
        ['tcpListener', { name: 'backend:8080', port: '80a', address: 'backend:8080' }],
        ['listener', { name: 'ir', port: 55671, role: 'inter-router', authenticatePeer: true }],
        ['tcplistener', { port: 1 }],
      ]),
      says: [
        '4 problems',
        'router "x": mode "core" must be one of standalone, interior, edge',
        'tcpListener "backend:8080": port "80a" is not a number',
        'listener "ir": authenticatePeer requires sslProfile',
        'unknown entity type "tcplistener" (did you mean "tcpListener"?)',
      ],
    },
  ])('a bad config file ($what) exits 1 and names every problem', async ({ content, says }) => {
    const file = join(dir, content === undefined ? 'missing.json' : `bad-${Math.random().toString(36).slice(2)}.json`);
    if (content !== undefined) await writeFile(file, content);
    const result = await run(['-c', file]);
    expect(result.code).toBe(1);
    for (const text of says) expect(result.stderr).toContain(text);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('seed config from a skupper-router teaching setup', () => {
  let echo: TestServer;
  let c0: RouterProcess;
  let c1: RouterProcess;
  afterAll(async () => {
    await Promise.all([c0?.stop(), c1?.stop()]);
    await echo?.close();
  });

  it('c0<==c1 loads unchanged but for ports, warns once per unsupported attribute, and carries a flow', async () => {
    echo = await startEchoServer();
    const [amqp, interior, edge, http, tcp] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    c0 = await RouterProcess.start(dir, 'c0', [
      ['router', { id: 'c0', mode: 'interior', helloMaxAgeSeconds: '3', metadata: '{"id":"c0","version":"1.0.2"}' }],
      ['listener', { name: 'amqp', host: 'localhost', port: amqp }],
      ['listener', { name: 'interior-listener', role: 'inter-router', port: interior, maxFrameSize: 16384, maxSessionFrames: 640 }],
      ['listener', { name: 'edge-listener', role: 'edge', port: edge, maxFrameSize: 16384, maxSessionFrames: 640 }],
      ['listener', { name: `@${http}`, role: 'normal', port: http, http: true, httpRootDir: 'disabled', healthz: true, metrics: true }],
      ['address', { prefix: 'mc', distribution: 'multicast' }],
      ['tcpListener', { name: 'backend:8080', port: String(tcp), address: 'backend:8080', siteId: 'c0' }],
    ]);
    c1 = await RouterProcess.start(dir, 'c1', [
      ['router', { id: 'c1', mode: 'interior' }],
      ['connector', { name: 'link1', role: 'inter-router', host: 'localhost', port: String(interior), cost: 1, maxFrameSize: 16384, maxSessionFrames: 640 }],
      ['tcpConnector', { name: 'backend', host: 'localhost', port: String(echo.port), address: 'backend:8080', siteId: 'c1' }],
    ]);
    await waitFor('c0 to route backend:8080', async () => ((await metric(http, 'kskup_tcp_listener_routes{address="backend:8080"}').catch(() => 0)) ?? 0) >= 1);
    const warnings = c0.lines.filter((line) => line.level === 'warn').map((line) => line.msg);
    expect(warnings).toContain('listener "@' + http + '": attribute "httpRootDir" is not supported by kskup yet and is ignored');
    expect(new Set(warnings).size).toBe(warnings.length);
    expect(c0.lines.filter((line) => line.level === 'error')).toEqual([]);

    const socket = await connect(tcp);
    const { sent, got } = await exchangeStream(socket, 5, 4 * 1024 * 1024);
    expect(got.bytes).toBe(4 * 1024 * 1024);
    expect(got.sha256).toBe(sent);
    expect(await c0.stop()).toBe(0);
    expect(await c1.stop()).toBe(0);
  });

  it('a tcpListener whose port another program holds at start: the router comes up, logs why once, binds the port when it is freed, and stops on SIGTERM', async () => {
    const squatter = await startServer((socket) => socket.end('squatter\n'));
    let squatterOpen = true;
    const http = await freePort();
    const router = await RouterProcess.start(dir, 'squatted', [
      ['router', { id: 'squatted', mode: 'interior' }],
      ['listener', { name: 'http', port: http, http: true }],
      ['tcpListener', { name: 'mine', host: '127.0.0.1', port: squatter.port, address: 'mine' }],
    ]);
    try {
      const failed = await router.waitForLog('the bind error', (line) => line.level === 'error' && line.msg.includes('cannot listen'));
      expect(failed.msg).toBe(`tcpListener "mine" for address mine cannot listen on 127.0.0.1:${squatter.port}: address already in use (EADDRINUSE); retrying every 2s`);
      // The rest of the router runs meanwhile, and the squatter keeps its port.
      await waitFor('/healthz', async () => (await fetch(`http://127.0.0.1:${http}/healthz`).catch(() => undefined))?.status === 200);
      expect((await receiveAll(await connect(squatter.port))).bytes).toBe('squatter\n'.length);
      await squatter.close();
      squatterOpen = false;
      // The port is the config's: the router takes it as soon as it is free, and logs the error only once.
      await router.waitForLog('the listener to bind', (line) => line.msg === 'tcpListener "mine" for address mine listening', 5_000);
      expect(router.lines.filter((line) => line.level === 'error')).toHaveLength(1);
      expect(await router.stop()).toBe(0);
    } finally {
      if (squatterOpen) await squatter.close();
      await router.stop();
    }
  });
});
