// The console page: one server-sent event stream (/api/events) brings a
// snapshot of the network whenever it changes; each one redraws the graph and
// the tables. No polling and no reloads; EventSource reconnects by itself
// when the stream drops, and the status line says so meanwhile.
import { byId, cell, fillBody, row } from './dom.js';
import { formatRate } from './format.js';
import { NetworkGraph } from './graph.js';
import type { FeedState, Flow, Service, Site, Snapshot } from './types.js';

const graph = new NetworkGraph(byId('graph'), byId('graph-focus'), openSite);
const live = byId<HTMLParagraphElement>('live');
let latest: Snapshot | undefined;
/** The site whose detail is shown; undefined: the console's own. */
let selectedSite: string | undefined;

const filters = {
  service: byId<HTMLInputElement>('filter-service'),
  site: byId<HTMLInputElement>('filter-site'),
  errors: byId<HTMLInputElement>('filter-errors'),
};
for (const input of Object.values(filters)) input.addEventListener('input', () => latest && renderFlows(latest));
byId<HTMLFormElement>('flow-filters').addEventListener('submit', (event) => event.preventDefault());

const events = new EventSource('api/events');
events.addEventListener('snapshot', (event) => {
  const state = JSON.parse((event as MessageEvent<string>).data) as FeedState;
  if (state.snapshot) render(state.snapshot);
  const at = state.snapshot ? new Date(state.snapshot.gatheredAt).toLocaleTimeString() : 'never';
  live.textContent = state.problem ? `Problem: ${state.problem} (last update ${at})` : `Live, updated ${at}`;
  live.className = state.problem ? 'problem' : 'ok';
});
events.addEventListener('error', () => {
  live.textContent = 'Disconnected from the console server: reconnecting…';
  live.className = 'problem';
});

function render(snapshot: Snapshot): void {
  latest = snapshot;
  byId('site-name').textContent = `— site ${snapshot.site.name}`;
  graph.update(snapshot.sites, snapshot.links);
  fillBody(
    'sites-table',
    snapshot.sites.map((s) =>
      row([siteButton(s), cell(s.platform), cell(s.mode), cell(s.version ?? 'not announced'), cell(s.lastHeard ? ago(s.lastHeard) : '—')], s.name === shownSite(snapshot)?.name ? 'selected' : ''),
    ),
    'No sites reported yet',
  );
  fillBody(
    'links-table',
    snapshot.links.map((l) => {
      const rate = cell(formatRate(l.bytesPerSecond), 'rate');
      if (l.bytesPerSecond !== undefined) rate.dataset.bytesPerSecond = String(l.bytesPerSecond);
      return row([cell(l.from), cell(l.to), cell(l.up ? 'up' : 'down', l.up ? 'up' : 'down'), cell(l.cost ?? '—'), rate, cell(l.reason || '')], l.up ? '' : 'error');
    }),
    'No links',
  );
  fillBody(
    'services-table',
    snapshot.services.map((s) =>
      row([
        cell(s.address),
        cell(s.ports.join(', ')),
        cell(s.exposedAt.join(', ')),
        cell(s.targets.map((t) => `${t.host}:${t.port} at ${t.site} (${t.healthy ? 'healthy' : 'not answering'})`).join('; ') || 'none', s.targets.every((t) => t.healthy) ? '' : 'down'),
        cell(
          [
            ...s.listeners.map((l) => `${l.site}: ${l.host}:${l.port} for ${l.servicePort}${l.listening ? '' : ` NOT LISTENING: ${l.reason ?? ''}`}`),
            ...s.listenersUnknownAt.map((site) => `${site}: not announced (older site)`),
          ].join('; ') || 'none',
          'listeners',
        ),
        cell(`${s.traffic.opened} opened, ${s.traffic.failed} failed`),
        cell(s.traffic.requestBytes, 'bytes-to-targets'),
        cell(s.traffic.responseBytes, 'bytes-back'),
        cell(policyText(s), 'policy'),
      ], s.policy.deniedHere !== undefined || s.policy.refused.length > 0 ? 'error' : ''),
    ),
    'No services in the network',
  );
  renderFlows(snapshot);
  renderSite(snapshot);
}

function renderFlows(snapshot: Snapshot): void {
  const service = filters.service.value.trim();
  const site = filters.site.value.trim();
  const shown = snapshot.flows.filter(
    (f) => (service === '' || f.service.includes(service)) && (site === '' || f.listenerSite === site || f.connectorSite === site) && (!filters.errors.checked || isError(f)),
  );
  fillBody(
    'flows-table',
    shown.map((f) =>
      row(
        [
          cell(new Date(f.startTime).toLocaleTimeString()),
          cell(f.service),
          cell(f.client ?? '—'),
          cell(f.listenerSite ?? '—'),
          cell(f.connectorSite ?? '—'),
          cell(f.target ?? '—'),
          cell(f.octets),
          cell(f.octetsReverse),
          cell(f.durationMs === undefined ? 'open' : `${(f.durationMs / 1000).toFixed(3)} s`),
          // The word "error" too, not colour alone.
          cell(isError(f) ? `error: ${f.result}${f.reason ? ` (${f.reason})` : ''}` : f.result, 'outcome'),
        ],
        isError(f) ? 'error' : '',
      ),
    ),
    'No flows recorded that match',
  );
  const problems = byId('flow-problems');
  problems.replaceChildren(...snapshot.flowProblems.map((text) => Object.assign(document.createElement('li'), { textContent: text })));
}

/** A site's name as a button that opens its detail: the keyboard path to every site (the graph's alternative). */
function siteButton(site: Site): HTMLTableCellElement {
  const td = cell('');
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'site-link';
  button.textContent = site.self ? `${site.name} (this site)` : site.name;
  button.setAttribute('aria-controls', 'site');
  button.addEventListener('click', () => openSite(site.name));
  td.append(button);
  return td;
}

/** Shows a site's detail and moves the focus to it, so keyboard and screen-reader users land there. */
function openSite(name: string): void {
  selectedSite = name;
  if (latest) render(latest);
  byId('site-title').focus();
}

function shownSite(snapshot: Snapshot): Site | undefined {
  return snapshot.sites.find((s) => s.name === selectedSite) ?? snapshot.sites.find((s) => s.self);
}

function renderSite(snapshot: Snapshot): void {
  const site = shownSite(snapshot);
  if (!site) return;
  const own = site.self ? snapshot.site : undefined;
  byId('site-title').textContent = `Site ${site.name}${site.self ? ' (this site)' : ''}`;
  const entries: [string, string][] = [
    ['Name', site.name],
    ['Id', site.id],
    ['Platform', site.platform],
    ['Router mode', site.mode],
    ['Router', own ? (own.routerProblem ?? 'answering') : routerSummary(site)],
    ['kskup version', site.version ?? 'not announced (a site older than the field)'],
    ...(site.lastHeard ? [['Last heard', ago(site.lastHeard)] as [string, string]] : []),
  ];
  byId('site-detail').replaceChildren(
    ...entries.flatMap(([term, value]) => [Object.assign(document.createElement('dt'), { textContent: term }), Object.assign(document.createElement('dd'), { textContent: value })]),
  );
  fillBody('routers-table', site.routers.map((r) => row([cell(r.id), cell(r.state, r.state === 'answered' ? 'up' : 'down'), cell(r.version ?? '—')], r.state === 'answered' ? '' : 'error')), 'No router answered');
  fillBody(
    'own-links-table',
    site.links.map((l) => row([cell(l.to), cell(l.up ? 'up' : 'down', l.up ? 'up' : 'down'), cell(l.cost ?? '—'), cell(l.reason ?? '', 'reason')], l.up ? '' : 'error')),
    'This site made no links',
  );
  // Into the console's own site: its router's connections; into another: the links the sites announce.
  const incoming = own
    ? own.incoming.map((l) => row([cell(l.site), cell(l.connected ? 'connected' : 'not connected'), cell(l.role || '—')]))
    : snapshot.links.filter((l) => l.to === site.name).map((l) => row([cell(l.from), cell(l.up ? 'connected' : 'not connected'), cell('—')]));
  fillBody('incoming-table', incoming, 'None');
  fillBody('blocked-table', site.blocked.map((b) => row([cell(b.kind), cell(b.subject), cell(b.reason, 'reason')], 'error')), site.self ? 'Nothing: no policy blocks anything here' : 'Nothing that this site announces');
}

/** A service's policy in one cell: who may reach it where, why this site has no listener, flows refused. Words, not colour alone. */
function policyText(service: Service): string {
  const { policy } = service;
  return (
    [
      ...policy.access.map((a) => `at ${a.site}: only ${a.allowedSites.length === 0 ? `${a.site} itself` : a.allowedSites.join(', ')} may reach it`),
      ...(policy.notImportedHere === undefined ? [] : [`not imported here: ${policy.notImportedHere}`]),
      ...(policy.deniedHere === undefined ? [] : [`no listener here: ${policy.deniedHere}`]),
      ...policy.refused.map((r) => `${r.flows} flow(s) from ${r.from} refused at ${r.at}`),
    ].join('; ') || '—'
  );
}

/** Another site's routers in a line: how many answered the flow query, and their versions. */
function routerSummary(site: Site): string {
  if (site.routers.length === 0) return 'no answer from its routers (none known, or the flow query failed)';
  const answered = site.routers.filter((r) => r.state === 'answered').length;
  return `${answered} of ${site.routers.length} answering`;
}

/** Every outcome but a clean close (flow records' result, docs/flows.md) is an error; an open flow is none yet. */
function isError(flow: Flow): boolean {
  return flow.result !== 'closed' && flow.result !== 'open';
}

function ago(iso: string): string {
  return `${Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000))} s ago`;
}
