// `npm run demo:canary`: a canary moving from 10 % to 100 % with site weights.
//
//   east (v1, stable) <--link-- west (v2, the canary)
//
// Both sites expose the address `shop`: east with version 1, west with
// version 2. The demo sets the weights with `kskup service weights`, sends 200
// requests through west's listener for `shop` at each step (10 %, 50 %, 100 %)
// and counts which version answered, then shows `kskup service status` with
// the weights and the split the routers observed.
//
// It runs the real CLI (dist/cli/main.js) and prints each command with its
// output. Everything runs on 127.0.0.1 in a throw-away KSKUP_HOME, removed at
// the end, also on failure. Exit status: 0 when every step's split is within
// ±5 % of its weights and no request failed, else 1.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const cli = join(root, 'dist/cli/main.js');
const REQUESTS = 200;
const STEPS = [10, 50, 100];
const say = (text = '') => process.stdout.write(`${text}\n`);

let home;
const servers = [];

/** Runs `kskup ARGS`, prints it and its output; rejects on a non-zero exit. */
function kskup(args, { show = true } = {}) {
  if (show) say(`$ kskup ${args.join(' ')}`);
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, KSKUP_HOME: home, KSKUP_PLATFORM: 'local' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk) => (out += chunk));
    child.on('close', (code) => {
      if (show && out.trim()) say(out.trimEnd().replace(/^/gm, '    '));
      code === 0 ? ok(out) : fail(new Error(`kskup ${args.join(' ')} exited ${code}:\n${out}`));
    });
  });
}

/** A version of the shop: GET / answers with its version. */
async function startShop(version) {
  const server = http.createServer((request, response) => response.writeHead(200, { 'content-type': 'text/plain' }).end(`shop ${version}\n`));
  servers.push(server);
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return server.address().port;
}

function get(port) {
  return new Promise((ok, fail) => {
    http
      .get({ host: '127.0.0.1', port, path: '/', agent: false }, (response) => {
        let body = '';
        response.on('data', (chunk) => (body += chunk)).on('end', () => ok(body.trim()));
      })
      .on('error', fail);
  });
}

async function until(what, probe, ms = 15_000) {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const statusOf = async (site) => JSON.parse(await kskup(['service', 'status', '-n', site, '-o', 'json'], { show: false })).services.find((s) => s.address === 'shop');

async function main() {
  home = await mkdtemp(join(tmpdir(), 'kskup-canary-'));
  say(`KSKUP_HOME=${home}`);
  await kskup(['init', '-n', 'east']);
  await kskup(['init', '-n', 'west']);
  const token = join(home, 'east.token');
  await kskup(['token', 'create', token, '-n', 'east']);
  await kskup(['link', 'create', token, '-n', 'west']);
  await kskup(['link', 'status', '-n', 'west', '--wait', '10']);

  const [v1, v2] = [await startShop('v1'), await startShop('v2')];
  await kskup(['expose', 'host/127.0.0.1', '--port', '8080', '--target-port', String(v1), '--address', 'shop', '--health', 'http:/', '-n', 'east']);
  await kskup(['expose', 'host/127.0.0.1', '--port', '8080', '--target-port', String(v2), '--address', 'shop', '--health', 'http:/', '-n', 'west']);
  const port = await until('the shop listener at west', async () => (await statusOf('west'))?.listeners?.[0]?.port);
  say(`    -> "shop" listens at west on 127.0.0.1:${port}`);

  let ok = true;
  for (const canary of STEPS) {
    say();
    say(`== canary at ${canary} %`);
    await kskup(['service', 'weights', 'shop', `east=${100 - canary}`, `west=${canary}`, '-n', 'west']);
    // The weights reach both routers within a second; wait until both targets announce theirs.
    await until('the weights', async () => {
      const weights = (await statusOf('west'))?.targets?.map((t) => `${t.site}=${t.weight}`).sort().join(' ');
      return weights === `east=${100 - canary} west=${canary}` ? true : undefined;
    });
    await new Promise((r) => setTimeout(r, 500));
    const counts = { 'shop v1': 0, 'shop v2': 0 };
    let failed = 0;
    for (let i = 0; i < REQUESTS; i += 10) {
      const answers = await Promise.all(Array.from({ length: 10 }, () => get(port).catch(() => 'failed')));
      for (const answer of answers) answer in counts ? counts[answer]++ : failed++;
    }
    const share = (100 * counts['shop v2']) / REQUESTS;
    say(`    ${REQUESTS} requests through west: v1 ${counts['shop v1']}, v2 ${counts['shop v2']} (${share.toFixed(1)} % to the canary), ${failed} failed`);
    if (failed > 0 || Math.abs(share - canary) > 5) ok = false;
  }
  say();
  await kskup(['service', 'status', '-n', 'west']);
  say(ok ? 'The canary took 10 %, 50 % and then every request, within 5 % of its weight each time, with no failed request.' : 'FAILED: a split was off by more than 5 %, or a request failed.');
  return ok;
}

let ok = false;
try {
  ok = await main();
} catch (error) {
  say(`FAILED: ${error.message}`);
} finally {
  for (const site of ['west', 'east']) await kskup(['delete', '-n', site], { show: false }).catch(() => undefined);
  for (const server of servers) server.close();
  if (home) await rm(home, { recursive: true, force: true });
}
process.exit(ok ? 0 : 1);
