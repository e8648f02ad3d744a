// The controller of a Kubernetes site (`kskup controller run`): the site and
// service controllers of the local platform's site process, on the
// Kubernetes API instead of a folder.
//
// Start-up: watch (informers) the site's ConfigMaps, its Secrets, token
// Secrets and its Services; wait until each has listed, so that the cache is
// the cluster's truth; only then write anything. After that every change only
// queues a pass, and passes run one at a time (`reconcile`):
//   settings (ConfigMap kskup-site) -> ingress address (Service kskup-router)
//   -> identity and site document (made once, then kept) -> the router's
//   certificates (Secret kskup-router-certs) -> token Secrets applied with
//   kubectl become links -> kskup.io annotations on the namespace's workloads
//   and Services become annotated targets (annotated-services.ts) -> the site
//   control loop (SiteController), which writes the router config (ConfigMap
//   kskup-router) and does service sync.
// Failures are logged, recorded as an Event on the site ConfigMap, shown in
// `kskup status`, and retried by the next pass (with backoff).
import { createHash } from 'node:crypto';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { Registry } from 'prom-client';
import { AppsV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1ConfigMap, type V1DaemonSet, type V1Deployment, type V1OwnerReference, type V1Pod, type V1Secret, type V1Service, type V1StatefulSet } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { SiteError } from '../site/errors.js';
import { createLink } from '../site/links.js';
import type { ServiceTarget, SiteDocument } from '../site/model.js';
import { AddressServices, desiredAddressServices } from './address-services.js';
import { perPodServices } from './pod-addresses.js';
import { targetPods } from './workload-targets.js';
import { SiteController, type ListenerStatus, type ServicesSnapshot, type SiteServicesFactory } from '../site/site-controller.js';
import { AnnotatedServices } from './annotated-services.js';
import { recordEvent as recordEventOn } from './events.js';
import { PodProbes } from './pod-probes.js';
import { podEndpoints } from './pod-targets.js';
import type { ProbeResult, WorkloadEndpoints } from '../site/workload-endpoints.js';
import { GOODBYE_ANNOTATION, LEAVING_ANNOTATION, NETWORK_KEYS } from './kube-site.js';
import { redeemClaimAt } from '../site/tokens.js';
import { startClaimsServer } from '../token/claims-server.js';
import { TOKEN_TYPE_LABEL, TOKEN_TYPE_VALUES, tokenFromSecret } from '../token/token-secret.js';
import { resolveIngress } from './ingress.js';
import { describeApiError, isConflict, isNotFound } from './kube-errors.js';
import { KubernetesSiteStorage, linkSecretName, TLS_BUNDLE_LABEL } from './kube-storage.js';
import { INGRESS_TYPES, NAMES, PART_OF_LABEL, PORTS, ROUTER_POD_PORTS, siteLabels, siteOwner, type IngressType } from './manifests.js';
import { kubernetesRouterState, routerCertsData, secretsInRouterCerts, type RouterSecrets, type SecretText } from './router-materials.js';
import { ensureSiteState } from './site-identity.js';
import { askReplica, siteLinks, siteListeners, type ManagementTls, type ReplicaEndpoint, type ReplicaReport } from './replica-status.js';
import { peerCredentialsToIssue, replicaConfigs, replicaHost, replicaPodName, SITE_CONFIG_KEY } from './router-replicas.js';
import { CERT_FILES } from './router-materials.js';
import { WatchedKind } from './watched-kind.js';
import type { RouterMode } from '../site/model.js';

/** Annotations the controller writes on a token Secret applied with kubectl. */
export const TOKEN_ANNOTATIONS = {
  /** `linked as "NAME"`, or why not. */
  status: 'kskup.io/link-status',
  /** The link it made. */
  link: 'kskup.io/link',
  /** sha256 of the token's data: a token is redeemed once per content. */
  digest: 'kskup.io/token-digest',
} as const;

export interface KubernetesControllerOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly log: Logger;
  /** The site's services (service-controller/compose.ts). */
  readonly services: SiteServicesFactory;
  /** /healthz, /readyz and /metrics (the services' metrics: docs/metrics.md) (default PORTS.controllerHealth); 0 picks a free port. */
  readonly healthPort?: number;
  /** The claims endpoint (default PORTS.claims); 0 picks a free port. */
  readonly claimsPort?: number;
  readonly listenHost?: string;
  /** The node this controller runs on (status.hostIP), for NodePort ingress. */
  readonly nodeAddress?: string;
  /** Where the router's local AMQP listener is reached (default: its Service, kskup-router-local.NS.svc:5671). */
  readonly router?: { readonly host: string; readonly port: number };
  /**
   * Whether ready pods' target ports are probed over TCP (default true): only
   * where the controller reaches pod IPs (in the cluster). Off, readiness
   * alone counts, and `service status` says so.
   */
  readonly podProbes?: boolean;
  /** The TCP probe of a pod's target port (the services' probe, service-controller/target-health.ts); without it, readiness alone counts. */
  readonly probeTarget?: (host: string, port: number) => Promise<ProbeResult>;
  /** How often ready pods' target ports are probed, in ms (default 5000; the local platform's host-target period, KSKUP_SYNC_HEALTH_MS). */
  readonly podProbePeriodMs?: number;
}

export interface RunningController {
  readonly healthPort: number;
  readonly claimsPort: number;
  /** Resolves when every watch has listed and the site document exists. */
  readonly ready: Promise<void>;
  stop(): Promise<void>;
}

interface Settings {
  readonly name: string;
  readonly mode: RouterMode;
  readonly ingress: IngressType;
  readonly ingressHost?: string;
  /** Router replicas (the StatefulSet's replicas): one config key each. */
  readonly routers: number;
}

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 30_000;
/** How often the router is asked for its links and listeners: a link that comes up shows in `link status` within about this. */
const LINK_POLL_MS = 1_000;
const EVENT_REPEAT_MS = 60_000;

export async function runKubernetesController(options: KubernetesControllerOptions): Promise<RunningController> {
  const controller = new KubernetesSiteController(options);
  await controller.start();
  return controller;
}

class KubernetesSiteController implements RunningController {
  private readonly core: CoreV1Api;
  /** The site services' Prometheus metrics (health changes), at /metrics on the health port. */
  private readonly metrics = new Registry();
  private readonly log: Logger;
  private readonly namespace: string;
  private readonly configMaps: WatchedKind<V1ConfigMap>;
  private readonly secrets: WatchedKind<V1Secret>;
  private readonly tokens: WatchedKind<V1Secret>;
  private readonly services: WatchedKind<V1Service>;
  /** Workloads and their pods, for the targets of services exposed here (all of the namespace: a workload is the user's, unlabelled). */
  private readonly deployments: WatchedKind<V1Deployment>;
  private readonly pods: WatchedKind<V1Pod>;
  /** More workloads, and every Service of the namespace (not only the site's): the targets of statefulset/, daemonset/ and service/NAME, and their kskup.io annotations may expose them. */
  private readonly statefulSets: WatchedKind<V1StatefulSet>;
  private readonly daemonSets: WatchedKind<V1DaemonSet>;
  private readonly allServices: WatchedKind<V1Service>;
  private readonly annotated: AnnotatedServices;
  /** The network as last written to the snapshot: the ports other sites expose each address with. */
  private lastNetwork: ServicesSnapshot | undefined;
  private readonly addressServices: AddressServices;
  private readonly podProbes: PodProbes;
  /** The problems of address Services last recorded as Events, so each is recorded once. */
  private serviceProblems: Readonly<Record<string, string>> = {};
  private pass: Promise<void> = Promise.resolve();
  private passQueued = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;
  private siteController: SiteController | undefined;
  private storage: KubernetesSiteStorage | undefined;
  /** The site document as the last pass read it. */
  private document: SiteDocument | undefined;
  private claims: HttpsServer | undefined;
  private claimsCert = '';
  private health: HttpServer | undefined;
  /** Link name -> its connection as the router reports it (polled). */
  private linkState = new Map<string, { connected: boolean; reason: string }>();
  /** tcpListener name (the router address) -> its bind state as the router reports it (polled). */
  private listenerState = new Map<string, ListenerStatus>();
  private leaving = false;
  /** The content of kskup-router-certs as last written (or found unchanged). */
  private routerCerts: Readonly<Record<string, string>> = {};
  private lastSnapshot = '';
  /** Why the ingress address was pending at the last pass (logged when it changes, not at every pass). */
  private ingressPending: string | undefined;
  private lastLinks = '';
  private linkTimer: NodeJS.Timeout | undefined;
  /** The site's router config as the site controller last made it (or found it), what each replica's is made from. */
  private siteConfig = '';
  private replicas = 1;
  private routerConfigWrites: Promise<void> = Promise.resolve();
  /** Each replica as it last answered (ConfigMap kskup-network, routers.json). */
  private replicaReports: readonly ReplicaReport[] = [];
  private readonly events = new Map<string, number>();
  private markReady: () => void = () => undefined;
  private isReady = false;
  readonly ready: Promise<void> = new Promise((resolve) => (this.markReady = resolve));
  healthPort = 0;
  claimsPort = 0;

  constructor(private readonly options: KubernetesControllerOptions) {
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.log = options.log;
    this.namespace = options.namespace;
    const ns = encodeURIComponent(this.namespace);
    const common = { log: this.log, onChange: (reason: string) => this.queue(reason) };
    const ours = `${PART_OF_LABEL}=kskup`;
    this.configMaps = new WatchedKind(options.kubeConfig, {
      ...common,
      what: 'ConfigMaps of the site',
      path: `/api/v1/namespaces/${ns}/configmaps`,
      labelSelector: ours,
      list: () => this.core.listNamespacedConfigMap({ namespace: this.namespace, labelSelector: ours }),
    });
    this.secrets = new WatchedKind(options.kubeConfig, {
      ...common,
      what: 'Secrets of the site',
      path: `/api/v1/namespaces/${ns}/secrets`,
      labelSelector: ours,
      list: () => this.core.listNamespacedSecret({ namespace: this.namespace, labelSelector: ours }),
    });
    const tokenSelector = `${TOKEN_TYPE_LABEL} in (${TOKEN_TYPE_VALUES.join(',')})`;
    this.tokens = new WatchedKind(options.kubeConfig, {
      ...common,
      what: 'token Secrets',
      path: `/api/v1/namespaces/${ns}/secrets`,
      labelSelector: tokenSelector,
      list: () => this.core.listNamespacedSecret({ namespace: this.namespace, labelSelector: tokenSelector }),
    });
    this.services = new WatchedKind(options.kubeConfig, {
      ...common,
      what: 'Services of the site',
      path: `/api/v1/namespaces/${ns}/services`,
      labelSelector: ours,
      list: () => this.core.listNamespacedService({ namespace: this.namespace, labelSelector: ours }),
    });
    const apps = options.kubeConfig.makeApiClient(AppsV1Api);
    // Pods change targets only: the site controller follows them without a full pass (the router config sooner).
    // Workloads take a full pass: their kskup.io annotations may expose them (annotated-services.ts).
    const targets = { log: this.log, onChange: (reason: string) => this.targetsChanged(reason) };
    this.deployments = new WatchedKind(options.kubeConfig, {
      ...common,
      what: 'Deployments',
      path: `/apis/apps/v1/namespaces/${ns}/deployments`,
      list: () => apps.listNamespacedDeployment({ namespace: this.namespace }),
    });
    this.pods = new WatchedKind(options.kubeConfig, {
      ...targets,
      what: 'Pods',
      path: `/api/v1/namespaces/${ns}/pods`,
      list: () => this.core.listNamespacedPod({ namespace: this.namespace }),
    });
    this.statefulSets = new WatchedKind(options.kubeConfig, {
      ...common,
      what: 'StatefulSets',
      path: `/apis/apps/v1/namespaces/${ns}/statefulsets`,
      list: () => apps.listNamespacedStatefulSet({ namespace: this.namespace }),
    });
    this.daemonSets = new WatchedKind(options.kubeConfig, {
      ...common,
      what: 'DaemonSets',
      path: `/apis/apps/v1/namespaces/${ns}/daemonsets`,
      list: () => apps.listNamespacedDaemonSet({ namespace: this.namespace }),
    });
    this.allServices = new WatchedKind(options.kubeConfig, {
      ...common,
      what: 'Services',
      path: `/api/v1/namespaces/${ns}/services`,
      list: () => this.core.listNamespacedService({ namespace: this.namespace }),
    });
    this.annotated = new AnnotatedServices({ core: this.core, namespace: this.namespace, log: this.log });
    this.podProbes = new PodProbes({
      enabled: (options.podProbes ?? true) && options.probeTarget !== undefined,
      periodMs: options.podProbePeriodMs ?? 5_000,
      probe: (host, port) => options.probeTarget?.(host, port) ?? Promise.resolve({ ok: true }),
      onChange: () => this.siteController?.targetsChanged('pod probe'),
    });
    this.addressServices = new AddressServices(this.core, this.namespace, (name) => this.services.get(name), () => this.services.list());
  }

  private get watched() {
    return [this.configMaps, this.secrets, this.tokens, this.services, this.deployments, this.statefulSets, this.daemonSets, this.allServices, this.pods];
  }

  async start(): Promise<void> {
    this.health = await listen(createHttpServer((request, response) => this.answerHealth(request.url ?? '', response)), this.options.listenHost, this.options.healthPort ?? PORTS.controllerHealth);
    this.healthPort = portOf(this.health);
    for (const kind of this.watched) kind.start();
    // Nothing is written before every watch has listed: a half-read cluster would look like a site with no links.
    void Promise.all(this.watched.map((kind) => kind.synced)).then(() => this.queue('watches synced'));
    this.log.info({ namespace: this.namespace, healthPort: this.healthPort }, 'kskup controller started');
  }

  private answerHealth(url: string, response: import('node:http').ServerResponse): void {
    const path = url.split('?')[0];
    if (path === '/healthz') return void response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    if (path === '/metrics') {
      return void this.metrics.metrics().then(
        (text) => response.writeHead(200, { 'content-type': this.metrics.contentType }).end(text),
        () => response.writeHead(500).end(),
      );
    }
    if (path === '/readyz') {
      const code = this.isReady ? 200 : 503;
      return void response.writeHead(code, { 'content-type': 'text/plain' }).end(this.isReady ? 'ready\n' : 'not ready: watches not synced or no site yet\n');
    }
    response.writeHead(404).end();
  }

  /** Workloads or pods changed: the site controller's targets pass alone once it runs; before that, a full pass. */
  private targetsChanged(reason: string): void {
    if (this.siteController) this.siteController.targetsChanged(reason);
    else this.queue(reason);
  }

  /** One pass at a time; any number of changes during a pass make one more pass after it. */
  private queue(reason: string): void {
    if (this.stopped || !this.watched.every((kind) => kind.isSynced)) return;
    if (this.passQueued) return;
    this.passQueued = true;
    this.pass = this.pass.then(async () => {
      this.passQueued = false;
      if (this.stopped) return;
      try {
        await this.reconcile();
        this.failures = 0;
      } catch (error) {
        this.failures++;
        const message = error instanceof Error ? error.message : String(error);
        this.log.error({ trigger: reason, reason: message }, 'site reconcile failed; retrying');
        await this.recordEvent('Warning', 'ReconcileFailed', message);
        const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (this.failures - 1));
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => this.queue('retry'), delay);
      }
    });
  }

  private async reconcile(): Promise<void> {
    const settingsMap = this.configMaps.get(NAMES.site);
    if (!settingsMap) {
      this.log.info(`no ConfigMap ${NAMES.site} in namespace "${this.namespace}": waiting for kskup init (or the Helm chart) to create the site`);
      return;
    }
    const settings = readSettings(settingsMap);
    const owner = siteOwner(settingsMap);
    this.replicas = settings.routers;
    if (settingsMap.metadata?.annotations?.[LEAVING_ANNOTATION]) return this.leave();
    const storage = (this.storage ??= new KubernetesSiteStorage(this.core, this.namespace, owner));
    const ingress = resolveIngress(
      { type: settings.ingress, ...(settings.ingressHost && { ingressHost: settings.ingressHost }), ...(this.options.nodeAddress && { nodeAddress: this.options.nodeAddress }) },
      this.services.get(NAMES.router),
    );
    const pending = ingress.ok ? undefined : ingress.pending;
    if (pending !== undefined && pending !== this.ingressPending) this.log.info({ reason: pending }, 'ingress address pending');
    this.ingressPending = pending;
    const document = await ensureSiteState(storage, settings, ingress, this.log);
    if (document.site.mode === 'interior') await this.ensurePeerCredentials(storage, document.site.name);
    const routerSecrets = this.routerSecrets(document);
    await this.applyRouterCerts(routerSecrets, owner);
    if (document.site.mode === 'interior') await this.ensureClaimsServer(storage);
    await this.redeemTokenSecrets(storage);
    this.document = document;
    this.ensureSiteController(storage, document, owner);
    // Another replica count, or replica configs an older kskup did not write: the site config has not changed, so the site controller would not write them.
    await this.writeRouterConfigs(owner);
    await this.annotated.sync(
      storage,
      { deployments: this.deployments.list(), statefulSets: this.statefulSets.list(), daemonSets: this.daemonSets.list(), services: this.allServices.list() },
      (address) => this.portsElsewhere(address),
      this.configMaps.get(NAMES.state)?.metadata?.resourceVersion,
    );
    this.siteController?.stateChanged('kubernetes state');
    if (!this.isReady) {
      this.isReady = true;
      this.markReady();
      this.log.info(`site "${document.site.name}" is ready`);
    }
  }

  private secretText(name: string): SecretText | undefined {
    const secret = this.secrets.get(name);
    if (!secret) return undefined;
    return Object.fromEntries(Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]));
  }

  private routerSecrets(document: SiteDocument): RouterSecrets {
    return {
      siteServer: this.secretText(NAMES.siteServer),
      localServer: this.secretText(NAMES.localServer),
      routerPeer: this.secretText(NAMES.routerPeer),
      links: new Map(document.links.map((link) => [link.name, this.secretText(linkSecretName(link.name))])),
      tlsBundles: new Map(
        this.secrets
          .list()
          .filter((secret) => secret.metadata?.labels?.[TLS_BUNDLE_LABEL] === 'true' && secret.metadata.name)
          .flatMap((secret) => {
            const text = this.secretText(secret.metadata?.name ?? '');
            return text ? [[secret.metadata?.name ?? '', text] as const] : [];
          }),
      ),
    };
  }

  /** kskup-router-certs, written only when its content changes (the kubelet then updates the pods' volume). */
  private async applyRouterCerts(secrets: RouterSecrets, owner: V1OwnerReference): Promise<void> {
    const data = routerCertsData(secrets);
    const current = this.secretText(NAMES.routerCerts);
    if (current && JSON.stringify(sorted(current)) === JSON.stringify(sorted(data))) {
      this.routerCerts = data;
      return;
    }
    await this.storage?.applySecret({
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: { name: NAMES.routerCerts, namespace: this.namespace, labels: siteLabels({ labels: {} }), ownerReferences: [owner] },
      stringData: data,
    });
    this.routerCerts = data;
  }

  /** The replicas' client certificate for links between them (router-replicas.ts): made once, kept, renewed near its end. */
  private async ensurePeerCredentials(storage: KubernetesSiteStorage, siteName: string): Promise<void> {
    // The watched Secret when it is there: a pass reads nothing from the API when nothing is to be done.
    const cached = this.secretText(NAMES.siteCa);
    const ca = cached?.['tls.crt'] && cached['tls.key'] ? { certPem: cached['tls.crt'], keyPem: cached['tls.key'] } : await storage.siteCertificateAuthority();
    const issued = await peerCredentialsToIssue(ca, siteName, this.secretText(NAMES.routerPeer));
    if (!issued) return;
    await storage.writeTlsSecret(NAMES.routerPeer, issued, { 'ca.crt': ca.certPem });
    this.log.info('issued the router replicas\' client certificate');
  }

  private async ensureClaimsServer(storage: KubernetesSiteStorage): Promise<void> {
    const server = await storage.serverCertificate();
    if (this.claims && server.certPem === this.claimsCert) return;
    this.claimsCert = server.certPem;
    if (this.claims) {
      // A new ingress address re-issued the certificate: new handshakes use it, open ones carry on.
      this.claims.setSecureContext({ cert: server.certPem, key: server.keyPem });
      return;
    }
    this.claims = await startClaimsServer({
      host: this.options.listenHost ?? '0.0.0.0',
      port: this.options.claimsPort ?? PORTS.claims,
      ...server,
      log: this.log.child({ module: 'CLAIMS' }),
      redeem: (name, request) => redeemClaimAt(storage, name, request),
    });
    this.claimsPort = portOf(this.claims);
  }

  /** Token Secrets applied with kubectl: each content is redeemed once, and the outcome written on the Secret. */
  private async redeemTokenSecrets(storage: KubernetesSiteStorage): Promise<void> {
    for (const secret of this.tokens.list()) {
      const name = secret.metadata?.name ?? '';
      const digest = createHash('sha256').update(JSON.stringify(sorted(secret.data ?? {}))).digest('hex');
      if (secret.metadata?.annotations?.[TOKEN_ANNOTATIONS.digest] === digest) continue;
      let status: string;
      let link: string | undefined;
      try {
        const token = tokenFromSecret(secret, `Secret ${name}`);
        const cost = Number(secret.metadata?.annotations?.['kskup.io/cost'] ?? '1');
        const made = await createLink(storage, token, { cost: Number.isInteger(cost) && cost > 0 ? cost : 1 });
        link = made.name;
        status = `linked as "${made.name}" to site "${made.remoteSiteName}"`;
        this.log.info({ secret: name, link: made.name }, `token Secret ${name}: ${status}`);
        await this.recordEvent('Normal', 'Linked', `token Secret ${name}: ${status}`);
      } catch (error) {
        // A refused token is final (a claim is used up by trying); a transport failure is retried.
        if (!(error instanceof SiteError)) throw error;
        status = `not linked: ${error.message}`;
        this.log.warn({ secret: name }, `token Secret ${name}: ${status}`);
        await this.recordEvent('Warning', 'LinkFailed', `token Secret ${name}: ${status}`);
      }
      await this.annotate(name, { [TOKEN_ANNOTATIONS.digest]: digest, [TOKEN_ANNOTATIONS.status]: status, ...(link && { [TOKEN_ANNOTATIONS.link]: link }) });
    }
  }

  private async annotate(secretName: string, annotations: Record<string, string>): Promise<void> {
    try {
      await this.core.patchNamespacedSecret(
        { name: secretName, namespace: this.namespace, body: { metadata: { annotations } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    } catch (error) {
      if (!isNotFound(error)) throw new SiteError(`cannot annotate Secret ${secretName}: ${describeApiError(error)}`, { cause: error });
    }
  }

  private ensureSiteController(storage: KubernetesSiteStorage, document: SiteDocument, owner: V1OwnerReference): void {
    if (this.siteController) return;
    const local = this.secretText(NAMES.localClient);
    if (!local?.['tls.crt'] || !local['tls.key'] || !local['ca.crt']) throw new SiteError(`Secret ${NAMES.localClient} is missing or incomplete`);
    const router = this.options.router ?? { host: `${NAMES.routerLocal}.${this.namespace}.svc`, port: PORTS.amqp };
    const tls = { ca: Buffer.from(local['ca.crt']), cert: Buffer.from(local['tls.crt']), key: Buffer.from(local['tls.key']) };
    const current = this.configMaps.get(NAMES.routerConfig)?.data?.[SITE_CONFIG_KEY] ?? '';
    this.siteConfig = current;
    this.siteController = new SiteController(
      {
        storage,
        log: this.log,
        services: this.options.services,
        routerEndpoint: { host: router.host, port: router.port, tls },
        // Only what kskup-router-certs has been given: a link whose Secret arrived after it waits for the next pass.
        routerState: (state) => kubernetesRouterState(state, this.namespace, secretsInRouterCerts(this.routerCerts, state.links.map((link) => link.name))),
        applyRouterConfig: (text) => this.applyRouterConfig(text, owner),
        linkIsUp: (name) => this.linkState.get(name)?.connected === true,
        linkProblem: (name) => this.linkState.get(name)?.reason || undefined,
        listenerStatus: (address) => this.listenerState.get(address),
        // The router pod has its own network: no other site shares its ports, but its own listeners hold some
        // (a service on port 45671 once got a tcpListener on the edge listener's port, and every config was refused).
        portsTakenElsewhere: async () => ROUTER_POD_PORTS,
        writeSnapshot: (snapshot) => this.writeSnapshot(snapshot, owner),
        workloadEndpoints: (target) => this.workloadEndpoints(target),
        derivedServices: (state) => perPodServices(state, (name) => this.statefulSets.get(name)),
        // The router is another pod: the services' metrics are served here, at /metrics on the health port.
        metrics: this.metrics,
      },
      document,
      current,
    );
    this.siteController.start();
    this.podProbes.start();
    this.linkTimer = setInterval(() => void this.pollRouter(tls), LINK_POLL_MS);
    void this.pollRouter(tls);
  }

  /** Where each replica's management is asked: its name behind the headless Service, or the one router given (`--router`, development). */
  private replicaEndpoints(): ReplicaEndpoint[] {
    if (this.options.router) return [{ pod: `${this.options.router.host}:${this.options.router.port}`, ...this.options.router }];
    const serverName = `${NAMES.routerLocal}.${this.namespace}.svc`;
    return Array.from({ length: this.replicas }, (_, index) => ({ pod: replicaPodName(index), host: replicaHost(index, this.namespace), port: PORTS.amqp, serverName }));
  }

  /**
   * Which links are up and which service listeners are bound, from each
   * replica's connectors and tcpListeners (AMQP management through its local
   * listener; replica-status.ts). The routers run in other pods, so this is
   * polled; a listener that failed to bind makes the site controller move it at once.
   */
  private async pollRouter(tls: ManagementTls): Promise<void> {
    const reports = await Promise.all(this.replicaEndpoints().map((endpoint) => askReplica(endpoint, tls, LINK_POLL_MS)));
    for (const report of reports) if (!report.answered) this.log.debug({ router: report.pod, reason: report.reason }, 'cannot ask the router for its state');
    const links = siteLinks(reports, this.linkState.keys());
    const next = siteListeners(reports);
    const changed = [...next].filter(([name, status]) => JSON.stringify(this.listenerState.get(name)) !== JSON.stringify(status)).map(([name]) => name);
    const linksChanged = JSON.stringify([...links]) !== JSON.stringify([...this.linkState]);
    this.linkState = links;
    this.replicaReports = reports;
    // A replica that does not answer says nothing about the listeners: keep what was known.
    if (reports.some((report) => report.answered)) this.listenerState = next;
    for (const name of changed) this.siteController?.listenerStatusChanged(name);
    // A link that came up or went down is news for the network and for `link status`: a pass now, not at the next heartbeat.
    if (linksChanged) this.siteController?.stateChanged('link state');
  }

  /** The pods of a workload target, from the watched workloads, Services and Pods, and the probes of the ready ones. */
  private workloadEndpoints(target: ServiceTarget): WorkloadEndpoints {
    const selected = targetPods(target, {
      deployment: (name) => this.deployments.get(name),
      statefulSet: (name) => this.statefulSets.get(name),
      daemonSet: (name) => this.daemonSets.get(name),
      service: (name) => this.allServices.get(name),
      pods: this.pods.list(),
    });
    return podEndpoints(selected, target.targetPorts, (ip, port) => this.podProbes.state(ip, port));
  }

  /** The ports other sites expose `address` with, from the network as last heard. */
  private portsElsewhere(address: string): readonly number[] | undefined {
    const selfId = this.lastNetwork?.self.site.id;
    return this.lastNetwork?.services.find((s) => s.address === address && s.exposedAt.some((site) => site.id !== selfId))?.ports;
  }

  private async applyRouterConfig(text: string, owner: V1OwnerReference): Promise<void> {
    this.siteConfig = text;
    await this.writeRouterConfigs(owner);
  }

  /**
   * ConfigMap kskup-router: the site config and each replica's (router-replicas.ts).
   * Writes run one after another, each with the newest content, so an older
   * write never lands after a newer one.
   */
  private writeRouterConfigs(owner: V1OwnerReference): Promise<void> {
    const write = this.routerConfigWrites.then(async () => {
      if (this.siteConfig === '') return;
      const peerCredentials = Boolean(this.routerCerts[CERT_FILES.routerPeerCert] && this.routerCerts[CERT_FILES.routerPeerKey]);
      await this.applyConfigMap(NAMES.routerConfig, replicaConfigs(this.siteConfig, { replicas: this.replicas, namespace: this.namespace, peerCredentials }), owner);
    });
    this.routerConfigWrites = write.catch(() => undefined);
    return write;
  }

  /** For the status commands: the network as this site knows it, and each link's state with the reason it is down. */
  private async writeSnapshot(withoutServices: ServicesSnapshot, owner: V1OwnerReference): Promise<void> {
    // Every address in the network gets its Service here first: what is written says which could not.
    // Kept, like listener ports, until the site controller has heard the network once.
    this.lastNetwork = withoutServices;
    const prune = this.siteController?.heardTheNetwork() ?? false;
    const desired = desiredAddressServices(withoutServices);
    // service/NAME exposed as NAME: the user's Service is the one pods here use (it selects the target's pods); no Service of kskup's beside it.
    for (const service of this.document?.services ?? []) {
      if (service.targets.some((t) => t.type === 'service' && t.name === service.address)) desired.delete(service.address);
    }
    // An annotated Service exposed under its own name is the name's Service here: it is the user's, and it serves.
    for (const address of this.annotated.servedByTheirOwnService) desired.delete(address);
    const problems = await this.addressServices.sync(desired, owner, prune);
    for (const [address, problem] of Object.entries(problems)) {
      if (this.serviceProblems[address] === problem) continue;
      this.log.error({ address, reason: problem }, `no Service for address "${address}": ${problem}`);
      await this.recordEvent('Warning', 'ServiceNotCreated', `address "${address}": ${problem}`);
    }
    this.serviceProblems = problems;
    const annotationProblems = this.annotated.problems;
    const snapshot: ServicesSnapshot = {
      ...withoutServices,
      ...(Object.keys(problems).length > 0 && { serviceProblems: problems }),
      ...(Object.keys(annotationProblems).length > 0 && { annotationProblems }),
    };
    // The time alone changes every heartbeat; written only when something else did, the API sees no write per heartbeat.
    // So does our own announcement's seq (the time it was made): counted as a change, each write of
    // this ConfigMap would be seen by our watch, start a pass, make a new announcement and write again,
    // a loop of passes (about 10 a second, each with its reads and a write) for as long as we run.
    const content = JSON.stringify({ ...snapshot, updatedAt: '', self: { ...snapshot.self, seq: 0 } });
    const links = JSON.stringify([...this.linkState, this.replicaReports]);
    if (content === this.lastSnapshot && links === this.lastLinks) return;
    this.lastSnapshot = content;
    this.lastLinks = links;
    await this.applyConfigMap(
      NAMES.network,
      {
        [NETWORK_KEYS.snapshot]: `${JSON.stringify(snapshot, null, 2)}\n`,
        [NETWORK_KEYS.links]: `${JSON.stringify(Object.fromEntries(this.linkState), null, 2)}\n`,
        [NETWORK_KEYS.routers]: `${JSON.stringify(this.replicaReports, null, 2)}\n`,
      },
      owner,
    );
  }

  /** Create, or replace the data of, one of the controller's own ConfigMaps; unchanged data writes nothing. */
  private async applyConfigMap(name: string, data: Record<string, string>, owner: V1OwnerReference): Promise<void> {
    const body: V1ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace: this.namespace, labels: siteLabels({ labels: {} }), ownerReferences: [owner] },
      data,
    };
    const existing = this.configMaps.get(name);
    if (existing && JSON.stringify(sorted(existing.data ?? {})) === JSON.stringify(sorted(data))) return;
    try {
      if (existing) {
        await this.core.replaceNamespacedConfigMap({ name, namespace: this.namespace, body: { ...body, metadata: { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion } } });
      } else {
        await this.core.createNamespacedConfigMap({ namespace: this.namespace, body });
      }
    } catch (error) {
      if (!isConflict(error)) throw new SiteError(`cannot write ConfigMap ${name}: ${describeApiError(error)}`, { cause: error });
      // The cache was behind: read the current version and replace that.
      const fresh = await this.core.readNamespacedConfigMap({ name, namespace: this.namespace });
      await this.core.replaceNamespacedConfigMap({ name, namespace: this.namespace, body: { ...body, metadata: { ...body.metadata, resourceVersion: fresh.metadata?.resourceVersion } } });
    }
  }

  /** A Kubernetes Event on the site ConfigMap; the same reason and message at most once a minute. */
  private async recordEvent(type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const site = this.configMaps.get(NAMES.site);
    const key = `${reason}\u0000${message}`;
    const now = Date.now();
    if (!site?.metadata?.uid || (this.events.get(key) ?? 0) > now - EVENT_REPEAT_MS) return;
    this.events.set(key, now);
    await recordEventOn(this.core, this.namespace, this.log, { apiVersion: 'v1', kind: 'ConfigMap', name: NAMES.site, uid: site.metadata.uid }, type, reason, message);
  }

  /**
   * `kskup delete` marked the site leaving: say goodbye to the network once (its
   * sites forget this one's services at once) and tell the CLI it was said.
   */
  private async leave(): Promise<void> {
    if (this.leaving) return;
    this.leaving = true;
    clearInterval(this.linkTimer);
    await this.siteController?.stop(true);
    this.siteController = undefined;
    this.log.info('the site is being deleted: said goodbye to the network');
    await this.core
      .patchNamespacedConfigMap({ name: NAMES.site, namespace: this.namespace, body: { metadata: { annotations: { [GOODBYE_ANNOTATION]: new Date().toISOString() } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch))
      .catch((error: unknown) => this.log.debug({ reason: describeApiError(error) }, 'cannot mark the goodbye as sent'));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.linkTimer);
    this.podProbes.stop();
    await this.pass;
    await this.siteController?.stop(false);
    await Promise.all(this.watched.map((kind) => kind.stop()));
    for (const server of [this.claims, this.health]) {
      server?.close();
      server?.closeAllConnections();
    }
    this.log.info('kskup controller stopped');
  }
}

function readSettings(map: V1ConfigMap): Settings {
  const data = map.data ?? {};
  const problem = (field: string, message: string) => new SiteError(`ConfigMap ${NAMES.site}: ${field} ${message}`);
  const name = data.name;
  if (!name) throw problem('name', 'is missing');
  const mode = data.mode ?? 'interior';
  if (mode !== 'interior' && mode !== 'edge') throw problem('mode', `must be interior or edge, not "${mode}"`);
  const ingress = (data.ingress ?? 'loadbalancer') as IngressType;
  if (!INGRESS_TYPES.includes(ingress)) throw problem('ingress', `must be one of ${INGRESS_TYPES.join(', ')}, not "${ingress}"`);
  const routers = Number(data.routers ?? '1');
  if (!Number.isInteger(routers) || routers < 1) throw problem('routers', `must be a whole number of router replicas, 1 or more, not "${data.routers}"`);
  return { name, mode, ingress, ...(data.ingressHost && { ingressHost: data.ingressHost }), routers };
}

function sorted(record: Readonly<Record<string, string>>): [string, string][] {
  return Object.entries(record).sort(([a], [b]) => a.localeCompare(b));
}

function listen<T extends HttpServer | HttpsServer>(server: T, host: string | undefined, port: number): Promise<T> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host ?? '0.0.0.0', () => {
      server.off('error', reject);
      server.on('error', () => undefined);
      resolve(server);
    });
  });
}

function portOf(server: HttpServer | HttpsServer): number {
  const address = server.address();
  return address && typeof address === 'object' ? address.port : 0;
}
