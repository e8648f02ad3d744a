// Shared plumbing of the benchmark: tracked child processes (all of them are
// stopped on exit, failure or Ctrl-C), ports, polling, RSS, small statistics.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { openSync, closeSync, readFileSync, rmSync, existsSync } from 'node:fs';
import net from 'node:net';
import { resolve as resolvePath } from 'node:path';

// ---- child processes -------------------------------------------------------

/** Every child started through spawnTracked() that has not exited yet. */
const live = new Set();
/** Directories removed when the process exits. */
const tempDirs = new Set();
let handlersInstalled = false;

/**
 * Starts a child and tracks it until it exits. `logFile`, when given, gets the
 * child's stdout and stderr (appended); otherwise `stdio` is used as given.
 */
export function spawnTracked(command, args, { logFile, stdio, env, name } = {}) {
  installHandlers();
  let fd;
  if (logFile) fd = openSync(logFile, 'a');
  const child = spawn(command, args, {
    stdio: stdio ?? ['ignore', fd ?? 'ignore', fd ?? 'ignore'],
    env: env ?? process.env,
  });
  if (fd !== undefined) closeSync(fd); // the child has its own copy
  child.benchName = name ?? command;
  child.exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
    child.once('error', (error) => {
      live.delete(child);
      resolve({ code: null, signal: null, error });
    });
  });
  live.add(child);
  return child;
}

export function isAlive(child) {
  return child.exitCode === null && child.signalCode === null;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves with how it exited. */
export async function stopChild(child, graceMs = 3000) {
  if (!child) return undefined;
  if (isAlive(child)) {
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (isAlive(child)) child.kill('SIGKILL');
    }, graceMs);
    const result = await child.exited;
    clearTimeout(timer);
    return result;
  }
  return child.exited;
}

export async function stopAll() {
  await Promise.all([...live].map((child) => stopChild(child, 2000)));
}

export function registerTempDir(dir) {
  installHandlers();
  tempDirs.add(dir);
}

export function removeTempDir(dir) {
  tempDirs.delete(dir);
  rmSync(dir, { recursive: true, force: true });
}

function installHandlers() {
  if (handlersInstalled) return;
  handlersInstalled = true;
  // Last resort, synchronous: whatever is still running dies with us.
  process.on('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });
  let stopping = false;
  const onSignal = (signal) => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stderr.write(`\n${signal}: stopping ${live.size} child process(es) and cleaning up...\n`);
    stopAll().finally(() => process.exit(130));
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGHUP', () => onSignal('SIGHUP'));
}

// ---- ports and polling ------------------------------------------------------

/**
 * A free port below Linux's ephemeral range (32768-60999 by default): a port
 * from that range can be taken by any outgoing connection (ours included: the
 * connection tests open tens of thousands) between this check and the bind by
 * the process it is meant for.
 */
export async function freePort() {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await canBind(port)) return port;
  }
  throw new Error('no free port found in 20000-31999');
}

function canBind(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Distinct free ports. */
export async function freePorts(count) {
  const ports = new Set();
  for (let i = 0; ports.size < count && i < count * 20; i++) ports.add(await freePort());
  if (ports.size < count) throw new Error('could not find enough free ports');
  return [...ports];
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` every `everyMs` until it returns a truthy value, at most `timeoutMs`. */
export async function waitFor(what, probe, timeoutMs = 15_000, everyMs = 50) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      // A probe that knows waiting is pointless (a process it waits on exited) says so with `fatal`.
      if (error?.fatal) throw new Error(`gave up waiting for ${what}: ${error.message}`);
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError.message})` : ''}`);
    }
    await sleep(everyMs);
  }
}

/** Waits until `file` contains `text` (a child's log line), or the child exits. */
export async function waitForLog(what, file, text, child, timeoutMs = 10_000) {
  return waitFor(
    what,
    () => {
      if (child && !isAlive(child)) throw Object.assign(new Error(`${child.benchName} exited early; see ${file}`), { fatal: true });
      return existsSync(file) && readFileSync(file, 'utf8').includes(text);
    },
    timeoutMs,
  );
}

/** One round trip of `size` bytes to an echo service at `port`; rejects after `timeoutMs`. */
export function echoOnce(port, size = 64, timeoutMs = 3000) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no echo from port ${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    let got = 0;
    socket.on('connect', () => socket.write(Buffer.alloc(size, 0x61)));
    socket.on('data', (chunk) => {
      got += chunk.length;
      if (got >= size) {
        clearTimeout(timer);
        socket.end();
        resolve(true);
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (got < size) reject(new Error(`echo connection to port ${port} closed after ${got} bytes`));
    });
  });
}

// ---- measurements helpers ---------------------------------------------------

/** VmRSS of a process in bytes, from /proc/PID/status. */
export function rssBytes(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

/** Fetches a router's /metrics and returns one series' value, or undefined. */
export async function metric(port, series) {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2000) });
  const text = await response.text();
  for (const line of text.split('\n')) {
    if (line.startsWith(series + ' ')) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

export function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Nearest-rank percentile of an already sorted array. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function commandVersion(command, args) {
  // Some tools (stunnel) print their version on stderr, and exit non-zero.
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 5000 });
  const text = `${result.stdout ?? ''}\n${result.stderr ?? ''}`;
  const line = text.split('\n').find((l) => /\d+\.\d+/.test(l));
  return line ? line.trim() : null;
}

export function which(command) {
  try {
    return execFileSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

// ---- other load on the machine ----------------------------------------------

/** PIDs of the tracked children that are still running. */
export function livePids() {
  return [...live].filter(isAlive).map((child) => child.pid);
}

/** utime + stime + cutime + cstime of one process, in clock ticks (USER_HZ, 100 on Linux; 0 when it is gone). */
export function processTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): utime, stime, cutime, cstime are fields 14-17
    return Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  } catch {
    return 0;
  }
}

/**
 * A snapshot for cpuElsewhere(): the machine's busy ticks (user, nice, system,
 * irq, softirq), its steal ticks, and the ticks of this process, its reaped
 * children and its running tracked children.
 */
export function cpuSnapshot() {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = cpu;
  const ours = processTicks(process.pid) + livePids().reduce((sum, pid) => sum + processTicks(pid), 0);
  return { at: process.hrtime.bigint(), busy: user + nice + system + irq + softirq, steal: steal ?? 0, ours };
}

/**
 * CPU used by everything else between two snapshots, in cores (1.0 = one core
 * busy the whole time), and the hypervisor's steal time likewise. Tracked
 * children must still be running at `end` or have been reaped by then, as
 * stopChild() does, for their time to count as ours. Kernel work that is not
 * charged to any process (softirq while a CPU idles) counts as elsewhere.
 */
export function cpuElsewhere(start, end, ticksPerSecond = 100) {
  const seconds = Number(end.at - start.at) / 1e9;
  if (seconds <= 0) return { seconds, otherCores: 0, stealCores: 0 };
  const other = end.busy - start.busy - (end.ours - start.ours);
  return {
    seconds: Number(seconds.toFixed(1)),
    otherCores: Number(Math.max(0, other / ticksPerSecond / seconds).toFixed(2)),
    stealCores: Number(((end.steal - start.steal) / ticksPerSecond / seconds).toFixed(2)),
  };
}

/**
 * The repository's HEAD commit, and the files under router/ and
 * site-controller/ that differ from it (the router under test is built from
 * the working tree): recorded with each result. Nulls when git cannot answer.
 * @returns {{ commit: string | null, routerSourcesModified: string[] }}
 */
export function gitState() {
  const repo = resolvePath(import.meta.dirname, '..', '..');
  const git = (...args) => {
    try {
      return execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return null;
    }
  };
  const dirty = git('status', '--porcelain', '--', 'router', 'site-controller');
  return { commit: git('rev-parse', 'HEAD'), routerSourcesModified: dirty ? dirty.split('\n') : [] };
}
