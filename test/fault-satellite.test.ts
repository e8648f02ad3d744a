// An inter-router link like a satellite hop: 300 ms each way and 5% of the
// packets lost each way, with the routers in their own network namespaces
// (test/helpers/fault-network.ts):
//
//   clients ─> A [tcpListener echo] ══ wire1 (TUN, 300 ms, 5% loss; mTLS; A dials B) ══ B [tcpConnector echo] ─> echo backend (host)
//
// Not tc netem: the kernel here has none (CONFIG_NET_SCH_NETEM is not set) and
// no other qdisc or nftables rule can delay a packet. The wire is a TUN device
// in each namespace and a user-space relay between them that holds every
// packet for the delay and drops the chosen share (test/helpers/tun_wire.py).
// TCP under the link sees what it would on such a hop: a 600 ms round trip,
// retransmissions, timeouts that back off.
//
// skupper-router had a report of a router that never recovered on such a
// link. What must hold: the link comes up by itself, stays up or comes back by
// itself, and flows over it complete byte-exact, slowly. The time, the
// packets the wire dropped and any drop of the link are printed.
// KSKUP_FAULT_SATELLITE_FLOWS and KSKUP_FAULT_SATELLITE_KIB scale it up (bench/faults.mjs).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeFlow, startAccountingEcho, startFlow, type AccountingEcho } from './helpers/flow-accounting.js';
import { FaultNetwork, type Site, type Wire } from './helpers/fault-network.js';
import { createFaultPki, PORTS, siteMetric, startFaultRouter, waitForRoutes } from './helpers/fault-routers.js';
import { routerLogsOnFailure, waitFor, type RouterProcess } from './helpers/router-process.js';
import { useTestFolder } from './helpers/temp-dir.js';

const DELAY_MS = 300;
const LOSS = 0.05;
const SEED = Number(process.env.KSKUP_FAULT_SATELLITE_SEED ?? 12);
const FLOWS = Number(process.env.KSKUP_FAULT_SATELLITE_FLOWS ?? 4);
const FLOW_BYTES = Number(process.env.KSKUP_FAULT_SATELLITE_KIB ?? 128) * 1024;
const FLOWS_WITHIN_MS = Number(process.env.KSKUP_FAULT_SATELLITE_TIMEOUT_S ?? 50) * 1000;

const folder = useTestFolder('fault-satellite');
let network: FaultNetwork;
let echo: AccountingEcho;
let a: Site;
let b: Site;
let wire: Wire;
const routers: { a?: RouterProcess; b?: RouterProcess } = {};
routerLogsOnFailure(() => [routers.a, routers.b]);

/** What A logged about its link to B going down. */
const connectorDown = () => routers.a!.lines.filter((line) => /connector .* is down/.test(line.msg)).map((line) => String(line.reason ?? line.msg));
const linkDrops = () => routers.a!.lines.filter((line) => /inter-router connection to B is down/.test(line.msg)).map((line) => String(line.reason ?? line.msg));

beforeAll(async () => {
  network = await FaultNetwork.create();
  a = await network.addSite('A');
  b = await network.addSite('B');
  wire = await network.wire(a, b, { delayMs: DELAY_MS, loss: LOSS, seed: SEED });
  echo = await startAccountingEcho(network.hostIp);
  const pki = await createFaultPki(`${folder.path}/pki`);
  routers.b = await startFaultRouter(folder.path, pki, { site: b, listenOn: [wire], tcpConnector: { address: 'echo', host: network.hostIp, port: echo.port } });
  routers.a = await startFaultRouter(folder.path, pki, { site: a, dial: [wire], tcpListener: 'echo' });
});

afterAll(async () => {
  await Promise.all([routers.a?.stop(), routers.b?.stop()]);
  await echo?.close();
  await network?.remove();
});

describe('a satellite-like link: 300 ms each way, 5% loss each way', () => {
  it(`the link comes up by itself, and ${FLOWS} flows of ${FLOW_BYTES / 1024} KiB each way complete byte-exact, slowly`, async () => {
    const startedAt = Date.now();
    await waitForRoutes(a, 'echo', 1, 1, 30_000);
    const upMs = Date.now() - startedAt;
    const logged = (match: RegExp) => Date.parse(String(routers.a!.lines.find((line) => match.test(line.msg))?.time));
    const establishMs = logged(/connector .* is up/) - logged(/starting/);
    console.log(`link up ${upMs} ms after the routers started (A's connector up ${establishMs} ms after A started); failed attempts before: ${connectorDown().join('; ') || 'none'}`);

    const flowsAt = Date.now();
    const flows = Array.from({ length: FLOWS }, (_, i) => startFlow(a.accessIp, PORTS.tcpListener, 4000 + i, FLOW_BYTES, { hangAfterMs: FLOWS_WITHIN_MS }));
    const reports = await Promise.all(flows.map((f) => f.done));
    const flowsMs = Date.now() - flowsAt;
    const counts = wire.counts();
    console.log(
      `satellite wire (seed ${SEED}): link up ${upMs} ms after the routers started; ${FLOWS} flows of ${FLOW_BYTES / 1024} KiB each way done in ${flowsMs} ms ` +
        `(${Math.round((2 * FLOWS * FLOW_BYTES) / 1024 / (flowsMs / 1000))} KiB/s both ways); packets carried/dropped A->B ${counts?.a_to_b.join('/')}, B->A ${counts?.b_to_a.join('/')}; ` +
        `link drops: ${linkDrops().length === 0 ? 'none' : linkDrops().join('; ')}`,
    );
    for (const report of reports) expect(report.complete, describeFlow(report)).toBe(true);
    // The wire really lost packets: TCP retransmitted under the link.
    expect(counts!.a_to_b[1] + counts!.b_to_a[1]).toBeGreaterThan(0);
    // Up at the end, whatever happened between.
    await waitFor('the link to be up', async () => (await siteMetric(a, 'kskup_inter_router_connections')) === 1, 30_000);
  });
});
