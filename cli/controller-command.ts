// `kskup controller run`: the controller of a Kubernetes site, in its pod (the
// in-cluster service account) or outside the cluster for development and
// tests (--kubeconfig, --context). Runs until SIGTERM or SIGINT, then stops
// cleanly. Logs are JSON lines on stderr, as the router's.
import { type Command, Option } from 'commander';
import { parsePort } from './arguments.js';
import type { CommandContext } from './command-context.js';
import { UsageError } from './errors.js';

interface RunOptions {
  readonly namespace?: string;
  readonly context?: string;
  readonly kubeconfig?: string;
  readonly healthPort?: number;
  readonly claimsPort?: number;
  readonly router?: string;
  readonly nodeAddress?: string;
  readonly podProbes: 'auto' | 'on' | 'off';
  readonly logLevel: string;
  readonly debug?: true;
}

const EXAMPLES = `
Examples:
  kskup controller run                                   in the controller pod (what the Deployment runs)
  kskup controller run --kubeconfig kc.yaml -n west --router 127.0.0.1:5671   outside the cluster`;

export function addControllerCommands(program: Command, context: CommandContext): void {
  const controller = program.command('controller').description('the controller of a Kubernetes site');
  controller
    .command('run')
    .description("run a Kubernetes site's controller: keeps the site's keys, router config, links and service sync")
    .addOption(new Option('-n, --namespace <name>', "the site's namespace (default: the pod's, or the context's)"))
    .addOption(new Option('--context <name>', 'kubeconfig context'))
    .addOption(new Option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, else in-cluster)'))
    .addOption(new Option('--health-port <port>', '/healthz and /readyz (default 8080)').argParser(parsePort))
    .addOption(new Option('--claims-port <port>', 'the claims endpoint (default 8081)').argParser(parsePort))
    .addOption(new Option('--router <host:port>', "the router's local AMQP listener (default: its Service, kskup-router-local.NAMESPACE.svc:5671)"))
    .addOption(new Option('--node-address <address>', 'the node this runs on, for --ingress nodeport (default: $KSKUP_NODE_ADDRESS)'))
    .addOption(
      new Option('--pod-probes <when>', 'probe ready pods\' target ports over TCP; auto: only in a pod (KUBERNETES_SERVICE_HOST), where pod IPs can be reached')
        .choices(['auto', 'on', 'off'])
        .default('auto'),
    )
    .addOption(new Option('--log-level <level>', 'lowest level logged').choices(['trace', 'debug', 'info', 'warn', 'error']).default('info'))
    .option('--debug', 'show stack traces of errors')
    .addHelpText('after', EXAMPLES)
    .action(async (options: RunOptions) => {
      context.debug = options.debug === true;
      const env = context.io.env ?? process.env;
      const router = options.router === undefined ? undefined : parseHostPort(options.router);
      const [{ kubernetesAccess, isInCluster }, { runKubernetesController }, { createRouterLogging }, { syncTimingsFromEnv }, { siteServices }, { probeTarget }] = await Promise.all([
        import('../site-controller/kubernetes/kube-access.js'),
        import('../site-controller/kubernetes/kube-controller.js'),
        import('../router/log/logger.js'),
        import('../service-controller/service-controller.js'),
        import('../service-controller/compose.js'),
        import('../service-controller/target-health.js'),
      ]);
      const access = kubernetesAccess(
        { ...(options.kubeconfig !== undefined && { kubeconfig: options.kubeconfig }), ...(options.context !== undefined && { context: options.context }), ...(options.namespace !== undefined && { namespace: options.namespace }) },
        env,
      );
      const log = createRouterLogging({ commandLineLevel: options.logLevel as 'info', base: { namespace: access.namespace } }).module('CONTROLLER');
      const nodeAddress = options.nodeAddress ?? env.KSKUP_NODE_ADDRESS;
      const timings = syncTimingsFromEnv(env);
      const running = await runKubernetesController({
        kubeConfig: access.kubeConfig,
        namespace: access.namespace,
        log,
        // The Kubernetes platform's composition: its site controller drives these services.
        services: siteServices(timings),
        podProbePeriodMs: timings.healthMs,
        probeTarget,
        ...(options.healthPort !== undefined && { healthPort: options.healthPort }),
        ...(options.claimsPort !== undefined && { claimsPort: options.claimsPort }),
        ...(nodeAddress && { nodeAddress }),
        ...(router && { router }),
        // Outside the cluster pod IPs are (usually) out of reach: every probe would fail, so readiness alone counts.
        podProbes: options.podProbes === 'auto' ? isInCluster(env) : options.podProbes === 'on',
      });
      await (context.io.stopped ?? new Promise<void>((resolve) => process.once('SIGTERM', resolve)));
      await running.stop();
    });
}

function parseHostPort(value: string): { host: string; port: number } {
  const colon = value.lastIndexOf(':');
  const host = value.slice(0, colon);
  const port = Number(value.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`option --router: "${value}" is not HOST:PORT`);
  return { host, port };
}
