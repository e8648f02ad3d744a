// The Kubernetes platform's lifecycle of a site, as `kskup init`, `delete` and
// `status` drive it through the API: create the settings ConfigMap and the
// objects it owns (manifests.ts), wait for the controller to make the site,
// remove it all again. `init` on an existing site changes nothing but what a
// newer kskup wants different in its own objects (the image, say), which it
// updates in place; the CA, keys and links are the controller's and stay.
import { setTimeout as sleep } from 'node:timers/promises';
import { AppsV1Api, CoreV1Api, KubernetesObjectApi, PatchStrategy, RbacAuthorizationV1Api, setHeaderOptions, type KubernetesObject, type V1ConfigMap, type V1Deployment, type V1StatefulSet } from '@kubernetes/client-node';
import { SiteError } from '../site/errors.js';
import type { RouterMode, SiteDocument } from '../site/model.js';
import { resolveIngress, type IngressResolution } from './ingress.js';
import type { KubernetesAccess } from './kube-access.js';
import { describeApiError, isConflict, isNotFound } from './kube-errors.js';
import { KubernetesSiteStorage } from './kube-storage.js';
import { ExposeChecks } from './expose-checks.js';
import type { ReplicaReport } from './replica-status.js';
import { NAMES, PART_OF_LABEL, siteConfigMap, siteObjects, siteOwner, type IngressType, type KubernetesSiteSettings } from './manifests.js';

/** What the user asked for; unset fields take defaults for a new site and are not compared with an existing one. */
export interface KubernetesInitRequest {
  readonly name?: string;
  readonly mode?: RouterMode;
  readonly ingress?: IngressType;
  readonly ingressHost?: string;
  readonly routers?: number;
  readonly image?: string;
}

export interface KubernetesInitOutcome {
  readonly document: SiteDocument;
  readonly created: boolean;
  /** Objects of the site updated in place (a newer kskup, another image). */
  readonly updated: readonly string[];
  /** Options given that differ from the existing site (which keeps its own). */
  readonly ignored: readonly string[];
}

/** The keys of ConfigMap kskup-network, which the controller writes for the status commands. */
export const NETWORK_KEYS = { snapshot: 'network.json', links: 'links.json', routers: 'routers.json' } as const;

/** links.json: link name -> whether its connection is up, and why not. */
export type LinkStates = Readonly<Record<string, { readonly connected: boolean; readonly reason: string }>>;

/** Annotation on the settings ConfigMap: the site is being deleted, so its controller says goodbye to the network. */
export const LEAVING_ANNOTATION = 'kskup.io/leaving';
/** The controller's answer: the goodbye was sent. */
export const GOODBYE_ANNOTATION = 'kskup.io/goodbye-sent';

/** Defaults of a new site's settings (the Helm chart's values.yaml has the same). */
export function defaultSettings(namespace: string, request: KubernetesInitRequest, version: string): KubernetesSiteSettings {
  return {
    name: request.name ?? namespace,
    namespace,
    mode: request.mode ?? 'interior',
    ingress: request.ingress ?? 'loadbalancer',
    ...(request.ingressHost !== undefined && { ingressHost: request.ingressHost }),
    routers: request.routers ?? 1,
    image: request.image ?? `kskup:${version}`,
    imagePullPolicy: 'IfNotPresent',
    routerResources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { memory: '256Mi' } },
    controllerResources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '192Mi' } },
    labels: {},
    annotations: {},
    nodeSelector: {},
    tolerations: [],
  };
}

const POLL_MS = 250;

export class KubernetesSite {
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly objects: KubernetesObjectApi;

  constructor(readonly access: KubernetesAccess) {
    this.core = access.kubeConfig.makeApiClient(CoreV1Api);
    this.apps = access.kubeConfig.makeApiClient(AppsV1Api);
    this.objects = KubernetesObjectApi.makeApiClient(access.kubeConfig);
  }

  get namespace(): string {
    return this.access.namespace;
  }

  private where(): string {
    return `namespace "${this.namespace}" of ${this.access.server}`;
  }

  async readSettings(): Promise<V1ConfigMap | undefined> {
    try {
      return await this.core.readNamespacedConfigMap({ name: NAMES.site, namespace: this.namespace });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw new SiteError(`cannot read ConfigMap ${NAMES.site} in ${this.where()}: ${describeApiError(error)}`, { cause: error });
    }
  }

  /** The site's state, with its Secrets owned by the site (what tokens, links and services change). */
  async storage(): Promise<KubernetesSiteStorage> {
    const settings = await this.readSettings();
    return new KubernetesSiteStorage(this.core, this.namespace, settings?.metadata?.uid ? siteOwner(settings) : undefined);
  }

  async init(request: KubernetesInitRequest, version: string, timeoutMs: number, onWaiting: (what: string) => void): Promise<KubernetesInitOutcome> {
    let settingsMap = await this.readSettings();
    const created = settingsMap === undefined;
    let settings: KubernetesSiteSettings;
    let ignored: string[] = [];
    if (settingsMap === undefined) {
      settings = defaultSettings(this.namespace, request, version);
      onWaiting(`creating the site in ${this.where()}`);
      settingsMap = await this.create(siteConfigMap(settings));
    } else {
      const data = settingsMap.data ?? {};
      settings = defaultSettings(this.namespace, {
        ...(data.name && { name: data.name }),
        mode: data.mode === 'edge' ? 'edge' : 'interior',
        ingress: (data.ingress as IngressType | undefined) ?? 'loadbalancer',
        ...(data.ingressHost && { ingressHost: data.ingressHost }),
        routers: Number(data.routers ?? '1') || 1,
        ...(request.image !== undefined && { image: request.image }),
      }, version);
      ignored = differences(settings, request);
      if (request.routers !== undefined && request.routers !== settings.routers) {
        // Scaled in place: the controller writes the new replicas' configs, the StatefulSet makes their pods.
        settingsMap = await this.scaleRouters(request.routers);
        settings = { ...settings, routers: request.routers };
      }
    }
    const owner = siteOwner(settingsMap);
    const updated: string[] = [];
    if (await this.replaceRouterDeployment()) updated.push(`Deployment ${NAMES.router} (replaced by StatefulSet ${NAMES.router})`);
    for (const object of siteObjects(settings, owner)) {
      const outcome = await this.apply(object);
      if (outcome === 'updated') updated.push(`${object.kind} ${object.metadata?.name}`);
    }
    const document = await this.waitUntilReady(settings, timeoutMs, onWaiting);
    return { document, created, updated, ignored };
  }

  /** Waits for the controller, the site it makes, its ingress address and the router; a timeout names what was missing and why. */
  private async waitUntilReady(settings: KubernetesSiteSettings, timeoutMs: number, onWaiting: (what: string) => void): Promise<SiteDocument> {
    const deadline = Date.now() + timeoutMs;
    const seconds = Math.round(timeoutMs / 1000);
    const storage = await this.storage();
    const until = async <T>(what: string, probe: () => Promise<T | undefined>, failure: () => Promise<string>): Promise<T> => {
      onWaiting(what);
      for (;;) {
        const value = await probe();
        if (value !== undefined) return value;
        if (Date.now() > deadline) throw new SiteError(`${await failure()} after ${seconds} s (the site is created; kskup status -n ${this.namespace} shows its state, --timeout waits longer)`);
        await sleep(POLL_MS);
      }
    };
    await until(`waiting for the controller (Deployment ${NAMES.controller}) to be ready`, () => this.deploymentReady(NAMES.controller), () => this.deploymentProblem(NAMES.controller));
    let document = await until(
      "waiting for the controller to make the site's CA and certificates",
      async () => ((await storage.exists()) ? storage.read() : undefined),
      async () => `the controller has not created the site (ConfigMap ${NAMES.state})`,
    );
    if (settings.mode === 'interior' && settings.ingress !== 'none') {
      document = await until(
        `waiting for an ingress address (Service ${NAMES.router}, --ingress ${settings.ingress})`,
        async () => {
          const current = await storage.read();
          return current.site.ingressHost !== '' ? current : undefined;
        },
        async () => {
          const resolution = await this.ingress(settings);
          return resolution.ok ? `the controller has not recorded the ingress address ${resolution.address.host} yet` : resolution.pending;
        },
      );
    }
    await until(`waiting for the routers (StatefulSet ${NAMES.router}, ${settings.routers} replica${settings.routers === 1 ? '' : 's'}) to be ready`, () => this.routersReady(), () => this.routersProblem());
    return document;
  }

  async ingress(settings: Pick<KubernetesSiteSettings, 'ingress' | 'ingressHost'>): Promise<IngressResolution> {
    const service = await this.core.readNamespacedService({ name: NAMES.router, namespace: this.namespace }).catch((error: unknown) => {
      if (isNotFound(error)) return undefined;
      throw error;
    });
    return resolveIngress({ type: settings.ingress, ...(settings.ingressHost !== undefined && { ingressHost: settings.ingressHost }) }, service);
  }

  async readDeployment(name: string): Promise<V1Deployment | undefined> {
    try {
      return await this.apps.readNamespacedDeployment({ name, namespace: this.namespace });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw new SiteError(`cannot read Deployment ${name} in ${this.where()}: ${describeApiError(error)}`, { cause: error });
    }
  }

  /** What `kskup expose` checks here first (expose-checks.ts). */
  get exposeChecks(): ExposeChecks {
    return new ExposeChecks(this.core, this.apps, this.namespace, this.where());
  }

  /** `kskup init --routers N` on an existing site: the settings ConfigMap's `routers`, which the controller follows. */
  private async scaleRouters(routers: number): Promise<V1ConfigMap> {
    try {
      return await this.core.patchNamespacedConfigMap(
        { name: NAMES.site, namespace: this.namespace, body: { data: { routers: String(routers) } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    } catch (error) {
      throw new SiteError(`cannot set routers in ConfigMap ${NAMES.site} in ${this.where()}: ${describeApiError(error)}`, { cause: error });
    }
  }

  /**
   * A site made by a kskup before router replicas ran its router as Deployment
   * kskup-router: deleted, so that StatefulSet kskup-router takes its place (its
   * pods read the same ConfigMap and Secret; the CA, keys and links are untouched).
   */
  private async replaceRouterDeployment(): Promise<boolean> {
    if (!(await this.readDeployment(NAMES.router))) return false;
    try {
      await this.apps.deleteNamespacedDeployment({ name: NAMES.router, namespace: this.namespace, propagationPolicy: 'Background' });
    } catch (error) {
      if (isNotFound(error)) return false;
      throw new SiteError(`cannot delete the old Deployment ${NAMES.router} in ${this.where()}: ${describeApiError(error)}`, { cause: error });
    }
    return true;
  }

  private async readRouters(): Promise<V1StatefulSet | undefined> {
    try {
      return await this.apps.readNamespacedStatefulSet({ name: NAMES.router, namespace: this.namespace });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw new SiteError(`cannot read StatefulSet ${NAMES.router} in ${this.where()}: ${describeApiError(error)}`, { cause: error });
    }
  }

  private async routersReady(): Promise<true | undefined> {
    const set = await this.readRouters();
    const wanted = set?.spec?.replicas ?? 1;
    return (set?.status?.readyReplicas ?? 0) >= wanted && wanted > 0 ? true : undefined;
  }

  /** `StatefulSet kskup-router has 1 of 2 pods ready (...)`. */
  private async routersProblem(): Promise<string> {
    const set = await this.readRouters();
    if (!set) return `StatefulSet ${NAMES.router} does not exist`;
    const reasons = await this.podProblems(set.spec?.selector.matchLabels ?? {});
    return `StatefulSet ${NAMES.router} has ${set.status?.readyReplicas ?? 0} of ${set.spec?.replicas ?? 1} pods ready${reasons}`;
  }

  private async deploymentReady(name: string): Promise<true | undefined> {
    const deployment = await this.readDeployment(name);
    const wanted = deployment?.spec?.replicas ?? 1;
    return (deployment?.status?.readyReplicas ?? 0) >= wanted && wanted > 0 ? true : undefined;
  }

  /** `Deployment kskup-router has 0 of 1 pods ready (ErrImagePull: ...)`: the reason from its pods, where they say one. */
  async deploymentProblem(name: string): Promise<string> {
    const deployment = await this.readDeployment(name);
    if (!deployment) return `Deployment ${name} does not exist`;
    const wanted = deployment.spec?.replicas ?? 1;
    return `Deployment ${name} has ${deployment.status?.readyReplicas ?? 0} of ${wanted} pods ready${await this.podProblems(deployment.spec?.selector.matchLabels ?? {})}`;
  }

  /** ` (ErrImagePull: ...; ...)`: why the selected pods are not ready, where they say; empty when they say nothing. */
  private async podProblems(matchLabels: Readonly<Record<string, string>>): Promise<string> {
    const selector = Object.entries(matchLabels).map(([key, value]) => `${key}=${value}`).join(',');
    const pods = await this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: selector }).catch(() => undefined);
    const reasons = new Set<string>();
    for (const pod of pods?.items ?? []) {
      for (const status of pod.status?.containerStatuses ?? []) {
        const waiting = status.state?.waiting;
        if (waiting?.reason) reasons.add(`${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`);
      }
      for (const condition of pod.status?.conditions ?? []) {
        if (condition.type === 'PodScheduled' && condition.status === 'False') reasons.add(`not scheduled: ${condition.message ?? condition.reason ?? ''}`);
      }
    }
    return reasons.size > 0 ? ` (${[...reasons].join('; ')})` : pods && pods.items.length === 0 ? ' (no pods)' : '';
  }

  /** Creates, or brings an existing object to what is wanted if it differs; never touches what already matches. */
  private async apply(object: KubernetesObject): Promise<'created' | 'updated' | 'unchanged'> {
    const label = `${object.kind} ${object.metadata?.name}`;
    for (let attempt = 1; ; attempt++) {
      let live: KubernetesObject | undefined;
      try {
        live = await this.objects.read({ apiVersion: object.apiVersion, kind: object.kind, metadata: { name: object.metadata?.name ?? '', namespace: this.namespace } });
      } catch (error) {
        if (!isNotFound(error)) throw new SiteError(`cannot read ${label} in ${this.where()}: ${describeApiError(error)}`, { cause: error });
      }
      try {
        if (!live) {
          await this.objects.create(object);
          return 'created';
        }
        if (contains(live, object)) return 'unchanged';
        await this.objects.replace({ ...object, metadata: { ...object.metadata, resourceVersion: live.metadata?.resourceVersion } } as KubernetesObject);
        return 'updated';
      } catch (error) {
        if (isConflict(error) && attempt < 5) continue;
        throw new SiteError(`cannot ${live ? 'update' : 'create'} ${label} in ${this.where()}: ${describeApiError(error)}`, { cause: error });
      }
    }
  }

  private async create<T extends KubernetesObject>(object: T): Promise<T> {
    try {
      return (await this.objects.create(object)) as T;
    } catch (error) {
      if (isNotFound(error)) throw new SiteError(`namespace "${this.namespace}" does not exist in ${this.access.server}: create it first (kubectl create namespace ${this.namespace})`, { cause: error });
      throw new SiteError(`cannot create ${object.kind} ${object.metadata?.name} in ${this.where()}: ${describeApiError(error)}`, { cause: error });
    }
  }

  /**
   * Deletes the site: tells its controller to say goodbye to the network
   * (annotation; waited for briefly), deletes the settings ConfigMap, and
   * waits until Kubernetes' garbage collector has removed everything it owned.
   */
  async delete(timeoutMs: number, onWaiting: (what: string) => void): Promise<{ name: string; goodbye: boolean }> {
    const settings = await this.readSettings();
    if (!settings) {
      if ((await this.remaining()).length === 0) throw new SiteError(`no site in ${this.where()}: nothing to delete`);
    }
    const name = settings?.data?.name ?? this.namespace;
    let goodbye = false;
    if (settings) {
      onWaiting('telling the network this site is leaving');
      await this.core
        .patchNamespacedConfigMap({ name: NAMES.site, namespace: this.namespace, body: { metadata: { annotations: { [LEAVING_ANNOTATION]: new Date().toISOString() } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch))
        .catch(() => undefined);
      const until = Date.now() + Math.min(3_000, timeoutMs);
      while (Date.now() < until) {
        const current = await this.readSettings();
        if (current?.metadata?.annotations?.[GOODBYE_ANNOTATION]) {
          goodbye = true;
          break;
        }
        await sleep(POLL_MS);
      }
      onWaiting(`deleting ConfigMap ${NAMES.site} and everything it owns`);
      try {
        await this.core.deleteNamespacedConfigMap({ name: NAMES.site, namespace: this.namespace, propagationPolicy: 'Background' });
      } catch (error) {
        if (!isNotFound(error)) throw new SiteError(`cannot delete ConfigMap ${NAMES.site} in ${this.where()}: ${describeApiError(error)}`, { cause: error });
      }
    }
    const deadline = Date.now() + timeoutMs;
    onWaiting("waiting for Kubernetes' garbage collector to remove the site's objects");
    for (;;) {
      const left = await this.remaining();
      if (left.length === 0) return { name, goodbye };
      if (Date.now() > deadline) throw new SiteError(`after ${Math.round(timeoutMs / 1000)} s these objects of the site are still there: ${left.join(', ')}`);
      await sleep(POLL_MS);
    }
  }

  /** Objects labelled part-of=kskup still in the namespace (the pods included). */
  async remaining(): Promise<string[]> {
    const labelSelector = `${PART_OF_LABEL}=kskup`;
    const namespace = this.namespace;
    const named = <T extends { metadata?: { name?: string } }>(kind: string, items: readonly T[]) => items.map((item) => `${kind} ${item.metadata?.name}`);
    const rbac = this.access.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
    const [configMaps, secrets, services, accounts, deployments, statefulSets, pods, roles, bindings] = await Promise.all([
      this.core.listNamespacedConfigMap({ namespace, labelSelector }),
      this.core.listNamespacedSecret({ namespace, labelSelector }),
      this.core.listNamespacedService({ namespace, labelSelector }),
      this.core.listNamespacedServiceAccount({ namespace, labelSelector }),
      this.apps.listNamespacedDeployment({ namespace, labelSelector }),
      this.apps.listNamespacedStatefulSet({ namespace, labelSelector }),
      this.core.listNamespacedPod({ namespace, labelSelector }),
      rbac.listNamespacedRole({ namespace, labelSelector }),
      rbac.listNamespacedRoleBinding({ namespace, labelSelector }),
    ]);
    return [
      ...named('ConfigMap', configMaps.items),
      ...named('Secret', secrets.items),
      ...named('Service', services.items),
      ...named('ServiceAccount', accounts.items),
      ...named('Deployment', deployments.items),
      ...named('StatefulSet', statefulSets.items),
      ...named('Pod', pods.items),
      ...named('Role', roles.items),
      ...named('RoleBinding', bindings.items),
    ];
  }

  /** What the controller last wrote of the network (ConfigMap kskup-network), if it has: T is the service controller's NetworkSnapshot. */
  async readSnapshot<T>(): Promise<T | undefined> {
    return this.readNetworkKey<T>(NETWORK_KEYS.snapshot);
  }

  /** Each link's connection as the controller last saw it on the router. */
  async readLinkStates(): Promise<LinkStates | undefined> {
    return this.readNetworkKey<LinkStates>(NETWORK_KEYS.links);
  }

  /** Each router replica as the controller last asked it. */
  async readRouterReports(): Promise<readonly ReplicaReport[] | undefined> {
    return this.readNetworkKey<ReplicaReport[]>(NETWORK_KEYS.routers);
  }

  /** Why the site's routers or controller are not serving, or undefined when all are ready. */
  async routerProblem(): Promise<string | undefined> {
    if (!(await this.deploymentReady(NAMES.controller))) return this.deploymentProblem(NAMES.controller);
    if (!(await this.routersReady())) return this.routersProblem();
    return undefined;
  }

  private async readNetworkKey<T>(key: string): Promise<T | undefined> {
    try {
      const map = await this.core.readNamespacedConfigMap({ name: NAMES.network, namespace: this.namespace });
      const text = map.data?.[key];
      return text === undefined ? undefined : (JSON.parse(text) as T);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw new SiteError(`cannot read ConfigMap ${NAMES.network} in ${this.where()}: ${describeApiError(error)}`, { cause: error });
    }
  }
}

function differences(settings: KubernetesSiteSettings, request: KubernetesInitRequest): string[] {
  const found: string[] = [];
  if (request.name !== undefined && request.name !== settings.name) found.push(`--site-name ${request.name} (the site is "${settings.name}")`);
  if (request.mode !== undefined && request.mode !== settings.mode) found.push(`--router-mode ${request.mode} (the site is ${settings.mode})`);
  if (request.ingress !== undefined && request.ingress !== settings.ingress) found.push(`--ingress ${request.ingress} (the site uses ${settings.ingress})`);
  if (request.ingressHost !== undefined && request.ingressHost !== settings.ingressHost) found.push(`--ingress-host ${request.ingressHost} (the site uses ${settings.ingressHost ?? 'its ingress Service address'})`);
  return found;
}

/** Whether `live` has every field `wanted` sets, with the same value (what the server added is not a difference). */
export function contains(live: unknown, wanted: unknown): boolean {
  if (Array.isArray(wanted)) {
    return Array.isArray(live) && live.length === wanted.length && wanted.every((item, index) => contains(live[index], item));
  }
  if (typeof wanted === 'object' && wanted !== null) {
    if (typeof live !== 'object' || live === null) return false;
    return Object.entries(wanted).every(([key, value]) => value === undefined || contains((live as Record<string, unknown>)[key], value));
  }
  return live === wanted;
}
