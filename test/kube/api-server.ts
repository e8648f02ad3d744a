// A Kubernetes API server double for tests: the real REST and watch protocol
// over HTTPS (its own CA, bearer tokens), spoken to by the real
// @kubernetes/client-node, so controllers run unchanged against it and against
// a cluster. Each instance is one cluster with its own state; see README.md
// for what it implements and where it is stricter or simpler than a cluster.
//
// This module is the HTTP edge: URL routing, query parameters, authentication
// and authorization, and answers. The semantics live in registry.ts (verbs),
// watch.ts (streams), garbage-collector.ts, store.ts.

import { createServer, type Server } from 'node:https';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { createCertificateAuthority, issueCertificate } from '../../site-controller/pki/index.js';
import { AccessLog } from './access-log.js';
import { forbiddenMessage, RbacAuthorizer, TokenRegistry, type Authorizer, type RequestAttributes, type UserInfo } from './authorizer.js';
import { coreVersions, groupDocument, groupList, resourceList } from './discovery.js';
import { checkFields, fieldValidationOf } from './field-validation.js';
import { GarbageCollector } from './garbage-collector.js';
import { openApiGroupVersion, openApiRoot } from './openapi.js';
import { Registry, type DeleteOptions, type ListOptions } from './registry.js';
import { findByKind, findResourceType, storageKind, type ResourceType } from './resources.js';
import { parseForwardPorts, PortForwarder } from './port-forward.js';
import { parseFieldSelector, parseLabelSelector, pinnedName } from './selectors.js';
import { ApiError, badRequest, expired, forbidden, methodNotAllowed, notFound, pathNotFound, unauthorized, unsupportedMediaType } from './status.js';
import { Store, type KubeObject } from './store.js';
import { WatchStream } from './watch.js';

export interface KubeApiServerOptions {
  /** Changes kept for watches and exact lists to resume from; older resourceVersions get 410 (default 1000). */
  readonly historyLimit?: number;
  /** Cluster IP range (default 10.96.0.0/16). */
  readonly serviceCidr?: string;
  /** Node-port range (default 30000-32767). */
  readonly nodePortRange?: readonly [number, number];
  /** Period of BOOKMARK events on watches that allow them (default 60 s, about a real server's). */
  readonly bookmarkIntervalMs?: number;
  /** A watch without timeoutSeconds ends after this long (default 1800 s, kube-apiserver's --min-request-timeout). */
  readonly defaultWatchSeconds?: number;
  /** Name of the cluster, user and context in kubeconfig files (default "kskup-test"). */
  readonly clusterName?: string;
  /** IPv4 address to listen on and to name in the URL (default 127.0.0.1); the pod runner uses its node address so that pods reach it. */
  readonly host?: string;
  /** More names and addresses for the serving certificate (e.g. the `kubernetes` Service's ClusterIP and kubernetes.default.svc, as a real apiserver's). */
  readonly certificateHosts?: readonly string[];
}

/** Largest request body, as kube-apiserver's 3 MiB limit. */
const MAX_BODY_BYTES = 3 * 1024 * 1024;

interface Route {
  readonly rt: ResourceType;
  /** undefined: across all namespaces, or a cluster-scoped type. */
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly subresource: string | undefined;
  readonly legacyWatch: boolean;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class KubeApiServer {
  readonly store: Store;
  readonly registry: Registry;
  readonly gc: GarbageCollector;
  private readonly tokens = new TokenRegistry();
  private readonly authorizer: Authorizer;
  private readonly watches = new Set<WatchStream>();
  private readonly portForwarder = new PortForwarder();
  private readonly clusterName: string;
  /** Token of the cluster admin (group system:masters). */
  readonly adminToken: string;
  /** Requests served, by "VERB path": lets a test check what a client did (e.g. that it relisted). */
  readonly requestLog: string[] = [];
  /** Where pods/log reads a container's output (the pod runner sets it to its kubelet's logs); unset: empty logs. */
  podLogs: ((namespace: string, pod: string, container: string) => Promise<string>) | undefined;
  /** How pods/portforward reaches localhost:port inside a pod (the pod runner sets it); unset: the pod's IP from this process. */
  podDialer: ((namespace: string, pod: string, port: number) => Duplex | undefined) | undefined;
  /** What each user was allowed and refused, by (verb, apiGroup, resource): for RBAC minimality checks. */
  readonly accessLog = new AccessLog();

  private constructor(
    private readonly server: Server,
    readonly url: string,
    /** PEM of the CA that signed the server's certificate. */
    readonly caPem: string,
    /** Folder of the kubeconfig files this instance wrote (removed by stop()). */
    readonly dir: string,
    private readonly options: KubeApiServerOptions,
    store: Store,
    registry: Registry,
  ) {
    this.store = store;
    this.registry = registry;
    this.gc = new GarbageCollector(registry);
    this.authorizer = new RbacAuthorizer(store);
    this.clusterName = options.clusterName ?? 'kskup-test';
    this.adminToken = this.tokens.issue({ username: 'kskup-admin', groups: ['system:masters', 'system:authenticated'] });
  }

  /** Starts a fresh cluster on 127.0.0.1 or options.host (a random port) with the namespaces default, kube-system, kube-public and kube-node-lease. */
  static async start(options: KubeApiServerOptions = {}): Promise<KubeApiServer> {
    const ca = await createCertificateAuthority({ commonName: 'kskup-test-kube-ca' });
    const cert = await issueCertificate(ca, { commonName: 'kube-apiserver', hosts: [...new Set(['localhost', '127.0.0.1', options.host ?? '127.0.0.1', ...(options.certificateHosts ?? [])])], usage: 'server' });
    const store = new Store(options.historyLimit ?? 1000);
    const [nodePortMin, nodePortMax] = options.nodePortRange ?? [30000, 32767];
    const registry = new Registry(store, { ranges: { serviceCidr: options.serviceCidr ?? '10.96.0.0/16', nodePortMin, nodePortMax }, rootCaPem: ca.certPem });
    let self: KubeApiServer | undefined;
    const server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
      if (self === undefined) return void res.destroy();
      self.handle(req, res);
    });
    // WebSocket upgrades: pods/portforward (port-forward.ts).
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (self === undefined) return void socket.destroy();
      self.upgrade(req, socket, head);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, options.host ?? '127.0.0.1', () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    const dir = await mkdtemp(join(tmpdir(), 'kskup-kube-'));
    self = new KubeApiServer(server, `https://${options.host ?? '127.0.0.1'}:${port}`, ca.certPem, dir, options, store, registry);
    for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) self.ensureNamespace(name);
    // The "kubernetes" Service takes the first address of the range, as on a cluster.
    self.registry.create(findResourceType('', 'v1', 'services')!, 'default', {
      metadata: { name: 'kubernetes', labels: { component: 'apiserver', provider: 'kubernetes' } },
      spec: { ports: [{ name: 'https', port: 443, targetPort: 6443 }] },
    }, false);
    return self;
  }

  /** Stops serving: ends every watch, closes connections, removes the kubeconfig folder. */
  async stop(): Promise<void> {
    this.gc.stop();
    this.endWatches();
    this.portForwarder.closeAll();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.dir, { recursive: true, force: true });
  }

  // ---- Clients -----------------------------------------------------------

  /** A kubeconfig document (YAML) for this cluster: one cluster, one user with a bearer token, one context with a namespace. */
  kubeconfigYaml(namespace = 'default', token = this.adminToken, user = 'admin'): string {
    const name = this.clusterName;
    return toYaml({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name, cluster: { server: this.url, 'certificate-authority-data': Buffer.from(this.caPem).toString('base64') } }],
      users: [{ name: `${name}-${user}`, user: { token } }],
      contexts: [{ name, context: { cluster: name, user: `${name}-${user}`, namespace } }],
      'current-context': name,
    });
  }

  /** Writes a kubeconfig file (mode 0600: it holds a token) and returns its path; KubeConfig.loadFromFile() reads it. */
  async writeKubeconfig(fileName = 'kubeconfig', namespace = 'default', token = this.adminToken): Promise<string> {
    const path = join(this.dir, fileName);
    await writeFile(path, this.kubeconfigYaml(namespace, token), { mode: 0o600 });
    await chmod(path, 0o600);
    return path;
  }

  /** A client-node KubeConfig for a namespace, as admin or with the given token. */
  kubeConfig(namespace = 'default', token = this.adminToken): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromString(this.kubeconfigYaml(namespace, token));
    return kc;
  }

  /** A bearer token for a ServiceAccount (which need not exist): its requests are authorized by Roles and RoleBindings. */
  serviceAccountToken(namespace: string, name: string): string {
    return this.tokens.issueForServiceAccount(namespace, name);
  }

  /** A bearer token for any user name and groups (e.g. ["system:masters"]). */
  userToken(user: UserInfo): string {
    return this.tokens.issue(user);
  }

  // ---- Test hooks ----------------------------------------------------------

  /** Creates a namespace if it does not exist. */
  ensureNamespace(name: string): KubeObject {
    const rt = findResourceType('', 'v1', 'namespaces')!;
    return this.store.get(storageKind(rt), '', name) ?? this.registry.create(rt, '', { metadata: { name } }, false);
  }

  /**
   * Creates objects as the admin would (namespaces of namespaced objects are
   * created first). Each object needs apiVersion, kind and metadata.name; a bad one throws the server's ApiError.
   */
  seed(objects: readonly Record<string, unknown>[]): KubeObject[] {
    return objects.map((o) => {
      const rt = findByKind(String(o.apiVersion), String(o.kind));
      if (rt === undefined) throw new Error(`seed: ${String(o.apiVersion)} ${String(o.kind)} is not a type the API server double serves`);
      const meta = isObj(o.metadata) ? o.metadata : {};
      const namespace = rt.namespaced ? String(meta.namespace ?? 'default') : '';
      if (rt.namespaced) this.ensureNamespace(namespace);
      return this.registry.create(rt, namespace, o, false);
    });
  }

  /** The stored object, or undefined: for assertions, bypassing HTTP. */
  peek(apiVersion: string, kind: string, namespace: string, name: string): KubeObject | undefined {
    const rt = findByKind(apiVersion, kind);
    if (rt === undefined) throw new Error(`peek: unknown type ${apiVersion} ${kind}`);
    return this.store.get(storageKind(rt), rt.namespaced ? namespace : '', name);
  }

  /** Ends every open watch cleanly (as an API server restart or a load balancer would); returns how many. */
  endWatches(): number {
    const open = [...this.watches];
    for (const w of open) w.end();
    return open.length;
  }

  /** Number of open watch streams. */
  openWatches(): number {
    return this.watches.size;
  }

  /** Sends a BOOKMARK on every watch that allows them. */
  sendBookmarks(): void {
    for (const w of this.watches) w.bookmark();
  }

  /** Forgets the change history: any watch or exact list from an older resourceVersion now gets 410. */
  compactHistory(): void {
    this.store.compact();
  }

  /** Sets a LoadBalancer Service's status.loadBalancer.ingress, as a cloud controller would. */
  setLoadBalancerIngress(namespace: string, name: string, ingress: ReadonlyArray<{ ip?: string; hostname?: string }>): KubeObject {
    const rt = findResourceType('', 'v1', 'services')!;
    const svc = structuredClone(this.registry.get(rt, namespace, name)) as KubeObject;
    if ((svc.spec as { type?: string }).type !== 'LoadBalancer') throw new Error(`setLoadBalancerIngress: Service ${namespace}/${name} is not of type LoadBalancer`);
    svc.status = { loadBalancer: { ingress: ingress.map((i) => ({ ...i })) } };
    return this.registry.writeSystem(rt, svc);
  }

  /** Resolves when the garbage collector has nothing left to do. */
  gcIdle(): Promise<void> {
    return this.gc.idle();
  }

  // ---- HTTP ----------------------------------------------------------------

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.serve(req, res).catch((err: unknown) => {
      const status = err instanceof ApiError ? err.status : { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `internal error in the API server double: ${String(err)}`, code: 500 };
      if (res.headersSent) return void res.destroy();
      this.sendJson(res, status.code, status);
    });
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const method = req.method ?? 'GET';
    this.requestLog.push(`${method} ${url.pathname}${url.search}`);
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (['/healthz', '/livez', '/readyz'].includes(path)) {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      return void res.end('ok');
    }
    if (path === '/version') return this.sendJson(res, 200, { major: '1', minor: '31', gitVersion: 'v1.31.0-kskup-double', platform: 'linux/amd64' });
    const user = this.authenticate(req);
    if (path === '/openapi/v3' || path.startsWith('/openapi/v3/')) {
      const document = path === '/openapi/v3' ? openApiRoot() : openApiGroupVersion(path.slice('/openapi/v3/'.length));
      if (document === undefined) throw pathNotFound();
      return this.sendJson(res, 200, document);
    }
    const discovery = this.discovery(path);
    if (discovery !== undefined) {
      if (method !== 'GET') throw methodNotAllowed(`the server does not allow this method on the requested resource`);
      return this.sendJson(res, 200, discovery);
    }
    const route = this.route(path);
    const query = url.searchParams;
    const watch = route.legacyWatch || query.get('watch') === 'true' || query.get('watch') === '1';
    const verb = this.verbOf(method, route, watch);
    const fieldSelector = parseFieldSelector(query.get('fieldSelector') ?? '', route.rt);
    const labelSelector = parseLabelSelector(query.get('labelSelector') ?? '');
    const attributes: RequestAttributes = {
      verb,
      apiGroup: route.rt.group,
      resource: route.rt.plural,
      subresource: route.subresource ?? '',
      namespace: route.namespace ?? '',
      name: route.name ?? ((verb === 'list' || verb === 'watch') ? (pinnedName(fieldSelector) ?? '') : ''),
    };
    if (!this.authorize(user, attributes)) throw forbidden(forbiddenMessage(user, attributes), route.rt, attributes.name);
    const dryRun = this.dryRun(query);
    const { rt, name, subresource } = route;
    const namespace = route.namespace ?? '';
    if (subresource === 'log') {
      if (verb !== 'get') throw methodNotAllowed(`the server does not allow this method on the requested resource`);
      return this.sendPodLog(res, namespace, name!, query);
    }
    switch (verb) {
      case 'get':
        return this.sendJson(res, 200, subresource === 'scale' ? this.registry.getScale(rt, namespace, name!) : this.registry.get(rt, namespace, name!));
      case 'list':
        return this.sendJson(res, 200, this.list(route, query, { labelSelector, fieldSelector }));
      case 'watch':
        return this.watch(route, query, { labelSelector, fieldSelector }, res);
      case 'create': {
        const body = await this.readBody(req, rt);
        const warnings = checkFields(rt, body, fieldValidationOf(query));
        return this.sendJson(res, 201, this.registry.create(rt, namespace, body, dryRun), warnings);
      }
      case 'update': {
        const body = await this.readBody(req, rt);
        if (subresource === 'scale') return this.sendJson(res, 200, this.registry.updateScale(rt, namespace, name!, body, undefined, dryRun));
        const warnings = checkFields(rt, body, fieldValidationOf(query));
        const { object, created } = this.registry.update(rt, namespace, name!, body, subresource === 'status' ? 'status' : undefined, dryRun);
        return this.sendJson(res, created ? 201 : 200, object, warnings);
      }
      case 'patch': {
        const contentType = req.headers['content-type'] ?? '';
        const body = await this.readBody(req, rt, true);
        if (subresource === 'scale') return this.sendJson(res, 200, this.registry.updateScale(rt, namespace, name!, body, contentType, dryRun));
        // A merge or strategic merge patch has the object's shape; a JSON patch's paths are not checked.
        const warnings = contentType.startsWith('application/json-patch+json') ? [] : checkFields(rt, body, fieldValidationOf(query));
        return this.sendJson(res, 200, this.registry.patch(rt, namespace, name!, contentType, body, subresource === 'status' ? 'status' : undefined, dryRun), warnings);
      }
      case 'delete': {
        const options = this.deleteOptions(query, await this.readOptionalBody(req));
        const result = this.registry.delete(rt, namespace, name!, options, dryRun);
        return this.sendJson(res, result.code, result.body);
      }
      case 'deletecollection': {
        const options = this.deleteOptions(query, await this.readOptionalBody(req));
        return this.sendJson(res, 200, this.registry.deleteCollection(rt, route.namespace, { labelSelector, fieldSelector }, options, dryRun));
      }
    }
    throw methodNotAllowed(`the server does not allow this method on the requested resource`);
  }

  /**
   * `GET /api/v1/namespaces/NS/pods/NAME/portforward?ports=P` with `Upgrade:
   * websocket`. Authorized as kube-apiserver 1.35 does with
   * AuthorizePodWebsocketUpgradeCreatePermission (on by default): `get` for the
   * GET, and `create` on pods/portforward as well, which SPDY's POST always needed.
   * Refusals are HTTP answers with a Status body, as for any request.
   */
  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => undefined);
    try {
      const url = new URL(req.url ?? '/', this.url);
      this.requestLog.push(`UPGRADE ${url.pathname}${url.search}`);
      const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/portforward\/?$/.exec(url.pathname);
      if (m === null || req.method !== 'GET') throw pathNotFound();
      const [namespace, name] = [decodeURIComponent(m[1]!), decodeURIComponent(m[2]!)];
      const user = this.authenticate(req);
      const pods = findResourceType('', 'v1', 'pods')!;
      for (const verb of ['get', 'create']) {
        const attributes: RequestAttributes = { verb, apiGroup: '', resource: 'pods', subresource: 'portforward', namespace, name };
        if (!this.authorize(user, attributes)) throw forbidden(forbiddenMessage(user, attributes), pods, name);
      }
      const ports = parseForwardPorts(url.searchParams);
      if (typeof ports === 'string') throw badRequest(ports);
      const pod = this.store.get(storageKind(pods), namespace, name);
      if (pod === undefined) throw notFound(pods, name);
      const status = (pod.status ?? {}) as { phase?: string; podIP?: string };
      if (status.phase !== 'Running' || !status.podIP) throw badRequest(`pod ${name} is not running (phase ${status.phase ?? 'Pending'}), so its ports cannot be forwarded`);
      const dialer = this.podDialer;
      const inPod = dialer && ((port: number) => dialer(namespace, name, port) ?? connect({ host: status.podIP!, port }));
      this.portForwarder.upgrade(req, socket, head, { pod: `${namespace}/${name}`, podIp: status.podIP, ports, ...(inPod && { dial: inPod }) });
    } catch (err) {
      const status = err instanceof ApiError ? err.status : { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `internal error in the API server double: ${String(err)}`, code: 500 };
      const text = JSON.stringify(status);
      socket.end(`HTTP/1.1 ${status.code} ${STATUS_CODES[status.code] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
    }
  }

  private authorize(user: UserInfo, attributes: RequestAttributes): boolean {
    const allowed = this.authorizer.allows(user, attributes);
    this.accessLog.record(user, attributes, allowed);
    return allowed;
  }

  private authenticate(req: IncomingMessage): UserInfo {
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    const user = m === null ? undefined : this.tokens.authenticate(m[1]!);
    if (user === undefined) throw unauthorized();
    return user;
  }

  private discovery(path: string): object | undefined {
    if (path === '/api') return coreVersions();
    if (path === '/api/v1') return resourceList('', 'v1');
    if (path === '/apis') return groupList();
    const m = /^\/apis\/([^/]+)(?:\/([^/]+))?$/.exec(path);
    if (m === null) return undefined;
    const doc = m[2] === undefined ? groupDocument(m[1]!) : resourceList(m[1]!, m[2]);
    if (doc === undefined) throw pathNotFound();
    return doc;
  }

  /** /api/v1/... and /apis/GROUP/VERSION/...: [watch/] [namespaces/NS/] PLURAL [/NAME [/SUBRESOURCE]]. */
  private route(path: string): Route {
    const segments = path.split('/').slice(1).map(decodeURIComponent);
    let group: string;
    let version: string;
    let rest: string[];
    if (segments[0] === 'api' && segments.length >= 3) {
      group = '';
      version = segments[1]!;
      rest = segments.slice(2);
    } else if (segments[0] === 'apis' && segments.length >= 4) {
      group = segments[1]!;
      version = segments[2]!;
      rest = segments.slice(3);
    } else {
      throw pathNotFound();
    }
    const legacyWatch = rest[0] === 'watch';
    if (legacyWatch) rest = rest.slice(1);
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1]!;
      rest = rest.slice(2);
    }
    const rt = findResourceType(group, version, rest[0] ?? '');
    if (rt === undefined || rest.length > 3) throw pathNotFound();
    if (namespace !== undefined && !rt.namespaced) throw pathNotFound();
    const name = rest[1];
    const subresource = rest[2];
    if (name !== undefined && rt.namespaced && namespace === undefined) throw pathNotFound();
    if (subresource !== undefined && !(rt.subresources as readonly string[]).includes(subresource)) throw pathNotFound();
    return { rt, namespace, name, subresource, legacyWatch };
  }

  private verbOf(method: string, route: Route, watch: boolean): string {
    const collection = route.name === undefined;
    switch (method) {
      case 'GET':
        return watch ? 'watch' : collection ? 'list' : 'get';
      case 'POST':
        if (collection && route.namespace === undefined && route.rt.namespaced) throw methodNotAllowed('create of a namespaced resource needs a namespace in the path');
        if (collection) return 'create';
        break;
      case 'PUT':
        if (!collection) return 'update';
        break;
      case 'PATCH':
        if (!collection) return 'patch';
        break;
      case 'DELETE':
        if (route.subresource !== undefined) break;
        if (collection && route.rt.plural === 'namespaces') break;
        return collection ? 'deletecollection' : 'delete';
    }
    throw methodNotAllowed(`the server does not allow this method on the requested resource`);
  }

  private dryRun(query: URLSearchParams): boolean {
    const values = query.getAll('dryRun');
    if (values.some((v) => v !== 'All')) throw badRequest(`Invalid dry run value: ${JSON.stringify(values)}: only "All" is supported`);
    return values.length > 0;
  }

  private parseRv(value: string, param = 'resourceVersion'): number {
    if (!/^\d+$/.test(value)) throw badRequest(`${param}: Invalid value: ${JSON.stringify(value)}: must be a resource version returned by the server`);
    return Number(value);
  }

  /**
   * LIST with resourceVersion semantics: unset or "0" = current state;
   * N (NotOlderThan) = current state, N must not be in the future; N with
   * resourceVersionMatch=Exact = the state at N (410 when too old);
   * limit/continue pages through one snapshot.
   */
  private list(route: Route, query: URLSearchParams, selectors: Pick<ListOptions, 'labelSelector' | 'fieldSelector'>): object {
    const rvParam = query.get('resourceVersion') ?? '';
    const match = query.get('resourceVersionMatch') ?? '';
    const limit = query.get('limit') === null ? 0 : Number(query.get('limit'));
    const continueToken = query.get('continue') ?? '';
    if (!Number.isInteger(limit) || limit < 0) throw badRequest(`limit: Invalid value: ${JSON.stringify(query.get('limit'))}: must be a non-negative integer`);
    if (match !== '' && rvParam === '') throw badRequest('resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided');
    if (match !== '' && match !== 'Exact' && match !== 'NotOlderThan') throw badRequest(`resourceVersionMatch: Unsupported value: ${JSON.stringify(match)}: supported values: "Exact", "NotOlderThan"`);
    let exactRv: number | undefined;
    let after = '';
    if (continueToken !== '') {
      if (rvParam !== '') throw badRequest('specifying resource version is not allowed when using continue');
      let decoded: { rv?: unknown; after?: unknown };
      try {
        decoded = JSON.parse(Buffer.from(continueToken, 'base64url').toString('utf8')) as typeof decoded;
      } catch {
        throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
      }
      if (typeof decoded.rv !== 'number' || typeof decoded.after !== 'string') throw badRequest('continue key is not valid');
      exactRv = decoded.rv;
      after = decoded.after;
      try {
        this.store.changesSince(exactRv);
      } catch (err) {
        if (err instanceof ApiError && err.status.code === 410) {
          throw expired('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.');
        }
        throw err;
      }
    } else if (rvParam !== '' && rvParam !== '0') {
      const rv = this.parseRv(rvParam);
      if (match === 'Exact') exactRv = rv;
      else if (rv > this.store.currentRv()) this.store.changesSince(rv); // throws the "Too large resource version" timeout
    }
    if (exactRv === undefined && limit > 0) exactRv = this.store.currentRv();
    const { items: all, rv } = this.registry.list(route.rt, route.namespace, { ...selectors, exactRv });
    const keyOf = (o: KubeObject): string => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    let items = after === '' ? all : all.filter((o) => keyOf(o) > after);
    const metadata: Record<string, unknown> = { resourceVersion: String(rv) };
    if (limit > 0 && items.length > limit) {
      const remaining = items.length - limit;
      items = items.slice(0, limit);
      metadata.continue = Buffer.from(JSON.stringify({ rv, after: keyOf(items[items.length - 1]!) })).toString('base64url');
      metadata.remainingItemCount = remaining;
    }
    const rt = route.rt;
    return { kind: `${rt.kind}List`, apiVersion: rt.group === '' ? rt.version : `${rt.group}/${rt.version}`, metadata, items };
  }

  private watch(route: Route, query: URLSearchParams, selectors: Pick<ListOptions, 'labelSelector' | 'fieldSelector'>, res: ServerResponse): void {
    if (query.has('sendInitialEvents')) throw badRequest('sendInitialEvents (streaming lists) is not implemented by the kskup API server double');
    const rvParam = query.get('resourceVersion') ?? '';
    const sinceRv = rvParam === '' || rvParam === '0' ? undefined : this.parseRv(rvParam);
    const timeoutParam = query.get('timeoutSeconds');
    const timeoutSeconds = timeoutParam === null ? (this.options.defaultWatchSeconds ?? 1800) : Number(timeoutParam);
    if (!Number.isFinite(timeoutSeconds) || timeoutSeconds < 0) throw badRequest(`timeoutSeconds: Invalid value: ${JSON.stringify(timeoutParam)}`);
    const stream = new WatchStream(
      this.store,
      {
        rt: route.rt,
        namespace: route.namespace,
        ...selectors,
        sinceRv,
        allowBookmarks: query.get('allowWatchBookmarks') === 'true',
        timeoutMs: timeoutSeconds * 1000,
        bookmarkIntervalMs: this.options.bookmarkIntervalMs ?? 60_000,
      },
      res,
      (s) => this.watches.delete(s),
    );
    this.watches.add(stream);
    stream.start();
  }

  private deleteOptions(query: URLSearchParams, body: unknown): DeleteOptions {
    const b = isObj(body) ? body : {};
    const orphan = query.get('orphanDependents') ?? (typeof b.orphanDependents === 'boolean' ? String(b.orphanDependents) : undefined);
    const pre = isObj(b.preconditions) ? b.preconditions : undefined;
    const graceParam = query.get('gracePeriodSeconds') ?? (typeof b.gracePeriodSeconds === 'number' ? String(b.gracePeriodSeconds) : undefined);
    if (graceParam !== undefined && graceParam !== null && !/^-?\d+$/.test(graceParam)) throw badRequest(`gracePeriodSeconds: Invalid value: ${JSON.stringify(graceParam)}: must be an integer`);
    return {
      gracePeriodSeconds: graceParam === undefined || graceParam === null ? undefined : Number(graceParam),
      propagationPolicy: query.get('propagationPolicy') ?? (typeof b.propagationPolicy === 'string' ? b.propagationPolicy : undefined),
      orphanDependents: orphan === undefined || orphan === null ? undefined : orphan === 'true',
      preconditions: pre === undefined ? undefined : {
        ...(typeof pre.uid === 'string' ? { uid: pre.uid } : {}),
        ...(typeof pre.resourceVersion === 'string' ? { resourceVersion: pre.resourceVersion } : {}),
      },
    };
  }

  private async readRaw(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) {
        throw new ApiError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Request entity too large: limit is 3145728', reason: 'RequestEntityTooLarge', code: 413 });
      }
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }

  /** A JSON (or, for create/update, YAML) body; a PATCH body is JSON whatever its patch type. */
  private async readBody(req: IncomingMessage, rt: ResourceType, isPatch = false): Promise<unknown> {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const raw = (await this.readRaw(req)).toString('utf8');
    if (!isPatch && type !== 'application/json' && type !== 'application/yaml') {
      throw unsupportedMediaType(`the body of the request was in an unknown format - accepted media types include: application/json, application/yaml`);
    }
    try {
      return type === 'application/yaml' || type === 'application/apply-patch+yaml' ? parseYaml(raw) : JSON.parse(raw);
    } catch (err) {
      throw badRequest(`the body of the ${rt.kind} request is not valid ${type === 'application/yaml' ? 'YAML' : 'JSON'}: ${(err as Error).message}`);
    }
  }

  private async readOptionalBody(req: IncomingMessage): Promise<unknown> {
    const raw = (await this.readRaw(req)).toString('utf8').trim();
    if (raw === '') return undefined;
    try {
      return JSON.parse(raw);
    } catch (err) {
      throw badRequest(`the DeleteOptions body is not valid JSON: ${(err as Error).message}`);
    }
  }

  /**
   * `GET .../pods/NAME/log`: the container's output from the podLogs hook (the
   * pod runner's kubelet), as kube-apiserver answers: `container` may be left
   * out only for a pod of one container, `tailLines` keeps the last lines and
   * `limitBytes` then cuts what is sent; text/plain. A pod whose output the
   * hook cannot give (not started, no runner) is 400, as the kubelet's
   * "container ... is waiting to start".
   */
  private async sendPodLog(res: ServerResponse, namespace: string, name: string, query: URLSearchParams): Promise<void> {
    const pod = this.registry.get(findResourceType('', 'v1', 'pods')!, namespace, name) as KubeObject;
    const containers = ((pod.spec as { containers?: { name: string }[] } | undefined)?.containers ?? []).map((container) => container.name);
    const container = query.get('container') ?? (containers.length === 1 ? containers[0]! : undefined);
    if (container === undefined) throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]`);
    if (!containers.includes(container)) throw badRequest(`container ${container} is not valid for pod ${name}`);
    const count = (param: string) => {
      const value = query.get(param);
      if (value === null) return undefined;
      if (!/^\d+$/.test(value)) throw badRequest(`${param}: Invalid value: ${JSON.stringify(value)}: must be a non-negative integer`);
      return Number(value);
    };
    const [tailLines, limitBytes] = [count('tailLines'), count('limitBytes')];
    let text: string;
    try {
      text = this.podLogs ? await this.podLogs(namespace, name, container) : '';
    } catch (err) {
      throw badRequest(`container "${container}" in pod "${name}" is waiting to start: ${(err as Error).message}`);
    }
    if (tailLines !== undefined) {
      const lines = text.split('\n');
      if (lines.at(-1) === '') lines.pop();
      text = tailLines === 0 ? '' : lines.slice(-tailLines).map((line) => `${line}\n`).join('');
    }
    let body = Buffer.from(text, 'utf8');
    if (limitBytes !== undefined) body = body.subarray(0, limitBytes);
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
    res.end(body);
  }

  /** `warnings`: sent as `Warning: 299 - "..."` headers, as kube-apiserver sends field validation warnings. */
  private sendJson(res: ServerResponse, code: number, body: unknown, warnings: readonly string[] = []): void {
    const text = JSON.stringify(body);
    const headers: Record<string, string | number | string[]> = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) };
    if (warnings.length > 0) headers.Warning = warnings.map((warning) => `299 - ${JSON.stringify(warning)}`);
    res.writeHead(code, headers);
    res.end(text);
  }
}

