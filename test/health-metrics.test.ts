// The Prometheus counter of health changes (service-controller/health-metrics.ts,
// docs/metrics.md): a real TCP target checked by HealthChecks, which turns
// unhealthy when its listener closes and healthy when it listens again; each
// change is one increment of kskup_service_health_changes_total{to=...}.
import { createServer, type Server } from 'node:net';
import pino from 'pino';
import client from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { HealthChecks, checkKey, type CheckState } from '../service-controller/health-checks.js';
import { HEALTH_CHANGES_METRIC, healthChangesCounter } from '../service-controller/health-metrics.js';

const check = { type: 'tcp' as const, intervalMs: 100, timeoutMs: 100, healthyThreshold: 1, unhealthyThreshold: 1 };

function listen(port = 0): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.destroy());
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

/** The counter's value for one series, from the registry's text as Prometheus scrapes it. */
async function scraped(registry: client.Registry, labels: string): Promise<number> {
  const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(`${HEALTH_CHANGES_METRIC}{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

let checks: HealthChecks | undefined;
afterEach(() => checks?.stop());

describe('kskup_service_health_changes_total', () => {
  it('counts each change of a real TCP target by its new state, once per change, not per probe', async () => {
    const registry = new client.Registry();
    let server = await listen();
    const port = (server.address() as { port: number }).port;
    const states: CheckState['state'][] = [];
    const changed = (want: CheckState['state'], count: number) =>
      new Promise<void>((resolve) => {
        const poll = setInterval(() => {
          if (states.filter((s) => s === want).length >= count) resolve(void clearInterval(poll));
        }, 20);
      });
    checks = new HealthChecks(pino({ level: 'silent' }), (_target, state) => states.push(state.state), healthChangesCounter(registry));
    checks.setTargets([{ key: checkKey('api', '127.0.0.1', port), address: 'api', host: '127.0.0.1', port, check }]);
    const series = (to: string) => `address="api",target="127.0.0.1:${port}",to="${to}"`;

    await changed('healthy', 1);
    expect(await scraped(registry, series('healthy'))).toBe(1);
    await close(server);
    await changed('unhealthy', 1);
    // Several more failing probes: still one change.
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(await scraped(registry, series('unhealthy'))).toBe(1);
    server = await listen(port);
    await changed('healthy', 2);
    await close(server);
    expect(await scraped(registry, series('healthy'))).toBe(2);
    expect(await scraped(registry, series('unhealthy'))).toBe(1);
    expect(states).toEqual(['healthy', 'unhealthy', 'healthy']);
  });

  it('a second site controller in the same process counts on in the same series', async () => {
    const registry = new client.Registry();
    healthChangesCounter(registry)('db:5432', '10.0.0.9:5432', 'unhealthy');
    healthChangesCounter(registry)('db:5432', '10.0.0.9:5432', 'unhealthy');
    expect(await scraped(registry, 'address="db:5432",target="10.0.0.9:5432",to="unhealthy"')).toBe(2);
  });
});
