// `kskup expose` and `kskup unexpose`: services at this site, for every linked site.
import { isIP } from 'node:net';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { entityType } from '../../router/config/index.js';
import { nameProblem, TARGET_TYPES, type HealthCheck, type TargetType } from '../../site-controller/site/model.js';
import { DEFAULT_HEALTH_CHECK, parseDuration, parseHealth, parseThreshold, parseWeight } from './traffic-arguments.js';
import { exposeService, setServiceLimits, unexposeService } from '../../service-controller/services.js';
import { addLimitOptions, describeLimits, limitsFromOptions, type LimitOptions } from './limit-options.js';
import { SiteError } from '../../site-controller/site/errors.js';
import { canonicalSelector, parseEqualitySelector } from '../../site-controller/kubernetes/workload-targets.js';
import { parsePort } from '../arguments.js';
import type { CommandContext } from '../command-context.js';
import { RuntimeError, UsageError } from '../errors.js';
import { render } from '../output.js';
import { addSiteOptions, resolveSite, type ResolvedSite, type SiteOptions } from './site-options.js';
import { bundleFromOption } from './tls-folder.js';

interface ExposeOptions extends SiteOptions, LimitOptions {
  readonly port?: readonly number[];
  readonly selector?: string;
  readonly targetPort?: readonly number[];
  readonly address?: string;
  readonly protocol: 'tcp';
  readonly tlsCredentials?: string;
  readonly tlsCredentialsName?: string;
  readonly tlsTrust?: string;
  readonly tlsNoVerifyHostname?: true;
  readonly backlog?: number;
  readonly weight?: number;
  readonly health?: Pick<HealthCheck, 'type' | 'path'>;
  readonly healthInterval?: number;
  readonly healthTimeout?: number;
  readonly healthyThreshold?: number;
  readonly unhealthyThreshold?: number;
}

interface UnexposeOptions extends SiteOptions {
  readonly address?: string;
  readonly selector?: string;
}

const EXPOSE_EXAMPLES = `
Examples:
  kskup expose host/localhost --port 8080 --address web -n west        a local process on port 8080, as "web"
  kskup expose host/db.internal --port 5432 --address db -n west
  kskup expose deployment/backend --port 8080 -n west                  kubernetes: the Deployment's ready pods, as "backend"
  kskup expose deployment/backend --port 80,8080 --target-port 8080,8080 -n west
                 two service ports on one target port
  kskup expose statefulset/db --port 5432 -n west                      its ready pods as "db", and each pod as db-0.db, db-1.db, ...
  kskup expose service/web -n west                                     the pods the Service selects, on its ports and targetPorts
  kskup expose pods --selector app=cache,tier=edge --address cache --port 6379 -n west
  kskup expose host/127.0.0.1 --port 80,443 --target-port 8080,8443 --address shop -n west
  kskup expose host/127.0.0.1 --port 8443 --address web --tls-credentials ./web-tls -n west
                 listeners serve TLS with the bundle "web-tls" (each listening site needs its own: kskup tls import)
  kskup expose host/db.internal --port 5432 --address db --tls-trust ./db-ca -n west
                 the router speaks TLS to db.internal and verifies it against db-ca/ca.crt
  kskup expose host/127.0.0.1 --port 8080 --address web --backlog 4096 -n west
                 every site's listener for "web" queues up to 4096 connections not yet accepted
  kskup expose host/127.0.0.1 --port 8080 --address web --weight 10 -n west
                 this target gets 10 parts of the new flows for "web" (0: drain; see kskup service weights)
  kskup expose host/127.0.0.1 --port 8080 --address web --health http:/healthz --health-interval 2s -n west
                 a target whose GET /healthz is not 2xx leaves rotation everywhere, and returns when it is
  kskup expose host/127.0.0.1 --port 8080 --address web --max-flows 100 --flows-per-second 50 --bandwidth 10MiB/s -n west
                 "web" takes at most 100 flows at once, 50 new a second, 10 MiB/s each way, network-wide (see kskup service limit)

Every linked site then has a listener for each port (kskup service status shows where).`;

export function addExposeCommands(program: Command, context: CommandContext): void {
  addSiteOptions(
    addLimitOptions(program
      .command('expose')
      .description('make a service at this site usable at every linked site')
      .argument('<type/name>', `what serves it: host/HOSTNAME (local and kubernetes); deployment/NAME, statefulset/NAME, service/NAME, or pods with --selector (kubernetes)`)
      .addOption(new Option('--port <ports>', 'service port(s), comma-separated (required, except for service/NAME: default its TCP ports)').argParser(parsePortList))
      .addOption(
        new Option('--target-port <ports>', 'port(s) the target listens on, one per --port (default: the same; for service/NAME its targetPorts); several service ports may share one').argParser(
          parseTargetPortList,
        ),
      )
      .addOption(new Option('--address <name>', 'the service name other sites use (default: the target name; required for pods)'))
      .addOption(new Option('--selector <k=v,...>', 'with pods: the labels of the pods that serve it (equality only, comma-separated)'))
      .addOption(new Option('--protocol <protocol>', 'how the service is carried').choices(['tcp']).default('tcp'))
      .addOption(new Option('--tls-credentials <name-or-folder>', 'listeners serve TLS with this bundle (a folder of tls.crt, tls.key, ca.crt is imported here first); every listening site needs a bundle of that name'))
      .addOption(new Option('--tls-credentials-name <name>', 'the name to import the --tls-credentials folder as (default: the folder name)'))
      .addOption(new Option('--tls-trust <name-or-folder>', 'the target speaks TLS: verify it against this bundle\'s ca.crt (and present its tls.crt, if any); a folder is imported here first'))
      .addOption(new Option('--tls-no-verify-hostname', 'with --tls-trust: do not check that the target\'s certificate names the target host (any certificate from the CA is accepted)'))
      .addOption(
        new Option('--backlog <n>', 'listen() backlog of the service\'s listener at every site: connections queued before the router accepts them (0: the system\'s maximum, SOMAXCONN, the default)').argParser(
          parseBacklog,
        ),
      )
      .addOption(new Option('--weight <n>', 'this target\'s share of new flows, 0 (drain: no new flows) to 1000000 (default: not weighted)').argParser(parseWeight))
      .addOption(new Option('--health <check>', 'active health check of the service\'s targets: tcp (connect), or http:/PATH (GET, a 2xx status is healthy)').argParser(parseHealth))
      .addOption(new Option('--health-interval <duration>', `time between checks: 500ms, 2s, 1.5 (seconds) (default ${DEFAULT_HEALTH_CHECK.intervalMs / 1000}s)`).argParser((v) => parseDuration(v, '--health-interval')))
      .addOption(new Option('--health-timeout <duration>', `how long a check waits for its answer (default ${DEFAULT_HEALTH_CHECK.timeoutMs / 1000}s)`).argParser((v) => parseDuration(v, '--health-timeout')))
      .addOption(new Option('--healthy-threshold <n>', `successes in a row that bring a target back (default ${DEFAULT_HEALTH_CHECK.healthyThreshold})`).argParser((v) => parseThreshold(v, '--healthy-threshold')))
      .addOption(new Option('--unhealthy-threshold <n>', `failures in a row that take a target out (default ${DEFAULT_HEALTH_CHECK.unhealthyThreshold})`).argParser((v) => parseThreshold(v, '--unhealthy-threshold'))))
      .addHelpText('after', EXPOSE_EXAMPLES),
  ).action(async (spec: string, options: ExposeOptions) => {
    const limits = limitsFromOptions(options);
    const target = await resolveSite(options, context);
    const { type, name } = parseTarget(spec, target, options.selector);
    if (type === 'pods' && options.address === undefined) throw new UsageError(`"pods --selector ${name}": option --address is required (pods have no name to default it to)`);
    if (options.port === undefined && type !== 'service') throw new UsageError(`option --port is required for ${type}/ (only service/NAME has ports to default to)`);
    if (options.port === undefined && options.targetPort !== undefined) throw new UsageError('option --target-port needs --port: give the service port of each target port');
    if (options.port && options.targetPort && options.targetPort.length !== options.port.length) {
      throw new UsageError(`option --target-port has ${options.targetPort.length} port(s) but --port has ${options.port.length}: give one target port per service port`);
    }
    const address = options.address ?? name;
    const problem = nameProblem(address);
    if (problem) {
      throw new UsageError(options.address === undefined ? `the address defaults to the name "${name}", which cannot be a service address: give --address` : `option --address: ${problem}`);
    }
    if (options.tlsCredentialsName !== undefined && options.tlsCredentials === undefined) throw new UsageError('option --tls-credentials-name needs --tls-credentials FOLDER');
    if (options.tlsNoVerifyHostname && options.tlsTrust === undefined) throw new UsageError('option --tls-no-verify-hostname applies to --tls-trust, which is not given');
    const health = healthCheckOf(options);
    let chosen: { readonly ports: readonly number[]; readonly targetPorts: readonly number[] };
    if (target.platform === 'kubernetes' && type !== 'host') {
      const checks = target.site.exposeChecks;
      const refused = (problem: string) => new RuntimeError(`cannot expose ${type}/${name} as "${address}": ${problem}`);
      const problem = await checks.problem(type, name, address);
      if (problem) throw refused(problem);
      // service/NAME: ports and target ports the command line leaves out are the Service's.
      chosen =
        type === 'service'
          ? await checks.servicePorts(name, options.port && { ports: options.port, ...(options.targetPort && { targetPorts: options.targetPort }) }).catch((error: unknown) => {
              throw error instanceof SiteError ? refused(error.message) : error;
            })
          : { ports: options.port ?? [], targetPorts: options.targetPort ?? options.port ?? [] };
    } else {
      chosen = { ports: options.port ?? [], targetPorts: options.targetPort ?? options.port ?? [] };
    }
    // Ports sorted, each with its target port: the order given on the command line does not make a different service.
    const pairs = chosen.ports.map((port, index) => [port, chosen.targetPorts[index] as number] as const).sort(([a], [b]) => a - b);
    await target.storage.read();
    const snapshot = await target.readSnapshot();
    const selfId = snapshot?.self.site.id;
    const elsewhere = (wanted: string) => snapshot?.services.find((s) => s.address === wanted && s.exposedAt.some((site) => site.id !== selfId));
    // What other sites announce: TLS credentials by name, null for plain. A conflict counts as unknown: the sites there disagree already.
    const credentialsElsewhere = (wanted: string) => {
      const service = elsewhere(wanted);
      if (!service || service.tlsConflict !== undefined) return undefined;
      return service.tlsCredentials ?? null;
    };
    const verifyHostname = options.tlsNoVerifyHostname !== true;
    const imported: string[] = [];
    /** Imported for this expose and new here: removed again if the expose is refused. */
    const added: string[] = [];
    const credentials =
      options.tlsCredentials === undefined
        ? undefined
        : await bundleFromOption(target.tlsBundles, options.tlsCredentials, '--tls-credentials', 'credentials', {
            ...(options.tlsCredentialsName !== undefined && { name: options.tlsCredentialsName }),
            nameOption: '--tls-credentials-name',
            mustExist: false,
          });
    if (credentials?.imported) imported.push(credentials.name);
    if (credentials?.imported && !credentials.replaced) added.push(credentials.name);
    const trust = options.tlsTrust === undefined ? undefined : await bundleFromOption(target.tlsBundles, options.tlsTrust, '--tls-trust', 'trust', { nameOption: '--tls-trust', mustExist: true });
    if (trust?.imported) imported.push(trust.name);
    if (trust?.imported && !trust.replaced) added.push(trust.name);
    let outcome;
    try {
      outcome = await exposeService(
        target.storage,
        {
          type,
          name,
          host: name,
          address,
          ports: pairs.map(([port]) => port),
          targetPorts: pairs.map(([, port]) => port),
          ...(credentials && { tlsCredentials: credentials.name }),
          ...(trust && { tlsTrust: { name: trust.name, verifyHostname } }),
          ...(options.backlog !== undefined && { backlog: options.backlog }),
          ...(options.weight !== undefined && { weight: options.weight }),
          ...(health && { health }),
        },
        (wanted) => elsewhere(wanted)?.ports,
        new Date(),
        credentialsElsewhere,
      );
    } catch (error) {
      // The expose was refused: bundles imported for it only would be left behind.
      for (const bundle of added) await target.tlsBundles.removeTlsBundle(bundle).catch(() => undefined);
      throw error;
    }
    // The service's limits, network-wide, as kskup service limit sets them (replacing any earlier setting).
    const limitsSet = limits && (await setServiceLimits(target.storage, address, limits));
    const mapping = pairs.map(([port, targetPort]) => (port === targetPort ? String(port) : `${port}->${targetPort}`)).join(',');
    const tlsTarget = trust && { tlsTrust: { name: trust.name, verifyHostname } };
    const tlsCredentials = outcome.service.tlsCredentials;
    const data = {
      address,
      ports: outcome.service.ports,
      target: { type, name, host: name, ports: pairs.map(([, port]) => port), ...tlsTarget },
      ...(tlsCredentials !== undefined && { tlsCredentials }),
      ...(outcome.service.backlog !== undefined && { backlog: outcome.service.backlog }),
      ...(options.weight !== undefined && { weight: options.weight }),
      ...(outcome.service.health !== undefined && { health: outcome.service.health }),
      ...(limitsSet && { limits: limitsSet.limits }),
      ...(imported.length > 0 && { importedTlsBundles: imported }),
      changed: outcome.changed,
    };
    const notes = [
      ...imported.map((bundle) => `TLS bundle "${bundle}" imported at this site.`),
      ...(tlsCredentials !== undefined
        ? [`Listeners serve TLS with the bundle "${tlsCredentials}"; a site without its own bundle of that name has no listener (kskup tls import FOLDER --name ${tlsCredentials} -n SITE).`]
        : []),
      ...(credentials && !credentials.found ? [`This site has no bundle "${credentials.name}" yet: it will not listen for "${address}" until it has.`] : []),
      ...(options.backlog !== undefined ? [`Its listeners at every site have backlog ${options.backlog}${options.backlog === 0 ? ' (the system\'s maximum, SOMAXCONN)' : ''}.`] : []),
      ...(options.weight !== undefined ? [`The target has weight ${options.weight}${options.weight === 0 ? ' (drained: no new flows; open ones finish)' : ''}.`] : []),
      ...(health ? [`Health check: ${health.type === 'http' ? `GET ${health.path}, 2xx is healthy` : 'TCP connect'}, every ${health.intervalMs} ms (timeout ${health.timeoutMs} ms); out after ${health.unhealthyThreshold} failure(s) in a row, back after ${health.healthyThreshold} success(es).`] : []),
      ...(limits ? [`Limits of "${address}", network-wide: ${describeLimits(limits)} (kskup service limit changes them).`] : []),
      ...(trust && !verifyHostname ? [`The target's certificate is not checked for the name "${name}": any certificate from the bundle's CA is accepted.`] : []),
    ];
    context.io.stdout.write(
      await render(options.output, data, () =>
        [
          outcome.changed
            ? `Service "${address}" exposed: ${type}/${name} on port(s) ${mapping}. Linked sites get a listener for it within a second: kskup service status -n ${target.namespace}`
            : `Service "${address}" already has ${type}/${name} on port(s) ${mapping}; nothing changed.`,
          ...notes,
        ].join('\n') + '\n',
      ),
    );
  });

  addSiteOptions(
    program
      .command('unexpose')
      .description('remove a target; when no site has a target left, the service goes away everywhere')
      .argument('<type/name>', 'the target, as given to kskup expose')
      .addOption(new Option('--address <name>', 'only as this service (default: every service it serves)'))
      .addOption(new Option('--selector <k=v,...>', 'with pods: the selector it was exposed with'))
      .addHelpText('after', '\nExamples:\n  kskup unexpose host/localhost --address web -n west\n  kskup unexpose pods --selector app=cache -n west'),
  ).action(async (spec: string, options: UnexposeOptions) => {
    const target = await resolveSite(options, context);
    const { type, name } = parseTarget(spec, target, options.selector, 'unexpose');
    const { removed } = await unexposeService(target.storage, type, name, options.address);
    context.io.stdout.write(
      await render(options.output, { target: `${type}/${name}`, removed }, () =>
        removed
          .map(({ address, serviceGone }) => `${type}/${name} no longer serves "${address}"${serviceGone ? '; the service is gone from this site' : ''}.\n`)
          .join(''),
      ),
    );
  });
}

/** `type/NAME`, or `pods` with --selector (the target's name is then the selector, keys sorted). */
/** `unexpose` takes every kind a target can be of (annotations expose kinds the CLI cannot: daemonset/NAME). */
function parseTarget(spec: string, site: ResolvedSite, selector: string | undefined, purpose: 'expose' | 'unexpose' = 'expose'): { type: TargetType; name: string } {
  if (spec === 'pods' || spec.startsWith('pods/')) {
    if (spec !== 'pods') throw new UsageError(`"${spec}": pods have no name; give "pods --selector k=v[,k2=v2]"`);
    if (site.platform === 'local') throw new UsageError('"pods": pods need the kubernetes platform; on the local platform expose host/HOSTNAME');
    if (selector === undefined) throw new UsageError('"pods": option --selector k=v[,k2=v2] is required (the labels of the pods that serve it)');
    const labels = parseEqualitySelector(selector);
    if (typeof labels === 'string') throw new UsageError(`option --selector: ${labels}`);
    return { type: 'pods', name: canonicalSelector(labels) };
  }
  if (selector !== undefined) throw new UsageError(`option --selector applies to pods only, not to "${spec}"`);
  const slash = spec.indexOf('/');
  const type = slash < 0 ? spec : spec.slice(0, slash);
  const name = slash < 0 ? '' : spec.slice(slash + 1);
  if (!(TARGET_TYPES as readonly string[]).includes(type)) {
    throw new UsageError(`"${spec}": unknown type "${type}"; use host/HOSTNAME, or deployment/NAME, statefulset/NAME, service/NAME or pods --selector k=v on the kubernetes platform`);
  }
  if (name === '') throw new UsageError(`"${spec}": no name after "${type}/"`);
  if (type !== 'host' && site.platform === 'local') {
    throw new UsageError(`"${spec}": a ${type} needs the kubernetes platform; on the local platform expose host/HOSTNAME`);
  }
  if (type === 'daemonset' && purpose === 'expose') {
    throw new RuntimeError(`"${spec}": exposing a DaemonSet with kskup expose is not available in this version yet; annotate it with kskup.io/proxy=tcp (docs/services.md, Annotations)`);
  }
  const kind = { deployment: 'Deployment', statefulset: 'StatefulSet', daemonset: 'DaemonSet', service: 'Service' }[type as 'deployment' | 'statefulset' | 'daemonset' | 'service'];
  if (kind && nameProblem(name)) throw new UsageError(`"${spec}": "${name}" is not a ${kind} name: ${nameProblem(name)}`);
  if (type === 'host' && !isHostName(name)) throw new UsageError(`"${spec}": "${name}" is not a host name or IP address`);
  return { type: type as TargetType, name };
}

function isHostName(name: string): boolean {
  return isIP(name) !== 0 || /^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/.test(name);
}

/** skupper-router's tcpListener `backlog`, in the range its schema gives (router/config/schema.ts). */
function parseBacklog(value: string): number {
  const { min = 0, max } = entityType('tcpListener')?.attributes.backlog ?? {};
  const backlog = /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(backlog) || backlog < min || (max !== undefined && backlog > max)) {
    throw new InvalidArgumentError(`"${value}" is not a listen() backlog: give a whole number of at least ${min}${max === undefined ? '' : ` and at most ${max}`} (0: the system's maximum, SOMAXCONN).`);
  }
  return backlog;
}

/** Target ports: as a Kubernetes Service's targetPort, several service ports may lead to one. */
function parseTargetPortList(value: string): number[] {
  return value.split(',').map((item) => {
    try {
      return parsePort(item.trim());
    } catch {
      throw new InvalidArgumentError(`"${item}" is not a port number (1-65535).`);
    }
  });
}

function parsePortList(value: string): number[] {
  const ports = value.split(',').map((item) => {
    try {
      return parsePort(item.trim());
    } catch {
      throw new InvalidArgumentError(`"${item}" is not a port number (1-65535).`);
    }
  });
  if (new Set(ports).size !== ports.length) throw new InvalidArgumentError('a port is given twice.');
  return ports;
}

/** The health check the options ask for; the timing options need --health. */
function healthCheckOf(options: ExposeOptions): HealthCheck | undefined {
  const timing = (['healthInterval', 'healthTimeout', 'healthyThreshold', 'unhealthyThreshold'] as const).filter((key) => options[key] !== undefined);
  if (options.health === undefined) {
    if (timing.length > 0) throw new UsageError(`option --${timing[0]!.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs --health tcp or --health http:/PATH`);
    return undefined;
  }
  const check: HealthCheck = {
    ...options.health,
    intervalMs: options.healthInterval ?? DEFAULT_HEALTH_CHECK.intervalMs,
    timeoutMs: options.healthTimeout ?? DEFAULT_HEALTH_CHECK.timeoutMs,
    healthyThreshold: options.healthyThreshold ?? DEFAULT_HEALTH_CHECK.healthyThreshold,
    unhealthyThreshold: options.unhealthyThreshold ?? DEFAULT_HEALTH_CHECK.unhealthyThreshold,
  };
  if (check.timeoutMs > check.intervalMs) throw new UsageError(`option --health-timeout (${check.timeoutMs} ms) is longer than --health-interval (${check.intervalMs} ms): a check must end before the next one`);
  return check;
}
