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

interface ExposeOptions extends SiteOptions {
  readonly port: readonly number[];
  readonly targetPort?: readonly number[];
  readonly address?: string;
  readonly protocol: 'tcp';
}

interface UnexposeOptions extends SiteOptions {
  readonly address?: string;
}

const EXPOSE_EXAMPLES = `
Examples:
  kskup expose host/localhost --port 8080 --address web -n west        a local process on port 8080, as "web"
  kskup expose host/db.internal --port 5432 --address db -n west
  kskup expose host/127.0.0.1 --port 80,443 --target-port 8080,8443 --address shop -n west

Every linked site then has a listener for each port (kskup service status shows where).`;

export function addExposeCommands(program: Command, context: CommandContext): void {
  addSiteOptions(
    program
      .command('expose')
      .description('make a service at this site usable at every linked site')
      .argument('<type/name>', `what serves it: host/HOSTNAME (local and kubernetes), or deployment/, statefulset/, service/NAME (kubernetes)`)
      .addOption(new Option('--port <ports>', 'service port(s), comma-separated').argParser(parsePortList).makeOptionMandatory())
      .addOption(new Option('--target-port <ports>', 'port(s) the target listens on, one per --port (default: the same)').argParser(parsePortList))
      .addOption(new Option('--address <name>', 'the service name other sites use (default: the target name)'))
      .addOption(new Option('--protocol <protocol>', 'how the service is carried').choices(['tcp']).default('tcp'))
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
    const snapshot = await target.readSnapshot();
    const selfId = snapshot?.self.site.id;
    const knownElsewhere = (wanted: string) => {
      const service = snapshot?.services.find((s) => s.address === wanted && s.exposedAt.some((site) => site.id !== selfId));
      return service?.ports;
    };
    const outcome = await exposeService(
      target.storage,
      { type, name, host: name, address, ports: pairs.map(([port]) => port), targetPorts: pairs.map(([, port]) => port) },
      knownElsewhere,
    );
    const mapping = pairs.map(([port, targetPort]) => (port === targetPort ? String(port) : `${port}->${targetPort}`)).join(',');
    const data = { address, ports: outcome.service.ports, target: { type, name, host: name, ports: pairs.map(([, port]) => port) }, changed: outcome.changed };
    context.io.stdout.write(
      await render(options.output, data, () =>
        outcome.changed
          ? `Service "${address}" exposed: ${type}/${name} on port(s) ${mapping}. Linked sites get a listener for it within a second: kskup service status -n ${target.namespace}\n`
          : `Service "${address}" already has ${type}/${name} on port(s) ${mapping}; nothing changed.\n`,
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
    const { type, name } = parseTarget(spec, target);
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

function parseTarget(spec: string, site: ResolvedSite): { type: TargetType; name: string } {
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
  if (type !== 'host') {
    throw new RuntimeError(`"${spec}": exposing a ${type} on the kubernetes platform is not available in this version yet; expose host/NAME (a Service's DNS name, say) meanwhile`);
  }
  if (type === 'host' && !isHostName(name)) throw new UsageError(`"${spec}": "${name}" is not a host name or IP address`);
  return { type: type as TargetType, name };
}

function isHostName(name: string): boolean {
  return isIP(name) !== 0 || /^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/.test(name);
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
