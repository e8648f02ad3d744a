// `kskup expose` and `kskup unexpose`: services at this site, for every linked site.
import { isIP } from 'node:net';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { nameProblem, TARGET_TYPES, type TargetType } from '../../site-controller/site/model.js';
import { exposeService, unexposeService } from '../../service-controller/services.js';
import { parsePort } from '../arguments.js';
import type { CommandContext } from '../command-context.js';
import { RuntimeError, UsageError } from '../errors.js';
import { render } from '../output.js';
import { addSiteOptions, resolveSite, type ResolvedSite, type SiteOptions } from './site-options.js';
import { bundleFromOption } from './tls-folder.js';

interface ExposeOptions extends SiteOptions {
  readonly port: readonly number[];
  readonly targetPort?: readonly number[];
  readonly address?: string;
  readonly protocol: 'tcp';
  readonly tlsCredentials?: string;
  readonly tlsCredentialsName?: string;
  readonly tlsTrust?: string;
  readonly tlsNoVerifyHostname?: true;
}

interface UnexposeOptions extends SiteOptions {
  readonly address?: string;
}

const EXPOSE_EXAMPLES = `
Examples:
  kskup expose host/localhost --port 8080 --address web -n west        a local process on port 8080, as "web"
  kskup expose host/db.internal --port 5432 --address db -n west
  kskup expose deployment/backend --port 8080 -n west                  kubernetes: the Deployment's ready pods, as "backend"
  kskup expose deployment/backend --port 80,8080 --target-port 8080,8080 -n west
                 two service ports on one target port
  kskup expose host/127.0.0.1 --port 80,443 --target-port 8080,8443 --address shop -n west
  kskup expose host/127.0.0.1 --port 8443 --address web --tls-credentials ./web-tls -n west
                 listeners serve TLS with the bundle "web-tls" (each listening site needs its own: kskup tls import)
  kskup expose host/db.internal --port 5432 --address db --tls-trust ./db-ca -n west
                 the router speaks TLS to db.internal and verifies it against db-ca/ca.crt

Every linked site then has a listener for each port (kskup service status shows where).`;

export function addExposeCommands(program: Command, context: CommandContext): void {
  addSiteOptions(
    program
      .command('expose')
      .description('make a service at this site usable at every linked site')
      .argument('<type/name>', `what serves it: host/HOSTNAME (local and kubernetes), or deployment/NAME (kubernetes)`)
      .addOption(new Option('--port <ports>', 'service port(s), comma-separated').argParser(parsePortList).makeOptionMandatory())
      .addOption(new Option('--target-port <ports>', 'port(s) the target listens on, one per --port (default: the same); several service ports may share one').argParser(parseTargetPortList))
      .addOption(new Option('--address <name>', 'the service name other sites use (default: the target name)'))
      .addOption(new Option('--protocol <protocol>', 'how the service is carried').choices(['tcp']).default('tcp'))
      .addOption(new Option('--tls-credentials <name-or-folder>', 'listeners serve TLS with this bundle (a folder of tls.crt, tls.key, ca.crt is imported here first); every listening site needs a bundle of that name'))
      .addOption(new Option('--tls-credentials-name <name>', 'the name to import the --tls-credentials folder as (default: the folder name)'))
      .addOption(new Option('--tls-trust <name-or-folder>', 'the target speaks TLS: verify it against this bundle\'s ca.crt (and present its tls.crt, if any); a folder is imported here first'))
      .addOption(new Option('--tls-no-verify-hostname', 'with --tls-trust: do not check that the target\'s certificate names the target host (any certificate from the CA is accepted)'))
      .addHelpText('after', EXPOSE_EXAMPLES),
  ).action(async (spec: string, options: ExposeOptions) => {
    const target = await resolveSite(options, context);
    const { type, name } = parseTarget(spec, target);
    const targetPorts = options.targetPort ?? options.port;
    if (targetPorts.length !== options.port.length) {
      throw new UsageError(`option --target-port has ${targetPorts.length} port(s) but --port has ${options.port.length}: give one target port per service port`);
    }
    const address = options.address ?? name;
    const problem = nameProblem(address);
    if (problem) {
      throw new UsageError(options.address === undefined ? `the address defaults to the name "${name}", which cannot be a service address: give --address` : `option --address: ${problem}`);
    }
    // Ports sorted, each with its target port: the order given on the command line does not make a different service.
    const pairs = options.port.map((port, index) => [port, targetPorts[index] as number] as const).sort(([a], [b]) => a - b);
    if (target.platform === 'kubernetes' && type === 'deployment') {
      const problem = await target.site.exposeProblem(name, address);
      if (problem) throw new RuntimeError(`cannot expose ${type}/${name} as "${address}": ${problem}`);
    }
    if (options.tlsCredentialsName !== undefined && options.tlsCredentials === undefined) throw new UsageError('option --tls-credentials-name needs --tls-credentials FOLDER');
    if (options.tlsNoVerifyHostname && options.tlsTrust === undefined) throw new UsageError('option --tls-no-verify-hostname applies to --tls-trust, which is not given');
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
    const mapping = pairs.map(([port, targetPort]) => (port === targetPort ? String(port) : `${port}->${targetPort}`)).join(',');
    const tlsTarget = trust && { tlsTrust: { name: trust.name, verifyHostname } };
    const tlsCredentials = outcome.service.tlsCredentials;
    const data = {
      address,
      ports: outcome.service.ports,
      target: { type, name, host: name, ports: pairs.map(([, port]) => port), ...tlsTarget },
      ...(tlsCredentials !== undefined && { tlsCredentials }),
      ...(imported.length > 0 && { importedTlsBundles: imported }),
      changed: outcome.changed,
    };
    const notes = [
      ...imported.map((bundle) => `TLS bundle "${bundle}" imported at this site.`),
      ...(tlsCredentials !== undefined
        ? [`Listeners serve TLS with the bundle "${tlsCredentials}"; a site without its own bundle of that name has no listener (kskup tls import FOLDER --name ${tlsCredentials} -n SITE).`]
        : []),
      ...(credentials && !credentials.found ? [`This site has no bundle "${credentials.name}" yet: it will not listen for "${address}" until it has.`] : []),
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
      .addHelpText('after', '\nExample:\n  kskup unexpose host/localhost --address web -n west'),
  ).action(async (spec: string, options: UnexposeOptions) => {
    const target = await resolveSite(options, context);
    const { type, name } = parseTarget(spec, target, 'unexpose');
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

/** `unexpose` takes every kind a target can be of (annotations expose kinds the CLI cannot yet). */
function parseTarget(spec: string, site: ResolvedSite, purpose: 'expose' | 'unexpose' = 'expose'): { type: TargetType; name: string } {
  const slash = spec.indexOf('/');
  const type = slash < 0 ? spec : spec.slice(0, slash);
  const name = slash < 0 ? '' : spec.slice(slash + 1);
  if (!(TARGET_TYPES as readonly string[]).includes(type)) {
    throw new UsageError(`"${spec}": unknown type "${type}"; use host/HOSTNAME, or deployment/, statefulset/ or service/NAME on the kubernetes platform`);
  }
  if (name === '') throw new UsageError(`"${spec}": no name after "${type}/"`);
  if (type !== 'host' && site.platform === 'local') {
    throw new UsageError(`"${spec}": a ${type} needs the kubernetes platform; on the local platform expose host/HOSTNAME`);
  }
  if (type !== 'host' && type !== 'deployment' && purpose === 'expose') {
    throw new RuntimeError(
      `"${spec}": exposing a ${type} with kskup expose is not available in this version yet; annotate it with kskup.io/proxy=tcp (docs/services.md, Annotations), or expose host/NAME (a Service's DNS name, say)`,
    );
  }
  if (type === 'deployment' && nameProblem(name)) throw new UsageError(`"${spec}": "${name}" is not a Deployment name: ${nameProblem(name)}`);
  if (type === 'host' && !isHostName(name)) throw new UsageError(`"${spec}": "${name}" is not a host name or IP address`);
  return { type: type as TargetType, name };
}

function isHostName(name: string): boolean {
  return isIP(name) !== 0 || /^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/.test(name);
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
