// Router counters. The data path only bumps plain numbers in a per-address
// record (no label hashing per chunk); prom-client reads them when /metrics is
// scraped, and adds the usual process metrics (CPU, memory, event-loop lag).
// The per-service metrics are read from the flow totals (router/flows/) at
// scrape time in the same way. Names and units: docs/metrics.md.
import client from 'prom-client';
import { LATENCY_BUCKETS_SECONDS, type FlowTotals } from './flows/flow-records.js';

/** A neighbour link as the network agent knows it. */
export interface LinkView {
  readonly routerId: string;
  readonly site?: string;
  readonly rttMs?: number;
}

export interface AddressCounters {
  flowsOpened: number;
  flowsOpen: number;
  flowsFailed: number;
  /** Flows started on a link pair an earlier flow left attached (router/tcp/link-pair-pool.ts), at either end. */
  flowsOnReusedLinks: number;
  /** Flows that arrived for a tcpConnector whose allowedSites does not name their site, refused (router/policy/). */
  flowsDenied: number;
  /** Flows waiting for a rate limit of the address here now (router/tcp/flow-limiter.ts). */
  flowsWaiting: number;
  /** Flows refused by a rate limit here: the queue was full or they waited too long. */
  flowsRateLimited: number;
  /** Bytes read from TCP clients and backends at this router, into the network. */
  bytesIn: number;
  /** Bytes written to TCP clients and backends at this router, out of the network. */
  bytesOut: number;
}

export class RouterMetrics {
  readonly registry = new client.Registry();
  private readonly byAddress = new Map<string, AddressCounters>();
  interRouterConnections = 0;
  /** Deliveries rhea's sessions hold on the inter-router and edge connections (router/peer/held-deliveries.ts). */
  heldDeliveries: () => { incoming: number; outgoing: number } = () => ({ incoming: 0, outgoing: 0 });
  /** Per tcpListener address: how many targets (local tcpConnectors, peers serving it) a new flow could go to. */
  routes: () => ReadonlyMap<string, number> = () => new Map();
  /** The flow totals per (service address, peer router, side). */
  flowTotals: () => readonly FlowTotals[] = () => [];
  /** A router's site name, when link state knows it. */
  siteOf: (routerId: string) => string | undefined = () => undefined;
  /** Neighbours that are up. */
  links: () => readonly LinkView[] = () => [];
  /** Configured inter-router and edge connectors, and whether each has its connection up. */
  connectors: () => readonly { readonly name: string; readonly up: boolean }[] = () => [];

  constructor() {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'kskup_router_' });
    const addressGauge = (name: string, help: string, pick: (c: AddressCounters) => number, type: 'gauge' | 'counter') => {
      const Metric = type === 'gauge' ? client.Gauge : client.Counter;
      const counters = this.byAddress;
      new Metric({
        name,
        help,
        labelNames: ['address'],
        registers: [this.registry],
        collect(this: client.Gauge | client.Counter) {
          this.reset();
          for (const [address, c] of counters) {
            if (this instanceof client.Gauge) this.set({ address }, pick(c));
            else this.inc({ address }, pick(c));
          }
        },
      });
    };
    addressGauge('kskup_tcp_flows_opened_total', 'TCP flows opened at this router, per address', (c) => c.flowsOpened, 'counter');
    addressGauge('kskup_tcp_flows_open', 'TCP flows open at this router, per address', (c) => c.flowsOpen, 'gauge');
    addressGauge('kskup_tcp_flows_failed_total', 'TCP flows that ended in an error or found no route, per address', (c) => c.flowsFailed, 'counter');
    addressGauge(
      'kskup_tcp_flows_reused_links_total',
      'TCP flows carried on an inter-router link pair that an earlier flow left attached, per address (no attach or detach of their own)',
      (c) => c.flowsOnReusedLinks,
      'counter',
    );
    addressGauge('kskup_tcp_flows_denied_total', 'TCP flows refused at this router by a tcpConnector\'s allowedSites (site policy), per address', (c) => c.flowsDenied, 'counter');
    addressGauge('kskup_tcp_flows_waiting', 'TCP flows waiting at this router for a rate limit of their tcpConnectors (maxFlows, flowsPerSecond), per address', (c) => c.flowsWaiting, 'gauge');
    addressGauge(
      'kskup_tcp_flows_rate_limited_total',
      'TCP flows refused at this router by a rate limit of their tcpConnectors (the queue full, or waited flowQueueTimeoutMs), per address',
      (c) => c.flowsRateLimited,
      'counter',
    );
    addressGauge('kskup_tcp_bytes_in_total', 'Bytes read from TCP sockets into the network, per address', (c) => c.bytesIn, 'counter');
    addressGauge('kskup_tcp_bytes_out_total', 'Bytes written from the network to TCP sockets, per address', (c) => c.bytesOut, 'counter');
    const self = this;
    new client.Gauge({
      name: 'kskup_tcp_listener_routes',
      help: 'Targets a new flow on a tcpListener address can go to (0: clients are reset)',
      labelNames: ['address'],
      registers: [this.registry],
      collect(this: client.Gauge) {
        this.reset();
        for (const [address, count] of self.routes()) this.set({ address }, count);
      },
    });
    new client.Gauge({
      name: 'kskup_inter_router_connections',
      help: 'Inter-router (and edge) connections that are up',
      registers: [this.registry],
      collect(this: client.Gauge) {
        this.set(self.interRouterConnections);
      },
    });
    new client.Gauge({
      name: 'kskup_inter_router_deliveries_held',
      help: 'Deliveries held in the AMQP sessions of inter-router and edge connections (incoming: not yet settled here, or behind one that is not); steady traffic keeps it small',
      labelNames: ['direction'],
      registers: [this.registry],
      collect(this: client.Gauge) {
        const held = self.heldDeliveries();
        this.set({ direction: 'incoming' }, held.incoming);
        this.set({ direction: 'outgoing' }, held.outgoing);
      },
    });
    this.registerFlowMetrics();
  }

  /** The per-service metrics from the flow totals, and link state and round-trip time. */
  private registerFlowMetrics(): void {
    const self = this;
    const peerSite = (routerId: string) => (routerId === '' ? 'none' : (self.siteOf(routerId) ?? routerId));
    const labelsOf = (t: FlowTotals) => ({ service: t.vanAddress, side: t.role === 'listener-side' ? 'listener' : 'connector', peer_site: peerSite(t.peerRouter) });
    const fromTotals = (name: string, help: string, values: (t: FlowTotals) => [Record<string, string>, number][], labelNames: string[]) =>
      new client.Counter({
        name,
        help,
        labelNames,
        registers: [this.registry],
        collect(this: client.Counter) {
          // Several peer routers of one site (router replicas) add up under the one label set.
          this.reset();
          for (const totals of self.flowTotals()) for (const [labels, value] of values(totals)) this.inc(labels, value);
        },
      });
    const serviceLabels = ['service', 'side', 'peer_site'];
    fromTotals('kskup_service_flows_opened_total', 'TCP flows opened at this router, per service address, side and peer site', (t) => [[labelsOf(t), t.opened]], serviceLabels);
    fromTotals(
      'kskup_service_flows_closed_total',
      'TCP flows ended at this router, per service address, side, peer site and result (closed, reset-by-client, reset-by-server, refused, no-route, unreachable)',
      (t) => Object.entries(t.ended).map(([result, count]): [Record<string, string>, number] => [{ ...labelsOf(t), result }, count]),
      [...serviceLabels, 'result'],
    );
    fromTotals('kskup_service_request_bytes_total', 'Bytes from clients towards backends in ended flows, per service address, side and peer site', (t) => [[labelsOf(t), t.octets]], serviceLabels);
    fromTotals('kskup_service_response_bytes_total', 'Bytes from backends back to clients in ended flows, per service address, side and peer site', (t) => [[labelsOf(t), t.octetsReverse]], serviceLabels);
    // A histogram from plain counts: prom-client's Histogram would need an observe() (a label lookup) per flow.
    const histogramName = 'kskup_service_first_byte_seconds';
    const histogramHelp = 'Time from a client connecting to a tcpListener to the first byte back to it, per service address and peer site (listener side; ended flows)';
    this.registry.registerMetric({
      name: histogramName,
      help: histogramHelp,
      type: 'histogram',
      get() {
        const merged = new Map<string, { labels: Record<string, string>; buckets: number[]; sum: number; count: number }>();
        for (const totals of self.flowTotals()) {
          if (totals.role !== 'listener-side' || totals.latencyCount === 0) continue;
          const labels = { service: totals.vanAddress, peer_site: peerSite(totals.peerRouter) };
          const key = `${labels.service}\u0000${labels.peer_site}`;
          const entry = merged.get(key) ?? { labels, buckets: new Array<number>(LATENCY_BUCKETS_SECONDS.length + 1).fill(0), sum: 0, count: 0 };
          merged.set(key, entry);
          totals.latencyBuckets.forEach((count, index) => (entry.buckets[index]! += count));
          entry.sum += totals.latencySum;
          entry.count += totals.latencyCount;
        }
        const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
        for (const { labels, buckets, sum, count } of merged.values()) {
          let cumulative = 0;
          buckets.forEach((bucket, index) => {
            cumulative += bucket;
            const le = index < LATENCY_BUCKETS_SECONDS.length ? String(LATENCY_BUCKETS_SECONDS[index]) : '+Inf';
            values.push({ metricName: `${histogramName}_bucket`, labels: { ...labels, le }, value: cumulative });
          });
          values.push({ metricName: `${histogramName}_sum`, labels, value: sum }, { metricName: `${histogramName}_count`, labels, value: count });
        }
        return { name: histogramName, help: histogramHelp, type: 'histogram', values, aggregator: 'sum' };
      },
      reset: () => undefined,
    } as unknown as client.Metric);
    new client.Gauge({
      name: 'kskup_link_up',
      help: 'Inter-router and edge links to neighbours that are up (1), per peer site and router; a configured connector whose link is down shows in kskup_connector_up',
      labelNames: ['peer_site', 'peer_router'],
      registers: [this.registry],
      collect(this: client.Gauge) {
        this.reset();
        for (const link of self.links()) this.set({ peer_site: link.site ?? link.routerId, peer_router: link.routerId }, 1);
      },
    });
    new client.Gauge({
      name: 'kskup_connector_up',
      help: 'Whether each configured inter-router or edge connector has its connection up (1) or not (0)',
      labelNames: ['connector'],
      registers: [this.registry],
      collect(this: client.Gauge) {
        this.reset();
        for (const connector of self.connectors()) this.set({ connector: connector.name }, connector.up ? 1 : 0);
      },
    });
    new client.Gauge({
      name: 'kskup_link_rtt_seconds',
      help: 'Round-trip time of each neighbour link, from the last hello echoed both ways (includes what queued ahead of it on a busy link)',
      labelNames: ['peer_site', 'peer_router'],
      registers: [this.registry],
      collect(this: client.Gauge) {
        this.reset();
        for (const link of self.links()) if (link.rttMs !== undefined) this.set({ peer_site: link.site ?? link.routerId, peer_router: link.routerId }, link.rttMs / 1000);
      },
    });
  }

  address(address: string): AddressCounters {
    let counters = this.byAddress.get(address);
    if (!counters) {
      counters = { flowsOpened: 0, flowsOpen: 0, flowsFailed: 0, flowsOnReusedLinks: 0, flowsDenied: 0, flowsWaiting: 0, flowsRateLimited: 0, bytesIn: 0, bytesOut: 0 };
      this.byAddress.set(address, counters);
    }
    return counters;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
