// The flow query: how anyone attached to a router (a site's controller, the
// kskup CLI with the site's credentials) asks every router in the network for
// its flow records and totals, through the routers (docs/flows.md).
//
// Each router consumes `_kskup/flows/<its router id>` itself (an anycast
// address in link state). A query is a message to that address with
// `reply_to` (a receiver address the asker attached at its own router) and
// the asker's router id in the application property `kskup-reply-router`; the
// answering router sends its reply towards that router by name, so the reply
// address never has to reach link state. Bodies are JSON text, like service
// sync's; everything received is checked here before it is used.
//
// This module is the shared format (router and asker import it) and imports
// nothing but the record types.
import type { FlowRecord, FlowResult, FlowRole, FlowTotals } from './flow-records.js';
import { FLOW_RESULTS } from './flow-records.js';

export const FLOWS_ADDRESS_PREFIX = '_kskup/flows/';
export const FLOW_QUERY_SUBJECT = 'kskup.flow-query.v1';
export const FLOW_REPLY_SUBJECT = 'kskup.flow-reply.v1';
/** Application property of a query: the router the asker is attached to, where the reply goes. */
export const REPLY_ROUTER_PROPERTY = 'kskup-reply-router';
/** The most records one router puts in one reply; a reply says how many more matched. */
export const MAX_RECORDS_PER_REPLY = 1000;

/** The address a router answers flow queries on. */
export function flowsAddress(routerId: string): string {
  return FLOWS_ADDRESS_PREFIX + routerId;
}

export interface FlowQuery {
  /** Records wanted, at most MAX_RECORDS_PER_REPLY (0: totals only). */
  readonly limit: number;
  /** A service address (`web`, matching every port of it) or a router address (`web:8080`). */
  readonly service?: string;
  /** A site name: records with the listener or the connector at that site. */
  readonly site?: string;
  /** Only flows that ended in an error. */
  readonly errors?: boolean;
}

/** A record as a reply carries it: with the site names the answering router knows for both ends. */
export interface WireFlowRecord extends FlowRecord {
  readonly listenerSite?: string;
  readonly connectorSite?: string;
  /** The router that kept this record. */
  readonly router: string;
}

export interface WireFlowTotals {
  readonly vanAddress: string;
  readonly role: FlowRole;
  readonly peerRouter: string;
  readonly peerSite?: string;
  readonly opened: number;
  readonly ended: Readonly<Record<Exclude<FlowResult, 'open'>, number>>;
  readonly octets: number;
  readonly octetsReverse: number;
  readonly latencySum: number;
  readonly latencyCount: number;
}

/**
 * A link's byte counters at the answering router (router/peer/link-octets.ts):
 * AMQP bytes (frames, before TLS) it sent to and received from one
 * neighbouring router, over every connection to it since the router started.
 */
export interface WireLinkOctets {
  readonly peerRouter: string;
  readonly peerSite?: string;
  readonly octetsOut: number;
  readonly octetsIn: number;
}

export interface FlowReply {
  readonly router: string;
  readonly site?: string;
  /** The answering router's kskup version; absent from routers older than it. */
  readonly version?: string;
  /** Its links' byte counters, one per neighbour; absent from routers older than them. */
  readonly links?: readonly WireLinkOctets[];
  /**
   * Interior router: the edge routers attached to it that it passed the query
   * on to; each answers the asker with a reply of its own. Absent when there
   * are none, and from routers older than the field.
   */
  readonly edges?: readonly string[];
  /** How many records the router's ring holds at most. */
  readonly capacity: number;
  /** Records that matched the query; more than `records.length` when the limit cut them. */
  readonly matched: number;
  /** Newest first. */
  readonly records: readonly WireFlowRecord[];
  readonly totals: readonly WireFlowTotals[];
}

export function serviceMatches(vanAddress: string, service: string): boolean {
  return vanAddress === service || vanAddress.startsWith(`${service}:`);
}

/** The query in a message body, or why it is not one. */
export function parseFlowQuery(body: unknown): FlowQuery | string {
  const value = parseJson(body);
  if (!isRecord(value)) return 'body is not a JSON object';
  const { limit, service, site, errors } = value;
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 0) return 'limit is not a whole number >= 0';
  if (service !== undefined && typeof service !== 'string') return 'service is not a string';
  if (site !== undefined && typeof site !== 'string') return 'site is not a string';
  if (errors !== undefined && typeof errors !== 'boolean') return 'errors is not a boolean';
  return {
    limit: Math.min(limit, MAX_RECORDS_PER_REPLY),
    ...(service !== undefined && { service }),
    ...(site !== undefined && { site }),
    ...(errors !== undefined && { errors }),
  };
}

/** What a router answers, from its records and totals; `siteOf` names the site of a router id when link state knows it. */
export function answerFlowQuery(
  query: FlowQuery,
  self: { readonly router: string; readonly site?: string; readonly version?: string; readonly capacity: number },
  records: readonly FlowRecord[],
  totals: readonly FlowTotals[],
  siteOf: (routerId: string) => string | undefined,
  links: readonly { readonly peerRouter: string; readonly octetsOut: number; readonly octetsIn: number }[] = [],
): FlowReply {
  const named = (record: FlowRecord): WireFlowRecord => {
    const listenerSite = siteOf(record.listenerRouter);
    const connectorSite = record.connectorRouter === undefined ? undefined : siteOf(record.connectorRouter);
    return { ...record, router: self.router, ...(listenerSite !== undefined && { listenerSite }), ...(connectorSite !== undefined && { connectorSite }) };
  };
  const matching = records
    .filter((record) => query.service === undefined || serviceMatches(record.vanAddress, query.service))
    .filter((record) => !query.errors || (record.result !== 'open' && record.result !== 'closed'))
    .map(named)
    .filter((record) => query.site === undefined || record.listenerSite === query.site || record.connectorSite === query.site);
  return {
    router: self.router,
    ...(self.site !== undefined && { site: self.site }),
    ...(self.version !== undefined && { version: self.version }),
    links: links.map(({ peerRouter, octetsOut, octetsIn }) => {
      const peerSite = siteOf(peerRouter);
      return { peerRouter, ...(peerSite !== undefined && { peerSite }), octetsOut, octetsIn };
    }),
    capacity: self.capacity,
    matched: matching.length,
    records: matching.slice(0, query.limit),
    totals: totals
      .filter((t) => query.service === undefined || serviceMatches(t.vanAddress, query.service))
      .map((t) => {
        const peerSite = t.peerRouter === '' ? undefined : siteOf(t.peerRouter);
        return {
          vanAddress: t.vanAddress,
          role: t.role,
          peerRouter: t.peerRouter,
          ...(peerSite !== undefined && { peerSite }),
          opened: t.opened,
          ended: { ...t.ended },
          octets: t.octets,
          octetsReverse: t.octetsReverse,
          latencySum: t.latencySum,
          latencyCount: t.latencyCount,
        };
      }),
  };
}

/** A reply in a message body, or why it is not one (replies come from other routers: untrusted). */
export function parseFlowReply(body: unknown): FlowReply | string {
  const value = parseJson(body);
  if (!isRecord(value)) return 'body is not a JSON object';
  const { router, site, version, links, edges, capacity, matched, records, totals } = value;
  if (typeof router !== 'string' || router === '') return 'router is missing';
  if (site !== undefined && typeof site !== 'string') return 'site is not a string';
  if (version !== undefined && typeof version !== 'string') return 'version is not a string';
  if (links !== undefined && (!Array.isArray(links) || !links.every(isWireLinkOctets))) return 'links are malformed';
  if (edges !== undefined && (!Array.isArray(edges) || !edges.every((edge) => typeof edge === 'string' && edge !== ''))) return 'edges are malformed';
  if (!isCount(capacity) || !isCount(matched)) return 'capacity or matched is not a count';
  if (!Array.isArray(records) || !records.every(isWireRecord)) return 'records are malformed';
  if (!Array.isArray(totals) || !totals.every(isWireTotals)) return 'totals are malformed';
  return { router, ...(site !== undefined && { site }), ...(version !== undefined && { version }), ...(links !== undefined && { links }), ...(edges !== undefined && { edges: edges as string[] }), capacity, matched, records, totals };
}

function isWireLinkOctets(value: unknown): value is WireLinkOctets {
  return (
    isRecord(value) &&
    typeof value.peerRouter === 'string' &&
    value.peerRouter !== '' &&
    (value.peerSite === undefined || typeof value.peerSite === 'string') &&
    isCount(value.octetsOut) &&
    isCount(value.octetsIn)
  );
}

function isWireRecord(value: unknown): value is WireFlowRecord {
  if (!isRecord(value)) return false;
  const strings = ['identity', 'vanAddress', 'listenerRouter', 'router'] as const;
  const optionalStrings = ['sourceHost', 'listener', 'connectorRouter', 'connector', 'destinationHost', 'reason', 'listenerSite', 'connectorSite'] as const;
  const optionalCounts = ['endTime', 'sourcePort', 'destinationPort', 'latency'] as const;
  return (
    strings.every((key) => typeof value[key] === 'string') &&
    optionalStrings.every((key) => value[key] === undefined || typeof value[key] === 'string') &&
    optionalCounts.every((key) => value[key] === undefined || isCount(value[key])) &&
    (value.role === 'listener-side' || value.role === 'connector-side') &&
    isCount(value.startTime) &&
    isCount(value.octets) &&
    isCount(value.octetsReverse) &&
    FLOW_RESULTS.includes(value.result as FlowResult)
  );
}

function isWireTotals(value: unknown): value is WireFlowTotals {
  if (!isRecord(value)) return false;
  const ended = value.ended;
  return (
    typeof value.vanAddress === 'string' &&
    (value.role === 'listener-side' || value.role === 'connector-side') &&
    typeof value.peerRouter === 'string' &&
    (value.peerSite === undefined || typeof value.peerSite === 'string') &&
    isCount(value.opened) &&
    isRecord(ended) &&
    FLOW_RESULTS.filter((r) => r !== 'open').every((r) => isCount(ended[r])) &&
    isCount(value.octets) &&
    isCount(value.octetsReverse) &&
    typeof value.latencySum === 'number' &&
    Number.isFinite(value.latencySum) &&
    isCount(value.latencyCount)
  );
}

function parseJson(body: unknown): unknown {
  if (typeof body !== 'string') return body;
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
