// The supervisor of a local site: the detached process `kskup init` starts
// (cli/site-supervisor-main.ts). It runs the site process (router, claims
// endpoint, controller: cli/site-process-main.ts) as its child and restarts it
// with backoff after an exit nobody asked for: a crash, a kill -9, an exit
// code other than 0. It loads Node built-ins and three small modules only, so
// what crashes the site (its libraries, a bad frame, a corrupt site.json)
// cannot crash it.
//
// - The pid file (site.pid) holds the supervisor's pid. It is written when the
//   site process is first up, which is what `kskup init` waits for, and
//   removed when the supervisor ends.
// - Once the site is up, a second site process is kept loaded and waiting
//   (a warm standby: about 70 MB): loading the site's modules takes a
//   second, and up to two on a busy machine, while starting the site from
//   loaded modules takes a few hundred ms; a restart uses the standby, so
//   the site is back well within 2 s, and a new standby is loaded 5 s after it is up.
// - The first start is not retried: if the site cannot start, the supervisor
//   exits with its code, and `kskup init` reports the log.
// - SIGTERM and SIGINT are passed on, and the supervisor ends once the site
//   process has stopped (SIGKILL after STOP_KILL_MS); SIGHUP is passed on.
// - An exit 0 nobody asked for (someone stopped the site process itself) is a
//   stop: the supervisor ends too.
// - Every state change is recorded in supervisor.json (supervisor-record.ts),
//   replaced by rename. If the supervisor is killed, the site process sees its
//   channel close and stops (supervisor-link.ts): the site is then down, and
//   its pid file, left behind, makes `kskup status` say so.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ROUTER_NODE_FLAGS } from '../../router/node-flags.js';
import { atomicWrite } from './atomic-write.js';
import { isSupervisorMessage, type SupervisorMessage } from './supervisor-link.js';
import {
  exitReason,
  HEALTHY_AFTER_MS,
  lastErrorLine,
  nextBackoff,
  RECENT_EXITS,
  SUPERVISOR_MODULE,
  type SiteExit,
  type SitePartState,
  type SupervisorRecord,
} from './supervisor-record.js';

/** The site process stops within 3 s of a signal by itself (site-main.ts); this is for one that cannot. */
const STOP_KILL_MS = 4_000;
/** How long after the site is up the standby is loaded. */
const STANDBY_DELAY_MS = 5_000;
/** How much of the log's end is searched for the site process's last error line. */
const LOG_TAIL_BYTES = 64 * 1024;

export interface SupervisorOptions {
  /** The site folder (its files as in site-folder.ts; not imported, to load nothing more). */
  readonly folder: string;
  /** The site process's entry (site-process-main.js), run as `node ROUTER_NODE_FLAGS... ENTRY FOLDER` (it hosts the router). */
  readonly siteEntry: string;
  readonly env: NodeJS.ProcessEnv;
  /** Resolves with the first SIGTERM or SIGINT (router/stop-signals.ts, caught by the entry first). */
  readonly stopped: Promise<NodeJS.Signals>;
  /** Sets what SIGHUP does. */
  onHangup(handler: () => void): void;
}

/** Resolves with the supervisor's exit code: 0 after a stop, the site process's code if its first start failed. */
export function runSupervisor(options: SupervisorOptions): Promise<number> {
  return new Supervisor(options).run();
}

type Exit = { readonly code: number | null; readonly signal: NodeJS.Signals | null; readonly error?: Error };

/** One site process: spawned with the channel, told to start once it has loaded and is wanted. */
class SiteChild {
  loaded = false;
  wanted = false;
  exit: Exit | undefined;
  readonly exited: Promise<Exit>;

  constructor(
    readonly process: ChildProcess,
    onReady: (child: SiteChild) => void,
  ) {
    this.exited = new Promise<Exit>((resolve) => {
      const end = (exit: Exit) => {
        if (this.exit) return;
        this.exit = exit;
        resolve(exit);
      };
      process.once('exit', (code, signal) => end({ code, signal }));
      // A process that could not be spawned gets 'error' and no 'exit'; a failed send on a closing channel gets 'error' too, and its 'exit' follows.
      process.on('error', (error) => {
        if (process.pid === undefined) end({ code: null, signal: null, error });
      });
    });
    process.on('message', (message: unknown) => {
      if (isSupervisorMessage(message, 'loaded')) {
        this.loaded = true;
        if (this.wanted) this.send({ kind: 'start' });
      } else if (isSupervisorMessage(message, 'ready')) {
        onReady(this);
      }
    });
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  /** Starts the site at once if loaded, else as soon as it is. */
  want(): void {
    this.wanted = true;
    if (this.loaded) this.send({ kind: 'start' });
  }

  kill(signal: NodeJS.Signals): void {
    if (!this.exit) this.process.kill(signal);
  }

  private send(message: SupervisorMessage): void {
    // A channel that closed in between: the 'exit' that follows says what happened.
    if (this.process.connected) this.process.send(message, undefined, undefined, () => undefined);
  }
}

class Supervisor {
  private readonly pidFile: string;
  private readonly recordFile: string;
  private readonly logFile: string;
  private readonly startedAt = new Date().toISOString();
  /** The site process that runs (or starts) the site. */
  private active: SiteChild | undefined;
  /** The warm standby: loaded, waiting for "start". */
  private standby: SiteChild | undefined;
  private activeSince = 0;
  /** Where the site log ended when the active process was started: its error line is after this. */
  private logOffset = 0;
  private everUp = false;
  private stopping = false;
  private backoffMs: number | undefined;
  private healthyTimer: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private standbyTimer: NodeJS.Timeout | undefined;
  private restarts = 0;
  private exits: SiteExit[] = [];
  /** The supervisor's exit code once it stops: the site process's, if a stop failed or the first start did. */
  private stopCode = 0;
  private ended = false;
  private writing: Promise<void> = Promise.resolve();
  private finish: (code: number) => void = () => undefined;

  constructor(private readonly options: SupervisorOptions) {
    this.pidFile = join(options.folder, 'site.pid');
    this.recordFile = join(options.folder, 'supervisor.json');
    this.logFile = join(options.folder, 'site.log');
  }

  run(): Promise<number> {
    const done = new Promise<number>((resolve) => (this.finish = resolve));
    void this.options.stopped.then((signal) => this.stop(signal, signal));
    this.options.onHangup(() => this.active?.kill('SIGHUP'));
    this.log('info', 'supervising the site process', { backoffInitialMs: nextBackoff(undefined), healthyAfterMs: HEALTHY_AFTER_MS });
    this.start();
    return done.then(async (code) => {
      await this.writing;
      return code;
    });
  }

  private spawnChild(): SiteChild | undefined {
    try {
      const process = spawn(globalThis.process.execPath, [...ROUTER_NODE_FLAGS, this.options.siteEntry, this.options.folder], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: this.options.env });
      return new SiteChild(process, (child) => void this.ready(child));
    } catch (error) {
      // spawn throws for bad arguments only; failures to spawn (EAGAIN, ENOMEM) come as 'error' events.
      this.log('error', 'cannot spawn the site process', { error: (error as Error).message });
      return undefined;
    }
  }

  /** Makes the standby (or a new process) the active one. */
  private start(): void {
    this.restartTimer = undefined;
    if (this.stopping) return;
    const child = this.standby ?? this.spawnChild();
    this.standby = undefined;
    this.logOffset = this.logSize();
    this.activeSince = Date.now();
    if (!child) {
      this.exited(undefined, { code: null, signal: null, error: new Error('cannot spawn the site process') });
      return;
    }
    this.active = child;
    void child.exited.then((exit) => this.exited(child, exit));
    child.want();
    this.setState('starting', child.pid);
  }

  /** Loads the next standby, unless one is loaded or the supervisor is stopping. */
  private keepStandby(): void {
    if (this.standby || this.stopping) return;
    const child = this.spawnChild();
    if (!child) return;
    this.standby = child;
    void child.exited.then((exit) => {
      if (this.standby !== child) return;
      this.standby = undefined;
      // Not replaced at once (one that fails while loading would fail again): the next restart or start loads one.
      if (!this.stopping) this.log('warn', `the standby site process exited (${exitReason(exit)})`, { pid: child.pid, ...(exit.error && { error: exit.error.message }) });
      else this.endIfDone();
    });
  }

  private async ready(child: SiteChild): Promise<void> {
    if (child !== this.active || this.stopping) return;
    const first = !this.everUp;
    this.everUp = true;
    this.setState('running', child.pid);
    clearTimeout(this.healthyTimer);
    this.healthyTimer = setTimeout(() => (this.backoffMs = undefined), HEALTHY_AFTER_MS);
    if (first) {
      await this.writing;
      // The launcher waits for this pid: the site is up.
      await atomicWrite(this.pidFile, `${process.pid}\n`, 0o644).catch((error: Error) => this.log('error', 'cannot write the pid file', { error: error.message }));
    } else {
      this.log('info', 'the site process is up again', { pid: child.pid, restarts: this.restarts, tookMs: Date.now() - this.activeSince });
    }
    // Not at once: loading it takes a CPU for a second or two, which the site's own start (links, service sync) needs more.
    clearTimeout(this.standbyTimer);
    this.standbyTimer = setTimeout(() => this.keepStandby(), STANDBY_DELAY_MS);
  }

  private exited(child: SiteChild | undefined, { code, signal, error }: Exit): void {
    if (child !== this.active && child !== undefined) return;
    clearTimeout(this.healthyTimer);
    this.active = undefined;
    if (this.stopping) {
      this.stopCode = code === 0 || signal !== null ? 0 : (code ?? 1);
      this.endIfDone();
      return;
    }
    if (code === 0 && signal === null) {
      // Someone stopped the site process itself: that is a stop of the site, not a failure.
      this.stop('SIGTERM', 'the site process stopped by itself (exit 0)');
      return;
    }
    const errorLine = error ? error.message : this.errorLineSince(this.logOffset);
    const exit: SiteExit = {
      pid: child?.pid ?? 0,
      code,
      signal,
      at: new Date().toISOString(),
      ranMs: Date.now() - this.activeSince,
      ...(errorLine !== undefined && { error: errorLine }),
    };
    if (!this.everUp) {
      this.exits = [...this.exits, exit].slice(-RECENT_EXITS);
      this.log('error', 'the site process could not start: not restarted', { ...exit });
      this.stopCode = code ?? 1;
      this.stop('SIGTERM', 'the first start failed');
      return;
    }
    this.backoffMs = nextBackoff(this.backoffMs);
    this.exits = [...this.exits, { ...exit, restartAfterMs: this.backoffMs }].slice(-RECENT_EXITS);
    this.restarts += 1;
    const nextStartAt = new Date(Date.now() + this.backoffMs).toISOString();
    this.log('warn', `the site process exited (${exitReason(exit)}) after ${exit.ranMs} ms; restart ${this.restarts} in ${this.backoffMs} ms`, { ...exit });
    this.setState('waiting', undefined, nextStartAt);
    this.restartTimer = setTimeout(() => this.start(), this.backoffMs);
  }

  /** Passes `signal` on to the site processes; the supervisor ends once both are gone. `why`: for the log. */
  private stop(signal: NodeJS.Signals, why: string): void {
    if (this.stopping) return;
    this.stopping = true;
    clearTimeout(this.healthyTimer);
    clearTimeout(this.restartTimer);
    clearTimeout(this.standbyTimer);
    const children = [this.active, this.standby].filter((child): child is SiteChild => child !== undefined && !child.exit);
    this.log('info', `${why}: stopping`, { pids: children.map((child) => child.pid) });
    if (this.active) this.setState('stopping', this.active.pid);
    for (const child of children) child.kill(signal);
    if (children.length > 0) {
      setTimeout(() => {
        for (const child of children.filter((c) => !c.exit)) {
          this.log('error', `the site process did not stop within ${STOP_KILL_MS} ms: SIGKILL`, { pid: child.pid });
          child.kill('SIGKILL');
        }
      }, STOP_KILL_MS).unref();
    }
    this.endIfDone();
  }

  private endIfDone(): void {
    if (!this.stopping || this.ended || (this.active && !this.active.exit) || (this.standby && !this.standby.exit)) return;
    this.ended = true;
    void this.end();
  }

  private async end(): Promise<void> {
    this.log('info', 'the site process has stopped: the supervisor ends', { code: this.stopCode });
    this.setState('stopped');
    await this.writing;
    await rm(this.pidFile, { force: true }).catch(() => undefined);
    this.finish(this.stopCode);
  }

  private setState(state: SitePartState, pid?: number, nextStartAt?: string): void {
    const site = { state, ...(pid !== undefined && { pid }), since: new Date().toISOString(), ...(nextStartAt && { nextStartAt }) };
    const lastExit = this.exits.at(-1);
    const record: SupervisorRecord = { supervisor: { pid: process.pid, startedAt: this.startedAt }, site, restarts: this.restarts, ...(lastExit && { lastExit }), exits: this.exits };
    const text = `${JSON.stringify(record, null, 2)}\n`;
    // One write after another: renames that overtook each other could leave an older record in place.
    this.writing = this.writing
      .then(() => atomicWrite(this.recordFile, text, 0o644))
      .catch((error: Error) => this.log('error', 'cannot write supervisor.json', { error: error.message }));
  }

  private logSize(): number {
    try {
      return statSync(this.logFile).size;
    } catch {
      return 0;
    }
  }

  /** The site process's last error line in the log since `offset` (searching the last LOG_TAIL_BYTES at most). */
  private errorLineSince(offset: number): string | undefined {
    let fd: number | undefined;
    try {
      fd = openSync(this.logFile, 'r');
      const size = fstatSync(fd).size;
      const from = Math.min(size, Math.max(offset, size - LOG_TAIL_BYTES));
      const tail = Buffer.alloc(size - from);
      const read = readSync(fd, tail, 0, tail.length, from);
      return lastErrorLine(tail.subarray(0, read).toString('utf8'));
    } catch {
      return undefined;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  /** A JSON line like the site's own (pino's shape), written at once: the supervisor may exit next. */
  private log(level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown> = {}): void {
    const line = JSON.stringify({ level, time: new Date().toISOString(), module: SUPERVISOR_MODULE, ...fields, msg });
    try {
      writeSync(2, `${line}\n`);
    } catch {
      // A log that cannot be written (a full disk, a closed pipe) must not end the supervisor.
    }
  }
}
