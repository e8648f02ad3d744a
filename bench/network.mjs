// Network benchmarks (`npm run bench:network`), plain AMQP links on loopback:
//
//   convergence  20 interior routers in a full mesh: time from cutting one link
//                to every router having routed around it; CPU and RSS of the idle mesh.
//   hops         A-B (1 hop) against A-B-C-D (3 hops): iperf3 1 stream, 64-byte round trip.
//   flows        10,000 idle flows open through one inter-router connection: RSS per
//                flow at each router, and an active flow's throughput beside them.
//
// Results: bench/results/network-latest.json; a summary on stdout. Options:
//   --only convergence|hops|flows (repeatable), --runs N (default 3), --quick.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, median, removeTempDir, rssBytes, sleep, spawnTracked, stopAll, waitFor, which } from './lib/common.mjs';
import { iperf, roundTrips } from './lib/measure.mjs';
import { startEchoServer, startIperfServer } from './lib/setup.mjs';

const REPO = resolve(import.meta.dirname, '..');
const ROUTER = join(REPO, 'dist/router/main.js');
const args = process.argv.slice(2);
const only = args.flatMap((a, i) => (a === '--only' ? [args[i + 1]] : []));
const runs = Number(args[args.indexOf('--runs') + 1] ?? 3) || 3;
const quick = args.includes('--quick');
const wanted = (name) => only.length === 0 || only.includes(name);

const dir = mkdtempSync(join(tmpdir(), 'kskup-bench-net-'));
// Removed at the end of a good run only, so that the routers' logs can be read after a failure.

/** Starts one router; `entities` is its config. Resolves when its http listener answers. */
async function router(name, entities, http) {
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify(entities));
  const child = spawnTracked(process.execPath, [ROUTER, '-c', path, '--log-level', 'warn'], { logFile: join(dir, `${name}.log`), name });
  await waitFor(`${name} up`, async () => (await fetch(`http://127.0.0.1:${http}/healthz`).then((r) => r.ok, () => false)) || undefined);
  return { name, child, path, http, entities };
}

async function routeOf(http) {
  const text = await fetch(`http://127.0.0.1:${http}/metrics`).then((r) => r.text());
  return text;
}

// ---- convergence -------------------------------------------------------------

async function convergence() {
  const count = quick ? 8 : 20;
  const nodes = [];
  for (let i = 0; i < count; i++) nodes.push({ id: `m${String(i).padStart(2, '0')}`, link: await freePort(), http: await freePort(), amqp: await freePort() });
  const config = (i, without = new Set()) => [
    ['router', { id: nodes[i].id, helloIntervalSeconds: 1, helloMaxAgeSeconds: 3 }],
    ['listener', { name: 'ir', role: 'inter-router', host: '127.0.0.1', port: nodes[i].link }],
    ['listener', { name: 'http', host: '127.0.0.1', port: nodes[i].http, http: true }],
    ['listener', { name: 'amqp', host: '127.0.0.1', port: nodes[i].amqp }],
    // Each pair linked once: the lower index dials the higher.
    ...nodes.slice(i + 1).filter((n) => !without.has(n.id)).map((n) => ['connector', { name: `to-${n.id}`, role: 'inter-router', host: '127.0.0.1', port: n.link }]),
  ];
  const started = [];
  for (let i = 0; i < count; i++) started.push(await router(nodes[i].id, config(i), nodes[i].http));
  const linksUp = async (node, expected) => (await routeOf(node.http)).includes(`kskup_inter_router_connections ${expected}`);
  await waitFor('the full mesh', async () => (await Promise.all(nodes.map((n) => linksUp(n, count - 1)))).every(Boolean) || undefined, 120_000);
  await sleep(3000);

  // Idle cost of the mesh.
  const pids = started.map((r) => r.child.pid);
  const ticks = (pid) => {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime
  };
  const before = pids.map(ticks);
  const idleSeconds = quick ? 3 : 10;
  await sleep(idleSeconds * 1000);
  const idleCpu = pids.map((pid, i) => ((ticks(pid) - before[i]) / 100 / idleSeconds) * 100);
  const idleRss = pids.map((pid) => rssBytes(pid));

  // Cut m00-m01 (m00 dials m01) and time until every router routes m00<->m01 via a third router:
  // polled with `kskup router stat -n -o json` equivalents over management would be slow at 20
  // routers; the routes gauge is per address, so use the log line each router writes on change.
  const results = [];
  for (let run = 0; run < (quick ? 1 : runs); run++) {
    const cutAt = Date.now();
    writeFileSync(started[0].path, JSON.stringify(config(0, new Set([nodes[1].id]))));
    // Converged: every router holds link-state ads of m00 and m01 that no longer list each other.
    await waitFor('every router to learn of the cut', async () => {
      const views = await Promise.all(nodes.map((n) => Promise.all([nodeRoute(n, nodes[0].id), nodeRoute(n, nodes[1].id)])));
      const cut = views.every(([a, b]) => a && b && !a.neighbours.includes(nodes[1].id) && !b.neighbours.includes(nodes[0].id));
      return cut || undefined;
    }, 30_000, 20);
    results.push(Date.now() - cutAt);
    writeFileSync(started[0].path, JSON.stringify(config(0)));
    await waitFor('the link back', async () => (await linksUp(nodes[0], count - 1)) || undefined, 30_000);
    await sleep(2000);
  }
  return {
    routers: count,
    convergenceMs: { runs: results, median: median(results) },
    idleCpuPercentPerRouter: median(idleCpu),
    idleCpuPercentAllRouters: idleCpu.reduce((a, b) => a + b, 0),
    idleRssMbPerRouter: median(idleRss.map((b) => b / 1048576)),
  };
}

/** The route from a router to another, read through management with the CLI's client. */
async function nodeRoute(node, to) {
  const { ManagementClient } = await import(join(REPO, 'dist/router/management/management-client.js'));
  const client = await ManagementClient.connect({ host: '127.0.0.1', port: node.amqp }, { timeoutMs: 2000 });
  try {
    const rows = await client.query('io.skupper.router.router.node', []);
    return rows.find((row) => row.id === to);
  } finally {
    await client.close();
  }
}

// ---- hops ----------------------------------------------------------------------

async function hops() {
  const tools = { iperf3: which('iperf3') };
  const out = {};
  for (const length of [2, 4]) {
    const names = ['A', 'B', 'C', 'D'].slice(0, length);
    const nodes = [];
    for (const n of names) nodes.push({ id: `h${length}-${n}`, link: await freePort(), http: await freePort() });
    const [iperfPort, echoPort, iperfListen, echoListen] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const iperfServer = await startIperfServer(tools, dir, iperfPort, `hops${length}`);
    const echo = await startEchoServer(dir, echoPort);
    const routers = [];
    for (let i = 0; i < length; i++) {
      const entities = [
        ['router', { id: nodes[i].id }],
        ['listener', { name: 'ir', role: 'inter-router', host: '127.0.0.1', port: nodes[i].link, maxFrameSize: 65536 }],
        ['listener', { name: 'http', host: '127.0.0.1', port: nodes[i].http, http: true }],
        ...(i > 0 ? [['connector', { name: 'prev', role: 'inter-router', host: '127.0.0.1', port: nodes[i - 1].link, maxFrameSize: 65536 }]] : []),
        ...(i === 0
          ? [
              ['tcpListener', { name: 'iperf', host: '127.0.0.1', port: iperfListen, address: 'iperf' }],
              ['tcpListener', { name: 'echo', host: '127.0.0.1', port: echoListen, address: 'echo' }],
            ]
          : []),
        ...(i === length - 1
          ? [
              ['tcpConnector', { name: 'iperf', host: '127.0.0.1', port: iperfPort, address: 'iperf' }],
              ['tcpConnector', { name: 'echo', host: '127.0.0.1', port: echoPort, address: 'echo' }],
            ]
          : []),
      ];
      routers.push(await router(nodes[i].id, entities, nodes[i].http));
    }
    await waitFor('the route', async () => /kskup_tcp_listener_routes\{address="echo"\} 1/.test(await routeOf(nodes[0].http)) || undefined, 30_000);
    const gbits = [];
    const p50 = [];
    const p99 = [];
    for (let run = 0; run < runs; run++) {
      const result = await iperf(tools, iperfListen, { seconds: quick ? 2 : 5, streams: 1, reverse: false });
      gbits.push(result.gbps);
      const rtt = await roundTrips(echoListen, { count: quick ? 3000 : 20000, warmup: 1000 });
      p50.push(rtt.p50);
      p99.push(rtt.p99);
    }
    out[`${length - 1} hop${length > 2 ? 's' : ''}`] = { gbits: median(gbits), rttP50Ms: median(p50), rttP99Ms: median(p99), runs: { gbits, p50, p99 } };
    for (const r of routers) r.child.kill('SIGTERM');
    await iperfServer.stop();
    await echo.stop();
    await sleep(500);
  }
  return out;
}

// ---- flows -----------------------------------------------------------------------

async function flows() {
  const tools = { iperf3: which('iperf3') };
  const count = quick ? 2000 : 10_000;
  const [linkA, httpA, httpB, iperfPort, echoPort, iperfListen, echoListen] = await Promise.all(Array.from({ length: 7 }, () => freePort()));
  const iperfServer = await startIperfServer(tools, dir, iperfPort, 'flows');
  const echo = await startEchoServer(dir, echoPort);
  const a = await router('flows-A', [
    ['router', { id: 'flows-A', mode: 'interior' }],
    ['listener', { name: 'ir', role: 'inter-router', host: '127.0.0.1', port: linkA, maxFrameSize: 65536 }],
    ['listener', { name: 'http', host: '127.0.0.1', port: httpA, http: true }],
    ['tcpListener', { name: 'iperf', host: '127.0.0.1', port: iperfListen, address: 'iperf', backlog: 4096 }],
    ['tcpListener', { name: 'echo', host: '127.0.0.1', port: echoListen, address: 'echo', backlog: 4096 }],
  ], httpA);
  const b = await router('flows-B', [
    ['router', { id: 'flows-B', mode: 'interior' }],
    ['connector', { name: 'a', role: 'inter-router', host: '127.0.0.1', port: linkA, maxFrameSize: 65536 }],
    ['listener', { name: 'http', host: '127.0.0.1', port: httpB, http: true }],
    ['tcpConnector', { name: 'iperf', host: '127.0.0.1', port: iperfPort, address: 'iperf' }],
    ['tcpConnector', { name: 'echo', host: '127.0.0.1', port: echoPort, address: 'echo' }],
  ], httpB);
  await waitFor('the route', async () => /kskup_tcp_listener_routes\{address="echo"\} 1/.test(await routeOf(httpA)) || undefined, 30_000);
  // Twice: the first run warms the routers up (JIT), and is not kept.
  await iperf(tools, iperfListen, { seconds: quick ? 2 : 5, streams: 1, reverse: false });
  const alone = await iperf(tools, iperfListen, { seconds: quick ? 2 : 5, streams: 1, reverse: false });
  await sleep(1500);
  const idle = [a, b].map((r) => rssBytes(r.child.pid));
  // Hold the flows open (each did one round trip end to end) while an active flow is measured beside them.
  const holder = spawnTracked(process.execPath, [join(REPO, 'bench/lib/client.mjs'), 'hold', String(echoListen), String(count)], { stdio: ['pipe', 'pipe', 'pipe'], name: 'hold client' });
  let held = '';
  holder.stdout.setEncoding('utf8').on('data', (text) => (held += text));
  await waitFor(`${count} flows open`, () => (held.includes('"ready"') ? true : undefined), 120_000);
  await sleep(1500);
  const loaded = [a, b].map((r) => rssBytes(r.child.pid));
  const beside = await iperf(tools, iperfListen, { seconds: quick ? 2 : 5, streams: 1, reverse: false });
  holder.stdin.end('close\n');
  await holder.exited;
  const measured = { idle, loaded };
  await iperfServer.stop();
  await echo.stop();
  const perFlowKb = measured.loaded.map((bytes, i) => (bytes - measured.idle[i]) / count / 1024);
  return {
    flows: count,
    rssIdleMb: measured.idle.map((b) => b / 1048576),
    rssLoadedMb: measured.loaded.map((b) => b / 1048576),
    kbPerFlowPerRouter: perFlowKb,
    activeFlowGbitsAlone: alone.gbps,
    activeFlowGbitsBesideIdleFlows: beside.gbps,
  };
}

const results = { date: new Date().toISOString(), quick, runs };
try {
  if (wanted('hops')) results.hops = await hops();
  if (wanted('flows')) results.flows = await flows();
  if (wanted('convergence')) results.convergence = await convergence();
  // Sections not run this time keep their last results.
  const out = join(REPO, 'bench/results/network-latest.json');
  let previous = {};
  try {
    previous = JSON.parse(readFileSync(out, 'utf8'));
  } catch {
    // first run
  }
  writeFileSync(out, JSON.stringify({ ...previous, ...results }, null, 2));
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
} catch (error) {
  process.stderr.write(`${error.stack ?? error}\nrouter logs kept in ${dir}\n`);
  await stopAll();
  process.exit(1);
}
await stopAll();
removeTempDir(dir);
