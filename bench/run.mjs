#!/usr/bin/env node
// kskup benchmark: throughput, round trip, new connections/s, a connection burst
// and memory of a two-router kskup tunnel (mutual TLS), next to a two-process
// stunnel tunnel, to no tunnel at all, and (with --skrouterd PATH) to two
// skupper-router processes with the same configs, with kskup/skupper-router
// ratios. See docs/benchmarks.md.
//
//   npm run bench -- [--runs N] [--quick] [--only direct|stunnel|kskup|kskup-64k|kskup-16k|skrouterd]... [--skrouterd PATH] [--out FILE]
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { basename, dirname, join, resolve, relative } from 'node:path';
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { commandVersion, cpuElsewhere, cpuSnapshot, freePorts, gitState, median, registerTempDir, removeTempDir, sleep, stopAll } from './lib/common.mjs';
import { runOrder, sideBySideRatios } from './lib/side-by-side.mjs';
import { connectionBurst, connectionsPerSecond, cpuSecondsOf, iperf, roundTrips, rssWithFlows } from './lib/measure.mjs';
import {
  BENCH_DIR,
  REPO_DIR,
  buildFromGit,
  createPki,
  findTools,
  logIssues,
  skrouterdVersion,
  snapshotDist,
  startDirect,
  startEchoServer,
  startIperfServer,
  startKskup,
  startSkrouterd,
  startStunnel,
} from './lib/setup.mjs';

const USAGE = `usage: npm run bench -- [options]
  --runs N        runs per path (default 3; 1 with --quick)
  --quick         short durations for a smoke run (under a minute)
  --only PATH     direct, stunnel, kskup (= kskup-64k and kskup-16k), kskup-64k, kskup-16k,
                  skrouterd (needs --skrouterd); repeatable
  --skrouterd BIN also run two skupper-router processes (the skrouterd binary BIN) with the
                  same configs as the kskup row, right beside it in every run (which of the
                  two goes first alternates), and print kskup/skupper-router ratios
  --burst N       clients in the connection burst (default 2000; 0 = no burst)
  --burst-bytes B bytes each burst client sends and checks (default 1024)
  --out FILE      JSON results (default bench/results/latest.json; the Markdown table goes next to it as .md)
  --router-ref R  build the router from git commit/branch R (git archive + tsc) instead of
                  using dist/ as it is (which others may be rebuilding or editing meanwhile)
  --keep          keep the temp dir (certs, configs, logs) and print where it is
  --pin           pin each path's two processes (every thread) to a core of their own: the
                  first to CPU 0, the second to CPU 1 (taskset), as two sites' routers on two
                  machines would be; load generators and targets are not pinned. Same for
                  every path (kskup, skupper-router, stunnel)
  The machine may be shared: before each path's measurement the bench waits (up to
  --wait-quiet SECONDS, default 30; 0 with --quick) until other processes use less than
  --quiet-threshold CORES (default 0.25), and repeats a measurement during which they
  used more (up to --retries N times, default 1; 0 with --quick), keeping the quietest.`;

/**
 * Paths in table order. "kskup" runs with maxFrameSize 65536, "kskup-16k" with
 * the default 16384; "skrouterd" (only with --skrouterd) is skupper-router with
 * the kskup row's config, maxFrameSize 65536 included.
 */
const PATHS = ['direct', 'stunnel', 'kskup', 'skrouterd', 'kskup-16k'];

export const METRICS = [
  // The first iperf3 test of a path's fresh processes (after the RSS step): what a router does before its JIT and heap have settled.
  { key: 'tput1Cold', label: 'Throughput, 1 stream, first test of fresh processes (Gbit/s)', digits: 2 },
  { key: 'tput1', label: 'Throughput, 1 stream (Gbit/s)', digits: 2 },
  { key: 'tput1R', label: 'Throughput, 1 stream, reversed -R (Gbit/s)', digits: 2 },
  { key: 'tput8', label: 'Throughput, 8 streams (Gbit/s)', digits: 2 },
  { key: 'tput8R', label: 'Throughput, 8 streams, reversed -R (Gbit/s)', digits: 2 },
  { key: 'rttP50', label: '64-byte round trip p50 (ms)', digits: 3 },
  { key: 'rttP99', label: '64-byte round trip p99 (ms)', digits: 3 },
  { key: 'cps', label: 'New connections/s (8 concurrent)', digits: 0 },
  { key: 'cps1', label: 'New connections/s (sequential)', digits: 0 },
  { key: 'burstMs', label: 'Connection burst: all done, ms', digits: 0, better: 'lower' },
  {
    key: 'burstFailed',
    label: 'Connection burst: failed (of them reset)',
    digits: 0,
    better: 'lower',
    noRatio: true, // mostly 0 against 0
    format: (summary) => `${summary.burstFailed} (${summary.burstResets ?? 0})`,
  },
  { key: 'cpuPerGbit', label: 'CPU s per Gbit, 1 stream (both processes)', digits: 2, better: 'lower' },
  { key: 'rssIdle', label: 'RSS idle, MB (sum: first + second process)', digits: 1, perProcess: true, better: 'lower' },
  { key: 'rssFlows', label: 'RSS with 1000 idle flows, MB (sum: first + second)', digits: 1, perProcess: true, better: 'lower' },
  { key: 'kbPerFlow', label: 'RSS per idle flow, KB (both processes)', digits: 1, better: 'lower' },
];
for (const metric of METRICS) metric.better ??= metric.key.startsWith('rtt') ? 'lower' : 'higher';

export const REFERENCE = {
  'skupper-router 3.5.1': {
    source:
      'quoted from our issue: skupper-router 3.5.1 measured on a machine of this kind (2 cores), medians of 9 runs, mutual TLS, 2 routers',
    tput1: 1.6,
    tput1R: 1.7,
    tput8: 2.2,
    tput8R: 2.5,
    rttP50: 0.45,
    rttP99: 0.89,
    cps: 510,
    rssIdle: 29,
    rssFlows: 104,
    kbPerFlow: 75,
  },
  'stunnel (two-process), same issue': {
    source: 'quoted from the same issue: two-process stunnel TLS tunnel on the same machine',
    throughputRangeGbps: [3.2, 4.0],
    rttP50: 0.2,
    cps: 344,
  },
};

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string' },
      quick: { type: 'boolean', default: false },
      only: { type: 'string', multiple: true },
      out: { type: 'string', default: join(BENCH_DIR, 'results', 'latest.json') },
      keep: { type: 'boolean', default: false },
      pin: { type: 'boolean', default: false },
      'wait-quiet': { type: 'string' },
      'router-ref': { type: 'string' },
      skrouterd: { type: 'string' },
      burst: { type: 'string' },
      'burst-bytes': { type: 'string' },
      'quiet-threshold': { type: 'string', default: '0.25' },
      retries: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const runs = values.runs === undefined ? (values.quick ? 1 : 3) : Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) throw new Error(`--runs must be an integer from 1 to 20, not ${values.runs}`);
  const skrouterd = values.skrouterd === undefined ? undefined : resolve(values.skrouterd);
  let paths = PATHS.filter((p) => p !== 'skrouterd' || skrouterd);
  if (values.only?.length) {
    const chosen = new Set();
    for (const item of values.only.flatMap((o) => o.split(','))) {
      if (item === 'kskup') chosen.add('kskup').add('kskup-16k');
      else if (item === 'kskup-64k') chosen.add('kskup');
      else if (item === 'skrouterd' && !skrouterd) throw new Error('--only skrouterd: give the skupper-router binary with --skrouterd PATH');
      else if (PATHS.includes(item)) chosen.add(item);
      else throw new Error(`--only ${item}: expected one of direct, stunnel, kskup, kskup-64k, kskup-16k, skrouterd`);
    }
    // Side by side means in the same invocation: --skrouterd always adds its path.
    if (skrouterd) chosen.add('skrouterd');
    paths = PATHS.filter((p) => chosen.has(p));
  }
  const quick = values.quick;
  const number = (name, text, fallback, max) => {
    const value = text === undefined ? fallback : Number(text);
    if (!Number.isFinite(value) || value < 0 || value > max) throw new Error(`--${name} must be a number from 0 to ${max}, not ${text}`);
    return value;
  };
  return {
    waitQuietSeconds: number('wait-quiet', values['wait-quiet'], quick ? 0 : 30, 600),
    quietThreshold: number('quiet-threshold', values['quiet-threshold'], 0.25, 2),
    retries: Math.floor(number('retries', values.retries, quick ? 0 : 1, 5)),
    runs,
    quick,
    paths,
    out: resolve(values.out),
    keep: values.keep,
    pin: values.pin,
    routerRef: values['router-ref'],
    skrouterd,
    settings: {
      iperfSeconds: quick ? 2 : 5,
      rttCount: quick ? 2000 : 20_000,
      rttWarmup: quick ? 200 : 1000,
      cpsSeconds: quick ? 2 : 5,
      cpsConcurrency: 8,
      burstCount: Math.floor(number('burst', values.burst, 2000, 20_000)),
      burstBytes: Math.floor(number('burst-bytes', values['burst-bytes'], 1024, 1 << 20)),
      burstTimeoutSeconds: quick ? 30 : 60,
      idleFlows: 1000,
      rssSettleMs: quick ? 500 : 1000,
      pauseMs: quick ? 100 : 500,
      kskupMaxFrameSize: 65536,
    },
  };
}

function machineInfo(tools, skrouterd) {
  const cpus = os.cpus();
  return {
    nproc: os.availableParallelism(),
    cpuModel: cpus[0]?.model ?? null,
    memTotalMB: Math.round(os.totalmem() / 2 ** 20),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    iperf3: commandVersion(tools.iperf3, ['--version']),
    stunnel: commandVersion(tools.stunnel4, ['-version']),
    ...(skrouterd ? { skrouterd: { binary: skrouterd.binary, version: skrouterd.version } } : {}),
    loadavgAtStart: os.loadavg().map((x) => Number(x.toFixed(2))),
  };
}


const log = (text) => process.stdout.write(`${text}\n`);
const round = (value, digits) => (typeof value === 'number' && Number.isFinite(value) ? Number(value.toFixed(digits)) : null);

/** Starts one path, measures everything on it, stops it. Errors are recorded, not thrown. */
async function measurePath(pathName, run, attempt, context) {
  const { options, tools, dir, pki, distDir, echoPort } = context;
  const s = options.settings;
  const tag = `${pathName}-r${run + 1}${attempt ? `-a${attempt + 1}` : ''}`;
  const record = { run: run + 1, values: {}, errors: [], details: {} };
  const fail = (what, error) => {
    record.errors.push(`${what}: ${error.message ?? error}`);
    log(`    ! ${what}: ${error.message ?? error}`);
  };
  const [iperfTargetPort] = await freePorts(1);
  let iperfServer;
  let path;
  try {
    iperfServer = await startIperfServer(tools, dir, iperfTargetPort, tag);
    const targets = { iperfPort: iperfTargetPort, echoPort };
    const started = Date.now();
    if (pathName === 'direct') path = await startDirect({ targets });
    else if (pathName === 'stunnel') path = await startStunnel({ tools, dir, pki, targets, tag });
    else if (pathName === 'skrouterd') path = await startSkrouterd({ binary: options.skrouterd, dir, pki, targets, tag, maxFrameSize: s.kskupMaxFrameSize });
    else
      path = await startKskup({
        distDir,
        dir,
        pki,
        targets,
        tag,
        name: pathName,
        maxFrameSize: pathName === 'kskup' ? s.kskupMaxFrameSize : undefined,
      });
    record.details.startMs = Date.now() - started;
    record.details.processes = path.processes.map((p) => p.label);
    if (options.pin) record.details.pinned = pinProcesses(path.processes);

    // Memory first, on fresh processes: idle, then 1000 idle flows.
    if (path.processes.length > 0) {
      try {
        const rss = await rssWithFlows(path, path.echoPort, { flows: s.idleFlows, settleMs: s.rssSettleMs });
        const mb = (bytes) => bytes / 2 ** 20;
        const idle = rss.idle.reduce((a, b) => a + b, 0);
        const loaded = rss.loaded.reduce((a, b) => a + b, 0);
        record.values.rssIdle = mb(idle);
        record.values.rssFlows = mb(loaded);
        rss.idle.forEach((b, i) => (record.values[`rssIdle.${i}`] = mb(b)));
        rss.loaded.forEach((b, i) => (record.values[`rssFlows.${i}`] = mb(b)));
        record.values.kbPerFlow = (loaded - idle) / 1024 / rss.ready.ready;
        record.details.flows = rss.ready;
        if (rss.ready.failed) fail('idle flows', new Error(`${rss.ready.failed} of ${s.idleFlows} flows failed: ${JSON.stringify(rss.ready.errors)}`));
        log(`    RSS idle ${rss.idle.map((b) => mb(b).toFixed(1)).join(' + ')} MB; with ${rss.ready.ready} flows ${rss.loaded.map((b) => mb(b).toFixed(1)).join(' + ')} MB (opened in ${rss.ready.openMs} ms)`);
      } catch (error) {
        fail('RSS', error);
      }
      await sleep(s.pauseMs * 2);
    }

    for (const [key, streams, reverse] of [
      ['tput1Cold', 1, false],
      ['tput1', 1, false],
      ['tput1R', 1, true],
      ['tput8', 8, false],
      ['tput8R', 8, true],
    ]) {
      try {
        // CPU of the path's processes (both routers, all threads) over the whole test.
        const pids = path.processes.map((p) => p.child.pid);
        const cpuBefore = cpuSecondsOf(pids);
        const result = await iperf(tools, path.iperfPort, { seconds: s.iperfSeconds, streams, reverse });
        result.cpuSeconds = cpuSecondsOf(pids) - cpuBefore;
        result.cpuSecondsPerGbit = pids.length ? result.cpuSeconds / result.receivedGbit : null;
        record.values[key] = result.gbps;
        if (key === 'tput1' && pids.length) record.values.cpuPerGbit = result.cpuSecondsPerGbit;
        record.details[key] = result;
        log(`    iperf3 ${streams} stream(s)${reverse ? ' -R' : ''}: ${result.gbps.toFixed(2)} Gbit/s${pids.length ? `, ${result.cpuSecondsPerGbit.toFixed(2)} CPU s per Gbit` : ''}`);
      } catch (error) {
        fail(`iperf3 -P ${streams}${reverse ? ' -R' : ''}`, error);
      }
      await sleep(s.pauseMs);
    }

    try {
      const rtt = await roundTrips(path.echoPort, { count: s.rttCount, warmup: s.rttWarmup });
      record.values.rttP50 = rtt.p50;
      record.values.rttP99 = rtt.p99;
      record.details.rtt = rtt;
      log(`    round trip p50 ${rtt.p50.toFixed(3)} ms, p99 ${rtt.p99.toFixed(3)} ms (${rtt.count} round trips)`);
    } catch (error) {
      fail('round trips', error);
    }
    await sleep(s.pauseMs);

    for (const [key, concurrency] of [
      ['cps', s.cpsConcurrency],
      ['cps1', 1],
    ]) {
      const what = `connections/s (${concurrency === 1 ? 'sequential' : `${concurrency} concurrent`})`;
      try {
        const cps = await connectionsPerSecond(path.echoPort, { seconds: s.cpsSeconds, concurrency });
        record.values[key] = cps.perSecond;
        record.details[key] = cps;
        log(`    new ${what}: ${cps.perSecond.toFixed(0)}${cps.failed ? ` (${cps.failed} failed: ${JSON.stringify(cps.errors)})` : ''}`);
        if (cps.failed) fail(what, new Error(`${cps.failed} connections failed: ${JSON.stringify(cps.errors)}`));
      } catch (error) {
        fail(what, error);
      }
      await sleep(s.pauseMs);
    }

    // Last: the burst leaves thousands of flows closing, which must not touch the other figures.
    if (s.burstCount > 0) {
      try {
        const burst = await connectionBurst(path.echoPort, { count: s.burstCount, bytes: s.burstBytes, timeoutSeconds: s.burstTimeoutSeconds });
        record.values.burstMs = burst.totalMs;
        record.values.burstFailed = burst.failed;
        record.values.burstResets = burst.resets;
        record.details.burst = burst;
        log(`    burst of ${burst.count}: all done in ${burst.totalMs.toFixed(0)} ms (p50 ${burst.p50Ms?.toFixed(0)} ms), ${burst.completed} checked, ${burst.failed} failed, ${burst.resets} reset${burst.failed ? ` ${JSON.stringify(burst.errors)}` : ''}`);
      } catch (error) {
        fail('connection burst', error);
      }
    }
  } catch (error) {
    fail('start', error);
  } finally {
    if (path) {
      const exits = await path.stop();
      record.details.exits = path.processes.map((p, i) => ({ label: p.label, ...exits[i], error: undefined }));
      for (const [i, p] of path.processes.entries()) {
        const exit = exits[i];
        if (exit && (exit.code !== 0 || exit.signal)) fail(`${p.child.benchName} exit`, new Error(`exited with ${exit.code ?? exit.signal} after SIGTERM`));
      }
      if (pathName.startsWith('kskup') || pathName === 'skrouterd') {
        const issues = path.logs.flatMap((file) => logIssues(file, path.stoppingAt).map((line) => `${/-A-/.test(basename(file)) ? 'A' : 'B'}: ${line}`));
        record.details.logIssues = issues.slice(0, 20);
        record.details.logIssueCount = issues.length;
        if (issues.length) log(`    ! ${issues.length} line(s) worth a look in the router logs (warnings, errors, links down), first: ${issues[0].slice(0, 300)}`);
      }
      // Keep the logs of a measurement that went wrong: the work dir is removed at the end.
      if (record.errors.length || record.details.logIssueCount) {
        const keep = join(BENCH_DIR, 'tmp', 'failed-logs', `${context.stamp}-${tag}`);
        mkdirSync(keep, { recursive: true });
        for (const file of [...path.logs, ...(iperfServer ? [iperfServer.log] : [])]) {
          if (existsSync(file)) copyFileSync(file, join(keep, basename(file)));
        }
        record.details.keptLogs = relative(REPO_DIR, keep);
        log(`    logs kept in ${record.details.keptLogs}`);
      }
    }
    if (iperfServer) await iperfServer.stop();
  }
  return record;
}

/**
 * `--pin`: the path's first process (every thread) on CPU 0, the second on
 * CPU 1, with `taskset -a -p`. Two routers on one 2-core machine otherwise
 * share cores as the scheduler likes, and the bench found kskup's 1-stream
 * throughput moving between about 0.8 and 1.4 Gbit/s from run to run with it
 * (docs/benchmarks.md). Returns what was pinned where.
 */
function pinProcesses(processes) {
  return processes.slice(0, 2).map((p, cpu) => {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(p.child.pid)], { stdio: 'ignore' });
    return { label: p.label, cpu };
  });
}

/** Waits, at most `seconds`, for a second during which other processes use under `threshold` cores. */
async function waitQuiet(seconds, threshold) {
  const started = Date.now();
  let last;
  while (Date.now() - started < seconds * 1000) {
    const before = cpuSnapshot();
    await sleep(1000);
    last = cpuElsewhere(before, cpuSnapshot());
    if (last.otherCores < threshold) return { waitedSeconds: Math.round((Date.now() - started) / 1000), otherCores: last.otherCores };
  }
  return { waitedSeconds: Math.round((Date.now() - started) / 1000), otherCores: last?.otherCores ?? null, gaveUp: seconds > 0 };
}

/**
 * measurePath(), with a watch on the rest of the machine: other load during a
 * measurement repeats it (up to options.retries times); the quietest attempt is kept.
 */
async function measureQuietly(pathName, run, context) {
  const { options } = context;
  let best;
  const attempts = [];
  for (let attempt = 0; attempt <= options.retries; attempt++) {
    const quiet = await waitQuiet(options.waitQuietSeconds, options.quietThreshold);
    log(`  ${pathName}${attempt ? ` (attempt ${attempt + 1})` : ''}${quiet.waitedSeconds > 1 ? ` after waiting ${quiet.waitedSeconds} s for other load to stop${quiet.gaveUp ? ' (it did not)' : ''}` : ''}`);
    const before = cpuSnapshot();
    const record = await measurePath(pathName, run, attempt, context);
    const elsewhere = cpuElsewhere(before, cpuSnapshot());
    record.details.cpuElsewhere = elsewhere;
    record.details.attempt = attempt + 1;
    const noisy = elsewhere.otherCores > options.quietThreshold;
    if (noisy) log(`    ~ other processes used ${elsewhere.otherCores} cores (steal ${elsewhere.stealCores}) during this measurement${attempt < options.retries ? ': repeating it' : ''}`);
    attempts.push(record);
    if (!best || elsewhere.otherCores < best.details.cpuElsewhere.otherCores) best = record;
    if (!noisy) break;
  }
  // The others stay in the results (not in the medians): what went wrong in them still counts.
  const discarded = attempts.filter((r) => r !== best);
  if (discarded.length) best.discardedAttempts = discarded;
  return best;
}

function formatCell(path, metric, summary) {
  const m = summary[path]?.[metric.key];
  if (m === undefined || m === null) return 'n/a';
  if (metric.format) return metric.format(summary[path]);
  const value = m.toFixed(metric.digits);
  if (!metric.perProcess) return value;
  const parts = [0, 1].map((i) => summary[path]?.[`${metric.key}.${i}`]);
  if (parts.some((p) => p === null || p === undefined)) return value;
  return `${value} (${parts.map((p) => p.toFixed(metric.digits)).join(' + ')})`;
}

/** The side-by-side table: kskup, skupper-router, and their ratio with the direction that is better. */
export function ratioTable(summary, ratios) {
  const header = ['Metric (median)', 'kskup', 'skupper-router', 'kskup / skupper-router'];
  const lines = [`| ${header.join(' | ')} |`, `|---|---:|---:|---:|`];
  for (const metric of METRICS) {
    const ratio = ratios[metric.key]?.median;
    const text = typeof ratio === 'number' ? `${ratio.toFixed(2)} (${metric.better} is better)` : '';
    lines.push(`| ${[metric.label, formatCell('kskup', metric, summary), formatCell('skrouterd', metric, summary), text].join(' | ')} |`);
  }
  return lines.join('\n');
}

export function markdownTable(summary, paths) {
  // A measured skupper-router column makes the quoted one from another day pointless.
  if (paths.includes('skrouterd')) {
    const header = ['Metric (median)', ...paths.map((p) => (p === 'skrouterd' ? 'skupper-router' : p))];
    const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
    for (const metric of METRICS) lines.push(`| ${[metric.label, ...paths.map((p) => formatCell(p, metric, summary))].join(' | ')} |`);
    return lines.join('\n');
  }
  const ref = REFERENCE['skupper-router 3.5.1'];
  const st = REFERENCE['stunnel (two-process), same issue'];
  const stRef = (key) => {
    if (key.startsWith('tput')) return st.throughputRangeGbps.map((x) => x.toFixed(1)).join('–');
    return st[key] ?? '';
  };
  const header = ['Metric (median)', ...paths, 'skupper-router 3.5.1 (ref.)', 'stunnel (ref.)'];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const metric of METRICS) {
    lines.push(`| ${[metric.label, ...paths.map((p) => formatCell(p, metric, summary)), ref[metric.key] ?? '', stRef(metric.key)].join(' | ')} |`);
  }
  return lines.join('\n');
}

async function main() {
  let options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    console.error(`${error.message}\n${USAGE}`);
    process.exit(2);
  }
  const { found: tools, missing } = findTools();
  if (missing.length) {
    console.error(`missing tools: install them with\n  sudo apt-get update && sudo apt-get install -y ${missing.join(' ')}`);
    process.exit(1);
  }
  let skrouterd;
  if (options.skrouterd) {
    try {
      skrouterd = { binary: options.skrouterd, version: skrouterdVersion(options.skrouterd) };
    } catch (error) {
      console.error(error.message);
      process.exit(1);
    }
  }

  mkdirSync(join(BENCH_DIR, 'tmp'), { recursive: true });
  const dir = mkdtempSync(join(BENCH_DIR, 'tmp', 'run-'));
  if (!options.keep) registerTempDir(dir);
  const startedAt = new Date();
  const began = Date.now();
  log(`kskup bench: paths ${options.paths.join(', ')}; ${options.runs} run(s)${options.quick ? ' (quick)' : ''}; work dir ${relative(REPO_DIR, dir)}`);

  let distDir;
  let router;
  if (options.routerRef) {
    log(`building the router from git ${options.routerRef}...`);
    const built = buildFromGit(options.routerRef, dir);
    distDir = built.distDir;
    router = { source: `git ${options.routerRef}`, commit: built.commit };
  } else {
    distDir = snapshotDist(dir);
    router = { source: 'dist/ of the working tree (copied at start)', ...(({ commit, routerSourcesModified }) => ({ gitHead: commit, routerSourcesModifiedInWorkingTree: routerSourcesModified }))(gitState()) };
  }
  log(`router under test: ${router.source}${router.commit ? ` ${router.commit.slice(0, 12)}` : ''}`);
  if (skrouterd) log(`beside it: skupper-router ${skrouterd.binary} (${skrouterd.version})`);
  const pki = await createPki(distDir, join(dir, 'pki'));
  const [echoPort] = await freePorts(1);
  const echo = await startEchoServer(dir, echoPort);
  const context = { options, tools, dir, pki, distDir, echoPort, stamp: startedAt.toISOString().replace(/[:.]/g, '-') };
  const machine = machineInfo(tools, skrouterd);

  const records = Object.fromEntries(options.paths.map((p) => [p, []]));
  for (let run = 0; run < options.runs; run++) {
    const order = runOrder(options.paths, run);
    log(`run ${run + 1}/${options.runs}: ${order.join(' -> ')}`);
    for (const [position, pathName] of order.entries()) {
      const record = await measureQuietly(pathName, run, context);
      record.position = position;
      records[pathName].push(record);
    }
  }
  await echo.stop();

  const summary = {};
  const results = {};
  for (const pathName of options.paths) {
    const keys = [...new Set(records[pathName].flatMap((r) => Object.keys(r.values)))];
    const metrics = {};
    summary[pathName] = {};
    for (const key of keys) {
      const values = records[pathName].map((r) => r.values[key] ?? null);
      const digits = key.startsWith('rtt') ? 4 : 3;
      metrics[key] = { values: values.map((v) => round(v, digits)), median: round(median(values), digits) };
      summary[pathName][key] = median(values);
    }
    results[pathName] = {
      description: {
        direct: 'no tunnel: load generators talk to the targets',
        stunnel: 'two stunnel processes, mutual TLS (client side: plain TCP in, TLS + client cert out; server side: verifies the client cert, plain TCP to the target)',
        kskup: `two kskup routers, mutual TLS inter-router link, maxFrameSize ${options.settings.kskupMaxFrameSize} on listener and connector`,
        'kskup-16k': 'two kskup routers, mutual TLS inter-router link, default maxFrameSize (16384)',
        skrouterd: `two skupper-router processes (${skrouterd?.version ?? ''}, ${options.skrouterd ?? ''}), the kskup row's config: mutual TLS inter-router link, maxFrameSize ${options.settings.kskupMaxFrameSize}`,
      }[pathName],
      processes: records[pathName].find((r) => r.details.processes)?.details.processes ?? [],
      metrics,
      runs: records[pathName],
    };
  }

  const table = markdownTable(summary, options.paths);
  const sideBySide = options.paths.includes('kskup') && options.paths.includes('skrouterd');
  const ratios = sideBySide ? sideBySideRatios(records.kskup, records.skrouterd, METRICS) : undefined;
  const ratios_table = sideBySide ? ratioTable(summary, ratios) : undefined;
  const output = {
    benchmark: 'kskup bench/run.mjs',
    date: startedAt.toISOString(),
    durationSeconds: Math.round((Date.now() - began) / 1000),
    machine: { ...machine, loadavgAtEnd: os.loadavg().map((x) => Number(x.toFixed(2))) },
    router,
    settings: {
      runs: options.runs,
      quick: options.quick,
      pinned: options.pin ? 'each path: first process on CPU 0, second on CPU 1 (taskset -a)' : false,
      paths: options.paths,
      ...options.settings,
      waitQuietSeconds: options.waitQuietSeconds,
      quietThresholdCores: options.quietThreshold,
      retries: options.retries,
    },
    otherLoad: Object.fromEntries(options.paths.map((p) => [p, records[p].map((r) => r.details.cpuElsewhere?.otherCores ?? null)])),
    units: {
      tput1Cold: 'Gbit/s, the first iperf3 test of the fresh processes, right after the RSS step; tput1 is the same test again, next',
      tput1: 'Gbit/s',
      tput1R: 'Gbit/s',
      tput8: 'Gbit/s',
      tput8R: 'Gbit/s',
      rttP50: 'ms',
      rttP99: 'ms',
      cps: 'connections/s',
      cps1: 'connections/s',
      burstMs: 'ms from the first connect to the last connection settled (checked, or failed)',
      burstFailed: 'connections that did not get their bytes back intact',
      burstResets: 'of the failed, those reset (ECONNRESET)',
      cpuPerGbit: 'CPU seconds (user + system, all threads) of the two processes per Gbit received, 1-stream iperf3 test',
      rssIdle: 'MB (MiB), sum of the two processes; rssIdle.0 / rssIdle.1 per process',
      rssFlows: 'MB (MiB), sum of the two processes; rssFlows.0 / rssFlows.1 per process',
      kbPerFlow: 'KB (KiB) per flow: (rssFlows - rssIdle) / flows, summed over the two processes',
    },
    results,
    ...(sideBySide ? { ratios, ratioTable: ratios_table } : { reference: REFERENCE }),
    table,
  };
  mkdirSync(dirname(options.out), { recursive: true });
  writeFileSync(options.out, JSON.stringify(output, null, 2) + '\n');
  const mdOut = options.out.replace(/\.json$/, '') + '.md';
  writeFileSync(
    mdOut,
    `Medians of ${options.runs} run(s), ${startedAt.toISOString()}, ${machine.nproc} cores (${machine.cpuModel}), Node ${machine.node}, load average ${machine.loadavgAtStart.join(' ')} at the start${options.pin ? ', each path\'s two processes pinned to CPU 0 and CPU 1' : ''}\n\n${table}\n${sideBySide ? `\nkskup against ${skrouterd.version} (ratios: medians of the per-run ratios)\n\n${ratios_table}\n` : ''}`,
  );

  log(`\nMedians of ${options.runs} run(s) (${output.durationSeconds} s):\n`);
  log(table);
  if (sideBySide) log(`\nkskup against skupper-router ${skrouterd.version}, ratio kskup / skupper-router (median of the per-run ratios):\n\n${ratios_table}`);
  const errors = options.paths.flatMap((p) =>
    records[p].flatMap((r) =>
      [r, ...(r.discardedAttempts ?? [])].flatMap((a) => [
        ...a.errors.map((e) => `${p} run ${r.run}${a === r ? '' : ` (discarded attempt ${a.details.attempt})`}: ${e}`),
        ...(a.details.logIssues ?? []).map((line) => `${p} run ${r.run}${a === r ? '' : ` (discarded attempt ${a.details.attempt})`}: router log: ${line.slice(0, 400)}`),
      ]),
    ),
  );
  if (errors.length) {
    log(`\n${errors.length} problem(s):`);
    for (const e of errors) log(`  - ${e}`);
  }
  log(`\nresults: ${relative(process.cwd(), options.out)} and ${relative(process.cwd(), mdOut)}`);
  if (options.keep) log(`work dir kept: ${dir}`);
  else removeTempDir(dir);
  await stopAll(); // nothing should be left; if something is, it must not keep us here
}

main().catch(async (error) => {
  console.error(`bench failed: ${error.stack ?? error}`);
  await stopAll();
  process.exit(1);
});
