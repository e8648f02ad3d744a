// A router process stopped (SIGSTOP) under running flows and resumed
// (SIGCONT), with each router in its own network namespace
// (test/helpers/fault-network.ts):
//
//   clients ─> A [tcpListener echo] ══ link1 (veth, mTLS; A dials B) ══ B [tcpConnector echo] ─> echo backend (host)
//
// B is stopped for PAUSE_S: 10 s here, past every timer that matters (A drops
// its neighbour after 3 s of silence, its redials into B's listen backlog
// time out after 10 s), and 60 s in bench/faults.mjs
// (KSKUP_FAULT_PAUSE_SECONDS). test/router-pause.test.ts covers a client
// connection of a paused router, test/site-pause.test.ts a paused site
// process; this is the inter-router link and its flows.
//
// What must happen: A ends the flows with a reset within a few seconds of the
// pause, exact to the last byte that arrived; B, at SIGCONT, finds its link
// gone and ends the backend side of each flow; within 5 s of the SIGCONT the
// link is back and the service answers byte-exact.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { describeFlow, startFlow } from './helpers/flow-accounting.js';
import { PORTS, siteMetric, useFaultPair, waitForRoutes } from './helpers/fault-routers.js';
import { waitFor } from './helpers/router-process.js';
import { useTestFolder } from './helpers/temp-dir.js';

const PAUSE_MS = Number(process.env.KSKUP_FAULT_PAUSE_SECONDS ?? 10) * 1000;
const FLOWS = 10;
const RATE = 64 * 1024;
/** At 64 KiB/s, longer than the pause and the time before it: every flow is running when B stops. */
const FLOW_BYTES = Math.max(2 * 1024 * 1024, (PAUSE_MS / 1000 + 20) * RATE);
const FLOWS_END_WITHIN_MS = 6_000;
const BACK_WITHIN_MS = 5_000;

const folder = useTestFolder('fault-pause');
const pair = useFaultPair(folder);

describe(`a router stopped for ${PAUSE_MS / 1000} s`, () => {
  it(`B SIGSTOPped ${PAUSE_MS / 1000} s under ${FLOWS} flows: A resets them within 6 s, exact to the last byte; after SIGCONT B ends the backend side, and link and service are back within 5 s`, async () => {
    const { a, echo, routers } = pair;
    const flows = Array.from({ length: FLOWS }, (_, i) => startFlow(a.accessIp, PORTS.tcpListener, 5000 + i, FLOW_BYTES, { bytesPerSecond: RATE, hangAfterMs: PAUSE_MS + 60_000 }));
    await waitFor('every flow to have 64 KiB echoed', () => flows.every((f) => f.report.received >= 64 * 1024) || undefined, 20_000);

    routers.b!.signal('SIGSTOP');
    const stoppedAt = Date.now();
    let resumedAt: number;
    try {
      const reports = await Promise.all(flows.map((f) => f.done));
      for (const report of reports) console.log(`${describeFlow(report)}, ${report.endedAt - stoppedAt} ms after SIGSTOP`);
      for (const report of reports) {
        expect(report.firstMismatch, `flow ${report.seed}: the echo differs from the stream`).toBeUndefined();
        expect(report.end, describeFlow(report)).toBe('error ECONNRESET');
        expect(report.endedAt - stoppedAt).toBeLessThan(FLOWS_END_WITHIN_MS);
      }
      await sleep(PAUSE_MS - (Date.now() - stoppedAt));
    } finally {
      routers.b!.signal('SIGCONT');
      resumedAt = Date.now();
    }
    // B finds the link gone and ends what it had open to the backend.
    await waitFor('the backend to see every flow end', () => flows.every((f) => echo.of(f.report.seed)?.end) || undefined, BACK_WITHIN_MS);
    const backendEndsMs = Date.now() - resumedAt;
    await waitFor('A to have the link back', async () => (await siteMetric(a, 'kskup_inter_router_connections')) === 1, 30_000);
    const linkBackMs = Date.now() - resumedAt;
    await waitForRoutes(a, 'echo', 1, 1, 30_000);
    const answer = await startFlow(a.accessIp, PORTS.tcpListener, 5100, 256 * 1024, { hangAfterMs: 20_000 }).done;
    const serviceBackMs = Date.now() - resumedAt;
    console.log(
      `after a ${PAUSE_MS / 1000} s SIGSTOP of B: the backend saw every flow end ${backendEndsMs} ms after SIGCONT, ` +
        `link back ${linkBackMs} ms after it, a 256 KiB echo done ${serviceBackMs} ms after it (${describeFlow(answer)})`,
    );
    expect(answer.complete, describeFlow(answer)).toBe(true);
    expect(serviceBackMs).toBeLessThan(BACK_WITHIN_MS);
  });
});
