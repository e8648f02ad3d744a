#!/usr/bin/env node
// Service exposure timings (`npm run bench:expose`): three local sites in a line
// A - B - C (B links to A, C links to B), an echo server on 127.0.0.1, and per round:
//
//   expose    `kskup expose host/127.0.0.1 --port P --address echo-N -n c` as a child
//             process; t0 = when that process exits. Then A's network.json is polled
//             (every --poll-ms) for the listener of echo-N:P, and once it is there a
//             16-byte random echo round trip through it is tried until one works end
//             to end; t1 = when it did. Target (issue): t1 - t0 under 1 s.
//   unexpose  `kskup unexpose host/127.0.0.1 --address echo-N -n c`; t2 = its exit.
//             Then every site (A, B, C) is polled until its network.json no longer
//             lists the listener AND a TCP connect to the old port is refused; t3 =
//             when the last site got there. Target (issue): t3 - t2 under 2 s.
//
// The site logs are read after the rounds to place each router's "configuration
// applied" (listener added/removed) on the same time line (wall clock, ms).
// Results: bench/results/expose-latest.json; a table on stdout. Options:
//   --rounds N (default 7), --poll-ms MS (10), --pause-ms MS (1000), --idle-s S (0),
//   --use-dist, --wait-quiet S (10), --quiet-threshold CORES (0.25), --logs DIR, --keep,
//   --out FILE. A failed run writes its JSON into its work dir (kept), not over --out.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, watch, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, median, percentile, removeTempDir, sleep, spawnTracked, stopAll, waitFor } from './lib/common.mjs';
import { BENCH_DIR, REPO_DIR, snapshotDist, startEchoServer } from './lib/setup.mjs';

const USAGE = `usage: npm run bench:expose -- [options]
  --rounds N             expose/unexpose rounds, a fresh address each (default 7)
  --poll-ms MS           polling period of network.json, echo and connect probes (default 10)
  --pause-ms MS          pause after each expose and each unexpose has settled (default 1000)
  --idle-s S             after the links are up, wait S seconds before the first round (default 0).
                         70 tests a network that has been up past the routers' 60-s link-state
                         max age, as a real one has (see docs/benchmarks.md)
  --timeout-s S          give up on one expose or unexpose after S seconds (default 15)
  --wait-quiet S         before each round, wait up to S seconds for a second in which other
                         processes use less than --quiet-threshold cores (default 10; 0 = never)
  --quiet-threshold C    (default 0.25)
  --use-dist             run dist/ as it is (default: a copy of dist/ in bench/tmp, so that a
                         rebuild by someone else during the bench cannot change what runs)
  --logs DIR             also copy the three site logs to DIR
  --keep                 keep the work dir (KSKUP_HOME, site logs) and print where it is
  --out FILE             (default bench/results/expose-latest.json)`;

const SITES = ['a', 'b', 'c'];
const TARGET_EXPOSE_MS = 1000;
const TARGET_UNEXPOSE_MS = 2000;
const ECHO_BYTES = 16;

const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string', default: '7' },
    'poll-ms': { type: 'string', default: '10' },
    'pause-ms': { type: 'string', default: '1000' },
    'timeout-s': { type: 'string', default: '15' },
    'idle-s': { type: 'string', default: '0' },
    'wait-quiet': { type: 'string', default: '10' },
    'quiet-threshold': { type: 'string', default: '0.25' },
    'use-dist': { type: 'boolean', default: false },
    logs: { type: 'string' },
    keep: { type: 'boolean', default: false },
    out: { type: 'string', default: join(BENCH_DIR, 'results', 'expose-latest.json') },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opts.help) {
  console.log(USAGE);
  process.exit(0);
}
const number = (name, min, max) => {
  const value = Number(opts[name]);
  if (!Number.isFinite(value) || value < min || value > max) throw new Error(`--${name} must be a number from ${min} to ${max}, not ${opts[name]}`);
  return value;
};
const settings = {
  rounds: Math.floor(number('rounds', 1, 100)),
  pollMs: number('poll-ms', 1, 1000),
  pauseMs: number('pause-ms', 0, 60_000),
  timeoutMs: number('timeout-s', 1, 600) * 1000,
  idleMs: number('idle-s', 0, 3600) * 1000,
  waitQuietS: number('wait-quiet', 0, 600),
  quietThreshold: number('quiet-threshold', 0, 2),
  useDist: opts['use-dist'],
  echoBytes: ECHO_BYTES,
};

const log = (text) => process.stdout.write(`${text}\n`);
/** Wall-clock ms with sub-ms resolution, monotonic (comparable with the logs' Date-based times). */
const now = () => performance.timeOrigin + performance.now();
const ms = (value) => (typeof value === 'number' && Number.isFinite(value) ? Number(value.toFixed(1)) : null);

// ---- work dir, sites, CLI --------------------------------------------------------

mkdirSync(join(BENCH_DIR, 'tmp'), { recursive: true });
const workDir = mkdtempSync(join(BENCH_DIR, 'tmp', 'expose-'));
const home = join(workDir, 'home');
mkdirSync(home);
const distDir = settings.useDist ? join(REPO_DIR, 'dist') : snapshotDist(workDir);
const CLI = join(distDir, 'cli', 'main.js');
const env = { ...process.env, KSKUP_HOME: home, KSKUP_PLATFORM: 'local' };
const siteDir = (site) => join(home, site);

// The site processes are detached (they outlive the CLI that started them), so
// they are not among common.mjs's tracked children: whatever way this process
// ends, SIGTERM them by the pids in their pid files.
process.on('exit', () => {
  for (const site of SITES) {
    try {
      const pid = Number(readFileSync(join(siteDir(site), 'site.pid'), 'utf8').trim());
      if (pid > 0) process.kill(pid, 'SIGTERM');
    } catch {
      // not started, or already deleted
    }
  }
});

/** Runs the CLI; resolves when it exits, with the time of its 'exit' event. */
function cli(args, { timeoutMs = 60_000 } = {}) {
  return new Promise((resolvePromise, reject) => {
    const startedAt = now();
    const child = spawnTracked(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env, name: `kskup ${args[0]}` });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text) => (stderr += text));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      const exitAt = now();
      clearTimeout(timer);
      resolvePromise({ code, signal, startedAt, exitAt, stdout: () => stdout, stderr: () => stderr });
    });
  });
}

async function cliOk(args, options) {
  const result = await cli(args, options);
  if (result.code !== 0) {
    await sleep(20); // the rest of its output
    throw new Error(`kskup ${args.join(' ')} exited ${result.code ?? result.signal}:\n${result.stderr().trim() || result.stdout().trim()}`);
  }
  return result;
}

function readNetwork(site) {
  try {
    return JSON.parse(readFileSync(join(siteDir(site), 'network.json'), 'utf8'));
  } catch {
    return undefined; // not written yet (it is replaced by rename, so never half-written)
  }
}

/** This site's listener port for `key` (service:port) once its router has it bound, or undefined. */
function listenerPort(site, key) {
  const listener = readNetwork(site)?.listeners?.[key];
  return listener?.listening ? listener.port : undefined;
}

/**
 * When site C's site.json is replaced (the CLI's write; later the controller's own
 * listenerPorts update): a watch on C's folder, like the site process's own.
 */
const stateWrites = [];
function watchStateFile() {
  const watcher = watch(siteDir('c'), (_event, name) => {
    if (name === 'site.json') stateWrites.push(now());
  });
  watcher.on('error', () => undefined);
  return watcher;
}
const firstWriteAfter = (at) => stateWrites.find((t) => t >= at);

// ---- probes ------------------------------------------------------------------------

/** One round trip of ECHO_BYTES random bytes; resolves { ok } or { ok: false, reason }. Never rejects. */
function echoCheck(port, timeoutMs) {
  return new Promise((resolvePromise) => {
    const payload = randomBytes(ECHO_BYTES);
    const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    const chunks = [];
    let got = 0;
    let settled = false;
    const done = (ok, reason) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolvePromise(ok ? { ok: true } : { ok: false, reason });
    };
    const timer = setTimeout(() => done(false, `no echo within ${timeoutMs} ms`), timeoutMs);
    socket.on('connect', () => socket.write(payload));
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      got += chunk.length;
      if (got >= ECHO_BYTES) {
        const echoed = Buffer.concat(chunks).subarray(0, ECHO_BYTES);
        done(echoed.equals(payload), 'echoed bytes differ');
      }
    });
    socket.on('error', (error) => done(false, error.code ?? error.message));
    socket.on('close', () => done(false, `closed after ${got} bytes`));
  });
}

/** 'refused' when nothing listens on the port, 'open' when a connect succeeds, else the error code. */
function connectState(port, timeoutMs = 1000) {
  return new Promise((resolvePromise) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (state) => {
      clearTimeout(timer);
      socket.destroy();
      resolvePromise(state);
    };
    const timer = setTimeout(() => done('connect timeout'), timeoutMs);
    socket.once('connect', () => done('open'));
    socket.once('error', (error) => done(error.code === 'ECONNREFUSED' ? 'refused' : (error.code ?? error.message)));
  });
}

// ---- other load on the machine -------------------------------------------------------

function ticksOf(pid, withChildren) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]) + (withChildren ? Number(f[13]) + Number(f[14]) : 0);
  } catch {
    return 0;
  }
}

function sitePids() {
  return SITES.map((site) => {
    try {
      return Number(readFileSync(join(siteDir(site), 'site.pid'), 'utf8').trim());
    } catch {
      return 0;
    }
  }).filter((pid) => pid > 0);
}

/** Machine busy ticks, and ours: this process, its reaped children (CLI runs, probes) and the three site processes. */
function loadSnapshot() {
  const [user, nice, system, , , irq, softirq] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const ours = ticksOf(process.pid, true) + sitePids().reduce((sum, pid) => sum + ticksOf(pid, false), 0);
  return { at: now(), busy: user + nice + system + irq + softirq, ours };
}

/** Cores used by other processes between two snapshots (clock ticks are 1/100 s). */
function otherCores(start, end) {
  const seconds = (end.at - start.at) / 1000;
  if (seconds <= 0) return 0;
  return Number(Math.max(0, (end.busy - start.busy - (end.ours - start.ours)) / 100 / seconds).toFixed(2));
}

async function waitQuiet() {
  if (settings.waitQuietS === 0) return { waitedMs: 0, otherCores: null };
  const started = now();
  let last = null;
  while (now() - started < settings.waitQuietS * 1000) {
    const a = loadSnapshot();
    await sleep(1000);
    last = otherCores(a, loadSnapshot());
    if (last < settings.quietThreshold) break;
  }
  return { waitedMs: Math.round(now() - started), otherCores: last };
}

// ---- setup ---------------------------------------------------------------------------

async function setUp() {
  for (const site of SITES) await cliOk(['init', '-n', site]);
  // B links to A, C links to B, each with a claim token.
  await cliOk(['token', 'create', join(workDir, 'a.token'), '-n', 'a']);
  await cliOk(['link', 'create', join(workDir, 'a.token'), '-n', 'b']);
  await cliOk(['token', 'create', join(workDir, 'b.token'), '-n', 'b']);
  await cliOk(['link', 'create', join(workDir, 'b.token'), '-n', 'c']);
  await cliOk(['link', 'status', '-n', 'b', '--wait', '10']);
  await cliOk(['link', 'status', '-n', 'c', '--wait', '10']);
  // Service sync works across the line once every site has heard of the two others.
  await waitFor('every site to know the two others', () => SITES.every((site) => (readNetwork(site)?.sites?.length ?? 0) === 2) || undefined, 30_000, 50);
}

// ---- one round -------------------------------------------------------------------------

async function exposeRound(round, echoPort) {
  const address = `echo-${round}`;
  const key = `${address}:${echoPort}`;
  const deadlineAt = () => now() + settings.timeoutMs;

  // expose
  const run = await cliOk(['expose', 'host/127.0.0.1', '--port', String(echoPort), '--address', address, '-n', 'c']);
  const t0 = run.exitAt;
  const listedAt = {};
  const ports = {};
  const failedAttempts = [];
  let attempts = 0;
  let t1;
  const deadline = deadlineAt();
  while (t1 === undefined || SITES.some((site) => ports[site] === undefined)) {
    for (const site of SITES) {
      if (ports[site] !== undefined) continue;
      const port = listenerPort(site, key);
      if (port !== undefined) {
        ports[site] = port;
        listedAt[site] = now();
      }
    }
    if (t1 === undefined && ports.a !== undefined) {
      const tried = now();
      const result = await echoCheck(ports.a, 2000);
      attempts++;
      if (result.ok) {
        t1 = now();
        continue;
      }
      failedAttempts.push({ afterT0Ms: ms(tried - t0), tookMs: ms(now() - tried), reason: result.reason });
    }
    if (now() > deadline) {
      throw new Error(`round ${round}: ${address} not usable at A within ${settings.timeoutMs} ms of expose (listed at: ${SITES.filter((s) => ports[s]).join(',') || 'none'}; failed echo attempts: ${JSON.stringify(failedAttempts.slice(-3))})`);
    }
    await sleep(settings.pollMs);
  }
  const expose = {
    startedAt: run.startedAt,
    t0,
    t1,
    cliMs: ms(t0 - run.startedAt),
    // The CLI's write of C's site.json, relative to t0 (negative: before the CLI exited).
    stateWrittenMs: ms(firstWriteAfter(run.startedAt) - t0),
    acceptingAtAMs: ms(t1 - t0),
    acceptingAtAFromStartMs: ms(t1 - run.startedAt),
    listedMs: Object.fromEntries(SITES.map((site) => [site, ms(listedAt[site] - t0)])),
    listenerPorts: ports,
    echoAttempts: attempts,
    failedEchoAttempts: failedAttempts,
  };

  await sleep(settings.pauseMs);

  // unexpose
  const oldPorts = Object.fromEntries(SITES.map((site) => [site, listenerPort(site, key)]));
  for (const site of SITES) if (oldPorts[site] === undefined) throw new Error(`round ${round}: site ${site} lost its ${key} listener before unexpose`);
  const undo = await cliOk(['unexpose', 'host/127.0.0.1', '--address', address, '-n', 'c']);
  const t2 = undo.exitAt;
  const unlistedAt = {};
  const goneAt = {};
  const openAfterUnlisted = {};
  const undoDeadline = deadlineAt();
  while (SITES.some((site) => goneAt[site] === undefined)) {
    for (const site of SITES) {
      if (goneAt[site] !== undefined) continue;
      if (unlistedAt[site] === undefined) {
        if (listenerPort(site, key) !== undefined) continue;
        unlistedAt[site] = now();
      }
      const state = await connectState(oldPorts[site]);
      if (state === 'refused') goneAt[site] = now();
      else openAfterUnlisted[site] = (openAfterUnlisted[site] ?? 0) + 1;
    }
    if (SITES.every((site) => goneAt[site] !== undefined)) break;
    if (now() > undoDeadline) {
      throw new Error(`round ${round}: ${key} listener not gone within ${settings.timeoutMs} ms of unexpose (gone at: ${SITES.filter((s) => goneAt[s]).join(',') || 'none'})`);
    }
    await sleep(settings.pollMs);
  }
  const t3 = Math.max(...SITES.map((site) => goneAt[site]));
  const unexpose = {
    startedAt: undo.startedAt,
    t2,
    t3,
    cliMs: ms(t2 - undo.startedAt),
    stateWrittenMs: ms(firstWriteAfter(undo.startedAt) - t2),
    goneEverywhereMs: ms(t3 - t2),
    goneEverywhereFromStartMs: ms(t3 - undo.startedAt),
    unlistedMs: Object.fromEntries(SITES.map((site) => [site, ms(unlistedAt[site] - t2)])),
    goneMs: Object.fromEntries(SITES.map((site) => [site, ms(goneAt[site] - t2)])),
    // Connects that still succeeded after network.json had dropped the listener (should be 0: the router is reconfigured first).
    openAfterUnlisted,
  };
  return { round, address, key, expose, unexpose };
}

// ---- log time line -----------------------------------------------------------------------

/** Per site: the site log's JSON lines, with `at` in ms. */
function readLogs(dir) {
  const logs = {};
  for (const site of SITES) {
    const file = join(dir, `${site}.log`);
    logs[site] = existsSync(file)
      ? readFileSync(file, 'utf8')
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => {
            try {
              const entry = JSON.parse(line);
              return { ...entry, at: typeof entry.time === 'number' ? entry.time : Date.parse(entry.time) };
            } catch {
              return undefined;
            }
          })
          .filter(Boolean)
      : [];
  }
  return logs;
}

/**
 * From the site logs, for one round: when each router applied the configuration
 * that added (expose) and removed (unexpose) the listener, and which controller
 * pass did it (its trigger), relative to t0 / t2.
 */
function timeline(logs, sample) {
  const { key } = sample;
  const rel = (at, origin) => (at === undefined ? null : ms(at - origin));
  const out = { expose: {}, unexpose: {} };
  for (const site of SITES) {
    const entries = logs[site];
    const applied = (change) =>
      entries.find((e) => e.msg === 'configuration applied' && (e.tcpListeners?.[change] ?? []).includes(key) && e.at >= sample.expose.startedAt - 5);
    const trigger = (after) => entries.find((e) => e.msg === 'router configuration follows the site state' && e.at >= after.at)?.trigger ?? null;
    const added = applied('added');
    const removed = applied('removed');
    out.expose[site] = added ? { appliedMs: rel(added.at, sample.expose.t0), trigger: trigger(added) } : null;
    out.unexpose[site] = removed ? { appliedMs: rel(removed.at, sample.unexpose.t2), trigger: trigger(removed) } : null;
  }
  const warnings = SITES.flatMap((site) =>
    logs[site]
      .filter((e) => e.level === 'warn' || e.level === 'error' || e.level >= 40)
      .filter((e) => e.at >= sample.expose.startedAt && e.at <= sample.unexpose.t3 + 1000)
      .map((e) => ({ site, msg: e.msg })),
  );
  if (warnings.length) out.warnings = warnings;
  return out;
}

// ---- report -------------------------------------------------------------------------------

function stats(values) {
  const sorted = values.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  return { n: sorted.length, min: ms(sorted[0]), median: ms(median(sorted)), p90: ms(percentile(sorted, 90)), max: ms(sorted[sorted.length - 1]) };
}

function machineInfo() {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? null,
    cpuCount: cpus.length,
    memTotalMB: Math.round(os.totalmem() / 2 ** 20),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    loadavgAtStart: os.loadavg().map((x) => Number(x.toFixed(2))),
  };
}

function gitHead() {
  try {
    return execFileSync('git', ['-C', REPO_DIR, 'rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

function printTable(samples) {
  const cols = [
    ['round', (s) => s.round],
    ['expose CLI', (s) => s.expose.cliMs],
    ['A listed', (s) => s.expose.listedMs.a],
    ['A accepts', (s) => s.expose.acceptingAtAMs],
    ['(from start)', (s) => s.expose.acceptingAtAFromStartMs],
    ['echo tries', (s) => s.expose.echoAttempts],
    ['unexpose CLI', (s) => s.unexpose.cliMs],
    ['gone A', (s) => s.unexpose.goneMs.a],
    ['gone B', (s) => s.unexpose.goneMs.b],
    ['gone C', (s) => s.unexpose.goneMs.c],
    ['gone all', (s) => s.unexpose.goneEverywhereMs],
    ['other load', (s) => s.otherCores],
  ];
  const rows = [cols.map(([name]) => name), ...samples.map((s) => cols.map(([, get]) => String(get(s) ?? '-')))];
  const widths = cols.map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  log('');
  log('times in ms; expose columns from the expose CLI exit (t0), unexpose columns from the unexpose CLI exit (t2)');
  for (const row of rows) log(row.map((cell, i) => cell.padStart(widths[i])).join('  '));
}

// ---- main ------------------------------------------------------------------------------------

const results = {
  bench: 'expose',
  date: new Date().toISOString(),
  machine: machineInfo(),
  gitHead: gitHead(),
  ran: settings.useDist ? 'dist/ as it was' : 'a copy of dist/ taken at the start',
  settings,
  syncTimings: Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('KSKUP_SYNC_'))),
  targets: { exposeToAcceptingAtAMs: TARGET_EXPOSE_MS, unexposeToGoneEverywhereMs: TARGET_UNEXPOSE_MS },
  samples: [],
};
let failed;
let stateWatcher;
const logDir = join(workDir, 'logs');
try {
  log(`work dir ${relative(REPO_DIR, workDir)}; setting up sites a - b - c ...`);
  const setupStarted = now();
  await setUp();
  results.setupMs = ms(now() - setupStarted);
  stateWatcher = watchStateFile();
  const echoPort = await freePort();
  const echo = await startEchoServer(workDir, echoPort);
  results.echoPort = echoPort;
  log(`sites linked in ${Math.round(results.setupMs)} ms; echo server on 127.0.0.1:${echoPort}; ${settings.rounds} rounds`);
  if (settings.idleMs > 0) {
    log(`waiting ${settings.idleMs / 1000} s (--idle-s) before the first round ...`);
    await sleep(settings.idleMs);
  }
  for (let round = 1; round <= settings.rounds; round++) {
    const quiet = await waitQuiet();
    const before = loadSnapshot();
    const sample = await exposeRound(round, echoPort);
    sample.otherCores = otherCores(before, loadSnapshot());
    sample.waitedForQuietMs = quiet.waitedMs;
    sample.otherCoresBefore = quiet.otherCores;
    results.samples.push(sample);
    log(
      `round ${round}: accepting at A ${sample.expose.acceptingAtAMs} ms after expose exited (${sample.expose.echoAttempts} echo tries); ` +
        `gone everywhere ${sample.unexpose.goneEverywhereMs} ms after unexpose exited; other load ${sample.otherCores} cores`,
    );
    await sleep(settings.pauseMs);
  }
  await echo.stop();
} catch (error) {
  failed = error;
  process.stderr.write(`${error.stack ?? error}\n`);
  // What the routers and controllers said that may explain it.
  for (const site of SITES) {
    const file = join(siteDir(site), 'site.log');
    if (!existsSync(file)) continue;
    const notable = readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => /"level":"(warn|error|fatal)"|unheard routers|not heard from|routes changed|connection .* (down|lost)/.test(line));
    for (const line of notable.slice(-8)) process.stderr.write(`  ${site}: ${line.slice(0, 300)}\n`);
  }
} finally {
  stateWatcher?.close();
  // Keep the site logs (kskup delete removes the site folder), then delete the sites.
  mkdirSync(logDir, { recursive: true });
  for (const site of SITES) {
    const file = join(siteDir(site), 'site.log');
    if (existsSync(file)) copyFileSync(file, join(logDir, `${site}.log`));
  }
  for (const site of SITES) {
    if (!existsSync(join(siteDir(site), 'site.json'))) continue;
    const result = await cli(['delete', '-n', site], { timeoutMs: 20_000 }).catch((error) => ({ code: error.message }));
    if (result.code !== 0) process.stderr.write(`kskup delete -n ${site} failed (${result.code}); its process gets SIGTERM on exit\n`);
  }
  await stopAll();
}

const logs = readLogs(logDir);
for (const sample of results.samples) sample.logTimeline = timeline(logs, sample);
if (opts.logs) {
  mkdirSync(resolve(opts.logs), { recursive: true });
  for (const site of SITES) {
    if (!existsSync(join(logDir, `${site}.log`))) continue;
    copyFileSync(join(logDir, `${site}.log`), join(resolve(opts.logs), `${site}.log`));
    chmodSync(join(resolve(opts.logs), `${site}.log`), 0o644); // the site keeps its log 0600
  }
}

const samples = results.samples;
const pick = (get) => stats(samples.map(get));
results.summary = {
  rounds: samples.length,
  exposeCliMs: pick((s) => s.expose.cliMs),
  exposeStateWrittenMs: pick((s) => s.expose.stateWrittenMs),
  exposeListedAtAMs: pick((s) => s.expose.listedMs.a),
  exposeAcceptingAtAMs: pick((s) => s.expose.acceptingAtAMs),
  exposeAcceptingAtAFromStartMs: pick((s) => s.expose.acceptingAtAFromStartMs),
  exposeAppliedMs: Object.fromEntries(SITES.map((site) => [site, pick((s) => s.logTimeline.expose[site]?.appliedMs)])),
  unexposeCliMs: pick((s) => s.unexpose.cliMs),
  unexposeStateWrittenMs: pick((s) => s.unexpose.stateWrittenMs),
  unexposeGoneMs: Object.fromEntries(SITES.map((site) => [site, pick((s) => s.unexpose.goneMs[site])])),
  unexposeAppliedMs: Object.fromEntries(SITES.map((site) => [site, pick((s) => s.logTimeline.unexpose[site]?.appliedMs)])),
  unexposeGoneEverywhereMs: pick((s) => s.unexpose.goneEverywhereMs),
  unexposeGoneEverywhereFromStartMs: pick((s) => s.unexpose.goneEverywhereFromStartMs),
  otherCores: pick((s) => s.otherCores),
};
const summary = results.summary;
results.meetsTargets = samples.length
  ? {
      exposeMedian: summary.exposeAcceptingAtAMs.median < TARGET_EXPOSE_MS,
      exposeMax: summary.exposeAcceptingAtAMs.max < TARGET_EXPOSE_MS,
      unexposeMedian: summary.unexposeGoneEverywhereMs.median < TARGET_UNEXPOSE_MS,
      unexposeMax: summary.unexposeGoneEverywhereMs.max < TARGET_UNEXPOSE_MS,
    }
  : null;
if (failed) results.error = String(failed.message ?? failed);

if (samples.length) {
  printTable(samples);
  const line = (label, s, target) =>
    log(`${label.padEnd(44)} median ${String(s.median).padStart(7)}  p90 ${String(s.p90).padStart(7)}  max ${String(s.max).padStart(7)} ms${target ? `   target < ${target} ms: ${s.max < target ? 'met (every round)' : s.median < target ? 'median met, max missed' : 'MISSED'}` : ''}`);
  log('');
  line('expose exit -> echo round trip at A', summary.exposeAcceptingAtAMs, TARGET_EXPOSE_MS);
  line('expose start -> echo round trip at A', summary.exposeAcceptingAtAFromStartMs);
  line('unexpose exit -> listener gone at A, B, C', summary.unexposeGoneEverywhereMs, TARGET_UNEXPOSE_MS);
  line('unexpose start -> listener gone at A, B, C', summary.unexposeGoneEverywhereFromStartMs);
  line('expose CLI run (spawn to exit)', summary.exposeCliMs);
  const med = (s) => (s ? s.median : '-');
  log('');
  log('where the time goes (medians, ms from the CLI exit; from the site logs and a watch on c/site.json):');
  log(
    `  expose:   site.json written ${med(summary.exposeStateWrittenMs)} | C applied ${med(summary.exposeAppliedMs.c)} | B applied ${med(summary.exposeAppliedMs.b)}` +
      ` | A applied ${med(summary.exposeAppliedMs.a)} | A network.json ${med(summary.exposeListedAtAMs)} | A echo ok ${med(summary.exposeAcceptingAtAMs)}`,
  );
  log(
    `  unexpose: site.json written ${med(summary.unexposeStateWrittenMs)} | C applied ${med(summary.unexposeAppliedMs.c)} | B applied ${med(summary.unexposeAppliedMs.b)}` +
      ` | A applied ${med(summary.unexposeAppliedMs.a)} | gone at A ${med(summary.unexposeGoneMs.a)}, B ${med(summary.unexposeGoneMs.b)}, C ${med(summary.unexposeGoneMs.c)}`,
  );
}

// A failed run does not replace the last good results.
const outFile = failed ? join(workDir, 'expose-failed.json') : resolve(opts.out);
mkdirSync(resolve(outFile, '..'), { recursive: true });
writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
log(`\nresults: ${relative(REPO_DIR, outFile)}`);
if (failed || opts.keep) log(`work dir kept (KSKUP_HOME, site logs in logs/): ${workDir}`);
else removeTempDir(workDir);
process.exit(failed ? 1 : 0);
