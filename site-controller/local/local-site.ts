// The local platform's lifecycle of a site: create it (once), make sure its
// process runs, delete it. `init` on an existing site changes nothing in its
// state and only starts its process if that is not running.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { freePort } from '../site/free-port.js';
import { SiteError } from '../site/errors.js';
import type { RouterMode, SiteDocument, SitePorts } from '../site/model.js';
import { newSiteDocument, newSiteIdentity } from '../site/new-site.js';
import { siteProcessState, startSiteProcess, stopSiteProcess } from './launcher.js';
import type { SiteFolder } from './site-folder.js';

/** Unset options take their defaults for a new site, and are not compared with an existing one. */
export interface InitOptions {
  /** The default site name. */
  readonly namespace: string;
  readonly name?: string;
  readonly mode?: RouterMode;
  readonly ingressHost?: string;
  /** Default: 127.0.0.1 for a loopback ingress host, else 0.0.0.0. */
  readonly bindHost?: string;
  readonly listenerHost?: string;
  readonly interRouterPort?: number;
  readonly edgePort?: number;
}

const DEFAULT_INGRESS_HOST = '127.0.0.1';
const DEFAULT_LISTENER_HOST = '127.0.0.1';

export interface InitOutcome {
  readonly document: SiteDocument;
  readonly created: boolean;
  /** 'started' when this call started the process, 'running' when it already ran. */
  readonly process: 'started' | 'running';
  readonly pid: number;
  /** Options given that differ from the existing site (which keeps its own). */
  readonly ignored: readonly string[];
}

export async function initLocalSite(folder: SiteFolder, options: InitOptions, env: NodeJS.ProcessEnv, onWaiting?: (what: string) => void): Promise<InitOutcome> {
  let created = false;
  let ignored: string[] = [];
  if (await folder.exists()) {
    ignored = differences(await folder.read(), options);
  } else {
    onWaiting?.('creating the site CA and certificates');
    const name = options.name ?? options.namespace;
    const ingressHost = options.ingressHost ?? DEFAULT_INGRESS_HOST;
    const bindHost = options.bindHost ?? (isLoopback(ingressHost) ? '127.0.0.1' : '0.0.0.0');
    const ports = await allocatePorts(bindHost, options);
    const identity = await newSiteIdentity(name, [ingressHost, ...(ingressHost === '127.0.0.1' ? ['localhost'] : [])]);
    const document = newSiteDocument({
      name,
      id: identity.id,
      mode: options.mode ?? 'interior',
      platform: 'local',
      ingressHost,
      bindHost,
      listenerHost: options.listenerHost ?? DEFAULT_LISTENER_HOST,
      ports,
      createdAt: new Date().toISOString(),
    });
    await folder.create(document, identity);
    created = true;
  }
  const state = await siteProcessState(folder);
  const document = await folder.read();
  if (state.running) return { document, created, process: 'running', pid: state.pid, ignored };
  const pid = await startSiteProcess(folder, env, () => onWaiting?.('starting the site process'));
  return { document, created, process: 'started', pid, ignored };
}

function differences(document: SiteDocument, options: InitOptions): string[] {
  const { site } = document;
  const found: string[] = [];
  if (options.name !== undefined && options.name !== site.name) found.push(`--site-name ${options.name} (the site is "${site.name}")`);
  if (options.mode !== undefined && options.mode !== site.mode) found.push(`--router-mode ${options.mode} (the site is ${site.mode})`);
  if (options.ingressHost !== undefined && options.ingressHost !== site.ingressHost) found.push(`--ingress-host ${options.ingressHost} (the site uses ${site.ingressHost})`);
  if (options.listenerHost !== undefined && options.listenerHost !== site.listenerHost) found.push(`--listener-host ${options.listenerHost} (the site uses ${site.listenerHost})`);
  if (options.bindHost !== undefined && options.bindHost !== site.bindHost) found.push(`--ingress-bind-host ${options.bindHost} (the site uses ${site.bindHost})`);
  if (options.interRouterPort !== undefined && options.interRouterPort !== site.ports.interRouter) found.push(`--inter-router-port ${options.interRouterPort} (the site uses ${site.ports.interRouter})`);
  if (options.edgePort !== undefined && options.edgePort !== site.ports.edge) found.push(`--edge-port ${options.edgePort} (the site uses ${site.ports.edge})`);
  return found;
}

/** Deletes the site; a folder left half-made (init interrupted while making the CA) goes too. */
export async function deleteLocalSite(folder: SiteFolder): Promise<{ stopped: boolean; name?: string }> {
  if (!(await folder.exists())) {
    if (!existsSync(folder.path)) throw new SiteError(`no site in ${folder.path}: nothing to delete`);
    const stopped = await stopSiteProcess(folder);
    await folder.remove();
    return { stopped };
  }
  const { name } = (await folder.read()).site;
  await writeFile(folder.leavingFile, '');
  const stopped = await stopSiteProcess(folder);
  await folder.remove();
  return { stopped, name };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** Ports not given are picked free now and recorded, so they stay the same across restarts. */
async function allocatePorts(bindHost: string, options: InitOptions): Promise<SitePorts> {
  const taken = new Set<number>([options.interRouterPort, options.edgePort].filter((port): port is number => port !== undefined));
  const pick = async (host: string): Promise<number> => {
    let port: number;
    try {
      port = await freePort(host, taken);
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new SiteError(`cannot listen on ${host} to pick a port: ${reason} (is --ingress-bind-host an address of this machine?)`);
    }
    taken.add(port);
    return port;
  };
  return {
    interRouter: options.interRouterPort ?? (await pick(bindHost)),
    edge: options.edgePort ?? (await pick(bindHost)),
    claims: await pick(bindHost),
    amqp: await pick('127.0.0.1'),
    http: await pick('127.0.0.1'),
  };
}
