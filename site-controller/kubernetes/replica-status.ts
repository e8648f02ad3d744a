// What the controller knows of each router replica, asked over AMQP
// management at each replica's local listener (its stable name behind the
// headless Service, verified as the local listener's Service name, which its
// certificate carries), and the site's view made from all of them: a link is
// up when some replica has it up (the site reaches that site), and says which
// replicas have it down; a service listener is listening when every replica
// listens (a client of the address Service lands on any of them).
import { ManagementClient } from '../../router/management/management-client.js';
import type { ListenerStatus } from '../site/site-controller.js';
import { PEER_CONNECTOR_PREFIX } from './router-replicas.js';

/** One replica as its router answered (ConfigMap kskup-network, key routers.json). */
export interface ReplicaReport {
  /** The pod name (kskup-router-K), or the endpoint asked when it is not a replica's name. */
  readonly pod: string;
  /** Whether its router answered; `reason` says why not. */
  readonly answered: boolean;
  readonly reason?: string;
  /** Its router id. */
  readonly id?: string;
  /** The site's links (connector `link-NAME`) by name. */
  readonly links: Readonly<Record<string, LinkState>>;
  /** Links to the other replicas (connector `peer-POD`) by pod name. */
  readonly peers: Readonly<Record<string, LinkState>>;
  /** Service listeners (tcpListener name = router address). */
  readonly listeners: Readonly<Record<string, ListenerStatus>>;
}

export interface LinkState {
  readonly connected: boolean;
  readonly reason: string;
}

export interface ReplicaEndpoint {
  readonly pod: string;
  readonly host: string;
  readonly port: number;
  /** The name the replica's certificate is checked against (it is reached at another name). */
  readonly serverName?: string;
}

export type ManagementTls = { readonly ca: Buffer; readonly cert: Buffer; readonly key: Buffer };

/** Asks one replica; never throws (a replica that does not answer is a report that says why). */
export async function askReplica(endpoint: ReplicaEndpoint, tls: ManagementTls, timeoutMs: number): Promise<ReplicaReport> {
  let client: ManagementClient | undefined;
  try {
    client = await ManagementClient.connect(
      { host: endpoint.host, port: endpoint.port, tls: { ...tls, ...(endpoint.serverName !== undefined && { serverName: endpoint.serverName }) } },
      { timeoutMs },
    );
    const [routers, connectors, tcpListeners] = await Promise.all([
      client.query('router', ['id']),
      client.query('connector', ['name', 'connectionStatus', 'connectionMsg']),
      client.query('tcpListener', ['name', 'port', 'operStatus', 'operStatusMsg']),
    ]);
    const links: Record<string, LinkState> = {};
    const peers: Record<string, LinkState> = {};
    for (const row of connectors) {
      const name = String(row.name ?? '');
      const connected = row.connectionStatus === 'up';
      const state = { connected, reason: connected ? '' : String(row.connectionMsg || row.connectionStatus || 'unknown') };
      if (name.startsWith('link-')) links[name.slice('link-'.length)] = state;
      else if (name.startsWith(PEER_CONNECTOR_PREFIX)) peers[name.slice(PEER_CONNECTOR_PREFIX.length)] = state;
    }
    const listeners: Record<string, ListenerStatus> = {};
    for (const row of tcpListeners) {
      const port = Number(row.port);
      const name = String(row.name ?? '');
      listeners[name] = row.operStatus === 'up' ? { port, listening: true } : { port, listening: false, reason: String(row.operStatusMsg || 'binding'), failed: Boolean(row.operStatusMsg) };
    }
    return { pod: endpoint.pod, answered: true, id: String(routers[0]?.id ?? ''), links, peers, listeners };
  } catch (error) {
    return { pod: endpoint.pod, answered: false, reason: `the router does not answer: ${error instanceof Error ? error.message : String(error)}`, links: {}, peers: {}, listeners: {} };
  } finally {
    await client?.close().catch(() => undefined);
  }
}

/**
 * The site's links from every replica's: up when up at some replica. A
 * replica that has it down (or does not answer) is named in the reason, so
 * `link status` shows a partial outage. `known` are the links whose state
 * to keep when no replica answers (then down, with the replicas' reasons).
 */
export function siteLinks(reports: readonly ReplicaReport[], known: Iterable<string>): Map<string, LinkState> {
  const names = new Set<string>(known);
  for (const report of reports) for (const name of Object.keys(report.links)) names.add(name);
  const links = new Map<string, LinkState>();
  for (const name of [...names].sort()) {
    const downs: string[] = [];
    let up = false;
    for (const report of reports) {
      const state = report.answered ? report.links[name] : { connected: false, reason: report.reason ?? 'no answer' };
      if (state?.connected) up = true;
      else if (state) downs.push(reports.length > 1 ? `${report.pod}: ${state.reason}` : state.reason);
    }
    if (!up && downs.length === 0) continue;
    links.set(name, { connected: up, reason: downs.join('; ') });
  }
  return links;
}

/** Each service listener's status across the replicas: the first replica that does not listen decides; all listening is listening. */
export function siteListeners(reports: readonly ReplicaReport[]): Map<string, ListenerStatus> {
  const merged = new Map<string, ListenerStatus>();
  for (const report of reports) {
    for (const [name, status] of Object.entries(report.listeners)) {
      const seen = merged.get(name);
      if (!seen || (seen.listening && !status.listening)) merged.set(name, reports.length > 1 && !status.listening ? { ...status, reason: `${report.pod}: ${status.reason}` } : status);
    }
  }
  return merged;
}
