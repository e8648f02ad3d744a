// What a local site looks like right now: its state joined with what its
// running router says (through management on the site's local AMQP port): each
// outgoing link's connector status, and the links other sites hold to it.
import { siteProcessState, type ProcessState } from '../../site-controller/local/launcher.js';
import { readNetworkSnapshot } from '../../site-controller/local/network-snapshot.js';
import type { SiteFolder } from '../../site-controller/local/site-folder.js';
import type { NetworkSnapshot } from '../../site-controller/site/site-controller.js';
import type { SiteDocument } from '../../site-controller/site/model.js';
import { existsSync } from 'node:fs';
import { ManagementClient, type Entity, type ManagementTarget } from '../../router/management/management-client.js';

export interface LinkStatus {
  readonly name: string;
  readonly connected: boolean;
  /** Why not, when not; '' when connected. */
  readonly reason: string;
  readonly cost: number;
  readonly remoteSite: string;
  readonly remoteSiteId: string;
  readonly host: string;
  readonly port: number;
}

export interface IncomingLink {
  readonly site: string;
  readonly siteId: string;
  readonly connected: boolean;
  readonly role: string;
}

export interface SiteStatus {
  readonly document: SiteDocument;
  readonly process: ProcessState;
  /** undefined: the router answered; otherwise why it could not be asked. */
  readonly routerProblem?: string;
  readonly links: readonly LinkStatus[];
  readonly incoming: readonly IncomingLink[];
  /** What the site's controller last wrote of the network; undefined before it first did. */
  readonly snapshot: NetworkSnapshot | undefined;
}

const ROUTER_TIMEOUT_MS = 3_000;

export async function readSiteStatus(folder: SiteFolder): Promise<SiteStatus> {
  const document = await folder.read();
  const process = await siteProcessState(folder);
  let connectors: Entity[] = [];
  let connections: Entity[] = [];
  let routerProblem: string | undefined;
  if (!process.running) {
    routerProblem = 'the site process is not running (kskup init starts it again)';
  } else {
    try {
      const client = await ManagementClient.connect(await localRouterTarget(folder, document), { timeoutMs: ROUTER_TIMEOUT_MS });
      try {
        [connectors, connections] = await Promise.all([client.query('connector'), client.query('connection')]);
      } finally {
        await client.close();
      }
    } catch (error) {
      routerProblem = `the site's router does not answer: ${error instanceof Error ? error.message : String(error)}`;
    }
  }

  const links = document.links.map((link): LinkStatus => {
    const row = connectors.find((connector) => connector.name === `link-${link.name}`);
    const connected = row?.connectionStatus === 'up';
    const reason = connected ? '' : (routerProblem ?? linkReason(row));
    return { name: link.name, connected, reason, cost: link.cost, remoteSite: link.remoteSiteName, remoteSiteId: link.remoteSiteId, host: link.host, port: link.port };
  });
  // Sites heard through service sync name the links made with cert tokens too.
  const snapshot = await readNetworkSnapshot(folder);
  const heard = snapshot?.sites.map(({ announcement }) => announcement.site) ?? [];
  return { document, process, ...(routerProblem && { routerProblem }), links, incoming: incomingLinks(document, connections, heard), snapshot };
}

/** The site router's local listener, with the site's local client certificate where the site has one. */
export async function localRouterTarget(folder: SiteFolder, document: SiteDocument): Promise<ManagementTarget> {
  const target = { host: '127.0.0.1', port: document.site.ports.amqp };
  return existsSync(folder.localFiles.clientKey) ? { ...target, tls: await folder.localClientTls() } : target;
}

function linkReason(row: Entity | undefined): string {
  if (!row) return 'not configured in the router yet';
  const message = typeof row.connectionMsg === 'string' ? row.connectionMsg : '';
  if (message !== '') return message;
  return row.connectionStatus === 'connecting' ? 'connecting' : String(row.connectionStatus ?? 'unknown');
}

/**
 * Links from other sites: the inter-router and edge connections the router
 * accepted (the peer's container id is its site id), plus sites granted access
 * through claims that are not connected now.
 */
function incomingLinks(document: SiteDocument, connections: readonly Entity[], heard: readonly { id: string; name: string }[]): IncomingLink[] {
  const names = new Map<string, string>(heard.map((site) => [site.id, site.name]));
  for (const grant of document.grants) if (grant.siteId && grant.siteName) names.set(grant.siteId, grant.siteName);
  for (const link of document.links) names.set(link.remoteSiteId, link.remoteSiteName);
  const outgoingTo = new Set(document.links.map((link) => link.remoteSiteId));
  const incoming = new Map<string, IncomingLink>();
  for (const connection of connections) {
    if (connection.dir !== 'in' || (connection.role !== 'inter-router' && connection.role !== 'edge')) continue;
    const siteId = String(connection.container ?? '');
    if (outgoingTo.has(siteId)) continue;
    incoming.set(siteId, { site: names.get(siteId) ?? siteId, siteId, connected: true, role: String(connection.role) });
  }
  for (const grant of document.grants) {
    if (!grant.siteId || grant.revokedAt !== undefined || incoming.has(grant.siteId)) continue;
    incoming.set(grant.siteId, { site: grant.siteName ?? grant.siteId, siteId: grant.siteId, connected: false, role: '' });
  }
  return [...incoming.values()].sort((a, b) => a.site.localeCompare(b.site));
}
