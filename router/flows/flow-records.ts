// A router's record of the TCP flows it took part in: a ring of the most
// recent flows (open and ended) and per-service totals. Memory is bounded by
// the ring's capacity plus one totals entry per (service address, peer router,
// side), which grows with the configuration and the network, never with
// traffic. Flows write into their record only at open, at the first byte back
// and at the end; the data path itself only counts bytes on the flow.
//
// Field names follow skupper-router's vanflow BIFLOW_TPORT attributes where
// one fits (startTime, endTime, sourceHost, sourcePort, vanAddress, octets,
// octetsReverse, latency, result, reason); see docs/flows.md.

/** How a flow ended, as seen at this router; 'open' while it runs. */
export type FlowResult = 'open' | 'closed' | 'reset-by-client' | 'reset-by-server' | 'refused' | 'no-route' | 'unreachable' | 'denied';

export const FLOW_RESULTS: readonly FlowResult[] = ['open', 'closed', 'reset-by-client', 'reset-by-server', 'refused', 'no-route', 'unreachable', 'denied'];

export type FlowRole = 'listener-side' | 'connector-side';

export interface FlowRecord {
  /** The flow id, the same at both ends (a retried client keeps one record: the id of its last attempt). */
  identity: string;
  readonly role: FlowRole;
  /** The router address: the service address and port (`web:8080`). */
  readonly vanAddress: string;
  /** ms since the epoch. */
  readonly startTime: number;
  /** ms since the epoch; absent while open. */
  endTime?: number;
  /** Listener side: the client's address and port, and the tcpListener it came in on. */
  readonly sourceHost?: string;
  readonly sourcePort?: number;
  readonly listener?: string;
  /** The router whose tcpListener took the client. */
  readonly listenerRouter: string;
  /** The router whose tcpConnector serves the flow; absent until one is chosen (and for no-route). */
  connectorRouter?: string;
  /** Connector side: the tcpConnector and the backend it dials. */
  readonly connector?: string;
  readonly destinationHost?: string;
  readonly destinationPort?: number;
  /** Bytes from the client towards the backend, as counted at this router. */
  octets: number;
  /** Bytes from the backend towards the client. */
  octetsReverse: number;
  /** Listener side: µs from the client's connection to the first byte back to it; absent until then. */
  latency?: number;
  result: FlowResult;
  /** Why it ended other than 'closed' (a socket error code, a detach description). */
  reason?: string;
}

/** Upper bounds (seconds) of the time-to-first-byte histogram: Prometheus' default buckets below 5 s, plus 0.001 and 0.0025 for LAN flows. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Per (service address, peer router, side) counts; every field only grows. */
export interface FlowTotals {
  readonly vanAddress: string;
  /** The router at the other end ('' for flows that found no route). */
  readonly peerRouter: string;
  readonly role: FlowRole;
  opened: number;
  /** Ended flows by result ('open' never counts here). */
  readonly ended: Record<Exclude<FlowResult, 'open'>, number>;
  octets: number;
  octetsReverse: number;
  /** Counts per LATENCY_BUCKETS_SECONDS bound (not cumulative), then +Inf; with the sum (seconds) and count. */
  readonly latencyBuckets: number[];
  latencySum: number;
  latencyCount: number;
}

export const DEFAULT_FLOW_RECORD_CAPACITY = 1000;
export const MAX_FLOW_RECORD_CAPACITY = 100_000;

export class FlowRecorder {
  private readonly ring: (FlowRecord | undefined)[];
  private next = 0;
  private readonly totals = new Map<string, FlowTotals>();
  /** Records whose flow has been counted as opened in the totals. */
  private readonly counted = new WeakSet<FlowRecord>();
  /** performance.now() at each open record's start: Date.now() is too coarse for LAN latencies. */
  private readonly started = new WeakMap<FlowRecord, number>();

  /** `capacity`: how many records the ring keeps (1..MAX_FLOW_RECORD_CAPACITY). */
  constructor(readonly capacity = DEFAULT_FLOW_RECORD_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_FLOW_RECORD_CAPACITY) {
      throw new RangeError(`flow record capacity must be an integer from 1 to ${MAX_FLOW_RECORD_CAPACITY}, not ${capacity}`);
    }
    this.ring = new Array<FlowRecord | undefined>(capacity);
  }

  /** Starts a record; the oldest one leaves the ring when it is full (an open flow keeps its own record object). */
  open(fields: Omit<FlowRecord, 'octets' | 'octetsReverse' | 'result' | 'startTime'> & { startTime?: number }): FlowRecord {
    const record: FlowRecord = { ...fields, startTime: fields.startTime ?? Date.now(), octets: 0, octetsReverse: 0, result: 'open' };
    this.started.set(record, performance.now());
    this.ring[this.next] = record;
    this.next = (this.next + 1) % this.capacity;
    return record;
  }

  /** The far end is known: the flow counts as opened towards it (once per record). */
  routed(record: FlowRecord): void {
    if (this.counted.has(record)) return;
    this.counted.add(record);
    this.totalsOf(record).opened++;
  }

  /** The first byte back to the client: latency from the record's start. */
  firstByteBack(record: FlowRecord): void {
    const started = this.started.get(record);
    if (record.latency !== undefined || started === undefined) return;
    record.latency = Math.max(0, Math.round((performance.now() - started) * 1000));
  }

  /** Ends a record (again: ignored) and adds it to the totals. */
  end(record: FlowRecord, result: Exclude<FlowResult, 'open'>, reason: string | undefined, bytes: { octets: number; octetsReverse: number }): void {
    if (record.result !== 'open') return;
    this.routed(record);
    record.result = result;
    record.endTime = Date.now();
    record.octets = bytes.octets;
    record.octetsReverse = bytes.octetsReverse;
    this.started.delete(record);
    if (reason !== undefined && result !== 'closed') record.reason = reason;
    const totals = this.totalsOf(record);
    totals.ended[result]++;
    totals.octets += bytes.octets;
    totals.octetsReverse += bytes.octetsReverse;
    if (record.latency !== undefined) {
      const seconds = record.latency / 1e6;
      const index = LATENCY_BUCKETS_SECONDS.findIndex((bound) => seconds <= bound);
      totals.latencyBuckets[index === -1 ? LATENCY_BUCKETS_SECONDS.length : index]!++;
      totals.latencySum += seconds;
      totals.latencyCount++;
    }
  }

  /** The records in the ring, newest first. */
  records(): FlowRecord[] {
    const out: FlowRecord[] = [];
    for (let i = 1; i <= this.capacity; i++) {
      const record = this.ring[(this.next - i + this.capacity) % this.capacity];
      if (record) out.push(record);
    }
    return out;
  }

  allTotals(): FlowTotals[] {
    return [...this.totals.values()];
  }

  private totalsOf(record: FlowRecord): FlowTotals {
    const peerRouter = (record.role === 'listener-side' ? record.connectorRouter : record.listenerRouter) ?? '';
    const key = `${record.vanAddress}\u0000${peerRouter}\u0000${record.role}`;
    let totals = this.totals.get(key);
    if (!totals) {
      totals = {
        vanAddress: record.vanAddress,
        peerRouter,
        role: record.role,
        opened: 0,
        ended: { closed: 0, 'reset-by-client': 0, 'reset-by-server': 0, refused: 0, 'no-route': 0, unreachable: 0, denied: 0 },
        octets: 0,
        octetsReverse: 0,
        latencyBuckets: new Array<number>(LATENCY_BUCKETS_SECONDS.length + 1).fill(0),
        latencySum: 0,
        latencyCount: 0,
      };
      this.totals.set(key, totals);
    }
    return totals;
  }
}
