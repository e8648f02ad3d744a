// The measurements: iperf3 throughput, 64-byte round trips, new connections per
// second, and RSS with 1000 idle flows. Load generators are child processes.
import { join } from 'node:path';
import { BENCH_DIR } from './setup.mjs';
import { isAlive, processTicks, rssBytes, sleep, spawnTracked, stopChild } from './common.mjs';

const CLIENT = join(BENCH_DIR, 'lib', 'client.mjs');

/** Runs a child to completion (killed after `timeoutMs`) and returns its stdout. */
function runChild(command, args, timeoutMs, name) {
  const child = spawnTracked(command, args, { stdio: ['ignore', 'pipe', 'pipe'], name });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (t) => (stdout += t));
  child.stderr.setEncoding('utf8').on('data', (t) => (stderr += t));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    stopChild(child, 1000);
  }, timeoutMs);
  return child.exited.then(({ code, signal }) => {
    clearTimeout(timer);
    return { code, signal, stdout, stderr, timedOut };
  });
}

function lastJsonLine(text) {
  const lines = text.trim().split('\n').filter(Boolean);
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      return JSON.parse(lines[i]);
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/**
 * iperf3 client through `port`. Returns Gbit/s summed over the streams as the
 * receiver saw them (end.sum_received; with -R the receiver is the client).
 */
export async function iperf(tools, port, { seconds, streams, reverse }) {
  const args = ['-c', '127.0.0.1', '-p', String(port), '-t', String(seconds), '-J', '--connect-timeout', '5000'];
  if (streams > 1) args.push('-P', String(streams));
  if (reverse) args.push('-R');
  let report;
  // The server still finishing the previous test (its flows closing through the
  // tunnel) answers "busy": try again a little later, at most 3 times.
  for (let attempt = 1; ; attempt++) {
    const result = await runChild(tools.iperf3, args, (seconds + 25) * 1000, 'iperf3 -c');
    try {
      report = JSON.parse(result.stdout);
    } catch {
      throw new Error(`iperf3 ${args.join(' ')}: no JSON report (exit ${result.code}${result.timedOut ? ', timed out' : ''}): ${result.stderr.trim() || result.stdout.trim().slice(0, 300)}`);
    }
    if (!(report.error && /busy/.test(report.error) && attempt < 4)) break;
    await sleep(1000);
  }
  if (report.error) throw new Error(`iperf3 ${args.join(' ')}: ${report.error}`);
  const received = report.end?.sum_received?.bits_per_second;
  if (typeof received !== 'number') throw new Error(`iperf3 ${args.join(' ')}: no end.sum_received in the report`);
  return {
    gbps: received / 1e9,
    receivedGbit: (report.end.sum_received.bytes * 8) / 1e9,
    sentGbps: (report.end?.sum_sent?.bits_per_second ?? NaN) / 1e9,
    retransmits: report.end?.sum_sent?.retransmits,
    // Per-second rates, to see whether a low result was steady or a dip.
    intervalsGbps: (report.intervals ?? []).map((i) => Number(((i.sum?.bits_per_second ?? 0) / 1e9).toFixed(2))),
  };
}

export async function roundTrips(port, { count, warmup }) {
  const timeoutMs = 60_000 + count * 5;
  const result = await runChild(process.execPath, [CLIENT, 'rtt', String(port), String(count), String(warmup)], timeoutMs, 'rtt client');
  const report = lastJsonLine(result.stdout);
  if (!report || report.error) throw new Error(`round trips: ${report?.error ?? `exit ${result.code}${result.timedOut ? ' (timed out)' : ''} ${result.stderr.trim()}`}`);
  return report;
}

export async function connectionsPerSecond(port, { seconds, concurrency }) {
  const result = await runChild(process.execPath, [CLIENT, 'cps', String(port), String(seconds), String(concurrency)], (seconds + 30) * 1000, 'cps client');
  const report = lastJsonLine(result.stdout);
  if (!report || report.error) throw new Error(`connections/s: ${report?.error ?? `exit ${result.code}${result.timedOut ? ' (timed out)' : ''} ${result.stderr.trim()}`}`);
  return report;
}

/**
 * RSS of the path's processes idle (after `settleMs`) and with `flows` open idle
 * connections, each having done one round trip end to end.
 */
export async function rssWithFlows(path, port, { flows, settleMs }) {
  const measure = () => path.processes.map((p) => rssBytes(p.child.pid));
  await sleep(settleMs);
  const idle = measure();
  const child = spawnTracked(process.execPath, [CLIENT, 'hold', String(port), String(flows)], { stdio: ['pipe', 'pipe', 'pipe'], name: 'hold client' });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (t) => (stdout += t));
  child.stderr.setEncoding('utf8').on('data', (t) => (stderr += t));
  try {
    const deadline = Date.now() + 60_000;
    let ready;
    while (!ready) {
      ready = lastJsonLine(stdout);
      if (ready?.error) throw new Error(`holding ${flows} flows: ${ready.error}`);
      if (!isAlive(child)) throw new Error(`holding ${flows} flows: client exited ${child.exitCode}: ${stderr.trim()}`);
      if (Date.now() > deadline) throw new Error(`holding ${flows} flows: not all open after 60 s`);
      if (!ready) await sleep(50);
    }
    await sleep(settleMs);
    const loaded = measure();
    return { idle, loaded, ready };
  } finally {
    if (isAlive(child)) child.stdin.end('close\n');
    const timer = setTimeout(() => stopChild(child, 1000), 5000);
    await child.exited;
    clearTimeout(timer);
  }
}

/**
 * A connection burst: `count` clients connect at once, each sends `bytes` random
 * bytes of its own and checks them when they come back (client.mjs burst).
 * Returns { count, completed, failed, resets, errors, totalMs, p50Ms, p99Ms, maxMs }.
 */
export async function connectionBurst(port, { count, bytes, timeoutSeconds }) {
  const result = await runChild(process.execPath, [CLIENT, 'burst', String(port), String(count), String(bytes), String(timeoutSeconds)], (timeoutSeconds + 30) * 1000, 'burst client');
  const report = lastJsonLine(result.stdout);
  if (!report || report.error) throw new Error(`connection burst: ${report?.error ?? `exit ${result.code}${result.timedOut ? ' (timed out)' : ''} ${result.stderr.trim()}`}`);
  return report;
}

/** CPU time (user + system) of the processes, in seconds, at this moment; a gone process counts 0. */
export function cpuSecondsOf(pids, ticksPerSecond = 100) {
  return pids.reduce((sum, pid) => sum + processTicks(pid), 0) / ticksPerSecond;
}
