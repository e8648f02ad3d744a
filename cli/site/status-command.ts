// `kskup status`: the site, what runs it (a local process, or a cluster's
// Deployments), its router, links and services, and which platform and why.
import type { ReplicaReport } from '../../site-controller/kubernetes/replica-status.js';
import type { Command } from 'commander';
import type { CommandContext } from '../command-context.js';
import { render } from '../output.js';
import { addSiteOptions, resolveSite, type LocalTarget, type ResolvedSite, type SiteOptions } from './site-options.js';
import type { SiteStatus } from './site-status.js';
import { SiteError } from '../../site-controller/site/errors.js';
import { siteProcessState, type ProcessState } from '../../site-controller/local/launcher.js';
import { linksData, linksText } from './status-text.js';
import { certificatesText } from './certificates-text.js';
import type { SiteDocument } from '../../site-controller/site/model.js';
import { formatCell } from '../table.js';
import { exitReason, type SupervisorRecord } from '../../site-controller/local/supervisor-record.js';

export function addStatusCommand(program: Command, context: CommandContext): void {
  addSiteOptions(
    program
      .command('status')
      .description('show the site: what runs it, its router, its links both ways, its services')
      .addHelpText('after', '\nExamples:\n  kskup status -n west\n  kskup status -n west -o json'),
  ).action(async (options: SiteOptions) => {
    const target = await resolveSite(options, context);
    const { readSiteStatus } = await import('./site-status.js');
    let status: SiteStatus;
    try {
      status = await readSiteStatus(target);
    } catch (error) {
      // A damaged site.json stops the site process at each start: what its supervisor recorded says so, and is worth showing.
      if (target.platform === 'local' && error instanceof SiteError && (await target.folder.exists())) await writeUnreadable(target, error, options, context);
      throw error;
    }
    const { site } = status.document;
    const certificates = await readCertificates(target, status.document);
    const runs = runsData(target, status.process, status.document.site.ports.amqp);
    const data = {
      site: {
        name: site.name,
        id: site.id,
        namespace: target.namespace,
        platform: target.platform,
        ...(target.detected && { platformReason: target.detected }),
        mode: site.mode,
        ingressHost: site.ingressHost,
        ...(site.ingress && { ingress: site.ingress }),
        bindHost: site.bindHost,
        ports: site.ports,
      },
      ...runs.data,
      router: { reachable: status.routerProblem === undefined, ...(status.routerProblem && { problem: status.routerProblem }), ...(status.routers && { replicas: status.routers.map(replicaData) }) },
      ...linksData(status.links, status.incoming),
      services: status.document.services.map((service) => ({
        address: service.address,
        ports: service.ports,
        targets: service.targets.map((t) => ({ type: t.type, name: t.name, host: t.host, ports: t.targetPorts })),
      })),
      servicesInNetwork: status.snapshot?.services.length ?? 0,
      ...certificates.data,
    };
    context.io.stdout.write(
      await render(options.output, data, () => {
        const ingress = site.mode !== 'interior' ? [] : site.ingress === 'none' ? ['  links in: none (--ingress none: this site links out only)'] : [`  links in: ${site.ingressHost ? `${site.ingressHost}:${site.ports.interRouter} (inter-router), ${site.ingressHost}:${site.ports.edge} (edge)` : 'pending: the ingress address is not known yet'}`];
        const lines = [
          `Site "${site.name}" (${site.mode}, ${target.platform} platform${target.detected ? `: ${target.detected}` : ''})`,
          `  id:       ${site.id}`,
          runs.line,
          `  router:   ${status.routerProblem ?? runs.routerLine}`,
          ...(status.routers ?? []).map(replicaLine),
          ...ingress,
        ];
        const connected = status.links.filter((link) => link.connected).length;
        const summary = `${status.links.length} link(s) out, ${connected} connected; ${status.incoming.filter((link) => link.connected).length} in`;
        const exposed = data.services.map((s) => `  ${s.address} port(s) ${s.ports.join(',')}: ${s.targets.map((t) => `${t.type}/${t.name}`).join(', ')}\n`).join('');
        const services = `Services exposed here:${exposed ? `\n${exposed}` : ' none\n'}Services in the network: ${data.servicesInNetwork} (kskup service status -n ${target.namespace})\n`;
        return `${certificates.warnings}${lines.join('\n')}\n  links:    ${summary}\n\n${linksText(status.links, status.incoming)}\n${services}\n${certificates.text}`;
      }),
    );
  });
}

/** What runs the site: the local site process, or the namespace's router and controller Deployments. */
function runsData(target: ResolvedSite, process: ProcessState | undefined, amqpPort: number): { data: Record<string, unknown>; line: string; routerLine: string } {
  if (target.platform === 'kubernetes') {
    const { access } = target.site;
    return {
      data: { kubernetes: { context: access.context, server: access.server, namespace: access.namespace } },
      line: `  cluster:  ${access.server} (context ${access.context}), namespace ${access.namespace}`,
      routerLine: 'StatefulSet kskup-router and Deployment kskup-controller ready',
    };
  }
  const log = target.folder.logFile;
  const running = process?.running === true;
  const supervision = supervisionData(process?.supervision, running);
  return {
    data: { process: { running, ...(process?.pid !== undefined && { pid: process.pid }), log, ...supervision?.data } },
    line: [
      `  process:  ${running ? `running, pid ${process?.pid} (supervisor)${supervision ? `; ${supervision.siteLine}` : ''}` : `NOT RUNNING${process?.pid !== undefined ? ` (pid ${process.pid} has exited)` : ''}: kskup init -n ${target.namespace} starts it again; log ${log}`}`,
      ...(supervision ? [`  restarts: ${supervision.restartsLine}`] : []),
    ].join('\n'),
    routerLine: `answering on 127.0.0.1:${amqpPort}`,
  };
}

/** A local site whose site.json cannot be read: the problem, and its process as far as its supervisor recorded it (`site.problem` in JSON). */
async function writeUnreadable(target: LocalTarget, error: SiteError, options: SiteOptions, context: CommandContext): Promise<void> {
  const runs = runsData(target, await siteProcessState(target.folder), 0);
  const data = { site: { namespace: target.namespace, platform: target.platform, problem: error.message }, ...runs.data };
  context.io.stdout.write(await render(options.output, data, () => `Site in ${target.folder.path} (local platform): CANNOT READ ITS STATE
${runs.line}
`));
}

/**
 * What the supervisor recorded: in JSON `site` (the site process: pid, state,
 * since, nextStartAt; only while the supervisor runs), `restarts` and
 * `lastExit` (code or signal, at, ranMs, error, reason); in text a clause
 * for the process line and the restarts line.
 */
function supervisionData(record: SupervisorRecord | undefined, running: boolean) {
  if (!record) return undefined;
  const { site, restarts, lastExit } = record;
  const exit = lastExit && { code: lastExit.code, signal: lastExit.signal, reason: exitReason(lastExit), at: lastExit.at, ranMs: lastExit.ranMs, ...(lastExit.error !== undefined && { error: lastExit.error }) };
  const siteLine =
    site.state === 'waiting'
      ? `site process down, restarting at ${site.nextStartAt ?? '?'} (backoff)`
      : `site process ${site.pid !== undefined ? `pid ${site.pid} ` : ''}${site.state} since ${site.since}`;
  const exitLine = exit ? `last exit: ${exit.reason}, at ${exit.at} after ${(exit.ranMs / 1000).toFixed(1)} s${exit.error ? `: ${formatCell(exit.error)}` : ''}` : 'no exit so far';
  return {
    data: { ...(running && { site: { ...(site.pid !== undefined && { pid: site.pid }), state: site.state, since: site.since, ...(site.nextStartAt && { nextStartAt: site.nextStartAt }) } }), restarts, ...(exit && { lastExit: exit }) },
    siteLine,
    restartsLine: `${restarts}${running ? '' : ' (when it last ran)'}, ${exitLine}`,
  };
}

/** A router replica in `-o json`: its id, and its links and links to the other replicas, as the controller last saw them. */
function replicaData(report: ReplicaReport) {
  const count = (states: Readonly<Record<string, { connected: boolean }>>) => ({ up: Object.values(states).filter((state) => state.connected).length, total: Object.keys(states).length });
  return { pod: report.pod, answered: report.answered, ...(report.reason && { problem: report.reason }), ...(report.id && { id: report.id }), links: count(report.links), replicaLinks: count(report.peers) };
}

/** `    kskup-router-1 (id ID-1): links 1/1 up, to replicas 1/1 up`, or why it does not answer. */
function replicaLine(report: ReplicaReport): string {
  const data = replicaData(report);
  if (!report.answered) return `    ${report.pod}: ${report.reason ?? 'does not answer'}`;
  return `    ${report.pod} (id ${report.id}): links ${data.links.up}/${data.links.total} up, to replicas ${data.replicaLinks.up}/${data.replicaLinks.total} up`;
}

/**
 * The certificates' expiry and the CA rotation phase: `certificates`,
 * `certificateWarnings` (one line each; empty when none) and `caRotation` in
 * JSON; a WARNING line each at the top of the text and a table at its end. A
 * certificate that cannot be read is reported, not fatal: status must work on
 * a damaged site.
 */
async function readCertificates(target: ResolvedSite, document: SiteDocument): Promise<{ data: Record<string, unknown>; warnings: string; text: string }> {
  const { siteCertificatesReport } = await import('../../site-controller/site/certificate-expiry.js');
  try {
    const report = await siteCertificatesReport(target.certificates, document, target.namespace);
    const warnings = report.certificates.flatMap((certificate) => (certificate.warning !== undefined ? [certificate.warning] : []));
    return {
      data: { certificates: report.certificates, certificateWarnings: warnings, caRotation: report.caRotation },
      warnings: warnings.map((warning) => `WARNING: ${warning}\n`).join(''),
      text: certificatesText(report),
    };
  } catch (error) {
    const problem = `cannot read the site's certificates: ${error instanceof Error ? error.message : String(error)}`;
    return { data: { certificatesProblem: problem }, warnings: `WARNING: ${problem}\n`, text: '' };
  }
}
