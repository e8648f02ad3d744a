#!/usr/bin/env node
// CPU profile of the kskup path: both routers run under
// `node --cpu-prof --cpu-prof-dir=bench/tmp/profiles`, carry a 1-stream iperf3
// run, an 8-stream one (--streams; 1 leaves it out), a 64-byte round-trip run,
// and new connections (sequential, then 8 concurrent), and are stopped with SIGTERM (the
// router exits 0, so V8 writes the profile). Prints the top functions by self
// time for each router and each phase, and writes a summary JSON.
//
//   node bench/profile.mjs [--seconds 5] [--streams 8] [--round-trips 20000] [--top 25] [--max-frame-size 65536]
//                          [--router-ref GIT-REF] [--out bench/results/profile-latest.json]
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePorts, registerTempDir, removeTempDir, sleep, stopAll } from './lib/common.mjs';
import { formatTop, loadProfile, selfTimes, timeSpan } from './lib/cpuprofile.mjs';
import { connectionsPerSecond, iperf, roundTrips } from './lib/measure.mjs';
import { BENCH_DIR, REPO_DIR, buildFromGit, createPki, findTools, logIssues, snapshotDist, startEchoServer, startIperfServer, startKskup } from './lib/setup.mjs';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    streams: { type: 'string', default: '8' },
    'round-trips': { type: 'string', default: '20000' },
    top: { type: 'string', default: '25' },
    'max-frame-size': { type: 'string', default: '65536' },
    'router-ref': { type: 'string' },
    out: { type: 'string', default: join(BENCH_DIR, 'results', 'profile-latest.json') },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log('usage: node bench/profile.mjs [--seconds 5] [--streams 8] [--round-trips 20000] [--top 25] [--max-frame-size 65536] [--router-ref GIT-REF] [--out FILE]');
  process.exit(0);
}
const seconds = Number(values.seconds);
const streams = Number(values.streams);
const count = Number(values['round-trips']);
const top = Number(values.top);
const maxFrameSize = Number(values['max-frame-size']);

const log = (text) => process.stdout.write(`${text}\n`);
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

async function main() {
  const { found: tools, missing } = findTools();
  if (missing.length) {
    console.error(`missing tools: install them with\n  sudo apt-get update && sudo apt-get install -y ${missing.join(' ')}`);
    process.exit(1);
  }
  const profileDir = join(BENCH_DIR, 'tmp', 'profiles');
  mkdirSync(profileDir, { recursive: true });
  const dir = mkdtempSync(join(BENCH_DIR, 'tmp', 'profile-'));
  registerTempDir(dir);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const profileFile = (label) => join(profileDir, `router-${label}-${stamp}.cpuprofile`);

  let distDir;
  let router;
  if (values['router-ref']) {
    log(`building the router from git ${values['router-ref']}...`);
    const built = buildFromGit(values['router-ref'], dir);
    distDir = built.distDir;
    router = { source: `git ${values['router-ref']}`, commit: built.commit };
  } else {
    distDir = snapshotDist(dir);
    router = { source: 'dist/ of the working tree (copied at start)' };
  }
  const pki = await createPki(distDir, join(dir, 'pki'));
  const [echoPort, iperfPort] = await freePorts(2);
  const echo = await startEchoServer(dir, echoPort);
  const iperfServer = await startIperfServer(tools, dir, iperfPort, 'profile');
  const path = await startKskup({
    distDir,
    dir,
    pki,
    targets: { iperfPort, echoPort },
    tag: 'profile',
    maxFrameSize,
    nodeArgs: (label) => ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${relative(profileDir, profileFile(label))}`],
  });
  log(`kskup routers up under --cpu-prof (maxFrameSize ${maxFrameSize}); profiles in ${relative(REPO_DIR, profileDir)}`);
  await sleep(500);

  const phases = [];
  let phaseStart = nowUs();
  const t1 = await iperf(tools, path.iperfPort, { seconds, streams: 1, reverse: false });
  phases.push({ name: `iperf3 1 stream, ${seconds} s`, fromUs: phaseStart, toUs: nowUs(), result: `${t1.gbps.toFixed(2)} Gbit/s` });
  log(`iperf3 1 stream: ${t1.gbps.toFixed(2)} Gbit/s`);
  await sleep(500);
  if (streams > 1) {
    phaseStart = nowUs();
    const tn = await iperf(tools, path.iperfPort, { seconds, streams, reverse: false });
    phases.push({ name: `iperf3 ${streams} streams, ${seconds} s`, fromUs: phaseStart, toUs: nowUs(), result: `${tn.gbps.toFixed(2)} Gbit/s` });
    log(`iperf3 ${streams} streams: ${tn.gbps.toFixed(2)} Gbit/s`);
    await sleep(500);
  }
  phaseStart = nowUs();
  const rtt = await roundTrips(path.echoPort, { count, warmup: 1000 });
  phases.push({ name: `64-byte round trips x ${count}`, fromUs: phaseStart, toUs: nowUs(), result: `p50 ${rtt.p50.toFixed(3)} ms, p99 ${rtt.p99.toFixed(3)} ms` });
  log(`round trips: p50 ${rtt.p50.toFixed(3)} ms, p99 ${rtt.p99.toFixed(3)} ms`);
  await sleep(500);
  for (const concurrency of [1, 8]) {
    phaseStart = nowUs();
    const cps = await connectionsPerSecond(path.echoPort, { seconds, concurrency });
    const what = concurrency === 1 ? 'sequential' : `${concurrency} concurrent`;
    phases.push({ name: `new connections, ${what}, ${seconds} s`, fromUs: phaseStart, toUs: nowUs(), result: `${cps.perSecond.toFixed(0)}/s, ${cps.completed} in all`, count: cps.completed });
    log(`new connections (${what}): ${cps.perSecond.toFixed(0)}/s`);
  }

  const exits = await path.stop();
  await iperfServer.stop();
  await echo.stop();
  const issues = path.logs.flatMap((f) => logIssues(f, path.stoppingAt));
  for (const [i, p] of path.processes.entries()) {
    if (exits[i]?.code !== 0) log(`! router ${p.label} exited with ${exits[i]?.code ?? exits[i]?.signal} after SIGTERM`);
  }
  if (issues.length) log(`! ${issues.length} warning/error line(s) in the router logs; first: ${issues[0]}`);

  const summary = {
    date: new Date().toISOString(),
    machine: { nproc: os.availableParallelism(), cpuModel: os.cpus()[0]?.model ?? null, node: process.version },
    router,
    maxFrameSize,
    phases: phases.map(({ name, result, fromUs, toUs, count }) => ({ name, result, ms: (toUs - fromUs) / 1000, ...(count && { count }) })),
    routers: {},
  };
  for (const p of path.processes) {
    const file = profileFile(p.label);
    if (!existsSync(file)) {
      log(`! no profile for router ${p.label} at ${file}`);
      continue;
    }
    const profile = loadProfile(file);
    const span = timeSpan(profile);
    // Phase windows need the profile's clock to be the monotonic clock of process.hrtime; check it.
    const sameClock = phases.every((ph) => ph.fromUs >= span.startUs - 1e6 && ph.toUs <= span.endUs + 1e6);
    summary.routers[p.label] = { profile: relative(REPO_DIR, file), phases: {} };
    const windows = sameClock ? phases : [{ name: 'whole run (profile clock does not match process.hrtime)', fromUs: -Infinity, toUs: Infinity }];
    for (const ph of windows) {
      const result = selfTimes(profile, { fromUs: ph.fromUs, toUs: ph.toUs });
      log(`\nrouter ${p.label} (${p.label === 'A' ? 'tcpListener side, TLS server' : 'tcpConnector side, TLS client'}) - ${ph.name}: top ${top} by self time`);
      log(formatTop(result, top));
      if (ph.count) log(`    busy ${((result.busyMs * 1000) / ph.count).toFixed(0)} µs per connection`);
      summary.routers[p.label].phases[ph.name] = {
        totalMs: result.totalMs,
        busyMs: result.busyMs,
        ...(ph.count && { busyUsPerConnection: (result.busyMs * 1000) / ph.count }),
        categories: result.categories,
        top: result.functions.slice(0, top).map(({ selfUs, ...f }) => f),
      };
    }
  }
  const out = resolve(values.out);
  writeFileSync(out, JSON.stringify(summary, null, 2) + '\n');
  log(`\nsummary: ${relative(process.cwd(), out)}`);
  removeTempDir(dir);
  await stopAll();
}

main().catch(async (error) => {
  console.error(`profile failed: ${error.stack ?? error}`);
  await stopAll();
  process.exit(1);
});
