// `kskup router stat`: skstat for kskup routers. One section at a time, as
// skstat does; none given means -g.
import { type Command, Option } from 'commander';
import { parsePort, parseSeconds } from '../arguments.js';
import type { CommandContext } from '../command-context.js';
import { UsageError } from '../errors.js';
import { DEFAULT_HOST, DEFAULT_PORT, type RouterAddressOptions } from '../router-target.js';
import { openSiteRouter, type SiteRouter } from './site-router.js';
import type { OutputFormat, SectionName } from './sections.js';

interface StatOptions extends RouterAddressOptions {
  readonly site?: string;
  readonly platform?: string;
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly general?: true;
  readonly connections?: true;
  readonly nodes?: true;
  readonly addresses?: true;
  readonly links?: true;
  readonly flows?: true;
  readonly timeout: number;
  readonly output: OutputFormat;
  readonly debug?: true;
}

type SectionFlag = 'general' | 'connections' | 'nodes' | 'addresses' | 'links' | 'flows';

const SECTION_FLAGS: readonly { flags: string; key: SectionFlag; section: SectionName; description: string }[] = [
  { flags: '-g, --general', key: 'general', section: 'general', description: 'router attributes (the default)' },
  { flags: '-c, --connections', key: 'connections', section: 'connections', description: 'AMQP connections: peers and clients' },
  { flags: '-n, --nodes', key: 'nodes', section: 'nodes', description: 'routers in the network, next hops and costs' },
  { flags: '-a, --addresses', key: 'addresses', section: 'addresses', description: 'service addresses and where they are served' },
  { flags: '-l, --links', key: 'links', section: 'flows', description: 'open flows (same as --flows)' },
  { flags: '--flows', key: 'flows', section: 'flows', description: 'open flows: address, state, bytes each way, role' },
];

const EXAMPLES = `
Examples:
  kskup router stat                            router attributes of the router at 127.0.0.1:5672
  kskup router stat -n --config router.json    the network as seen by the router router.json sets up
  kskup router stat -c --port 5673 -o json     its connections, as JSON
  kskup router stat -n --site west             the network as the router of site "west" sees it (a local site, or a namespace)
  kskup -n west router stat --flows            the same site's open flows; on a cluster, through port-forward to its router pod
  kskup router stat --flows --host site-a --port 5671 --ssl-ca ca.crt --ssl-cert me.crt --ssl-key me.key`;

export function addRouterStatCommand(router: Command, context: CommandContext): void {
  const command = router
    .command('stat')
    .description('show what a running router knows: attributes, connections, network, addresses, flows')
    .addHelpText('after', EXAMPLES);
  for (const { flags, key, section, description } of SECTION_FLAGS) {
    // Two sections at once is a usage error, but -l and --flows are one section.
    const others = SECTION_FLAGS.filter((other) => other.section !== section).map((other) => other.key);
    command.addOption(new Option(flags, description).conflicts(others));
  }
  command
    .addOption(new Option('--host <host>', `router host (default ${DEFAULT_HOST})`))
    .addOption(new Option('--port <port>', `router AMQP port (default ${DEFAULT_PORT})`).argParser(parsePort))
    .addOption(new Option('--config <file>', "reach the router through the first normal listener in its config file").conflicts(['host', 'port']))
    .addOption(
      new Option(
        '--site <name>',
        "the router of a site, with the site's local credentials: a local site (its folder in $KSKUP_HOME), or a Kubernetes namespace, reached by port-forward to its router pod",
      ).conflicts(['host', 'port', 'config', 'sslCa', 'sslCert', 'sslKey']),
    )
    .addOption(new Option('--platform <platform>', 'the platform of --site: kubernetes or local (or KSKUP_PLATFORM; default: kubernetes if a kubeconfig is found, else local)'))
    .addOption(new Option('--kubeconfig <file>', 'kubeconfig file (--site on the kubernetes platform)'))
    .addOption(new Option('--context <name>', 'kubeconfig context (--site on the kubernetes platform)'))
    .addOption(new Option('--ssl-ca <file>', 'CA certificates (PEM) to verify the router with; connects with TLS'))
    .addOption(new Option('--ssl-cert <file>', 'client certificate (PEM); authenticates with SASL EXTERNAL'))
    .addOption(new Option('--ssl-key <file>', 'private key (PEM) of --ssl-cert'))
    .addOption(new Option('--timeout <seconds>', 'give up on the router after this long').argParser(parseSeconds).default(5))
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--debug', 'show stack traces of errors')
    .action(async (options: StatOptions) => {
      context.debug = options.debug === true;
      const section = SECTION_FLAGS.find(({ key }) => options[key])?.section ?? 'general';
      // Loaded here, not at start: rhea is one of the slower modules to load, and most commands never need it.
      const [{ resolveRouterTarget }, { ManagementClient }, { fetchSection, renderSection }] = await Promise.all([
        import('../router-target.js'),
        import('../../router/management/management-client.js'),
        import('./sections.js'),
      ]);
      if (options.site === undefined && (options.platform ?? options.kubeconfig ?? options.context) !== undefined) {
        throw new UsageError('options --platform, --kubeconfig and --context choose the site of --site (or of -n before "router stat"); give one');
      }
      const router: SiteRouter = options.site === undefined ? { target: await resolveRouterTarget(options), close: async () => undefined } : await openSiteRouter(options.site, options, context);
      try {
        const client = await ManagementClient.connect(router.target, { timeoutMs: options.timeout * 1000 }).catch((error: unknown) => {
          throw router.explain?.(error) ?? error;
        });
        try {
          const data = await fetchSection(client, section);
          context.io.stdout.write(renderSection(section, data, options.output));
        } finally {
          await client.close();
        }
      } finally {
        await router.close();
      }
    });
}
