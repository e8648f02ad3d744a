// The process of a local site: its router (in this process: one Node process
// per site, not two), the claims endpoint of an interior site, and the site
// controller that keeps the router's config equal to what the site's state
// and the network ask for. The CLI only changes site.json; a folder watch (and
// a periodic look, in case an event was missed) tells the controller.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Server } from 'node:https';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { parseRouterConfig } from '../../router/config/index.js';
import { createRouterLogging } from '../../router/log/logger.js';
import { watchConfigFile } from '../../router/reload.js';
import { Router } from '../../router/router.js';
import { routerConfigText } from '../site/desired-router-config.js';
import { routerStateWithinPolicy } from '../policy/policy-state.js';
import { redeemClaimAt } from '../site/tokens.js';
import { startClaimsServer } from '../token/claims-server.js';
import { SiteController, type ListenerStatus, type SiteServicesFactory } from '../site/site-controller.js';
import type { TcpListenerStatus } from '../../router/tcp/tcp-adaptor.js';
import { portsOfOtherSites } from './other-sites.js';
import type { SiteDocument } from '../site/model.js';
import { atomicWrite, SiteFolder } from './site-folder.js';

const RECHECK_MS = 2_000;
const STATE_SETTLE_MS = 5;
/**
 * How long applying a config waits for new listeners to bind before the
 * controller goes on (tcpListeners are done at their first attempt, bound or
 * not: this bounds the router's own listeners, which wait for a bind).
 */
const BIND_WAIT_MS = 2_000;

/** Listeners retry a taken port for ever; a site that cannot bind at start should say so instead. */
const START_DEADLINE_MS = 10_000;

export interface RunningSite {
  /** Something may have changed (a signal, a missed event): the controller looks at site.json again. */
  stateChanged(trigger: string): void;
  stop(): Promise<void>;
}

export interface SiteTuning {
  /** The site's services (service-controller/compose.ts). */
  readonly services: SiteServicesFactory;
  /** The router's AMQP idle timeout (SiteState.idleTimeoutSeconds); absent: the router's default. */
  readonly idleTimeoutSeconds?: number;
}

export async function runSite(folder: SiteFolder, tuning: SiteTuning): Promise<RunningSite> {
  const { services, idleTimeoutSeconds } = tuning;
  const routerState = (state: SiteDocument) => ({ ...folder.routerState(state), ...(idleTimeoutSeconds !== undefined && { idleTimeoutSeconds }) });
  const document = await folder.read();
  // network.json is the account of a running process: the last one's would be
  // shown as this one's (listeners at ports it may not hold) until this one
  // writes its own. Missing means "not known yet" to the status commands.
  await rm(folder.networkFile, { force: true });
  const { site } = document;
  const logging = createRouterLogging({ base: { site: site.name } });
  const log = logging.module('SITE');
  await folder.ensureTrustFile();
  // The first config has the links but no services: the controller adds those once it has allocated listener ports.
  // The policy applies from the first config: a link it forbids never comes up, not even until the first pass.
  const configText = routerConfigText(routerStateWithinPolicy(routerState(document), document));
  await atomicWrite(folder.routerConfigFile, configText, 0o644);
  const router = new Router(parseRouterConfig(configText, folder.routerConfigFile).config, logging, folder.path);
  await withDeadline(router.start(), START_DEADLINE_MS, () => router.stop(), 'the router could not open its ports (is another process using them? see the log above)');

  let claims: Server | undefined;
  let claimsCert = '';
  if (site.mode === 'interior') {
    const server = await folder.serverCertificate();
    claimsCert = server.certPem;
    claims = await startClaimsServer({
      host: site.bindHost,
      port: site.ports.claims,
      ...server,
      log: logging.module('CLAIMS'),
      redeem: (name, request) => redeemClaimAt(folder, name, request),
    });
  }

  const localTls = existsSync(folder.localFiles.clientKey) ? await folder.localClientTls() : undefined;
  const controller = new SiteController(
    {
      storage: folder,
      log,
      services,
      routerEndpoint: { port: site.ports.amqp, ...(localTls && { tls: localTls }) },
      routerState,
      applyRouterConfig: async (text) => {
        await atomicWrite(folder.routerConfigFile, text, 0o644);
        // reconfigure() resolves when new listeners have bound; one whose port is
        // taken retries in the background (the router logs it), and must not
        // hold up every later change of this site.
        await Promise.race([router.reconfigure(parseRouterConfig(text, folder.routerConfigFile).config), sleep(BIND_WAIT_MS)]);
      },
      linkIsUp: (name) => router.connectorStatus(`link-${name}`)?.state === 'up',
      linkProblem: (name) => router.connectorStatus(`link-${name}`)?.reason,
      // A service's tcpListener is named after its router address (desired-router-config.ts).
      listenerStatus: (address) => listenerStatus(router.tcpListenerStatus(address)),
      portsTakenElsewhere: () => portsOfOtherSites(folder),
      writeSnapshot: (snapshot) => atomicWrite(folder.networkFile, `${JSON.stringify(snapshot, null, 2)}\n`, 0o644),
      // The router runs in this process: the services' metrics are served at its /metrics, beside its per-service ones.
      metrics: router.metrics.registry,
    },
    document,
    configText,
  );
  // In-process, so a listener that cannot bind is seen as it fails, not at the next poll.
  const unwatch = router.watchTcpListeners((name) => controller.listenerStatusChanged(name));
  controller.start();
  controller.stateChanged('start');
  // Every writer replaces site.json by rename, so one event means a whole new file: no need to let a burst settle.
  const watcher = watchConfigFile(folder.stateFile, () => controller.stateChanged('state change'), STATE_SETTLE_MS);
  // A renewed server certificate (kskup rotate-certs) reaches the claims endpoint
  // at the next look, as the router's listeners take it from the same files.
  const followServerCertificate = async () => {
    if (!claims) return;
    const server = await folder.serverCertificate();
    if (server.certPem === claimsCert) return;
    try {
      claims.setSecureContext({ cert: server.certPem, key: server.keyPem });
      claimsCert = server.certPem;
      log.info('the claims endpoint serves the renewed server certificate');
    } catch {
      // The certificate was written before its key: the pair is complete at the next look.
    }
  };
  const timer = setInterval(() => {
    controller.stateChanged('periodic check');
    followServerCertificate().catch((error: unknown) => log.warn({ reason: error instanceof Error ? error.message : String(error) }, 'cannot read the server certificate for the claims endpoint'));
  }, RECHECK_MS);
  log.info({ id: site.id, mode: site.mode, ports: site.ports }, `site "${site.name}" is running`);

  return {
    stateChanged: (trigger) => controller.stateChanged(trigger),
    async stop() {
      clearInterval(timer);
      watcher.close();
      unwatch();
      await controller.stop(existsSync(folder.leavingFile));
      claims?.close();
      claims?.closeAllConnections();
      await router.stop();
      log.info(`site "${site.name}" stopped`);
    },
  };
}

function listenerStatus(status: TcpListenerStatus | undefined): ListenerStatus | undefined {
  if (!status) return undefined;
  const { port, bind } = status;
  if (bind.state === 'up') return { port, listening: true };
  if (bind.state === 'down') return { port, listening: false, reason: bind.reason, failed: true };
  return { port, listening: false, reason: 'binding', failed: false };
}

async function withDeadline(work: Promise<void>, ms: number, undo: () => Promise<void>, message: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    // The undo's own failure must not become an unhandled rejection: the deadline's message says what matters.
    timer = setTimeout(() => void undo().catch(() => undefined).finally(() => reject(new Error(message))), ms);
  });
  try {
    await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
