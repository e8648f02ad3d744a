// Shared plumbing of the benchmark: tracked child processes (all of them are
// stopped on exit, failure or Ctrl-C), ports, polling, RSS, small statistics.
import { spawn, execFileSync } from 'node:child_process';
import { openSync, closeSync, readFileSync, rmSync, existsSync } from 'node:fs';
import net from 'node:net';

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

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Distinct free ports (freePort() could hand out the same one twice). */
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
      if (child && !isAlive(child)) throw new Error(`${child.benchName} exited early; see ${file}`);
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
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0].trim();
  } catch (error) {
    // stunnel prints its version on stderr and exits non-zero
    const text = `${error.stdout ?? ''}${error.stderr ?? ''}`;
    const line = text.split('\n').find((l) => /\d+\.\d+/.test(l));
    return line ? line.trim() : null;
  }
}

export function which(command) {
  try {
    return execFileSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}
