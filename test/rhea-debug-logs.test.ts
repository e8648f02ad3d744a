// rhea's debug loggers after tuneRhea (router/peer/rhea-tuning.ts): the
// categories DEBUG leaves off are no-ops, the ones it names still log. Each
// case runs in a child process, since DEBUG is read when `debug` loads.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const run = promisify(execFile);

/** Applies tuneRhea, opens one AMQP connection to itself, and prints which rhea loggers are still `debug` loggers. */
const SCRIPT = `
const { tuneRhea } = await import(${JSON.stringify(resolve(root, 'dist/router/peer/rhea-tuning.js'))});
const { createRequire } = await import('node:module');
const require = createRequire(${JSON.stringify(resolve(root, 'dist/router/'))});
tuneRhea();
const log = require('rhea/lib/log.js');
const rhea = require('rhea');
const server = rhea.create_container({ id: 'server' });
const listener = server.listen({ port: 0, host: '127.0.0.1' });
await new Promise((ok) => listener.on('listening', ok));
const client = rhea.create_container({ id: 'client' });
const connection = client.connect({ port: listener.address().port, host: '127.0.0.1', reconnect: false });
await new Promise((ok) => connection.once('connection_open', ok));
connection.close();
await new Promise((ok) => connection.once('connection_close', ok));
listener.close();
console.log(JSON.stringify(Object.fromEntries(Object.entries(log).map(([k, f]) => [k, 'enabled' in f]))));
`;

async function loggers(debug: string | undefined): Promise<{ kept: Record<string, boolean>; stderr: string }> {
  const env = { ...process.env };
  delete env.DEBUG;
  if (debug !== undefined) env.DEBUG = debug;
  const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', SCRIPT], { env, cwd: root });
  return { kept: JSON.parse(stdout.trim()) as Record<string, boolean>, stderr };
}

describe("rhea's debug loggers under tuneRhea", () => {
  it('without DEBUG every category is a no-op, and nothing is logged', async () => {
    const { kept, stderr } = await loggers(undefined);
    expect(Object.keys(kept).sort()).toEqual(['config', 'events', 'flow', 'frames', 'io', 'message', 'raw', 'reconnect']);
    expect(Object.values(kept).every((isDebug) => !isDebug)).toBe(true);
    expect(stderr).not.toMatch(/rhea:/);
  });

  it('DEBUG=rhea:frames keeps that category, which logs the frames of a connection; the others are no-ops', async () => {
    const { kept, stderr } = await loggers('rhea:frames');
    expect(Object.entries(kept).filter(([, isDebug]) => isDebug).map(([category]) => category)).toEqual(['frames']);
    expect(stderr).toMatch(/rhea:frames .*open/);
    expect(stderr).not.toMatch(/rhea:io/);
  });
});
