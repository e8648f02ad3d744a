// A stop at any moment is a clean stop (exit 0, not death by signal), for the
// router binary and for a local site's process and its supervisor, also while
// they start.
//
// Before Node runs a program's first line nothing can catch a signal (Node's
// own SIGTERM handler then ends the process), so "at once" is the first moment
// a handler can exist. Both processes catch SIGTERM, SIGINT and SIGHUP
// together as their first statement, and Node itself catches SIGHUP for no
// one: its bit in /proc/PID/status SigCgt marks that moment. Each case is
// repeated, each with the signal at the mark (modules still loading, config
// not yet read) and at the first log line (config read, listeners binding).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { stopSiteProcess } from '../site-controller/local/launcher.js';
import { watchProcess } from './helpers/crash-watch.js';
import { useKskupHome } from './helpers/kskup-cli.js';
import { freePort, ROUTER_BIN, type Entity } from './helpers/router-process.js';
import { useTestFolder } from './helpers/temp-dir.js';
import { writeFile } from 'node:fs/promises';

const SITE_BIN = resolve(import.meta.dirname, '../dist/cli/site-process-main.js');
const SUPERVISOR_BIN = resolve(import.meta.dirname, '../dist/cli/site-supervisor-main.js');
const ROUNDS = 5;
// Signal n is bit n-1 of SigCgt; SIGHUP is 1.
const SIGHUP_BIT = 1n;

/** Spins until the process catches SIGHUP (its handlers exist); a tight loop, so the signal follows at once. */
function awaitHandlers(pid: number, timeoutMs = 10_000): void {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    let status: string;
    try {
      status = readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch {
      throw new Error(`process ${pid} is gone before it caught any signal`);
    }
    const caught = /SigCgt:\s*([0-9a-f]+)/.exec(status)?.[1];
    if (caught && (BigInt(`0x${caught}`) & SIGHUP_BIT) !== 0n) return;
  }
  throw new Error(`process ${pid} did not catch SIGHUP within ${timeoutMs} ms`);
}

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

function exited(child: ChildProcess, output: () => string): Promise<Outcome> {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, output: output() })));
}

/** Starts `args` under node with output captured, and sends SIGTERM at `when`. */
async function stopEarly(args: string[], when: 'handlers' | 'first output'): Promise<Outcome> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const firstOutput = new Promise<void>((resolve) => {
    const take = (chunk: Buffer) => {
      output += chunk.toString();
      resolve();
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
  });
  const done = exited(child, () => output);
  let status: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void done.then((outcome) => (status = outcome));
  const watch = watchProcess(`${args.join(' ')} (pid ${child.pid})`, { output: () => output, exit: () => status });
  if (when === 'handlers') awaitHandlers(child.pid!);
  else await firstOutput;
  watch.signalled('SIGTERM');
  child.kill('SIGTERM');
  return done;
}

describe('kskup-router stopped during start-up', () => {
  const folder = useTestFolder('early-stop-router');
  let config: string;
  beforeAll(async () => {
    config = resolve(folder.path, 'router.json');
    const entities: Entity[] = [
      ['router', { id: 'early' }],
      ['listener', { name: 'amqp', host: '127.0.0.1', port: await freePort() }],
      ['listener', { name: 'http', host: '127.0.0.1', port: await freePort(), http: true }],
      ['tcpListener', { name: 'web', host: '127.0.0.1', port: await freePort(), address: 'web' }],
    ];
    await writeFile(config, JSON.stringify(entities));
  });

  it.each(['handlers', 'first output'] as const)(`SIGTERM at %s exits 0, ${ROUNDS} times in a row`, async (when) => {
    for (let round = 0; round < ROUNDS; round++) {
      const outcome = await stopEarly([ROUTER_BIN, '-c', config], when);
      expect(outcome, `round ${round}: ${outcome.output}`).toMatchObject({ code: 0, signal: null });
    }
  });
});

describe('site process stopped during start-up', () => {
  const home = useKskupHome('early-stop-site');
  beforeAll(async () => {
    await home.ok('init', '-n', 'solo');
    // The folder stays; the process is started by hand below, again and again.
    await stopSiteProcess(home.folder('solo'));
  });

  it.each(['handlers', 'first output'] as const)(`SIGTERM at %s exits 0 and leaves no pid file, ${ROUNDS} times in a row`, async (when) => {
    const folder = home.folder('solo');
    for (let round = 0; round < ROUNDS; round++) {
      const outcome = await stopEarly([SITE_BIN, folder.path], when);
      expect(outcome, `round ${round}: ${outcome.output}`).toMatchObject({ code: 0, signal: null });
      expect(existsSync(folder.pidFile), `round ${round}: pid file left behind`).toBe(false);
    }
  });

  it.each(['handlers', 'first output'] as const)(`the supervisor: SIGTERM at %s exits 0, leaves no pid file and no site process, ${ROUNDS} times in a row`, async (when) => {
    const folder = home.folder('solo');
    for (let round = 0; round < ROUNDS; round++) {
      const outcome = await stopEarly([SUPERVISOR_BIN, folder.path], when);
      expect(outcome, `round ${round}: ${outcome.output}`).toMatchObject({ code: 0, signal: null });
      expect(existsSync(folder.pidFile), `round ${round}: pid file left behind`).toBe(false);
      // The supervisor ends after its site process: none is left running the folder.
      const left = readdirSync('/proc').filter((pid) => /^\d+$/.test(pid) && readCommandLine(pid).includes(folder.path));
      expect(left, `round ${round}: processes left`).toEqual([]);
    }
  });
});

function readCommandLine(pid: string): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}
