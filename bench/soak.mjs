// Soak (`npm run bench:soak -- --minutes 30`): three local sites for a long
// time, with flows churning through them and links flapping, sampling the
// memory and open handles of every kskup process to show whether anything grows.
//
//   a <--link-- b          the service "soak-echo" (an echo server) is exposed at a;
//   ^          ^           clients at b and c use it through their own listeners,
//   +--link--- c --link--+ so each of b and c has a direct and an indirect path to a.
//
// Traffic, all the time, checked byte for byte:
//   short flows  SHORT_CONCURRENCY loops per client site: connect, send 1 B-64 KiB
//                of random bytes, read them back, compare, close;
//   long flows   LONG_FLOWS per client site: one connection streaming a seeded
//                byte sequence and checking every echoed byte, re-opened when it ends.
// Faults, every --flap-minutes, taking turns:
//   pause        a client site's processes are SIGSTOPped for PAUSE_SECONDS (longer
//                than the routers' idle timeout, so its links are dropped), then resumed;
//   relink       one link is deleted and made again with a new token.
// Samples, every --sample-seconds, of every process whose command line names a
// site folder: RSS (/proc/PID/status), and, through the V8 inspector (opened with
// SIGUSR1 for the moment of the sample and closed again), the heap used after a
// full garbage collection and the number of active handles and requests
// (process.getActiveResourcesInfo()). The inspector is the only way to ask an
// unmodified Node process for a heap after GC; nothing in kskup is changed for it.
//
// Results: bench/results/soak-latest.json (every sample, flow counts, faults and a
// verdict per process: growth of heap-after-GC and RSS between the first and the
// last third of the samples after warm-up), and docs/soak.svg (a plot, rendered
// with Vega-Lite). Exit 0 whatever the verdict: a soak reports, it does not gate.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir, loadavg, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, median, removeTempDir, rssBytes, sleep, spawnTracked, stopAll, waitFor } from './lib/common.mjs';
import { sampleInspector } from './lib/inspector-sample.mjs';
import { renderSoakPlot } from './lib/soak-plot.mjs';

const REPO = resolve(import.meta.dirname, '..');
const CLI = join(REPO, 'dist/cli/main.js');
const SITES = ['a', 'b', 'c'];
const CLIENT_SITES = ['b', 'c'];
const LINKS = [
  ['b', 'a'],
  ['c', 'a'],
  ['c', 'b'],
];
const ADDRESS = 'soak-echo';
const SHORT_CONCURRENCY = 4;
const LONG_FLOWS = 2;
const LONG_CHUNK = 16 * 1024;
/** Longer than the routers' default idle timeout (16 s): the paused site's links are dropped by its peers. */
const PAUSE_SECONDS = 20;
const FLOW_TIMEOUT_MS = 15_000;

const { values: options } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    'sample-seconds': { type: 'string', default: '10' },
    'flap-minutes': { type: 'string', default: '3' },
    'warmup-minutes': { type: 'string' },
    out: { type: 'string', default: join(REPO, 'bench/results/soak-latest.json') },
    plot: { type: 'string', default: join(REPO, 'docs/soak.svg') },
  },
});
const minutes = positive('--minutes', options.minutes);
const sampleMs = positive('--sample-seconds', options['sample-seconds']) * 1000;
const flapMs = positive('--flap-minutes', options['flap-minutes']) * 60_000;
// Warm-up: JIT, pools and the first flaps settle; a fifth of the run, at most 5 minutes.
const warmupMs = (options['warmup-minutes'] !== undefined ? positive('--warmup-minutes', options['warmup-minutes'], true) : Math.min(5, minutes / 5)) * 60_000;

function positive(flag, text, zeroOk = false) {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || (!zeroOk && value === 0)) {
    process.stderr.write(`bench:soak: ${flag} must be a ${zeroOk ? 'non-negative' : 'positive'} number, got "${text}"\n`);
    process.exit(2);
  }
  return value;
}

// Removed at the end of a good run only, so that the sites' logs can be read after a failure.
const home = mkdtempSync(join(tmpdir(), 'kskup-soak-'));
const env = { ...process.env, KSKUP_HOME: home, KSKUP_PLATFORM: 'local' };
const say = (text) => process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${text}\n`);

/** Runs `kskup ARGS`; resolves with stdout, rejects with stderr on a non-zero exit. */
function kskup(...args) {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: home, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    child.on('error', fail);
    child.on('close', (code) => (code === 0 ? ok(out) : fail(new Error(`kskup ${args.join(' ')} exited ${code}: ${err.trim()}`))));
  });
}

let tokens = 0;
async function link(from, to) {
  const file = join(home, `token-${++tokens}`);
  await kskup('token', 'create', file, '-n', to);
  await kskup('link', 'create', file, '-n', from, '--name', `to-${to}`);
}

/** The port of ADDRESS's listener at `site`, once it is bound. */
async function listenerPort(site) {
  return waitFor(`${ADDRESS} listening at ${site}`, async () => {
    const status = JSON.parse(await kskup('service', 'status', '-n', site, '-o', 'json'));
    const listener = status.services?.find((s) => s.address === ADDRESS)?.listeners?.[0]; // bound ones only
    return listener?.port;
  }, 30_000, 500);
}

// ---- processes and samples ------------------------------------------------------

/** The pid of the site's active site process, as its supervisor records it (the other site process is the warm standby). */
function activeSitePid(site) {
  try {
    return JSON.parse(readFileSync(join(home, site, 'supervisor.json'), 'utf8')).site?.pid;
  } catch {
    return undefined;
  }
}

/** What a process of a site is: supervisor, site (the active site process) or standby. */
function roleOf(script, site, pid) {
  if (script.includes('supervisor')) return 'supervisor';
  return pid === activeSitePid(site) ? 'site' : 'standby';
}

/** Every process whose command line names a site folder of this run: { site, pid, role }. */
function siteProcesses() {
  const found = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv;
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      continue;
    }
    for (const site of SITES) {
      if (argv.includes(join(home, site))) {
        const script = argv.find((arg) => arg.endsWith('.js')) ?? argv[0];
        found.push({ site, pid: Number(entry), role: roleOf(script, site, Number(entry)) });
      }
    }
  }
  return found.sort((x, y) => x.site.localeCompare(y.site) || x.role.localeCompare(y.role));
}

const paused = new Set(); // pids stopped by a pause fault: not sampled through the inspector then

async function takeSample(startedAt) {
  const sample = { t: (Date.now() - startedAt) / 1000, load1: loadavg()[0], processes: {} };
  for (const proc of siteProcesses()) {
    const key = `${proc.site}/${proc.role}`;
    const row = { pid: proc.pid };
    sample.processes[key] = row;
    try {
      row.rss = rssBytes(proc.pid);
      if (!paused.has(proc.pid)) Object.assign(row, await sampleInspector(proc.pid));
    } catch (error) {
      row.error = error.message;
    }
  }
  return sample;
}

// ---- traffic ------------------------------------------------------------------------

/** Per client site. */
const counts = Object.fromEntries(CLIENT_SITES.map((site) => [site, { short: { ok: 0, failed: 0, bytes: 0 }, long: { opened: 0, ended: 0, bytes: 0, corrupt: 0 } }]));
const total = (kind, field) => CLIENT_SITES.reduce((sum, site) => sum + counts[site][kind][field], 0);
const failures = new Map(); // reason -> count
let running = true;

function noteFailure(reason) {
  failures.set(reason, (failures.get(reason) ?? 0) + 1);
}

function shortFlow(port, count) {
  return new Promise((ok) => {
    const payload = randomBytes(1 + Math.floor(Math.random() * 64 * 1024));
    const expected = createHash('sha256').update(payload).digest('hex');
    const chunks = [];
    let received = 0;
    let failure;
    const socket = net.connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })), FLOW_TIMEOUT_MS);
    socket.on('connect', () => socket.end(payload));
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      received += chunk.length;
    });
    socket.on('error', (error) => (failure = error.code ?? error.message));
    socket.on('close', () => {
      clearTimeout(timer);
      const same = received === payload.length && createHash('sha256').update(Buffer.concat(chunks)).digest('hex') === expected;
      if (same) {
        count.ok++;
        count.bytes += received;
      } else {
        count.failed++;
        noteFailure(received > payload.length ? 'short: more bytes than sent' : received === payload.length ? 'short: corrupt' : `short: ended early (${failure ?? (received === 0 ? 'closed with nothing' : 'closed part way')})`);
      }
      ok();
    });
  });
}

async function shortLoop(port, count) {
  while (running) {
    await shortFlow(port, count);
    if (!running) return;
    // A failed flow during a fault is retried after a pause rather than in a hot loop.
    await sleep(10);
  }
}

/** The byte at offset `i` of the long-flow stream numbered `seed`: cheap, position-dependent. */
const streamByte = (seed, i) => (i * 131 + seed * 7 + (i >>> 8)) & 0xff;

function longFlow(port, seed, count) {
  return new Promise((ok) => {
    let sent = 0;
    let checked = 0;
    let corrupt = false;
    const socket = net.connect({ host: '127.0.0.1', port });
    count.opened++;
    const pump = () => {
      while (running && !socket.destroyed) {
        const chunk = Buffer.allocUnsafe(LONG_CHUNK);
        for (let i = 0; i < LONG_CHUNK; i++) chunk[i] = streamByte(seed, sent + i);
        sent += LONG_CHUNK;
        if (!socket.write(chunk)) return;
      }
      if (!running) socket.end();
    };
    socket.on('connect', pump);
    socket.on('drain', pump);
    socket.on('data', (chunk) => {
      for (let i = 0; i < chunk.length; i++) {
        if (chunk[i] !== streamByte(seed, checked + i)) {
          corrupt = true;
          socket.destroy();
          break;
        }
      }
      checked += chunk.length;
      count.bytes += chunk.length;
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      count.ended++;
      if (corrupt) {
        count.corrupt++;
        noteFailure('long: corrupt byte');
      } else if (running) noteFailure('long: ended during the run');
      ok();
    });
  });
}

async function longLoop(port, seed, count) {
  while (running) {
    await longFlow(port, seed, count);
    if (running) await sleep(200);
  }
}

// ---- faults -------------------------------------------------------------------------

const faults = [];

async function pauseSite(site, startedAt) {
  const pids = siteProcesses().filter((p) => p.site === site).map((p) => p.pid);
  const at = (Date.now() - startedAt) / 1000;
  say(`fault: pausing site ${site} for ${PAUSE_SECONDS} s`);
  for (const pid of pids) {
    paused.add(pid);
    process.kill(pid, 'SIGSTOP');
  }
  await sleep(PAUSE_SECONDS * 1000);
  for (const pid of pids) {
    process.kill(pid, 'SIGCONT');
    paused.delete(pid);
  }
  faults.push({ at, kind: 'pause', site, seconds: PAUSE_SECONDS });
  say(`fault: site ${site} resumed`);
}

async function relink(from, to, startedAt) {
  const at = (Date.now() - startedAt) / 1000;
  await kskup('link', 'delete', `to-${to}`, '-n', from);
  await link(from, to);
  faults.push({ at, kind: 'relink', link: `${from}->${to}` });
  say(`fault: link ${from} -> ${to} deleted and made again`);
}

// ---- verdict ----------------------------------------------------------------------

/** Per process: median heap after GC and RSS in the first and last third after warm-up, and the change. */
function verdict(samples) {
  const after = samples.filter((s) => s.t * 1000 >= warmupMs);
  const third = Math.max(1, Math.floor(after.length / 3));
  const first = after.slice(0, third);
  const last = after.slice(-third);
  const keys = [...new Set(after.flatMap((s) => Object.keys(s.processes)))];
  const result = {};
  for (const key of keys) {
    const series = (part, field) => part.map((s) => s.processes[key]?.[field]).filter((v) => typeof v === 'number');
    const row = {};
    for (const field of ['heapAfterGc', 'arrayBuffers', 'rss', 'handles']) {
      const a = series(first, field);
      const b = series(last, field);
      if (a.length === 0 || b.length === 0) continue;
      row[field] = { first: median(a), last: median(b), change: median(b) / median(a) - 1 };
    }
    result[key] = row;
  }
  return result;
}

// ---- main -------------------------------------------------------------------------------

async function main() {
  say(`soak: ${minutes} min, a sample every ${sampleMs / 1000} s, a fault every ${flapMs / 60_000} min, warm-up ${warmupMs / 60_000} min; KSKUP_HOME=${home}`);
  for (const site of SITES) await kskup('init', '-n', site);
  for (const [from, to] of LINKS) await link(from, to);

  const echoPort = await freePort();
  const echo = spawnTracked(process.execPath, [join(REPO, 'bench/lib/echo-server.mjs'), String(echoPort)], { name: 'echo', logFile: join(home, 'echo.log') });
  await waitFor('echo server', () => new Promise((ok) => net.connect(echoPort, '127.0.0.1').once('connect', function () { this.destroy(); ok(true); }).once('error', () => ok(undefined))));
  await kskup('expose', `host/127.0.0.1`, '--port', String(echoPort), '--address', ADDRESS, '-n', 'a');
  const ports = Object.fromEntries(await Promise.all(CLIENT_SITES.map(async (site) => [site, await listenerPort(site)])));
  say(`listeners: ${CLIENT_SITES.map((s) => `${s}:${ports[s]}`).join(' ')}`);

  const startedAt = Date.now();
  const traffic = [];
  for (const site of CLIENT_SITES) {
    for (let i = 0; i < SHORT_CONCURRENCY; i++) traffic.push(shortLoop(ports[site], counts[site].short));
    for (let i = 0; i < LONG_FLOWS; i++) traffic.push(longLoop(ports[site], traffic.length, counts[site].long));
  }

  const samples = [];
  const endAt = startedAt + minutes * 60_000;
  let nextSample = startedAt;
  let nextFault = startedAt + flapMs;
  let faultNumber = 0;
  let fault = Promise.resolve();
  while (Date.now() < endAt) {
    if (Date.now() >= nextSample) {
      const sample = await takeSample(startedAt);
      sample.flows = structuredClone(counts);
      samples.push(sample);
      const heaps = Object.entries(sample.processes).map(([k, p]) => `${k} ${((p.heapAfterGc ?? NaN) / 2 ** 20).toFixed(1)}/${(p.rss / 2 ** 20).toFixed(0)} MiB`);
      say(`t=${sample.t.toFixed(0)}s load ${sample.load1.toFixed(1)} short ok/failed ${CLIENT_SITES.map((site) => `${site} ${counts[site].short.ok}/${counts[site].short.failed}`).join(' ')} long ${(total('long', 'bytes') / 2 ** 20).toFixed(0)} MiB | heap-after-GC/RSS ${heaps.join(', ')}`);
      nextSample += sampleMs;
    }
    if (Date.now() >= nextFault) {
      const n = faultNumber++;
      // Pause b, relink c->a, pause c, relink b->a, ...: every client site and link in turn.
      fault = n % 2 === 0 ? pauseSite(CLIENT_SITES[(n / 2) % 2], startedAt) : relink(CLIENT_SITES[((n - 1) / 2 + 1) % 2], 'a', startedAt);
      fault.catch((error) => {
        faults.push({ at: (Date.now() - startedAt) / 1000, kind: 'fault failed', error: error.message });
        say(`fault failed: ${error.message}`);
      });
      nextFault += flapMs;
    }
    await sleep(Math.max(10, Math.min(nextSample, nextFault, endAt) - Date.now()));
  }
  await fault.catch(() => undefined);
  running = false;
  await Promise.all(traffic);

  const result = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
    settings: { minutes, sampleSeconds: sampleMs / 1000, flapMinutes: flapMs / 60_000, warmupMinutes: warmupMs / 60_000, shortConcurrency: SHORT_CONCURRENCY, longFlows: LONG_FLOWS, pauseSeconds: PAUSE_SECONDS },
    flows: counts,
    failures: Object.fromEntries(failures),
    faults,
    verdict: verdict(samples),
    samples,
  };
  writeFileSync(options.out, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(options.plot, await renderSoakPlot(result));
  say(`results: ${options.out}; plot: ${options.plot}`);
  for (const [key, row] of Object.entries(result.verdict)) {
    const pct = (x) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;
    say(`${key}: heap after GC ${row.heapAfterGc ? `${(row.heapAfterGc.first / 2 ** 20).toFixed(1)} -> ${(row.heapAfterGc.last / 2 ** 20).toFixed(1)} MiB (${pct(row.heapAfterGc.change)})` : 'n/a'}, RSS ${row.rss ? `${(row.rss.first / 2 ** 20).toFixed(0)} -> ${(row.rss.last / 2 ** 20).toFixed(0)} MiB (${pct(row.rss.change)})` : 'n/a'}, handles ${row.handles ? `${row.handles.first} -> ${row.handles.last}` : 'n/a'}`);
  }
  say(`flows: short ${total('short', 'ok')} ok, ${total('short', 'failed')} failed; long ${total('long', 'opened')} opened, ${(total('long', 'bytes') / 2 ** 20).toFixed(0)} MiB checked, ${total('long', 'corrupt')} corrupt`);
  await stopAll();
  for (const site of SITES) await kskup('delete', '-n', site).catch((error) => say(`delete ${site}: ${error.message}`));
  void echo;
  removeTempDir(home);
}

main().catch(async (error) => {
  process.stderr.write(`bench:soak failed: ${error.stack ?? error}\nthe sites' folders and logs are kept in ${home}\n`);
  running = false;
  // Stopped, not deleted: their logs say what went wrong.
  for (const { pid } of siteProcesses()) {
    try {
      process.kill(pid, 'SIGCONT');
      process.kill(pid, 'SIGTERM');
    } catch {
      // Gone already.
    }
  }
  await stopAll();
  process.exit(1);
});
