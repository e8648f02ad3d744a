// Text and data views of a site's links, shared by `kskup status` and `kskup link status`.
import { formatCell, formatTable } from '../table.js';
import type { IncomingLink, LinkStatus } from './site-status.js';

/** The JSON/YAML shape: `{links: [{name, connected, reason, cost, remoteSite}], incoming: [{site, connected}]}` and a little more. */
export function linksData(links: readonly LinkStatus[], incoming: readonly IncomingLink[]) {
  return {
    links: links.map((link) => ({
      name: link.name,
      connected: link.connected,
      reason: link.reason,
      cost: link.cost,
      remoteSite: link.remoteSite,
      remoteSiteId: link.remoteSiteId,
      endpoint: `${link.host}:${link.port}`,
      ...(link.blocked !== undefined && { blocked: link.blocked }),
    })),
    incoming: incoming.map((link) => ({ site: link.site, siteId: link.siteId, connected: link.connected, ...(link.blocked !== undefined && { blocked: link.blocked }) })),
  };
}

export function linksText(links: readonly LinkStatus[], incoming: readonly IncomingLink[]): string {
  const outgoing =
    links.length === 0
      ? 'Links to other sites: none\n'
      : `Links to other sites:\n${indent(
          formatTable(
            ['NAME', 'REMOTE SITE', 'ENDPOINT', 'COST', 'STATUS'],
            links.map((link) => [link.name, link.remoteSite, `${link.host}:${link.port}`, String(link.cost), link.connected ? 'connected' : `not connected: ${formatCell(link.reason)}`]),
          ),
        )}`;
  const from =
    incoming.length === 0
      ? 'Links from other sites: none\n'
      : `Links from other sites:\n${indent(formatTable(['SITE', 'STATUS'], incoming.map((link) => [link.site, link.blocked !== undefined ? `blocked by ${formatCell(link.blocked)}` : link.connected ? 'connected' : 'not connected'])))}`;
  return outgoing + from;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => (line === '' ? line : `  ${line}`))
    .join('\n');
}
