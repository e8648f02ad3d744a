// Runs real kskup-router processes for tests: writes their config, starts the
// compiled binary, reads their JSON-lines log, samples their RSS, stops them.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach } from 'vitest';
import { watchProcess } from './crash-watch.js';

export const ROUTER_BIN = resolve(import.meta.dirname, '../../dist/router/main.js');

export type Entity = [string, Record<string, unknown>];

export interface LogLine {
  level: string;
  module?: string;
  msg: string;
  [field: string]: unknown;
}

/**
 * A port for a test listener, from below the kernel's ephemeral range
 * (32768-60999 here): a port from inside it (what `listen(0)` hands out) can be
 * taken as the local port of some outgoing connection before the router binds
 * it. Each call hands out a different port; it is checked to be free.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = nextPort();
    if (await canBind(port)) return port;
  }
  throw new Error('no free port found below the ephemeral range');
}

const PORT_RANGE_START = 20_000;
const PORT_RANGE_SIZE = 12_000;
// A random start for each test file (each imports this module afresh), so that
// files running one after the other do not hand out the same ports.
let portCursor = Math.floor(Math.random() * PORT_RANGE_SIZE);

function nextPort(): number {
  portCursor = (portCursor + 1) % PORT_RANGE_SIZE;
  return PORT_RANGE_START + portCursor;
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export class RouterProcess {
  readonly lines: LogLine[] = [];
  readonly stderrText: string[] = [];
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  private exitStatus: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly watch: { signalled(signal: NodeJS.Signals): void };

  private constructor(
    readonly name: string,
    readonly configPath: string,
    args: string[],
    env: NodeJS.ProcessEnv = process.env,
    prefix: readonly string[] = [],
  ) {
    // `prefix` execs the router (ip netns exec ...): the child's pid is the router's, so signals reach it.
    const argv = [...prefix, process.execPath, ROUTER_BIN, '-c', configPath, ...args];
    this.child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env });
    let partial = '';
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (text: string) => {
      partial += text;
      const complete = partial.split('\n');
      partial = complete.pop() ?? '';
      for (const line of complete) {
        this.stderrText.push(line);
        try {
          this.lines.push(JSON.parse(line) as LogLine);
        } catch {
          // not JSON (e.g. a start-up usage error): kept in stderrText only
        }
      }
    });
    this.exited = new Promise((r) =>
      this.child.once('exit', (code, signal) => {
        this.exitStatus = { code, signal };
        r(code);
      }),
    );
    this.watch = watchProcess(`kskup-router ${configPath} (pid ${this.child.pid})`, {
      output: () => [...this.stderrText, partial].join('\n'),
      exit: () => this.exitStatus,
    });
  }

  /** Starts a router on a config file as it is (any syntax), with extra environment variables. */
  static run(name: string, configPath: string, env: Record<string, string> = {}): RouterProcess {
    return new RouterProcess(name, configPath, [], { ...process.env, ...env });
  }

  /** Sends a signal; one that ends the router is then not counted as a crash. */
  signal(signal: NodeJS.Signals): void {
    this.watch.signalled(signal);
    this.child.kill(signal);
  }

  /**
   * Writes `entities` to `dir/<name>.json` and starts a router on it; with
   * `prefix`, through a command that execs it (`ip netns exec NETNS`).
   */
  static async start(dir: string, name: string, entities: Entity[], args: string[] = [], prefix: readonly string[] = []): Promise<RouterProcess> {
    const path = join(dir, `${name}.json`);
    await writeFile(path, JSON.stringify(entities, null, 2));
    return new RouterProcess(name, path, args, process.env, prefix);
  }

  /**
   * Replaces the config file the way a careful writer does: written next to it,
   * then renamed over it. Written in place, the file is empty for a moment
   * (truncated, not yet written); a router that reads it then logs an invalid
   * file, which a test waiting for a reload error could take for the one it
   * expects. Under load that moment exceeds the router's 100 ms settle time.
   */
  async rewrite(entities: Entity[]): Promise<void> {
    const next = `${this.configPath}.next`;
    await writeFile(next, JSON.stringify(entities, null, 2));
    await rename(next, this.configPath);
  }

  waitForLog(what: string, match: (line: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> {
    return waitFor(what, () => this.lines.find(match), timeoutMs);
  }

  rssBytes(): number {
    const status = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status);
    return kb ? Number(kb[1]) * 1024 : 0;
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.signal('SIGTERM');
    return this.exited;
  }
}

/** Fetches the router's /metrics and returns the value of one series, or undefined. */
export async function metric(port: number, series: string, host = '127.0.0.1'): Promise<number | undefined> {
  const response = await fetch(`http://${host}:${port}/metrics`);
  const text = await response.text();
  for (const line of text.split('\n')) {
    if (line.startsWith(series + ' ')) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

/** The routers a test file starts (push them here): all stopped after the file. */
export function useRouters(): RouterProcess[] {
  const routers: RouterProcess[] = [];
  afterAll(async () => {
    await Promise.all(routers.map((router) => router.stop()));
  });
  return routers;
}

/** Where routerLogsOnFailure keeps the full logs of a failed test's routers. */
export const FAILED_TEST_LOG_DIR = join(tmpdir(), 'kskup-failed-test-logs');

/**
 * After each failed test: writes every line each router logged (debug
 * included) to FAILED_TEST_LOG_DIR, one file per router, and prints their
 * non-debug lines with the file names, so that a failure seen once under load
 * can be read afterwards. `routers` is called then, so it may name routers the
 * file starts later (undefined ones are skipped).
 */
export function routerLogsOnFailure(routers: () => readonly (RouterProcess | undefined)[]): void {
  afterEach((context) => {
    if (context.task.result?.state === 'fail') keepRouterLogs(context.task.name, routers());
  });
}

/** Writes the routers' full logs to FAILED_TEST_LOG_DIR and prints their last non-debug lines (for a failed hook, say). */
export function keepRouterLogs(what: string, routers: readonly (RouterProcess | undefined)[]): void {
  mkdirSync(FAILED_TEST_LOG_DIR, { recursive: true });
  const slug = `${what.replace(/[^A-Za-z0-9]+/g, '-').slice(0, 60)}-${Date.now()}`;
  const report: string[] = [];
  for (const router of routers) {
    if (!router) continue;
    const path = join(FAILED_TEST_LOG_DIR, `${slug}-${router.name}.log`);
    writeFileSync(path, router.stderrText.join('\n') + '\n');
    const notable = router.lines.filter((line) => line.level !== 'debug' && line.level !== 'trace');
    report.push(`router ${router.name}: ${router.stderrText.length} lines in ${path}; its last non-debug lines:`);
    report.push(...notable.slice(-60).map((line) => `  ${JSON.stringify(line)}`));
  }
  console.error(`routers' logs for the failed "${what}":\n${report.join('\n')}`);
}
