// The Kubernetes objects of a site, as pure functions of its settings: what
// `kskup init` creates and what the Helm chart (charts/kskup) renders. Nothing
// here talks to a cluster; one apply path writes these (see docs/kubernetes.md).
//
// Everything is namespace-scoped (no CRD, no ClusterRole), so a namespace admin
// can install a site. Every object carries the part-of/managed-by labels; the
// objects `kskup init` creates are owned by the site ConfigMap, so deleting it
// has Kubernetes' garbage collector remove the site.
import type {
  V1ConfigMap,
  V1Container,
  V1Deployment,
  V1OwnerReference,
  V1PolicyRule,
  V1Role,
  V1RoleBinding,
  V1Service,
  V1StatefulSet,
  V1ServiceAccount,
  V1ServicePort,
  V1Toleration,
} from '@kubernetes/client-node';
import type { RouterMode } from '../site/model.js';

/** How other sites reach this one: a LoadBalancer Service, a NodePort Service, or not at all (links out only). */
export type IngressType = 'loadbalancer' | 'nodeport' | 'none';
export const INGRESS_TYPES: readonly IngressType[] = ['loadbalancer', 'nodeport', 'none'];

/** CPU in Kubernetes quantity form ("100m"), memory likewise ("128Mi"). */
export interface ResourceSettings {
  readonly requests: { readonly cpu: string; readonly memory: string };
  readonly limits: { readonly cpu?: string; readonly memory: string };
}

/** What a user chooses about a site on a cluster: `kskup init` flags, or the chart's values. */
export interface KubernetesSiteSettings {
  readonly name: string;
  readonly namespace: string;
  readonly mode: RouterMode;
  readonly ingress: IngressType;
  /** Overrides the address read from the ingress Service. */
  readonly ingressHost?: string;
  /** Router replicas: pods kskup-router-0..N-1 of a StatefulSet, each a router of its own (docs/kubernetes.md#router-replicas). */
  readonly routers: number;
  /** `kskup:<version>` by default. */
  readonly image: string;
  readonly imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  readonly routerResources: ResourceSettings;
  readonly controllerResources: ResourceSettings;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly tolerations: readonly V1Toleration[];
  /**
   * The web console in the cluster (the chart's console.enabled): a
   * Deployment serving `kskup console` on its pod's loopback, reached by
   * `kubectl port-forward`. Absent: no console objects.
   */
  readonly console?: { readonly resources: ResourceSettings };
}

/** Object names. Fixed, so a site is one per namespace and every part can find the others. */
export const NAMES = {
  /** Settings: the root owner of the site. */
  site: 'kskup-site',
  /** The site document (model.ts), written by the controller and the CLI. */
  state: 'kskup-site-state',
  routerConfig: 'kskup-router',
  /** Every certificate and key the router's sslProfiles name, in one Secret, so a new link changes no pod spec. */
  routerCerts: 'kskup-router-certs',
  siteCa: 'kskup-site-ca',
  /** The CA a rotation moves to (`kskup rotate-certs --ca`), until its cut-over. */
  siteCaNext: 'kskup-site-ca-next',
  siteServer: 'kskup-site-server',
  /** The router's local listener: its server certificate, and the only client certificate it takes (controller, CLI). */
  localServer: 'kskup-local-server',
  localClient: 'kskup-local-client',
  /** What the controller knows of the network, for `kskup network status` and `service status`. */
  network: 'kskup-network',
  router: 'kskup-router',
  controller: 'kskup-controller',
  /** The router's AMQP listener inside the cluster (management, service sync), mutual TLS with the local CA. */
  routerLocal: 'kskup-router-local',
  /**
   * Headless Service of the router StatefulSet: a stable DNS name per replica
   * (kskup-router-K.kskup-router-peers.NS.svc), which the replicas link to each
   * other at and the controller asks each replica's management at.
   */
  routerPeers: 'kskup-router-peers',
  /** The client certificate (site CA) a replica presents when it links to another replica. */
  routerPeer: 'kskup-router-peer',
  /** The console in the cluster: its Deployment, ServiceAccount, Role and RoleBinding, and the Secret of its password (made by the chart). */
  console: 'kskup-console',
} as const;

/** Container ports. The inter-router and edge numbers are skupper's, so firewalls written for Skupper fit. */
export const PORTS = {
  interRouter: 55671,
  edge: 45671,
  claims: 8081,
  amqp: 5671,
  http: 9090,
  controllerHealth: 8080,
  /** The console, on its pod's loopback only (`kskup console`'s default port). */
  console: 8010,
} as const;

/** Where the console container reads its password: key `password` of Secret kskup-console, mounted as a volume. */
export const CONSOLE_PATHS = {
  folder: '/etc/kskup/console',
  passwordFile: '/etc/kskup/console/password',
} as const;

/**
 * The ports the router pod's own listeners hold (AMQP, inter-router, edge,
 * HTTP, the claims tcpListener): never a service's tcpListener port. The
 * controller runs in another pod, so it cannot learn them by trying to bind.
 */
export const ROUTER_POD_PORTS: ReadonlySet<number> = new Set([PORTS.amqp, PORTS.interRouter, PORTS.edge, PORTS.http, PORTS.claims]);

/** Where the router container finds its config and certificates (volumes; see routerStatefulSet). */
export const ROUTER_PATHS = {
  configFolder: '/etc/kskup/router',
  /**
   * Each replica's own key of ConfigMap kskup-router (`kskup-router-0.json`, ...):
   * $(POD_NAME) is expanded by the kubelet from the env var of that name
   * (downward API metadata.name), as Kubernetes does in command and args.
   */
  configFile: '/etc/kskup/router/$(POD_NAME).json',
  certsFolder: '/etc/kskup/certs',
} as const;

export const PART_OF_LABEL = 'app.kubernetes.io/part-of';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const COMPONENT_LABEL = 'app.kubernetes.io/component';
export const NAME_LABEL = 'app.kubernetes.io/name';

/** What a site's objects are labelled with, for selection (`-l app.kubernetes.io/part-of=kskup`) and clean-up. */
export function siteLabels(settings: Pick<KubernetesSiteSettings, 'labels'>, managedBy = 'kskup'): Record<string, string> {
  return { ...settings.labels, [PART_OF_LABEL]: 'kskup', [MANAGED_BY_LABEL]: managedBy };
}

function selectorLabels(component: 'router' | 'controller' | 'console'): Record<string, string> {
  return { [NAME_LABEL]: `kskup-${component}`, [PART_OF_LABEL]: 'kskup' };
}

/** The owner every object `kskup init` creates points at: the site ConfigMap, once it exists (its uid). */
export function siteOwner(site: { readonly metadata?: { readonly name?: string; readonly uid?: string } }): V1OwnerReference {
  const { name, uid } = site.metadata ?? {};
  if (!name || !uid) throw new Error('the site ConfigMap has no name or uid yet: create it before its dependants');
  return { apiVersion: 'v1', kind: 'ConfigMap', name, uid, controller: true, blockOwnerDeletion: true };
}

interface Context {
  readonly settings: KubernetesSiteSettings;
  readonly owner?: V1OwnerReference;
}

function metadata({ settings, owner }: Context, name: string, extraLabels: Record<string, string> = {}) {
  return {
    name,
    namespace: settings.namespace,
    labels: { ...siteLabels(settings), ...extraLabels },
    ...(Object.keys(settings.annotations).length > 0 && { annotations: { ...settings.annotations } }),
    ...(owner && { ownerReferences: [owner] }),
  };
}

/** The site's settings as the controller reads them back (data keys are the settings' names, values strings). */
export function siteConfigMap(settings: KubernetesSiteSettings): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: metadata({ settings }, NAMES.site),
    data: {
      name: settings.name,
      mode: settings.mode,
      ingress: settings.ingress,
      ...(settings.ingressHost !== undefined && { ingressHost: settings.ingressHost }),
      routers: String(settings.routers),
    },
  };
}

export function controllerServiceAccount(context: Context): V1ServiceAccount {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: metadata(context, NAMES.controller) };
}

/**
 * Exactly the verbs the controller uses, and no more (listed in docs/kubernetes.md):
 * it reads its settings, writes its state, secrets and router config, watches
 * token Secrets, keeps the per-service Services, watches Deployments and Pods
 * for targets (informers: list and watch, never get), reads the ingress
 * Service's address, and records Events (created, never patched). The
 * end-to-end tests check this against what the controller's ServiceAccount
 * actually used (test/helpers/rbac-usage.ts): a new API call needs its verb
 * here, and a verb nothing uses any more fails those tests until removed.
 */
export const CONTROLLER_RULES: readonly V1PolicyRule[] = [
  { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'] },
  { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'] },
  { apiGroups: [''], resources: ['services'], verbs: ['get', 'list', 'watch', 'create', 'update', 'delete'] },
  { apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create'] },
  { apiGroups: ['apps'], resources: ['deployments', 'statefulsets', 'daemonsets'], verbs: ['list', 'watch'] },
];

export function controllerRole(context: Context): V1Role {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: metadata(context, NAMES.controller),
    rules: CONTROLLER_RULES.map((rule) => ({ ...rule, apiGroups: [...(rule.apiGroups ?? [])], resources: [...(rule.resources ?? [])], verbs: [...rule.verbs] })),
  };
}

export function controllerRoleBinding(context: Context): V1RoleBinding {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: metadata(context, NAMES.controller),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: NAMES.controller },
    subjects: [{ kind: 'ServiceAccount', name: NAMES.controller, namespace: context.settings.namespace }],
  };
}

/** Non-root, read-only root filesystem, no privilege escalation, no capabilities: what restricted Pod Security asks. */
function hardenedContainer(container: V1Container): V1Container {
  return {
    ...container,
    securityContext: {
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
}

function podPlacement(settings: KubernetesSiteSettings) {
  return {
    ...(Object.keys(settings.nodeSelector).length > 0 && { nodeSelector: { ...settings.nodeSelector } }),
    ...(settings.tolerations.length > 0 && { tolerations: settings.tolerations.map((toleration) => ({ ...toleration })) }),
  };
}

function resources(settings: ResourceSettings) {
  return { requests: { ...settings.requests }, limits: { ...settings.limits } };
}

/**
 * The routers: a StatefulSet, so that each replica has a stable name
 * (kskup-router-K), its own router id and config, and a DNS name behind the
 * headless Service kskup-router-peers that the other replicas link to. Each
 * runs `kskup-router -c` on its own key of the ConfigMap the controller keeps
 * (ROUTER_PATHS.configFile), with its certificates from one Secret, both
 * mounted as volumes. The kubelet updates them by swapping a `..data`
 * symbolic link, which the router's file watch follows, so a change needs no
 * pod restart. The Secret is optional so that the pods can start before the
 * controller has made the keys. Parallel pod management: replicas do not
 * wait for each other (they link whenever both run).
 */
export function routerStatefulSet(context: Context): V1StatefulSet {
  const { settings } = context;
  const labels = selectorLabels('router');
  const ports = [
    { name: 'amqp', containerPort: PORTS.amqp },
    { name: 'http', containerPort: PORTS.http },
    ...(settings.mode === 'interior'
      ? [
          { name: 'inter-router', containerPort: PORTS.interRouter },
          { name: 'edge', containerPort: PORTS.edge },
          { name: 'claims', containerPort: PORTS.claims },
        ]
      : []),
  ];
  const probe = (path: string, periodSeconds: number) => ({ httpGet: { path, port: 'http' }, periodSeconds, timeoutSeconds: 2, failureThreshold: 3 });
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: metadata(context, NAMES.router, { [COMPONENT_LABEL]: 'router' }),
    spec: {
      replicas: settings.routers,
      serviceName: NAMES.routerPeers,
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: labels },
      template: {
        metadata: { labels: { ...siteLabels(settings), ...labels, [COMPONENT_LABEL]: 'router' } },
        spec: {
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000 },
          ...podPlacement(settings),
          containers: [
            hardenedContainer({
              name: 'router',
              image: settings.image,
              imagePullPolicy: settings.imagePullPolicy,
              command: ['kskup-router'],
              args: ['-c', ROUTER_PATHS.configFile],
              env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
              ports,
              livenessProbe: { ...probe('/healthz', 10), initialDelaySeconds: 5 },
              readinessProbe: probe('/healthz', 2),
              resources: resources(settings.routerResources),
              volumeMounts: [
                { name: 'router-config', mountPath: ROUTER_PATHS.configFolder, readOnly: true },
                { name: 'router-certs', mountPath: ROUTER_PATHS.certsFolder, readOnly: true },
              ],
            }),
          ],
          volumes: [
            { name: 'router-config', configMap: { name: NAMES.routerConfig } },
            { name: 'router-certs', secret: { secretName: NAMES.routerCerts, optional: true, defaultMode: 0o400 } },
          ],
        },
      },
    },
  };
}

/** The controller: site and service controllers in one process, with the claims endpoint; `kskup controller run`. */
export function controllerDeployment(context: Context): V1Deployment {
  const { settings } = context;
  const labels = selectorLabels('controller');
  const probe = (path: string, periodSeconds: number) => ({ httpGet: { path, port: 'health' }, periodSeconds, timeoutSeconds: 2, failureThreshold: 3 });
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: metadata(context, NAMES.controller, { [COMPONENT_LABEL]: 'controller' }),
    spec: {
      replicas: 1,
      // One controller at a time writes the site: never two during a rollout.
      strategy: { type: 'Recreate' },
      selector: { matchLabels: labels },
      template: {
        metadata: { labels: { ...siteLabels(settings), ...labels, [COMPONENT_LABEL]: 'controller' } },
        spec: {
          serviceAccountName: NAMES.controller,
          securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000 },
          ...podPlacement(settings),
          containers: [
            hardenedContainer({
              name: 'controller',
              image: settings.image,
              imagePullPolicy: settings.imagePullPolicy,
              command: ['kskup'],
              args: ['controller', 'run'],
              env: [{ name: 'KSKUP_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } }],
              ports: [
                { name: 'health', containerPort: PORTS.controllerHealth },
                { name: 'claims', containerPort: PORTS.claims },
              ],
              livenessProbe: { ...probe('/healthz', 10), initialDelaySeconds: 5 },
              readinessProbe: probe('/readyz', 2),
              resources: resources(settings.controllerResources),
            }),
          ],
        },
      },
    },
  };
}

/**
 * What the console reads, by name where Kubernetes allows it, and nothing else
 * (docs/kubernetes.md): the site's settings, state and network (ConfigMaps),
 * the local client certificate it presents to the router (Secret
 * kskup-local-client), and, as `kskup status` does, whether the controller
 * and the routers are ready (their Deployment and StatefulSet) and, when not,
 * why their pods say (list: a list cannot be limited by name). Never the CA
 * or any other key; it writes nothing.
 */
export const CONSOLE_RULES: readonly V1PolicyRule[] = [
  { apiGroups: [''], resources: ['configmaps'], resourceNames: [NAMES.site, NAMES.state, NAMES.network], verbs: ['get'] },
  { apiGroups: [''], resources: ['secrets'], resourceNames: [NAMES.localClient], verbs: ['get'] },
  { apiGroups: ['apps'], resources: ['deployments'], resourceNames: [NAMES.controller], verbs: ['get'] },
  { apiGroups: ['apps'], resources: ['statefulsets'], resourceNames: [NAMES.router], verbs: ['get'] },
  { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
];

export function consoleServiceAccount(context: Context): V1ServiceAccount {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: metadata(context, NAMES.console, { [COMPONENT_LABEL]: 'console' }) };
}

export function consoleRole(context: Context): V1Role {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: metadata(context, NAMES.console, { [COMPONENT_LABEL]: 'console' }),
    rules: CONSOLE_RULES.map((rule) => ({
      apiGroups: [...(rule.apiGroups ?? [])],
      resources: [...(rule.resources ?? [])],
      ...(rule.resourceNames && { resourceNames: [...rule.resourceNames] }),
      verbs: [...rule.verbs],
    })),
  };
}

export function consoleRoleBinding(context: Context): V1RoleBinding {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: metadata(context, NAMES.console, { [COMPONENT_LABEL]: 'console' }),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: NAMES.console },
    subjects: [{ kind: 'ServiceAccount', name: NAMES.console, namespace: context.settings.namespace }],
  };
}

/**
 * The console in the cluster: `kskup console` of this site, bound to its
 * pod's loopback (127.0.0.1:8010), so nothing but a port-forward through the
 * API (`kubectl port-forward deploy/kskup-console 8010`, which needs create on
 * pods/portforward) reaches it, and then only with the password from Secret
 * kskup-console, mounted as a file. It reaches its router at Service
 * kskup-router-local with the local client certificate. No container port
 * (nothing outside the pod may use it) and no probes: the kubelet probes the
 * pod's IP, where the console does not listen; a console that cannot listen
 * exits, and the kubelet restarts it.
 */
export function consoleDeployment(context: Context): V1Deployment {
  const { settings } = context;
  const labels = selectorLabels('console');
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: metadata(context, NAMES.console, { [COMPONENT_LABEL]: 'console' }),
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels: { ...siteLabels(settings), ...labels, [COMPONENT_LABEL]: 'console' } },
        spec: {
          serviceAccountName: NAMES.console,
          securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000 },
          ...podPlacement(settings),
          containers: [
            hardenedContainer({
              name: 'console',
              image: settings.image,
              imagePullPolicy: settings.imagePullPolicy,
              command: ['kskup'],
              args: ['console', '--platform', 'kubernetes', '--address', '127.0.0.1', '--port', String(PORTS.console), '--password-file', CONSOLE_PATHS.passwordFile],
              env: [{ name: 'KSKUP_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } }],
              resources: resources(settings.console?.resources ?? settings.controllerResources),
              volumeMounts: [{ name: 'console-password', mountPath: CONSOLE_PATHS.folder, readOnly: true }],
            }),
          ],
          volumes: [{ name: 'console-password', secret: { secretName: NAMES.console, items: [{ key: 'password', path: 'password' }], defaultMode: 0o400 } }],
        },
      },
    },
  };
}

/**
 * The ingress of an interior site: inter-router, edge and claims ports of the router pods.
 * Claims are answered by the controller; the router passes that port on to it
 * (a tcpListener and tcpConnector of its own), so one address serves all three.
 * `none`: a ClusterIP Service, reachable in the cluster only.
 */
export function routerService(context: Context): V1Service {
  const { settings } = context;
  const type = settings.ingress === 'loadbalancer' ? 'LoadBalancer' : settings.ingress === 'nodeport' ? 'NodePort' : 'ClusterIP';
  const ports: V1ServicePort[] = [
    { name: 'inter-router', port: PORTS.interRouter, targetPort: 'inter-router' },
    { name: 'edge', port: PORTS.edge, targetPort: 'edge' },
    { name: 'claims', port: PORTS.claims, targetPort: 'claims' },
  ];
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(context, NAMES.router, { [COMPONENT_LABEL]: 'router' }),
    spec: { type, selector: selectorLabels('router'), ports },
  };
}

/** The router's AMQP listener for the controller and `kskup` commands through the API (mutual TLS, local CA). */
export function routerLocalService(context: Context): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(context, NAMES.routerLocal, { [COMPONENT_LABEL]: 'router' }),
    spec: { type: 'ClusterIP', selector: selectorLabels('router'), ports: [{ name: 'amqp', port: PORTS.amqp, targetPort: 'amqp' }] },
  };
}

/**
 * The routers' headless Service: a DNS name per replica (the StatefulSet's
 * serviceName). Not-ready addresses are published, so that replicas can link
 * to each other while they start. Ports: AMQP (the controller asks each
 * replica's management) and, at an interior site, inter-router (replicas link).
 */
export function routerPeersService(context: Context): V1Service {
  const ports: V1ServicePort[] = [
    { name: 'amqp', port: PORTS.amqp, targetPort: 'amqp' },
    ...(context.settings.mode === 'interior' ? [{ name: 'inter-router', port: PORTS.interRouter, targetPort: 'inter-router' }] : []),
  ];
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(context, NAMES.routerPeers, { [COMPONENT_LABEL]: 'router' }),
    spec: { type: 'ClusterIP', clusterIP: 'None', publishNotReadyAddresses: true, selector: selectorLabels('router'), ports },
  };
}

/** Where the router sends claims connections: the controller's claims endpoint. */
export function controllerService(context: Context): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(context, NAMES.controller, { [COMPONENT_LABEL]: 'controller' }),
    spec: { type: 'ClusterIP', selector: selectorLabels('controller'), ports: [{ name: 'claims', port: PORTS.claims, targetPort: 'claims' }] },
  };
}

/** Everything `kskup init` creates after the site ConfigMap, in the order it creates them. */
export function siteObjects(settings: KubernetesSiteSettings, owner?: V1OwnerReference): (V1ServiceAccount | V1Role | V1RoleBinding | V1Service | V1Deployment | V1StatefulSet)[] {
  const context = { settings, ...(owner && { owner }) };
  return [
    controllerServiceAccount(context),
    controllerRole(context),
    controllerRoleBinding(context),
    controllerService(context),
    routerLocalService(context),
    routerPeersService(context),
    // An edge site accepts no links: no ingress.
    ...(settings.mode === 'interior' ? [routerService(context)] : []),
    controllerDeployment(context),
    routerStatefulSet(context),
    ...(settings.console ? [consoleServiceAccount(context), consoleRole(context), consoleRoleBinding(context), consoleDeployment(context)] : []),
  ];
}
