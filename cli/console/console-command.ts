// `kskup console`: serves the web console of a site (local or Kubernetes) on
// this host until stopped (SIGINT or SIGTERM). It listens on loopback only and
// needs the password it prints once at start; a cluster site's router is
// reached by port-forward, as `router stat` and `flow list` reach it.
import { isIP } from 'node:net';
import { type Command, Option } from 'commander';
import { parsePort } from '../arguments.js';
import type { CommandContext } from '../command-context.js';
import { RuntimeError, UsageError } from '../errors.js';
import { openSiteRouter, type SiteRouter } from '../router-stat/site-router.js';
import { addSiteOptions, resolveSite, type SiteOptions } from '../site/site-options.js';
import { ConsoleAuth, CONSOLE_USER, generatePassword } from './console-auth.js';
import { consoleMemory, gatherConsoleSnapshot, type ConsoleSnapshot, type RouterHandle } from './console-data.js';
import { createConsoleServer } from './console-server.js';
import { SnapshotFeed } from './snapshot-feed.js';

interface ConsoleOptions extends SiteOptions {
  readonly port: number;
  readonly address: string;
}

const DEFAULT_PORT = 8010;
/** Between the end of one gather and the start of the next: the page is at most about a second behind. */
const GATHER_INTERVAL_MS = 1_000;

export function addConsoleCommand(program: Command, context: CommandContext): void {
  addSiteOptions(
    program
      .command('console')
      .description('serve the web console of a site on this host: the network graph, services, flows, site detail, updating live')
      .addOption(new Option('--port <port>', 'port to listen on (0: any free port)').argParser(parsePortOrZero).default(DEFAULT_PORT))
      .addOption(new Option('--address <address>', 'address to listen on: loopback only (127.0.0.1, ::1, localhost)').default('127.0.0.1'))
      .addHelpText('after', '\nExamples:\n  kskup console -n west                 then open the URL it prints; user admin, the password it prints\n  kskup console -n west --context a     a cluster site, its router by port-forward'),
  ).action(async (options: ConsoleOptions) => {
    const host = loopbackAddress(options.address);
    const target = await resolveSite(options, context);
    // Fails here, before listening, if the site has no state (no such site).
    await target.storage.read();
    let open: Promise<SiteRouter> | undefined;
    const router: RouterHandle = {
      get: () => (open ??= openSiteRouter(target.namespace, options, context)),
      reset: () => {
        const closing = open;
        open = undefined;
        void closing?.then((r) => r.close()).catch(() => undefined);
      },
    };
    const memory = consoleMemory();
    const feed = new SnapshotFeed<ConsoleSnapshot>(() => gatherConsoleSnapshot(target, router, memory), GATHER_INTERVAL_MS);
    const password = generatePassword();
    const server = createConsoleServer({ auth: new ConsoleAuth(password), feed });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port, host, () => resolve());
      });
    } catch (error) {
      feed.stop();
      router.reset();
      throw new RuntimeError(`cannot listen on ${host}:${options.port}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : options.port;
    const urlHost = host.includes(':') ? `[${host}]` : host;
    // The one place the password is shown: stdout, once. It is never logged.
    context.io.stdout.write(`Console of site "${target.namespace}" at http://${urlHost}:${port}/\nUser: ${CONSOLE_USER}\nPassword: ${password}\n(Ctrl-C stops it)\n`);
    await (context.io.stopped ?? new Promise<void>((resolve) => process.once('SIGINT', resolve)));
    feed.stop();
    router.reset();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
}

function parsePortOrZero(value: string): number {
  return value === '0' ? 0 : parsePort(value);
}

/**
 * The address to listen on, if it is loopback. The console sends its password
 * in HTTP Basic over plain HTTP: anywhere but loopback that would put it on
 * the network, so any other address is refused (exit 2), not warned about.
 */
function loopbackAddress(value: string): string {
  if (value === 'localhost') return '127.0.0.1';
  if (value === '::1' || (isIP(value) === 4 && value.startsWith('127.'))) return value;
  throw new UsageError(`option --address: "${value}" is not a loopback address; the console serves plain HTTP and listens on loopback only (127.0.0.1, ::1, localhost). From elsewhere, forward a port to it (ssh -L)`);
}
