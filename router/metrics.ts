// Router counters. The data path only bumps plain numbers in a per-address
// record (no label hashing per chunk); prom-client reads them when /metrics is
// scraped, and adds the usual process metrics (CPU, memory, event-loop lag).
import client from 'prom-client';

export interface AddressCounters {
  flowsOpened: number;
  flowsOpen: number;
  flowsFailed: number;
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
  }

  address(address: string): AddressCounters {
    let counters = this.byAddress.get(address);
    if (!counters) {
      counters = { flowsOpened: 0, flowsOpen: 0, flowsFailed: 0, bytesIn: 0, bytesOut: 0 };
      this.byAddress.set(address, counters);
    }
    return counters;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
