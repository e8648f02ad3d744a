// kube-proxy in its historical userspace mode, plus the cloud's load
// balancer: for every TCP port of every Service, a listener in the host
// namespace on clusterIP:port (the ClusterIP is added to the cluster's bridge,
// the pods' gateway), on nodeIP:nodePort for NodePort and LoadBalancer
// Services, and on an external IP of the cluster's load-balancer range for
// LoadBalancer Services (written to status.loadBalancer.ingress, as a cloud
// controller does). Each accepted connection goes to the next ready endpoint
// of the Service's EndpointSlices (round robin), bytes copied both ways with
// half-close (a FIN ends one direction only) and resets passed on. With no
// ready endpoint, a connection is reset at once, as kube-proxy's REJECT rule
// refuses it. The `kubernetes` Service goes to the API server double.

import { connect, createServer, type Server, type Socket } from 'node:net';
import type { KubeObject } from '../store.js';
import { isObj, specOf, statusOf, type ClusterObjects } from './cluster-objects.js';
import type { ClusterNetwork } from './cluster-network.js';
import { SERVICE_NAME_LABEL } from './endpoint-slice-controller.js';
import { keyOf } from './pod-facts.js';

type Obj = Record<string, unknown>;

interface Target {
  readonly host: string;
  readonly port: number;
}

interface Listener {
  readonly server: Server;
  readonly ip: string;
  readonly port: number;
  /** namespace/name of the Service and its port's name. */
  readonly service: string;
  readonly portName: string;
  next: number;
  readonly sockets: Set<Socket>;
}

export class ServiceProxy {
  private readonly listeners = new Map<string, Listener>();
  private readonly loadBalancerIps = new Map<string, string>(); // Service uid → external IP
  private readonly unwatch: () => void;
  private syncing: Promise<void> = Promise.resolve();
  private scheduled = false;
  private stopped = false;

  constructor(
    private readonly objects: ClusterObjects,
    private readonly network: ClusterNetwork,
    private readonly apiServer: Target,
    private readonly onError: (what: string, err: unknown) => void,
  ) {
    this.unwatch = objects.watch(['services', 'endpointSlices'], (type) => {
      if (type === 'services') this.schedule();
    });
    this.schedule();
  }

  /** The external IP given to a LoadBalancer Service, if any. */
  loadBalancerIp(namespace: string, name: string): string | undefined {
    const svc = this.objects.get('services', namespace, name);
    return svc === undefined ? undefined : this.loadBalancerIps.get(svc.metadata.uid);
  }

  /** Resolves when the listeners match the Services. */
  async settled(): Promise<void> {
    let last: Promise<void>;
    do {
      // A sync that is scheduled starts from setImmediate: let it. Awaiting only
      // the settled `syncing` here would loop in microtasks for ever, and the
      // immediate (which clears `scheduled`) would never run: a test process
      // spinning at 100% CPU, seen once in a clean-clone CI run.
      if (this.scheduled) await new Promise<void>((resolve) => setImmediate(resolve));
      last = this.syncing;
      await last;
    } while (last !== this.syncing || this.scheduled);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatch();
    await this.syncing;
    for (const key of [...this.listeners.keys()]) await this.close(key);
    for (const ip of this.loadBalancerIps.values()) await this.network.removeAddress(ip);
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.syncing = this.syncing.then(() => this.sync()).catch((err: unknown) => this.onError('service proxy', err));
    });
  }

  private desired(): Map<string, Omit<Listener, 'server' | 'next' | 'sockets'>> {
    const want = new Map<string, Omit<Listener, 'server' | 'next' | 'sockets'>>();
    for (const svc of this.objects.list('services')) {
      const spec = specOf(svc);
      const ports = (Array.isArray(spec.ports) ? spec.ports : []) as Obj[];
      const type = String(spec.type ?? 'ClusterIP');
      const lbIp = type === 'LoadBalancer' ? this.ensureLoadBalancerIp(svc) : undefined;
      for (const p of ports) {
        if (String(p.protocol ?? 'TCP') !== 'TCP' || typeof p.port !== 'number') continue;
        const base = { service: keyOf(svc), portName: typeof p.name === 'string' ? p.name : '' };
        const add = (ip: string, port: number): void => void want.set(`${ip}:${port}`, { ...base, ip, port });
        if (typeof spec.clusterIP === 'string' && spec.clusterIP !== 'None' && spec.clusterIP !== '') add(spec.clusterIP, p.port);
        if ((type === 'NodePort' || type === 'LoadBalancer') && typeof p.nodePort === 'number') add(this.network.nodeIp, p.nodePort);
        if (lbIp !== undefined) add(lbIp, p.port);
      }
    }
    return want;
  }

  private ensureLoadBalancerIp(svc: KubeObject): string {
    let ip = this.loadBalancerIps.get(svc.metadata.uid);
    if (ip === undefined) {
      ip = this.network.allocateLoadBalancerIp();
      this.loadBalancerIps.set(svc.metadata.uid, ip);
    }
    return ip;
  }

  private async sync(): Promise<void> {
    if (this.stopped) return;
    const want = this.desired();
    for (const key of [...this.listeners.keys()]) if (!want.has(key)) await this.close(key);
    for (const [key, l] of want) {
      if (this.listeners.has(key)) continue;
      try {
        await this.open(key, l);
      } catch (err) {
        this.onError(`service proxy: Service ${l.service} port ${l.ip}:${l.port}`, err);
      }
    }
    // Load balancers whose Service is gone give their address back; live ones get their ingress written.
    const live = new Set(this.objects.list('services').map((s) => s.metadata.uid));
    for (const [uid, ip] of [...this.loadBalancerIps]) {
      if (!live.has(uid)) {
        this.loadBalancerIps.delete(uid);
        await this.network.removeAddress(ip);
      }
    }
    for (const svc of this.objects.list('services')) {
      const ip = this.loadBalancerIps.get(svc.metadata.uid);
      if (ip === undefined || specOf(svc).type !== 'LoadBalancer') continue;
      const status = statusOf(svc);
      const ingress = isObj(status.loadBalancer) ? status.loadBalancer.ingress : undefined;
      if (Array.isArray(ingress) && ingress.length === 1 && isObj(ingress[0]) && ingress[0].ip === ip) continue;
      this.objects.updateStatus('services', svc, { ...status, loadBalancer: { ingress: [{ ip, ipMode: 'VIP' }] } });
    }
  }

  private async open(key: string, want: Omit<Listener, 'server' | 'next' | 'sockets'>): Promise<void> {
    if (want.ip !== this.network.nodeIp) await this.network.addAddress(want.ip);
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => this.accept(listener, client));
    const listener: Listener = { ...want, server, next: 0, sockets: new Set() };
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(want.port, want.ip, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.onError(`service proxy ${key}`, err));
    this.listeners.set(key, listener);
  }

  private async close(key: string): Promise<void> {
    const l = this.listeners.get(key);
    if (l === undefined) return;
    this.listeners.delete(key);
    for (const s of l.sockets) s.destroy();
    await new Promise<void>((resolve) => l.server.close(() => resolve()));
    const stillUsed = [...this.listeners.values()].some((o) => o.ip === l.ip);
    if (!stillUsed && l.ip !== this.network.nodeIp && ![...this.loadBalancerIps.values()].includes(l.ip)) await this.network.removeAddress(l.ip);
  }

  /** The ready endpoints of a Service port, from its EndpointSlices (what kube-proxy reads). */
  private endpoints(l: Listener): Target[] {
    if (l.service === 'default/kubernetes') return [this.apiServer];
    const [namespace, name] = [l.service.slice(0, l.service.indexOf('/')), l.service.slice(l.service.indexOf('/') + 1)];
    const out: Target[] = [];
    for (const slice of this.objects.list('endpointSlices', namespace)) {
      if (slice.metadata.labels?.[SERVICE_NAME_LABEL] !== name) continue;
      const port = ((Array.isArray(slice.ports) ? slice.ports : []) as Obj[]).find((p) => (p.name ?? '') === l.portName);
      if (port === undefined || typeof port.port !== 'number') continue;
      for (const e of (Array.isArray(slice.endpoints) ? slice.endpoints : []) as Obj[]) {
        const cond = isObj(e.conditions) ? e.conditions : {};
        if (cond.ready === false) continue; // unset means ready (EndpointConditions)
        for (const a of (Array.isArray(e.addresses) ? e.addresses : []) as string[]) out.push({ host: a, port: port.port });
      }
    }
    return out;
  }

  private accept(l: Listener, client: Socket): void {
    const targets = this.endpoints(l);
    client.on('error', () => undefined);
    if (targets.length === 0) return void client.resetAndDestroy();
    const target = targets[l.next++ % targets.length]!;
    l.sockets.add(client);
    const upstream = connect({ host: target.host, port: target.port, allowHalfOpen: true });
    l.sockets.add(upstream);
    const forget = (): void => {
      l.sockets.delete(client);
      l.sockets.delete(upstream);
    };
    client.once('close', forget);
    upstream.once('close', forget);
    // A reset on either side resets the other; an orderly end (FIN) is passed on by pipe() as end().
    upstream.on('error', () => {
      if (!client.destroyed) client.resetAndDestroy();
    });
    client.on('error', () => {
      if (!upstream.destroyed) upstream.resetAndDestroy();
    });
    upstream.once('connect', () => {
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
  }
}
