// The crash check of the test helpers (helpers/crash-watch.ts) finds what Node
// really writes when an error kills a process, and nothing in a clean run.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { crashTrace } from './helpers/crash-watch.js';

function stderrOf(script: string): string {
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }).stderr;
}

describe('crashTrace', () => {
  it.each([
    ["an 'error' event nobody listens for", "import { EventEmitter } from 'node:events'; new EventEmitter().emit('error', new Error('max idle time exceeded'));", 'max idle time exceeded'],
    ['an uncaught exception in a timer', "setTimeout(() => { throw new Error('boom in a timer'); }, 1);", 'boom in a timer'],
    ['an unhandled rejection', "Promise.reject(new Error('nobody caught me'));", 'nobody caught me'],
  ])('finds %s and quotes it', (_what, script, message) => {
    const trace = crashTrace(stderrOf(script));
    expect(trace).toBeDefined();
    expect(trace).toContain(message);
  });

  it('finds nothing in a router log or a handled error', () => {
    const log = '{"level":"warn","module":"SERVER","reason":"ConnectionError: max idle time exceeded","msg":"unhandled AMQP error"}\nkskup-router: no config file: give -c FILE or set KSKUP_ROUTER_CONFIG\n';
    expect(crashTrace(log)).toBeUndefined();
    expect(crashTrace(stderrOf("try { throw new Error('x'); } catch { console.error('handled'); }"))).toBeUndefined();
  });
});
