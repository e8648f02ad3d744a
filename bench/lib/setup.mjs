// What sits between the load generators and the targets: nothing (direct), two
// stunnel processes, or two kskup routers. Each path exposes the same two ports
// (iperf and echo) and the PIDs whose memory is measured.
import { execFileSync } from 'node:child_process';
import { writeFileSync, readFileSync, existsSync, cpSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  echoOnce,
  freePorts,
  isAlive,
  metric,
  spawnTracked,
  stopChild,
  waitFor,
  waitForLog,
  which,
} from './common.mjs';
import { tunnelConfigs } from './router-configs.mjs';

export const BENCH_DIR = resolve(import.meta.dirname, '..');
export const REPO_DIR = resolve(BENCH_DIR, '..');

/** The Debian packages that provide the external tools. */
export const TOOLS = [
  { commands: ['iperf3'], package: 'iperf3' },
  { commands: ['stunnel4', 'stunnel'], package: 'stunnel4' },
];

/** Resolves the tools' paths, or lists the packages to install. */
export function findTools() {
  const found = {};
  const missing = [];
  for (const tool of TOOLS) {
    const path = tool.commands.map(which).find(Boolean);
    if (path) found[tool.package] = path;
    else missing.push(tool.package);
  }
  return { found, missing };
}

/**
 * Copies dist/ aside so that a rebuild by someone else during the benchmark
 * cannot change (or half-write) the router under test. The copy lives in
 * bench/tmp/ so that its imports still resolve through the repository's node_modules.
 */
export function snapshotDist(workDir) {
  const source = join(REPO_DIR, 'dist');
  if (!existsSync(join(source, 'router', 'main.js')) || !existsSync(join(source, 'site-controller', 'pki', 'index.js'))) {
    throw new Error('dist/ is missing or incomplete: run `npm run build` first');
  }
  const target = join(workDir, 'dist');
  mkdirSync(target, { recursive: true });
  cpSync(source, target, { recursive: true });
  return target;
}

/**
 * Builds the router from a git commit instead of the working tree's dist/:
 * `git archive REF | tar -x` into the work dir, then the repository's tsc on it.
 * Other people's half-done edits and rebuilds then cannot change what is measured.
 */
export function buildFromGit(ref, workDir) {
  const src = join(workDir, 'src');
  mkdirSync(src, { recursive: true });
  const commit = execFileSync('git', ['-C', REPO_DIR, 'rev-parse', '--verify', `${ref}^{commit}`], { encoding: 'utf8' }).trim();
  execFileSync('sh', ['-c', `git -C "$0" archive "$1" | tar -x -C "$2"`, REPO_DIR, commit, src]);
  const tsc = join(REPO_DIR, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', join(src, 'tsconfig.json')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    throw new Error(`building ${ref} (${commit.slice(0, 12)}) failed: ${(error.stdout || error.stderr || error.message).slice(0, 2000)}`);
  }
  return { distDir: join(src, 'dist'), commit };
}

/** A CA, a server certificate (localhost, 127.0.0.1) and a client certificate: RSA 2048, from the project's PKI. */
export async function createPki(distDir, dir) {
  const pki = await import(pathToFileURL(join(distDir, 'site-controller', 'pki', 'index.js')).href);
  mkdirSync(dir, { recursive: true });
  const ca = await pki.createCertificateAuthority({ commonName: 'kskup-bench-ca' });
  const [server, client] = await Promise.all([
    pki.issueCertificate(ca, { commonName: 'localhost', hosts: ['localhost', '127.0.0.1'], usage: 'server' }),
    pki.issueCertificate(ca, { commonName: 'kskup-bench-client', usage: 'client' }),
  ]);
  const files = {
    caCert: join(dir, 'ca.crt'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
  };
  writeFileSync(files.caCert, ca.certPem);
  writeFileSync(files.serverCert, server.certPem);
  writeFileSync(files.serverKey, server.keyPem, { mode: 0o600 });
  writeFileSync(files.clientCert, client.certPem);
  writeFileSync(files.clientKey, client.keyPem, { mode: 0o600 });
  return files;
}

// ---- targets ---------------------------------------------------------------

export async function startEchoServer(dir, port) {
  const log = join(dir, 'echo-server.log');
  const child = spawnTracked(process.execPath, [join(BENCH_DIR, 'lib', 'echo-server.mjs'), String(port)], { logFile: log, name: 'echo-server' });
  try {
    await waitForLog('the echo server', log, `listening ${port}`, child);
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return { child, port, stop: () => stopChild(child) };
}

/** A fresh `iperf3 -s` (one per path and run, so that a broken test cannot leave it stuck). */
export async function startIperfServer(tools, dir, port, tag) {
  const log = join(dir, `iperf3-server-${tag}.log`);
  // --forceflush: its stdout is a file, and the readiness line must not sit in a buffer.
  const child = spawnTracked(tools.iperf3, ['-s', '-p', String(port), '-B', '127.0.0.1', '--forceflush'], { logFile: log, name: 'iperf3 -s' });
  try {
    await waitForLog('iperf3 -s', log, 'Server listening', child);
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return { child, port, log, stop: () => stopChild(child) };
}

// ---- paths -----------------------------------------------------------------

/** Nothing in between: the load generators talk to the targets. */
export async function startDirect({ targets }) {
  return {
    name: 'direct',
    iperfPort: targets.iperfPort,
    echoPort: targets.echoPort,
    processes: [],
    logs: [],
    stop: async () => [],
  };
}

/**
 * Two stunnel processes: the client side accepts plain TCP and connects with
 * TLS and the client certificate; the server side verifies that certificate
 * against the CA and forwards in plain TCP to the target.
 */
export async function startStunnel({ tools, dir, pki, targets, tag }) {
  const [clientIperf, clientEcho, serverIperf, serverEcho] = await freePorts(4);
  const common = (logName) => [
    'foreground = yes',
    'pid =',
    `output = ${join(dir, logName)}`,
    'debug = warning',
    'socket = l:TCP_NODELAY=1',
    'socket = r:TCP_NODELAY=1',
  ];
  const serverConf = join(dir, `stunnel-server-${tag}.conf`);
  const clientConf = join(dir, `stunnel-client-${tag}.conf`);
  const service = (name, accept, connect, side) =>
    side === 'server'
      ? [
          `[${name}]`,
          `accept = 127.0.0.1:${accept}`,
          `connect = 127.0.0.1:${connect}`,
          `cert = ${pki.serverCert}`,
          `key = ${pki.serverKey}`,
          `CAfile = ${pki.caCert}`,
          'verifyChain = yes', // requires a client certificate and checks it against CAfile
        ]
      : [
          `[${name}]`,
          'client = yes',
          `accept = 127.0.0.1:${accept}`,
          `connect = 127.0.0.1:${connect}`,
          `cert = ${pki.clientCert}`,
          `key = ${pki.clientKey}`,
          `CAfile = ${pki.caCert}`,
          'verifyChain = yes',
          'checkHost = localhost',
        ];
  writeFileSync(
    serverConf,
    [...common(`stunnel-server-${tag}.log`), ...service('iperf', serverIperf, targets.iperfPort, 'server'), ...service('echo', serverEcho, targets.echoPort, 'server'), ''].join('\n'),
  );
  writeFileSync(
    clientConf,
    [...common(`stunnel-client-${tag}.log`), ...service('iperf', clientIperf, serverIperf, 'client'), ...service('echo', clientEcho, serverEcho, 'client'), ''].join('\n'),
  );
  const stdoutLog = join(dir, `stunnel-${tag}.stdio.log`);
  const server = spawnTracked(tools.stunnel4, [serverConf], { logFile: stdoutLog, name: 'stunnel (server side)' });
  const client = spawnTracked(tools.stunnel4, [clientConf], { logFile: stdoutLog, name: 'stunnel (client side)' });
  const logs = [join(dir, `stunnel-server-${tag}.log`), join(dir, `stunnel-client-${tag}.log`), stdoutLog];
  const path = {
    name: 'stunnel',
    iperfPort: clientIperf,
    echoPort: clientEcho,
    processes: [
      { label: 'client side', child: client },
      { label: 'server side', child: server },
    ],
    logs,
    stop: async () => Promise.all([stopChild(client), stopChild(server)]),
  };
  try {
    // The echo service's ports are bound together with the iperf service's; a
    // round trip through both stunnels proves the whole chain (TLS included).
    await waitFor(
      'an echo through stunnel',
      async () => {
        for (const p of path.processes) if (!isAlive(p.child)) throw Object.assign(new Error(`${p.child.benchName} exited`), { fatal: true });
        return echoOnce(clientEcho, 64, 2000);
      },
      15_000,
      100,
    );
  } catch (error) {
    await path.stop();
    throw new Error(`stunnel path did not come up: ${error.message}; logs: ${logs.map((l) => tail(l)).join(' | ')}`);
  }
  return path;
}

/**
 * Two kskup routers: A accepts the inter-router link (mutual TLS, SASL EXTERNAL)
 * and has the tcpListeners; B dials A and has the tcpConnectors.
 * `nodeArgs`: node options for both routers, or a function of the label (A, B);
 * `routerArgs`: extra router options (e.g. --log-level debug).
 */
export async function startKskup({ distDir, dir, pki, targets, tag, maxFrameSize, nodeArgs = [], routerArgs = [], name = 'kskup' }) {
  const [interRouter, httpA, httpB, iperfPort, echoPort] = await freePorts(5);
  const { A: configA, B: configB } = tunnelConfigs(
    'kskup',
    tunnelDescription({ pki, targets, interRouterPort: interRouter, iperfPort, echoPort, maxFrameSize }),
    { httpPortA: httpA, httpPortB: httpB },
  );
  const confA = join(dir, `router-A-${tag}.json`);
  const confB = join(dir, `router-B-${tag}.json`);
  writeFileSync(confA, JSON.stringify(configA, null, 2));
  writeFileSync(confB, JSON.stringify(configB, null, 2));
  const logA = join(dir, `router-A-${tag}.log`);
  const logB = join(dir, `router-B-${tag}.log`);
  const main = join(distDir, 'router', 'main.js');
  // The flags `kskup-router` runs with (its shebang), from the build measured; builds from before node-flags.js ran with none.
  const flagsFile = join(distDir, 'router', 'node-flags.js');
  const routerFlags = existsSync(flagsFile) ? (await import(pathToFileURL(flagsFile).href)).ROUTER_NODE_FLAGS : [];
  const argsFor = (label) => [...routerFlags, ...(typeof nodeArgs === 'function' ? nodeArgs(label) : nodeArgs)];
  const a = spawnTracked(process.execPath, [...argsFor('A'), main, '-c', confA, ...routerArgs], { logFile: logA, name: 'router A' });
  // B dials A: start it once A listens, or B's first attempt is refused and
  // waits out a backoff (a warning in its log, and seconds of start-up time).
  // The log line is only a hint: after 5 s B is started anyway.
  await waitForLog('A to listen', logA, '(inter-router) listening', a, 5000).catch(() => undefined);
  const b = spawnTracked(process.execPath, [...argsFor('B'), main, '-c', confB, ...routerArgs], { logFile: logB, name: 'router B' });
  const path = {
    name,
    iperfPort,
    echoPort,
    httpA,
    httpB,
    processes: [
      { label: 'A', child: a },
      { label: 'B', child: b },
    ],
    logs: [logA, logB],
    // B (the dialling side) first: stopped together, A's shutdown can drop the
    // link under a B that is still running, which B logs as a warning.
    stop: async () => {
      path.stoppingAt = new Date();
      const exitB = await stopChild(b, 5000);
      const exitA = await stopChild(a, 5000);
      return [exitA, exitB];
    },
  };
  try {
    await waitFor(
      'A to have routes for "iperf" and "echo" and both routers one inter-router connection',
      async () => {
        for (const p of path.processes) if (!isAlive(p.child)) throw Object.assign(new Error(`router ${p.label} exited`), { fatal: true });
        const values = await Promise.all([
          metric(httpA, 'kskup_tcp_listener_routes{address="iperf"}'),
          metric(httpA, 'kskup_tcp_listener_routes{address="echo"}'),
          metric(httpA, 'kskup_inter_router_connections'),
          metric(httpB, 'kskup_inter_router_connections'),
        ]);
        return values[0] >= 1 && values[1] >= 1 && values[2] >= 1 && values[3] >= 1;
      },
      20_000,
      100,
    );
    await echoOnce(echoPort, 64, 3000);
  } catch (error) {
    await path.stop();
    throw new Error(`kskup path did not come up: ${error.message}; A: ${tail(logA)} | B: ${tail(logB)}`);
  }
  return path;
}

/**
 * The bench's tunnel as a description for tunnelConfigs(): two services,
 * "iperf" and "echo", listened for on A and connected to the targets from B.
 */
export function tunnelDescription({ pki, targets, interRouterPort, iperfPort, echoPort, maxFrameSize }) {
  return {
    pki,
    interRouterPort,
    maxFrameSize,
    services: [
      { address: 'iperf', listenPort: iperfPort, targetPort: targets.iperfPort },
      { address: 'echo', listenPort: echoPort, targetPort: targets.echoPort },
    ],
  };
}

/**
 * Resolves `skrouterd --version` of a skupper-router binary, or throws naming
 * the binary and what went wrong (missing, not executable, no version line).
 */
export function skrouterdVersion(binary) {
  let output;
  try {
    output = execFileSync(binary, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  } catch (error) {
    throw new Error(`--skrouterd ${binary}: cannot run it with --version: ${error.message.split('\n')[0]}`);
  }
  const version = output.trim().split('\n')[0];
  if (!/\d+\.\d+/.test(version)) throw new Error(`--skrouterd ${binary}: --version printed no version: ${JSON.stringify(output.slice(0, 200))}`);
  return version;
}

/**
 * Two skupper-router (skrouterd) processes with the same tunnel as startKskup()
 * (tunnelConfigs('skrouterd', ...)): A listens for the inter-router link and has
 * the tcpListeners, B dials A and has the tcpConnectors. skrouterd opens a
 * tcpListener's port only once the address has a consumer, so the path is up
 * when an echo round trip passes.
 */
export async function startSkrouterd({ binary, dir, pki, targets, tag, maxFrameSize, name = 'skrouterd' }) {
  const [interRouter, iperfPort, echoPort] = await freePorts(3);
  const { A: configA, B: configB } = tunnelConfigs('skrouterd', tunnelDescription({ pki, targets, interRouterPort: interRouter, iperfPort, echoPort, maxFrameSize }));
  // skrouterd reads the JSON format when the file name ends in .json.
  const confA = join(dir, `skrouterd-A-${tag}.json`);
  const confB = join(dir, `skrouterd-B-${tag}.json`);
  writeFileSync(confA, JSON.stringify(configA, null, 2));
  writeFileSync(confB, JSON.stringify(configB, null, 2));
  const logA = join(dir, `skrouterd-A-${tag}.log`);
  const logB = join(dir, `skrouterd-B-${tag}.log`);
  const a = spawnTracked(binary, ['-c', confA], { logFile: logA, name: 'skrouterd A' });
  // As for kskup, B is started once A listens on its inter-router port (seen in
  // /proc/net/tcp: a probe connection would make A log a framing error).
  await waitFor(
    'skrouterd A to listen',
    async () => {
      if (!isAlive(a)) throw Object.assign(new Error('skrouterd A exited'), { fatal: true });
      return isListening(interRouter);
    },
    10_000,
    50,
  ).catch(() => undefined);
  const b = spawnTracked(binary, ['-c', confB], { logFile: logB, name: 'skrouterd B' });
  const path = {
    name,
    iperfPort,
    echoPort,
    processes: [
      { label: 'A', child: a },
      { label: 'B', child: b },
    ],
    logs: [logA, logB],
    stop: async () => {
      path.stoppingAt = new Date();
      const exitB = await stopChild(b, 5000);
      const exitA = await stopChild(a, 5000);
      return [exitA, exitB];
    },
  };
  try {
    await waitFor(
      'an echo through both skrouterd routers',
      async () => {
        for (const p of path.processes) if (!isAlive(p.child)) throw Object.assign(new Error(`skrouterd ${p.label} exited`), { fatal: true });
        return echoOnce(echoPort, 64, 2000);
      },
      20_000,
      100,
    );
    // The iperf address too: its listener opens when B's connector is known.
    // Looked up in /proc/net/tcp rather than probed: a probe connection would
    // reach iperf3 -s, which takes an empty connection for a failed test.
    await waitFor('the iperf tcpListener of skrouterd A to listen', () => isListening(iperfPort), 10_000, 50);
  } catch (error) {
    await path.stop();
    throw new Error(`skrouterd path did not come up: ${error.message}; A: ${tail(logA)} | B: ${tail(logB)}`);
  }
  return path;
}

/** Whether a socket listens on 127.0.0.1:`port` (a LISTEN row, state 0A, in /proc/net/tcp). */
function isListening(port) {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .some((line) => {
      const fields = line.trim().split(/\s+/);
      return fields[1] === local && fields[3] === '0A';
    });
}

/** The last few lines of a log file, for error messages. */
export function tail(file, lines = 5) {
  if (!existsSync(file)) return '(no log)';
  return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join(' / ');
}

/**
 * What in a router's JSON-lines log deserves a look: warnings and errors, lines
 * that are not JSON, and any inter-router connection going down before the
 * router was told to stop (logged at info level, but it kills every flow on it).
 */
export function logIssues(file, stoppingAt) {
  if (!existsSync(file)) return [];
  const issues = [];
  let stopping = false;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    // skrouterd: text lines, "DATE TIME ZONE MODULE (level) text". Once the
    // routers are being stopped, its lines do not count: A logs every connection
    // of B's (the inter-router one and its data connections) as failed with an
    // SSL error when B exits, as it does not end them with a TLS close_notify.
    if (!line.startsWith('{')) {
      const stamp = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d+) ([+-]\d\d)(\d\d) /.exec(line);
      const at = stamp ? Date.parse(`${stamp[1]}T${stamp[2].slice(0, 12)}${stamp[3]}:${stamp[4]}`) : NaN;
      if (stoppingAt && at >= stoppingAt.getTime()) continue;
      if (!/\((info|debug|trace|notice)\)/.test(line)) issues.push(line);
      continue;
    }
    try {
      const entry = JSON.parse(line);
      const level = typeof entry.level === 'number' ? entry.level : { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 }[entry.level] ?? 30;
      const msg = String(entry.msg ?? '');
      // B is stopped first, so A sees its link go down before its own SIGTERM.
      if (/received SIG(TERM|INT)/.test(msg) || (stoppingAt && Date.parse(entry.time) >= stoppingAt.getTime())) stopping = true;
      if (level >= 40 || (!stopping && /inter-router connection .* is down/.test(msg))) issues.push(line);
    } catch {
      issues.push(line);
    }
  }
  return issues;
}
