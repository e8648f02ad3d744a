// `npm run demo`: three kskup sites on this machine, linked in a line
//
//   west <--link-- middle <--link-- east        (each link made with a claim token)
//
// A small HTTP service runs "at east" and is exposed there as `hello`; the demo
// then fetches it through the listener that kskup opens for `hello` at west, two
// links away, and checks that the bytes arrive unchanged.
//
// It runs the real CLI (dist/cli/main.js, as `kskup ...`) and prints each command
// with its output, so you can type the same commands by hand (see README.md next
// to this file). Everything runs on 127.0.0.1 with a throw-away KSKUP_HOME; the
// sites, the service and the folder are removed at the end, also on failure or
// Ctrl-C. Exit status: 0 when the bytes arrived unchanged, 1 on any failure,
// 130 when interrupted.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const cli = join(root, 'dist/cli/main.js');

const SITES = ['west', 'middle', 'east'];
const ADDRESS = 'hello';
const PAYLOAD_BYTES = 1024 * 1024;
const LISTENER_WAIT_MS = 10_000;
const COMMAND_TIMEOUT_MS = 30_000;
const LOG_TAIL_LINES = 15;

const started = Date.now();
const say = (text = '') => process.stdout.write(`${text}\n`);
const indent = (text, prefix = '    ') =>
  text
    .trimEnd()
    .split('\n')
    .map((line) => prefix + line)
    .join('\n');
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

/** A failure worth a clear message: what failed, and the sites whose logs explain it. */
class DemoError extends Error {
  constructor(message, { detail, sites = [] } = {}) {
    super(message);
    this.detail = detail;
    this.sites = sites;
  }
}

let home; // the temporary KSKUP_HOME
let server; // the service at east
let running; // the kskup command in flight, if any
let cleaning; // the clean-up, once begun
let interrupted = false; // Ctrl-C: no new commands but the clean-up's

/**
 * Runs `kskup ARGS` in KSKUP_HOME, prints `$ kskup ARGS` and what it printed
 * (stdout and its progress lines on stderr, in order), and returns its output.
 * A non-zero exit is a DemoError that carries the command's stderr.
 */
function kskup(args, { show = true, echo = show, detached = false } = {}) {
  const line = `$ kskup ${args.join(' ')}`;
  if (interrupted && args[0] !== 'delete') return Promise.reject(new DemoError('interrupted'));
  if (echo) say(line);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [cli, ...args], {
      cwd: home,
      env: { ...process.env, KSKUP_HOME: home, KSKUP_PLATFORM: 'local' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached, // the clean-up's deletes: out of the terminal's process group, so a second Ctrl-C does not cut them short
    });
    running = child;
    let stdout = '';
    let stderr = '';
    let both = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => ((stdout += chunk), (both += chunk)));
    child.stderr.setEncoding('utf8').on('data', (chunk) => ((stderr += chunk), (both += chunk)));
    const timer = setTimeout(() => child.kill('SIGKILL'), COMMAND_TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      running = undefined;
      reject(new DemoError(`could not run ${line}: ${error.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running = undefined;
      if (show && both.trim()) say(indent(both));
      if (code === 0) return resolvePromise(stdout);
      const how = signal ? `was killed (${signal}${signal === 'SIGKILL' ? `, no answer within ${seconds(COMMAND_TIMEOUT_MS)}` : ''})` : `exited with ${code}`;
      const site = args[args.indexOf('-n') + 1];
      reject(
        new DemoError(`${line} ${how}`, {
          detail: `its stderr:\n${indent(stderr || '(empty)')}${show ? '' : `\nits stdout:\n${indent(stdout || '(empty)')}`}`,
          sites: SITES.includes(site) ? [site] : [],
        }),
      );
    });
  });
}

function heading(text) {
  say();
  say(`== ${text}`);
}

/** The service at east: GET / answers with PAYLOAD_BYTES pseudo-random bytes. */
async function startService(payload) {
  server = http.createServer((request, response) => {
    if (request.method !== 'GET' || request.url !== '/') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('only GET / here\n');
      return;
    }
    response.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': payload.length,
      'x-served-by': 'the demo service at site east',
    });
    response.end(payload);
  });
  await new Promise((ok, fail) => server.once('error', fail).listen(0, '127.0.0.1', ok));
  return server.address().port;
}

/** Polls `kskup service status -n west -o json` until `hello` has a listener there. */
async function waitForListener(site) {
  const args = ['service', 'status', '-n', site, '-o', 'json'];
  say(`$ kskup ${args.join(' ')}        (repeated until "${ADDRESS}" has a listener at ${site})`);
  const begin = Date.now();
  let polls = 0;
  let last = '';
  for (;;) {
    polls++;
    last = await kskup(args, { show: false });
    let status;
    try {
      status = JSON.parse(last);
    } catch {
      throw new DemoError(`kskup service status -n ${site} -o json printed something that is not JSON`, { detail: indent(last), sites: [site] });
    }
    const service = status.services?.find((s) => s.address === ADDRESS);
    const listener = service?.listeners?.[0];
    if (listener) {
      say(indent(JSON.stringify(service, null, 2)));
      say(`    -> "${ADDRESS}" listens at ${site} on ${listener.host}:${listener.port}: appeared after ${seconds(Date.now() - begin)} (${polls} ${polls === 1 ? 'poll' : 'polls'})`);
      return listener;
    }
    if (Date.now() - begin > LISTENER_WAIT_MS) {
      throw new DemoError(`"${ADDRESS}" got no listener at ${site} within ${seconds(LISTENER_WAIT_MS)}`, {
        detail: `last kskup service status -n ${site} -o json:\n${indent(last)}`,
        sites: [site, 'east'],
      });
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** GET http://host:port/ and the whole body. */
function fetchAll(host, port) {
  return new Promise((ok, fail) => {
    const request = http.get({ host, port, path: '/', agent: false, timeout: 10_000 }, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () => ok({ response, body: Buffer.concat(chunks) }));
      response.on('error', fail);
    });
    request.on('timeout', () => request.destroy(new Error('no answer within 10 s')));
    request.on('error', fail);
  });
}

async function main() {
  if (!existsSync(cli)) throw new DemoError(`${cli} is missing: build first with npm run build`);
  home = await mkdtemp(join(tmpdir(), 'kskup-demo-'));

  say('Three kskup sites on this machine, linked in a line: west <- middle <- east.');
  say('A service at east, exposed as "hello", is fetched at west: two links away.');
  say();
  say('Every command runs with a fresh, temporary state folder (and in it, for the token files):');
  say(`$ export KSKUP_HOME=${home} KSKUP_PLATFORM=local`);
  say(`$ cd "$KSKUP_HOME"`);

  heading('1. Create three sites (each one starts a background process: its router and controller)');
  for (const site of SITES) await kskup(['init', '-n', site]);

  heading('2. Link them: middle links to west, east links to middle (claim tokens, used once)');
  await kskup(['token', 'create', 'west.token', '-n', 'west']);
  await kskup(['link', 'create', 'west.token', '-n', 'middle']);
  await kskup(['token', 'create', 'middle.token', '-n', 'middle']);
  await kskup(['link', 'create', 'middle.token', '-n', 'east']);
  await kskup(['link', 'status', '-n', 'middle', '--wait', '10']);
  await kskup(['link', 'status', '-n', 'east', '--wait', '10']);

  heading(`3. Start a service at east and expose it there as "${ADDRESS}"`);
  const payload = randomBytes(PAYLOAD_BYTES);
  const sent = createHash('sha256').update(payload).digest('hex');
  const port = await startService(payload);
  say(`(the demo's own HTTP server on 127.0.0.1:${port}: GET / answers with ${PAYLOAD_BYTES} pseudo-random bytes, sha256 ${sent})`);
  await kskup(['expose', 'host/127.0.0.1', '--port', String(port), '--address', ADDRESS, '-n', 'east']);

  heading(`4. Find the listener of "${ADDRESS}" at west and fetch through it`);
  const listener = await waitForListener('west');
  const url = `http://${listener.host}:${listener.port}/`;
  say(`GET ${url}        (west -> middle -> east -> the service, and back)`);
  const fetchStart = Date.now();
  let result;
  try {
    result = await fetchAll(listener.host, listener.port);
  } catch (error) {
    throw new DemoError(`GET ${url} through west failed: ${error.message}`, { sites: SITES });
  }
  const { response, body } = result;
  const took = Date.now() - fetchStart;
  say(`    HTTP/${response.httpVersion} ${response.statusCode} ${response.statusMessage}`);
  for (let i = 0; i < response.rawHeaders.length; i += 2) say(`    ${response.rawHeaders[i]}: ${response.rawHeaders[i + 1]}`);
  const got = createHash('sha256').update(body).digest('hex');
  say(`    (body: ${body.length} bytes in ${took} ms, sha256 ${got})`);
  if (response.statusCode !== 200 || body.length !== payload.length || got !== sent) {
    throw new DemoError(`the answer through west is not what the service sent`, {
      detail: `status ${response.statusCode}; sent ${payload.length} bytes, sha256 ${sent}; got ${body.length} bytes, sha256 ${got}`,
      sites: SITES,
    });
  }
  say(`byte-exact through 2 links: yes (sha256 sent = sha256 received)`);

  heading('5. The network and the services as west sees them');
  await kskup(['network', 'status', '-n', 'west']);
  await kskup(['service', 'status', '-n', 'west']);
}

/** The last lines of a site's log, while its folder still exists. */
async function logTail(site) {
  const file = join(home, site, 'site.log');
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return `  (no log at ${file})`;
  const lines = text.trimEnd().split('\n').slice(-LOG_TAIL_LINES);
  return `last ${lines.length} lines of ${file}:\n${indent(lines.join('\n'), '  ')}`;
}

/** Deletes every site (which stops its process), stops the service, removes KSKUP_HOME. Runs once. */
function cleanUp(showCommands) {
  cleaning ??= (async () => {
    // The command in flight (say, an init that is starting a site process) ends first, so that the deletes see its result.
    if (running && running.exitCode === null && running.signalCode === null) {
      const child = running;
      const exited = new Promise((r) => child.once('close', r));
      child.kill('SIGTERM');
      await exited;
    }
    if (server) {
      server.closeAllConnections?.();
      await new Promise((r) => server.close(() => r()));
    }
    if (!home) return;
    const problems = [];
    // The sites are independent here, so they are deleted side by side: each delete waits for its process to stop.
    const outputs = await Promise.all(
      SITES.map(async (site) => {
        if (!existsSync(join(home, site))) return '';
        const pid = readPid(site);
        try {
          const output = await kskup(['delete', '-n', site], { show: false, detached: true });
          return `$ kskup delete -n ${site}\n${output.trim() ? `${indent(output)}\n` : ''}`;
        } catch (error) {
          // An init cut short by Ctrl-C can leave a folder with no site in it yet: nothing to stop, rm removes it.
          if (/no site in /.test(error.detail ?? '')) return '';
          problems.push(`${error.message}\n${error.detail ?? ''}`);
          // The site's process must not outlive the demo: stop it by its pid if it is still this site's.
          if (pid && isSiteProcess(pid, site)) process.kill(pid, 'SIGKILL');
          return `$ kskup delete -n ${site}    (failed)\n`;
        }
      }),
    );
    if (showCommands && outputs.join('')) {
      heading('6. Clean up: delete the sites (stops their processes), stop the service, remove the folder');
      process.stdout.write(outputs.join(''));
    }
    // Last resort, where /proc tells: no process that runs from the demo's folder may outlive it. (A site process
    // still starting when its site was deleted, after a Ctrl-C during init, ends by itself within a moment.)
    let leftovers = processesUsing(home);
    for (const deadline = Date.now() + 2_000; leftovers.length > 0 && Date.now() < deadline; leftovers = processesUsing(home)) {
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const pid of leftovers) process.kill(pid, 'SIGKILL');
    if (leftovers.length > 0) problems.push(`process(es) ${leftovers.join(', ')} still ran from ${home} after kskup delete: killed`);
    await rm(home, { recursive: true, force: true });
    if (showCommands) say(`$ rm -rf ${home}`);
    if (problems.length > 0) process.stderr.write(`kskup demo: clean-up trouble:\n${problems.join('\n')}\n`);
  })();
  return cleaning;
}

function readPid(site) {
  try {
    const pid = Number(readFileSync(join(home, site, 'site.pid'), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function processesUsing(folder) {
  let entries;
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const pids = [];
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(folder)) pids.push(pid);
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

function isSiteProcess(pid, site) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(join(home, site));
  } catch {
    return false;
  }
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    if (interrupted) return process.stderr.write('kskup demo: still cleaning up, a few seconds...\n');
    interrupted = true;
    process.stderr.write(`\nkskup demo: ${signal === 'SIGINT' ? 'interrupted' : signal}, cleaning up...\n`);
    cleanUp(false).finally(() => process.exit(130));
  });
}

let exitCode = 0;
try {
  await main();
  say();
  say(`Done: three sites, two links, ${PAYLOAD_BYTES} bytes from east fetched at west unchanged.`);
} catch (error) {
  exitCode = 1;
  if (!interrupted) {
    // Reported before the clean-up, which removes the logs.
    let report = `\nkskup demo FAILED: ${error.message}\n`;
    if (error.detail) report += `${error.detail}\n`;
    if (!(error instanceof DemoError) && error.stack) report += `${error.stack}\n`;
    for (const site of error.sites ?? []) if (home) report += `site "${site}", ${await logTail(site)}\n`;
    process.stderr.write(report);
  }
} finally {
  await cleanUp(exitCode === 0 && !interrupted);
  if (interrupted) process.exit(130);
  if (exitCode === 0) say(`(whole run: ${seconds(Date.now() - started)})`);
  else process.stderr.write(`kskup demo: cleaned up: sites deleted, their processes stopped${home ? `, ${home} removed` : ''}\n`);
}
process.exit(exitCode);
