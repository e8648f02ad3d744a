// `kskup console`: serves the web console of a site (local or Kubernetes) on
// this host until stopped (SIGINT or SIGTERM). It listens on loopback only and
// needs the password it prints once at start (or reads from --password-file),
// or with --tls the site's client certificate; a cluster site's router is
// reached by port-forward, as `router stat` and `flow list` reach it, or, in a
// pod of the site (the chart's console), at its Service.
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { parsePort } from '../arguments.js';
import type { CommandContext } from '../command-context.js';
import { fileProblem, RuntimeError, UsageError } from '../errors.js';
import { openSiteRouter, type SiteRouter } from '../router-stat/site-router.js';
import { addSiteOptions, resolveSite, type KubernetesTarget, type ResolvedSite, type SiteOptions } from '../site/site-options.js';
import { certificateInfo } from '../../site-controller/pki/index.js';
import { ConsoleAuth, CONSOLE_USER, generatePassword } from './console-auth.js';
import { consoleMemory, gatherConsoleSnapshot, type ConsoleSnapshot, type RouterHandle } from './console-data.js';
import { createConsoleServer } from './console-server.js';
import { consoleTls, writeClientBundle, type ConsoleTls } from './console-tls.js';
import { SnapshotFeed } from './snapshot-feed.js';

interface ConsoleOptions extends SiteOptions {
  readonly port: number;
  readonly address: string;
  readonly tls?: true;
  readonly p12?: string;
  readonly passwordFile?: string;
}

const DEFAULT_PORT = 8010;
/** How often a console in a pod looks for the site its controller makes. */
const SITE_POLL_MS = 2_000;
/** Shortest password --password-file may hold: the generated ones have 24 characters. */
const MIN_PASSWORD_LENGTH = 16;
/** Between the end of one gather and the start of the next: the page is at most about a second behind. */
const GATHER_INTERVAL_MS = 1_000;

export function addConsoleCommand(program: Command, context: CommandContext): void {
  addSiteOptions(
    program
      .command('console')
      .description('serve the web console of a site on this host: the network graph, services, flows, site detail, updating live')
      .addOption(new Option('--port <port>', 'port to listen on (0: any free port)').argParser(parsePortOrZero).default(DEFAULT_PORT))
      .addOption(new Option('--address <address>', 'address to listen on: loopback only (127.0.0.1, ::1, localhost)').default('127.0.0.1'))
      .addOption(new Option('--tls', "serve HTTPS, with a server certificate from the site's CA (needs its key: ca/tls.key, or Secret kskup-site-ca), and take the site's client certificate (local/client.crt, or Secret kskup-local-client) as the login; without a certificate the password still logs in"))
      .addOption(new Option('--p12 <file>', 'with --tls: where to write the client certificate for a browser to import (PKCS#12, mode 0600, its password printed once; default: ./kskup-console-SITE.p12)'))
      .addOption(new Option('--password-file <file>', 'read the password from this file (at least 16 characters) instead of making one; it is then not printed'))
      .addHelpText(
        'after',
        "\nExamples:\n  kskup console -n west                 then open the URL it prints; user admin, the password it prints\n  kskup console -n west --context a     a cluster site, its router by port-forward\n  kskup console -n west --tls           https://; import kskup-console-west.p12 in the browser, or log in with the password\n\nOn Kubernetes the chart can run the console in the cluster instead (console.enabled): see docs/console.md.",
      ),
  ).action(async (options: ConsoleOptions) => {
    const host = loopbackAddress(options.address);
    if (options.p12 !== undefined && !options.tls) throw new UsageError('option --p12 goes with --tls');
    const target = await resolveSite(options, context);
    // In a pod of the site (the chart's console), the controller beside it may not have made the site yet: wait for it rather than restart in a loop.
    if (target.platform === 'kubernetes' && target.site.access.context === 'in-cluster' && !(await waitForSite(target, context))) return;
    // Fails here, before listening, if the site has no state (no such site).
    await target.storage.read();
    const password = options.passwordFile === undefined ? generatePassword() : await readPasswordFile(options.passwordFile);
    const tls = options.tls ? await consoleTls(target, ['127.0.0.1', 'localhost', '::1', host]) : undefined;
    const p12 = options.p12 ?? `kskup-console-${target.namespace}.p12`;
    const p12Password = tls ? await writeClientBundle(tls, p12, target.namespace) : undefined;
    let open: Promise<SiteRouter> | undefined;
    const router: RouterHandle = {
      get: () => (open ??= openConsoleRouter(target, options, context)),
      reset: () => {
        const closing = open;
        open = undefined;
        void closing?.then((r) => r.close()).catch(() => undefined);
      },
    };
    const memory = consoleMemory();
    const feed = new SnapshotFeed<ConsoleSnapshot>(() => gatherConsoleSnapshot(target, router, memory), GATHER_INTERVAL_MS);
    const server = createConsoleServer({ auth: new ConsoleAuth(password), feed, ...(tls && { tls }) });
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
    // The one place the passwords are shown: stdout, once. They are never logged.
    const lines = [`Console of site "${target.namespace}" at ${tls ? 'https' : 'http'}://${urlHost}:${port}/`];
    if (tls && p12Password !== undefined) lines.push(...certificateHelp(tls, resolve(p12), p12Password));
    lines.push(`User: ${CONSOLE_USER}`, options.passwordFile === undefined ? `Password: ${password}` : `Password: the one in ${options.passwordFile}`, '(Ctrl-C stops it)');
    context.io.stdout.write(`${lines.join('\n')}\n`);
    await (context.io.stopped ?? new Promise<void>((resolve) => process.once('SIGINT', resolve)));
    feed.stop();
    router.reset();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
}

/** How to log in with the certificate, and how to trust the server's. */
function certificateHelp(tls: ConsoleTls, p12: string, p12Password: string): string[] {
  return [
    `Log in with the site's client certificate: import ${p12} into the browser`,
    '  (Firefox: Settings > Privacy & Security > Certificates > View Certificates > Your Certificates > Import;',
    '   Chromium: Settings > Privacy and security > Security > Manage certificates > Import)',
    `  PKCS#12 password: ${p12Password}`,
    `Its server certificate is issued by the site's CA, "${caName(tls.serverCaPem)}": trust that CA in the browser, or accept the warning once.`,
    'Without a certificate, log in with the password:',
  ];
}

function caName(pem: string): string {
  try {
    return certificateInfo(pem).subjectCommonName;
  } catch {
    return 'the site CA';
  }
}

/**
 * The router the console asks: as `router stat` reaches it, except in a pod
 * of the site (the chart's console Deployment), where its local Service is
 * dialled directly with the local client certificate.
 */
async function openConsoleRouter(target: ResolvedSite, options: ConsoleOptions, context: CommandContext): Promise<SiteRouter> {
  if (target.platform === 'kubernetes' && target.site.access.context === 'in-cluster') {
    const { inClusterRouterTarget } = await import('../../site-controller/kubernetes/router-access.js');
    return { target: await inClusterRouterTarget(target.site.access), close: async () => undefined };
  }
  return openSiteRouter(target.namespace, options, context);
}

/** Polls until the site's state exists; false when stopped first. Says once what it waits for. */
async function waitForSite(target: KubernetesTarget, context: CommandContext): Promise<boolean> {
  let stopped = false;
  void context.io.stopped?.then(() => (stopped = true));
  let said = false;
  const storage = await target.site.storage();
  while (!(await storage.exists())) {
    if (!said) context.io.stdout.write(`Waiting for the site's controller to make the site in namespace "${target.namespace}"\n`);
    said = true;
    await new Promise((resolve) => setTimeout(resolve, SITE_POLL_MS));
    if (stopped) return false;
  }
  return true;
}

/** The password in `file`, without a trailing newline; RuntimeError naming the file when it is unreadable, short or of several lines. */
async function readPasswordFile(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new RuntimeError(`option --password-file: cannot read ${file}: ${fileProblem(error)}`, { cause: error });
  }
  const password = text.replace(/\r?\n$/, '');
  if (password.length < MIN_PASSWORD_LENGTH) throw new RuntimeError(`option --password-file: ${file} holds ${password.length} characters; the password must have at least ${MIN_PASSWORD_LENGTH}`);
  if (/[\r\n]/.test(password)) throw new RuntimeError(`option --password-file: ${file} holds more than one line; it must hold the password alone`);
  return password;
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
