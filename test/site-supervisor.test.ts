// A local site heals itself: its supervisor restarts the site process
// (router, claims endpoint, controller) after a kill -9 or a crash, with
// backoff, and records why in supervisor.json for `kskup status`.
//
//   west (service "echo" -> a local echo server)  <==link==  east (listener for "echo")
//   crashy: a site on its own, for the crash loop and the supervisor's death
//
// Default sync timings (heartbeat 2 s, TTL 10 s) and router timings: the
// bounds printed are those a user gets.
import { request } from 'node:https';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTER_NODE_FLAGS } from '../router/node-flags.js';
import { BACKOFF_INITIAL_MS, BACKOFF_MAX_MS } from '../site-controller/local/supervisor-record.js';
import { useKskupHome } from './helpers/kskup-cli.js';
import { waitFor } from './helpers/router-process.js';
import { connect, exchangeStream, startEchoServer, type TestServer } from './helpers/tcp-tools.js';

const home = useKskupHome('site-supervisor');

interface Exit {
  code: number | null;
  signal: string | null;
  reason: string;
  at: string;
  error?: string;
}
interface StatusJson {
  process: { running: boolean; pid?: number; site?: { pid?: number; state: string }; restarts?: number; lastExit?: Exit };
  router: { reachable: boolean };
}
const status = (site: string) => home.json<StatusJson>('status', '-n', site);
const services = async (site: string) =>
  (await home.json<{ services: { address: string; listeners: { host: string; port: number }[] }[] }>('service', 'status', '-n', site)).services;

/** The HTTP status the claims endpoint answers a GET with (405: claims are POSTed), or the error. */
function claimsAnswer(port: number): Promise<number | string> {
  return new Promise((resolve) => {
    const outgoing = request({ host: '127.0.0.1', port, path: '/claims/none', method: 'GET', rejectUnauthorized: false, timeout: 2_000 }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 'no status');
    });
    outgoing.on('timeout', () => outgoing.destroy(new Error('timed out')));
    outgoing.on('error', (error) => resolve(String(error)));
    outgoing.end();
  });
}

/** True when 64 KiB sent to `port` come back from the echo server byte for byte; false on any failure (the path may be down). */
async function answersByteExact(port: number, seed: number): Promise<boolean> {
  const bytes = 64 * 1024;
  try {
    const socket = await connect(port);
    try {
      const { sent, got } = await exchangeStream(socket, seed, bytes);
      return got.bytes === bytes && got.sha256 === sent;
    } finally {
      socket.destroy();
    }
  } catch {
    return false;
  }
}

/** Whether the site's processes are gone: none has the folder on its command line. */
async function processesOf(folder: string): Promise<number[]> {
  const { readdir } = await import('node:fs/promises');
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const commandLine = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (commandLine.split('\0').includes(folder)) pids.push(Number(entry));
  }
  return pids;
}

let echo: TestServer;
let echoPortAtEast: number;
beforeAll(async () => {
  echo = await startEchoServer();
  await home.ok('init', '-n', 'west');
  await home.ok('init', '-n', 'east');
  const token = `${home.path}/west.token`;
  await home.ok('token', 'create', token, '-n', 'west');
  await home.ok('link', 'create', token, '-n', 'east');
  await home.ok('link', 'status', '-n', 'east', '--wait', '10');
  await home.ok('expose', 'host/127.0.0.1', '--port', String(echo.port), '--address', 'echo', '-n', 'west');
  echoPortAtEast = await waitFor('echo listening at east', async () => (await services('east')).find((s) => s.address === 'echo')?.listeners[0]?.port, 15_000);
  expect(await answersByteExact(echoPortAtEast, 1)).toBe(true);
});
afterAll(() => echo?.close());

describe('two linked local sites, the site process of each killed in turn', () => {
  it.each([
    ['west', 11],
    ['east', 12],
  ] as const)('kill -9 of the site process of %s: router, claims endpoint and controller come back (the time printed), and echo answers byte-exact at east again', async (site, seed) => {
    const before = await status(site);
    const { ports } = (await home.folder(site).read()).site;
    const supervisorPid = before.process.pid;
    // The supervisor, the site process and its warm standby (loaded 5 s after the site is up): the restart this measures uses it.
    await waitFor(`${site}'s standby loaded`, async () => ((await processesOf(home.folder(site).path)).length === 3 ? true : undefined), 15_000);
    // The site process hosts the router: it runs with the router's node flags (router/node-flags.ts).
    const siteCommandLine = await readFile(`/proc/${before.process.site!.pid}/cmdline`, 'utf8');
    expect(siteCommandLine.split('\0')).toEqual(expect.arrayContaining([...ROUTER_NODE_FLAGS]));
    const killedPid = await home.kill(site, 'SIGKILL');
    const killedAt = Date.now();

    // Back: the supervisor records the new site process as up once its router, claims endpoint and controller have started (cheap to poll: a file)...
    const record = async () => JSON.parse(await readFile(home.folder(site).supervisorFile, 'utf8')) as { site: { state: string; pid?: number } };
    await waitFor(`${site} back`, async () => {
      const now = await record().catch(() => undefined);
      return now?.site.state === 'running' && now.site.pid !== killedPid ? true : undefined;
    }, 10_000);
    const upMs = Date.now() - killedAt;
    // ... and then each answers: the claims endpoint, and the router's management (which status asks).
    expect(await claimsAnswer(ports.claims)).toBe(405);
    expect((await status(site)).router.reachable).toBe(true);
    const answeringMs = Date.now() - killedAt;
    console.log(`${site}: site process killed with SIGKILL; router, claims endpoint and controller up again in ${upMs} ms, seen answering at ${answeringMs} ms`);
    // The 2 s target is a measurement (printed above; docs/sites.md#supervision), not a
    // timed assertion: on this shared 2-core machine a loaded CI run took 3.1 s once.
    // The 10 s wait above is the bound against a hang.

    await waitFor(`echo byte-exact at east after ${site} restarted`, async () => ((await answersByteExact(echoPortAtEast, seed)) ? true : undefined), 20_000);
    const answeredMs = Date.now() - killedAt;
    console.log(`${site}: echo answers byte-exact at east ${answeredMs} ms after the kill`);
    expect(answeredMs).toBeLessThan(15_000);

    // The same supervisor, one restart, and why.
    const after = await status(site);
    expect(after.process).toMatchObject({ running: true, pid: supervisorPid, restarts: 1, lastExit: { code: null, signal: 'SIGKILL', reason: 'killed by SIGKILL' } });
    expect(Date.parse(after.process.lastExit!.at)).toBeGreaterThanOrEqual(killedAt - 1_000);
    const text = (await home.ok('status', '-n', site)).stdout;
    expect(text).toMatch(/restarts: 1, last exit: killed by SIGKILL, at /);
    // Links and sync converged with no command: east's link is up and east still knows echo.
    await home.ok('link', 'status', '-n', 'east', '--wait', '10');
    expect((await services('east')).find((s) => s.address === 'echo')?.listeners[0]?.port).toBe(echoPortAtEast);
  });
});

describe('a site that crashes at every start', () => {
  it('restarts with growing waits, not in a loop; status says why; it heals once site.json is good again, with no command', async () => {
    await home.ok('init', '-n', 'crashy');
    const folder = home.folder('crashy');
    const good = await readFile(folder.stateFile, 'utf8');
    await writeFile(folder.stateFile, '{ "site": damaged\n');
    try {
      await home.kill('crashy', 'SIGKILL');
      await crashLoopChecks();
    } finally {
      await writeFile(folder.stateFile, good);
    }
    await waitFor('crashy running again', async () => ((await status('crashy')).process.site?.state === 'running' ? true : undefined), 15_000);
    expect((await status('crashy')).router.reachable).toBe(true);
  });
});

/** Over 8 s of a site process that exits at every start: the waits, the exits' spacing, and what status says. */
async function crashLoopChecks(): Promise<void> {
  const folder = home.folder('crashy');
  const killedAt = Date.now();
  await sleep(8_000);

  const record = JSON.parse(await readFile(folder.supervisorFile, 'utf8')) as { restarts: number; exits: { at: string; code: number | null; restartAfterMs?: number }[] };
  const waits = record.exits.map((exit) => exit.restartAfterMs);
  const times = record.exits.map((exit) => Date.parse(exit.at));
  const gaps = times.slice(1).map((at, i) => at - times[i]!);
  console.log(`crash loop: ${record.restarts} restarts in ${Date.now() - killedAt} ms; waits ${waits.join(', ')} ms; exits apart ${gaps.join(', ')} ms`);
  // 100 + 200 + 400 + 800 + 1600 + 3200 ms of waits (and a process start each) fit 8 s at most six times; a hot loop would be dozens.
  expect(record.restarts).toBeGreaterThanOrEqual(2);
  expect(record.restarts).toBeLessThanOrEqual(7);
  expect(waits).toEqual(waits.map((_wait, i) => Math.min(BACKOFF_INITIAL_MS * 2 ** i, BACKOFF_MAX_MS)));
  // Each exit came at least its wait after the one before (the wait, then a start that failed).
  for (let i = 0; i < gaps.length; i++) expect(gaps[i]!).toBeGreaterThanOrEqual(waits[i]!);
  expect(record.exits.slice(1).every((exit) => exit.code === 1)).toBe(true);

  // Status cannot read the state, and says so, and why the site process keeps exiting.
  const shown = await home.kskup('status', '-n', 'crashy');
  expect(shown.code).toBe(1);
  expect(shown.stdout).toContain('CANNOT READ ITS STATE');
  expect(shown.stdout).toMatch(/restarts: \d+, last exit: exit code 1, at .*\/site\.json is damaged \(not JSON\)/);
  const json = await home.kskup('status', '-n', 'crashy', '-o', 'json');
  expect(JSON.parse(json.stdout)).toMatchObject({ site: { problem: expect.stringContaining('damaged') }, process: { running: true, lastExit: { code: 1, reason: 'exit code 1', error: expect.stringContaining('site.json is damaged') } } });
}

describe('the supervisor killed', () => {
  it('its site process stops by itself (nothing runs on unsupervised); status says not running; init starts the site again', async () => {
    const folder = home.folder('crashy');
    const before = await status('crashy');
    await home.kill('crashy', 'SIGKILL', 'supervisor');
    const killedAt = Date.now();
    await waitFor('the site process of crashy gone', async () => ((await processesOf(folder.path)).length === 0 ? true : undefined), 6_000);
    console.log(`supervisor killed: the site process (and its standby) stopped within ${Date.now() - killedAt} ms`);
    expect(await readFile(folder.logFile, 'utf8')).toContain(`kskup site: the supervisor (pid ${before.process.pid}) is gone: stopping the site`);
    const after = await status('crashy');
    expect(after.process.running).toBe(false);
    expect((await home.ok('status', '-n', 'crashy')).stdout).toContain('NOT RUNNING');
    // The pid file stays: the supervisor did not stop, and status says so.
    expect(existsSync(folder.pidFile)).toBe(true);
    await home.ok('init', '-n', 'crashy');
    expect((await status('crashy')).process).toMatchObject({ running: true, restarts: 0 });
  });

  it('SIGTERM to the supervisor stops the site process and the standby, and removes the pid file', async () => {
    const folder = home.folder('crashy');
    await waitFor('a standby loaded', async () => ((await processesOf(folder.path)).length === 3 ? true : undefined), 15_000);
    await home.kill('crashy', 'SIGTERM', 'supervisor');
    await waitFor('every process of crashy gone', async () => ((await processesOf(folder.path)).length === 0 ? true : undefined), 6_000);
    expect(existsSync(folder.pidFile)).toBe(false);
    expect((await status('crashy')).process).toMatchObject({ running: false });
  });
});
