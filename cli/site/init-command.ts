// `kskup init`: creates the site (once) and makes sure its process runs.
import { type Command, Option } from 'commander';
import type { InitOptions } from '../../site-controller/local/local-site.js';
import { nameProblem, type RouterMode } from '../../site-controller/site/model.js';
import type { IngressType } from '../../site-controller/kubernetes/manifests.js';
import { VERSION } from '../../router/version.js';
import { parsePort, parsePositiveInteger, parseSeconds } from '../arguments.js';
import type { CommandContext } from '../command-context.js';
import { UsageError } from '../errors.js';
import { render } from '../output.js';
import { startProgress } from '../progress.js';
import { addSiteOptions, resolveSite, type KubernetesTarget, type SiteOptions } from './site-options.js';

interface InitCommandOptions extends SiteOptions {
  readonly ingress?: IngressType;
  readonly routers?: number;
  readonly image?: string;
  readonly timeout: number;
  readonly siteName?: string;
  readonly routerMode?: RouterMode;
  readonly ingressHost?: string;
  readonly ingressBindHost?: string;
  readonly listenerHost?: string;
  readonly interRouterPort?: number;
  readonly edgePort?: number;
}

const EXAMPLES = `
Examples:
  kskup init -n west                          a site "west" on this machine (or in namespace west of a cluster)
  kskup init -n west --platform kubernetes --ingress nodeport   a site in a cluster without load balancers
  kskup init -n east --router-mode edge       an edge site: links out only
  kskup init -n west --ingress-host 10.0.0.5 --inter-router-port 55671   reachable from other machines`;

export function addInitCommand(program: Command, context: CommandContext): void {
  addSiteOptions(
    program
      .command('init')
      .description('create a site and start its router; on an existing site, start its router if it is not running')
      .addOption(new Option('--site-name <name>', 'the site name (default: the namespace)'))
      .addOption(new Option('--router-mode <mode>', 'interior: accepts links; edge: only links out (default interior)').choices(['interior', 'edge']))
      .addOption(new Option('--ingress-host <host>', 'host or address other sites reach this site at (local default 127.0.0.1; kubernetes default: the ingress Service address)'))
      .addOption(new Option('--ingress <type>', 'kubernetes: how other sites reach this one (default loadbalancer)').choices(['loadbalancer', 'nodeport', 'none']))
      .addOption(new Option('--routers <n>', 'kubernetes: router replicas, each a router of its own, linked to the others (default 1; on an existing site, scales it)').argParser(parsePositiveInteger))
      .addOption(new Option('--image <image>', 'kubernetes: the kskup image (default kskup:VERSION)'))
      .addOption(new Option('--timeout <seconds>', 'kubernetes: how long to wait for the site to be ready').argParser(parseSeconds).default(120))
      .addOption(new Option('--ingress-bind-host <address>', 'address the links and claims listeners listen on (default: 127.0.0.1 for a loopback ingress host, else 0.0.0.0)'))
      .addOption(new Option('--listener-host <host>', 'address the listeners of services listen on at this site (default 127.0.0.1)'))
      .addOption(new Option('--inter-router-port <port>', 'port for links from interior sites (default: a free port, recorded)').argParser(parsePort))
      .addOption(new Option('--edge-port <port>', 'port for links from edge sites (default: a free port, recorded)').argParser(parsePort))
      .addHelpText('after', EXAMPLES),
  ).action(async (options: InitCommandOptions) => {
    const target = await resolveSite(options, context);
    if (options.siteName !== undefined && nameProblem(options.siteName)) throw new UsageError(`option --site-name: ${nameProblem(options.siteName)}`);
    if (options.interRouterPort !== undefined && options.interRouterPort === options.edgePort) {
      throw new UsageError('options --inter-router-port and --edge-port must differ');
    }
    const init: InitOptions = {
      namespace: target.namespace,
      ...(options.siteName !== undefined && { name: options.siteName }),
      ...(options.routerMode !== undefined && { mode: options.routerMode }),
      ...(options.ingressHost !== undefined && { ingressHost: options.ingressHost }),
      ...(options.ingressBindHost !== undefined && { bindHost: options.ingressBindHost }),
      ...(options.listenerHost !== undefined && { listenerHost: options.listenerHost }),
      ...(options.interRouterPort !== undefined && { interRouterPort: options.interRouterPort }),
      ...(options.edgePort !== undefined && { edgePort: options.edgePort }),
    };
    if (target.platform === 'kubernetes') return initKubernetes(target, options, context);
    for (const [flag, given] of [['--ingress', options.ingress], ['--routers', options.routers], ['--image', options.image]] as const) {
      if (given !== undefined) throw new UsageError(`option ${flag} applies to the kubernetes platform only, and the platform is local`);
    }
    const { folder } = target;
    const progress = await startProgress(context.io, options.output !== 'text');
    let outcome;
    try {
      const { initLocalSite } = await import('../../site-controller/local/local-site.js');
      outcome = await initLocalSite(folder, init, { ...(context.io.env ?? process.env) }, (step) => progress.step(step));
      progress.done(true);
    } catch (error) {
      progress.done(false);
      throw error;
    }
    const { site } = outcome.document;
    for (const ignored of outcome.ignored) context.io.stderr.write(`kskup: the site exists, so ${ignored} is ignored; kskup delete first to change it\n`);
    const data = {
      site: { name: site.name, id: site.id, namespace: target.namespace, platform: target.platform, mode: site.mode, ingressHost: site.ingressHost, bindHost: site.bindHost, ports: site.ports },
      created: outcome.created,
      process: { state: outcome.process, pid: outcome.pid, log: folder.logFile },
      state: folder.path,
    };
    context.io.stdout.write(
      await render(options.output, data, () => {
        const headline = outcome.created
          ? `Site "${site.name}" created and running`
          : outcome.process === 'started'
            ? `Site "${site.name}" exists; its process was not running and has been started`
            : `Site "${site.name}" exists and is running; nothing changed`;
        const lines = [
          `${headline} (${target.platform} platform${target.detected ? `: ${target.detected}` : ''}).`,
          `  id:        ${site.id}`,
          `  mode:      ${site.mode}`,
          ...(site.mode === 'interior'
            ? [`  links in:  ${site.ingressHost}:${site.ports.interRouter} (inter-router), ${site.ingressHost}:${site.ports.edge} (edge), claims on port ${site.ports.claims}`]
            : []),
          `  process:   pid ${outcome.pid}, log ${folder.logFile}`,
          `  state:     ${folder.path}`,
          site.mode === 'interior'
            ? `Next: kskup token create FILE -n ${target.namespace}, and kskup link create FILE at another site`
            : `Next: kskup link create FILE -n ${target.namespace} with a token from an interior site`,
        ];
        return `${lines.join('\n')}\n`;
      }),
    );
  });
}

/** A site in a cluster namespace: its objects, then a wait (with --timeout) until the controller has made it and the router runs. */
async function initKubernetes(target: KubernetesTarget, options: InitCommandOptions, context: CommandContext): Promise<void> {
  for (const [flag, given] of [['--ingress-bind-host', options.ingressBindHost], ['--listener-host', options.listenerHost], ['--inter-router-port', options.interRouterPort], ['--edge-port', options.edgePort]] as const) {
    if (given !== undefined) throw new UsageError(`option ${flag} applies to the local platform only; on kubernetes the ingress Service (--ingress) decides`);
  }
  const progress = await startProgress(context.io, options.output !== 'text');
  let outcome;
  try {
    outcome = await target.site.init(
      {
        ...(options.siteName !== undefined && { name: options.siteName }),
        ...(options.routerMode !== undefined && { mode: options.routerMode }),
        ...(options.ingress !== undefined && { ingress: options.ingress }),
        ...(options.ingressHost !== undefined && { ingressHost: options.ingressHost }),
        ...(options.routers !== undefined && { routers: options.routers }),
        ...(options.image !== undefined && { image: options.image }),
      },
      VERSION,
      options.timeout * 1000,
      (step) => progress.step(step),
    );
    progress.done(true);
  } catch (error) {
    progress.done(false);
    throw error;
  }
  const { site } = outcome.document;
  for (const ignored of outcome.ignored) context.io.stderr.write(`kskup: the site exists, so ${ignored} is ignored; kskup delete first to change it\n`);
  const { access } = target.site;
  const data = {
    site: { name: site.name, id: site.id, namespace: target.namespace, platform: target.platform, mode: site.mode, ingress: site.ingress, ingressHost: site.ingressHost, ports: site.ports },
    created: outcome.created,
    updated: outcome.updated,
    kubernetes: { context: access.context, server: access.server },
  };
  context.io.stdout.write(
    await render(options.output, data, () => {
      const headline = outcome.created
        ? `Site "${site.name}" created and ready`
        : outcome.updated.length > 0
          ? `Site "${site.name}" exists; updated in place: ${outcome.updated.join(', ')}`
          : `Site "${site.name}" exists and is ready; nothing changed`;
      const lines = [
        `${headline} (kubernetes platform${target.detected ? `: ${target.detected}` : ''}).`,
        `  cluster:   ${access.server} (context ${access.context}), namespace ${target.namespace}`,
        `  id:        ${site.id}`,
        `  mode:      ${site.mode}`,
        ...(site.mode === 'interior' && site.ingress !== 'none' ? [`  links in:  ${site.ingressHost}:${site.ports.interRouter} (inter-router), ${site.ingressHost}:${site.ports.edge} (edge), claims on port ${site.ports.claims}`] : []),
        site.mode === 'interior' && site.ingress !== 'none'
          ? `Next: kskup token create FILE -n ${target.namespace}, and kskup link create FILE (or kubectl apply -f FILE) at another site`
          : `Next: kskup link create FILE -n ${target.namespace} with a token from a site other sites can reach`,
      ];
      return `${lines.join('\n')}\n`;
    }),
  );
}
