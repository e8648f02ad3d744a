// Per-address TCP counters from a site router's /metrics (Prometheus text):
// what `service status` shows as open flows and bytes.
import { request } from 'node:http';

export interface AddressCounters {
  flowsOpen: number;
  flowsOpened: number;
  bytesIn: number;
  bytesOut: number;
  /** Flows refused here by a tcpConnector's allowedSites (the site's policy). */
  flowsDenied: number;
  /** Flows waiting here now for the address's rate limits, and refused by them (router/tcp/rate-limits.ts). */
  flowsWaiting: number;
  flowsRateLimited: number;
}

const SERIES: Record<string, keyof AddressCounters> = {
  kskup_tcp_flows_open: 'flowsOpen',
  kskup_tcp_flows_denied_total: 'flowsDenied',
  kskup_tcp_flows_waiting: 'flowsWaiting',
  kskup_tcp_flows_rate_limited_total: 'flowsRateLimited',
  kskup_tcp_flows_opened_total: 'flowsOpened',
  kskup_tcp_bytes_in_total: 'bytesIn',
  kskup_tcp_bytes_out_total: 'bytesOut',
};

/** Counters by router address; empty when the router does not answer (status still shows the rest). */
export async function fetchAddressCounters(port: number, timeoutMs = 2_000): Promise<Map<string, AddressCounters>> {
  const text = await new Promise<string>((resolve) => {
    const outgoing = request({ host: '127.0.0.1', port, path: '/metrics', timeout: timeoutMs }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve(body));
      response.on('error', () => resolve(''));
    });
    outgoing.on('timeout', () => outgoing.destroy());
    outgoing.on('error', () => resolve(''));
    outgoing.end();
  });
  const counters = new Map<string, AddressCounters>();
  for (const match of text.matchAll(/^(kskup_tcp_[a-z_]+)\{address="([^"]*)"\} (\S+)$/gm)) {
    const [, series = '', address = '', value = '0'] = match;
    const key = SERIES[series];
    if (!key) continue;
    let entry = counters.get(address);
    if (!entry) counters.set(address, (entry = { flowsOpen: 0, flowsOpened: 0, bytesIn: 0, bytesOut: 0, flowsDenied: 0, flowsWaiting: 0, flowsRateLimited: 0 }));
    entry[key] = Number(value);
  }
  return counters;
}
