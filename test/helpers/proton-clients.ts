// Qpid Proton (Python) clients of routers under test, run as processes:
// test/helpers/proton_client.py prints one line per event, collected here.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll } from 'vitest';
import { waitFor } from './router-process.js';

/** Debian's python3-qpid-proton installs for the system Python, which may not be first on PATH. */
export const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const SCRIPT = resolve(import.meta.dirname, 'proton_client.py');

/** Whether `import proton` works (the tests require it: CI installs python3-qpid-proton). */
export function protonInstalled(): boolean {
  return spawnSync(PYTHON, ['-c', 'import proton'], { stdio: 'ignore' }).status === 0;
}

export interface ProtonClient {
  /** stdout so far, one entry per line. */
  readonly lines: string[];
  readonly exited: Promise<number | null>;
  waitForLine(what: string, match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  stop(): void;
}

function run(args: string[]): ProtonClient {
  const child: ChildProcess = spawn(PYTHON, [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  running.add(child);
  const lines: string[] = [];
  let partial = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (text: string) => {
    const complete = (partial + text).split('\n');
    partial = complete.pop() ?? '';
    lines.push(...complete);
  });
  const exited = new Promise<number | null>((done) =>
    child.once('exit', (code) => {
      running.delete(child);
      done(code);
    }),
  );
  return {
    lines,
    exited,
    waitForLine: (what, match, timeoutMs = 20_000) => waitFor(what, () => lines.find(match), timeoutMs),
    stop: () => void child.kill('SIGTERM'),
  };
}

const running = new Set<ChildProcess>();
afterAll(() => {
  for (const child of running) child.kill('SIGTERM');
});

/** A receiver on `address` with `prefetch` credit (Proton's default is 10) that accepts `count` messages, printing "got BODY". */
export function protonReceiver(port: number, address: string, count: number, prefetch = 10, timeoutS = 30): ProtonClient {
  return run(['receive', String(port), address, String(count), String(prefetch), String(timeoutS)]);
}

/** A sender of `count` messages "PREFIX i" to `address`, as fast as credit allows, printing "outcome BODY OUTCOME". */
export function protonSender(port: number, address: string, count: number, prefix: string, timeoutS = 30): ProtonClient {
  return run(['send', String(port), address, String(count), prefix, String(timeoutS)]);
}

/** The outcome lines of a sender, as body -> outcomes (a body with two outcomes is a bug worth seeing). */
export function outcomesOf(client: ProtonClient): Map<string, string[]> {
  const outcomes = new Map<string, string[]>();
  for (const line of client.lines) {
    const match = /^outcome (.*) (\w+)$/.exec(line);
    if (match) outcomes.set(match[1]!, [...(outcomes.get(match[1]!) ?? []), match[2]!]);
  }
  return outcomes;
}

/** The bodies a receiver got, in order. */
export function receivedBy(client: ProtonClient): string[] {
  return client.lines.filter((line) => line.startsWith('got ')).map((line) => line.slice(4));
}
