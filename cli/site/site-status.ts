// What a site looks like right now: its state joined with what its running
// router says. A local site's router is asked through management on the site's
// local AMQP port (each outgoing link's connector status, and the links other
// sites hold to it); a cluster site's controller records the same in
// ConfigMap kskup-network, since its router is not reachable from here.
import { siteProcessState, type ProcessState } from '../../site-controller/local/launcher.js';
import { readNetworkSnapshot } from '../../site-controller/local/network-snapshot.js';
import type { SiteFolder } from '../../site-controller/local/site-folder.js';
import type { KubernetesSite } from '../../site-controller/kubernetes/kube-site.js';
import type { ReplicaReport } from '../../site-controller/kubernetes/replica-status.js';
import type { ResolvedSite } from './site-options.js';
import type { NetworkSnapshot } from '../../service-controller/network-snapshot.js';
import type { SiteDocument } from '../../site-controller/site/model.js';
import { existsSync } from 'node:fs';
import { linkInRefusal, linkOutRefusal } from '../../site-controller/policy/policy-rules.js';
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
  /** Why the site's policy drops this link (its outgoingLinks); absent when it does not. */
  readonly blocked?: string;
}

export interface IncomingLink {
  readonly site: string;
  readonly siteId: string;
  readonly connected: boolean;
  readonly role: string;
  /** Why the site's policy refuses this link (its incomingLinks); absent when it does not. */
  readonly blocked?: string;
}

export interface SiteStatus {
  readonly document: SiteDocument;
  /** Local sites: the site process. */
  readonly process?: ProcessState;
  /** undefined: the router answered; otherwise why it could not be asked. */
  readonly routerProblem?: string;
  readonly links: readonly LinkStatus[];
  readonly incoming: readonly IncomingLink[];
  /** Kubernetes: each router replica as the controller last asked it. */
  readonly routers?: readonly ReplicaReport[];
  /** What the site's controller last wrote of the network; undefined before it first did. */
  readonly snapshot: NetworkSnapshot | undefined;
}

const ROUTER_TIMEOUT_MS = 3_000;

export async function readSiteStatus(target: ResolvedSite): Promise<SiteStatus> {
  const status = await (target.platform === 'local' ? readLocalSiteStatus(target.folder) : readKubernetesSiteStatus(target.site));
  return withPolicyBlocks(status);
}

/** Links the site's policy drops or refuses: not connected, and the reason is the policy's (docs/policy.md). */
function withPolicyBlocks(status: SiteStatus): SiteStatus {
  const { policy } = status.document;
  if (policy === undefined) return status;
  const links = status.links.map((link): LinkStatus => {
    const blocked = linkOutRefusal(policy, link.host);
    return blocked === undefined ? link : { ...link, connected: false, reason: `blocked by ${blocked}`, blocked };
  });
  const granted = new Map(status.document.grants.filter((grant) => grant.siteId !== undefined).map((grant) => [grant.siteId!, grant]));
  const incoming = status.incoming.map((link): IncomingLink => {
    const name = granted.get(link.siteId)?.siteName ?? (link.site !== link.siteId ? link.site : undefined);
    const blocked = linkInRefusal(policy, { id: link.siteId, ...(name !== undefined && { name }) });
    return blocked === undefined ? link : { ...link, blocked };
  });
  return { ...status, links, incoming };
}

/** A cluster site: its document, and the link state and network its controller recorded. */
async function readKubernetesSiteStatus(site: KubernetesSite): Promise<SiteStatus> {
  const storage = await site.storage();
  const [document, snapshot, recorded, routerProblem, routers] = await Promise.all([storage.read(), site.readSnapshot<NetworkSnapshot>(), site.readLinkStates(), site.routerProblem(), site.readRouterReports()]);
  const links = document.links.map((link): LinkStatus => {
    const state = recorded?.[link.name];
    const connected = state?.connected === true;
    const reason = connected ? '' : (routerProblem ?? state?.reason ?? 'not reported by the controller yet');
    return { name: link.name, connected, reason, cost: link.cost, remoteSite: link.remoteSiteName, remoteSiteId: link.remoteSiteId, host: link.host, port: link.port };
  });
  const heard = snapshot?.sites.map(({ announcement }) => announcement.site) ?? [];
  // Links into this site, from what the other sites announce of their own links.
  const incomingIds = new Set(
    (snapshot?.sites ?? []).flatMap(({ announcement }) => (announcement.links.some((link) => link.remoteSiteId === document.site.id && link.connected) ? [announcement.site.id] : [])),
  );
  const connections = [...incomingIds].map((id) => ({ dir: 'in', role: 'inter-router', container: id }));
  return { document, ...(routerProblem && { routerProblem }), ...(routers && { routers }), links, incoming: incomingLinks(document, connections, heard), snapshot };
}

async function readLocalSiteStatus(folder: SiteFolder): Promise<SiteStatus> {
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
  const snapshot = await readNetworkSnapshot<NetworkSnapshot>(folder);
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
