// One kind of object in the site's namespace, listed and watched with
// client-node's informer, and kept watched: a client-node informer stops for
// good after an error (a dropped watch, a 410 Gone, an API server restart), so
// it is started again with backoff, relisting. Every change only says "look
// again" to the controller's single work queue; handlers never race.
import type { KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import { makeInformer, type Informer, type ObjectCache } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { describeApiError } from './kube-errors.js';

const RESTART_MIN_MS = 200;
const RESTART_MAX_MS = 10_000;

export interface WatchedKindOptions<T extends KubernetesObject> {
  /** What it is, for logs: `ConfigMaps labelled app.kubernetes.io/part-of=kskup`. */
  readonly what: string;
  /** The API path of the collection, e.g. `/api/v1/namespaces/NS/configmaps`. */
  readonly path: string;
  readonly list: () => Promise<KubernetesListObject<T>>;
  readonly labelSelector?: string;
  /** Something changed (or may have): the controller looks again. */
  readonly onChange: (reason: string) => void;
  readonly log: Logger;
}

export class WatchedKind<T extends KubernetesObject> {
  private informer: (Informer<T> & ObjectCache<T>) | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;
  private hasSynced = false;
  private markSynced: () => void = () => undefined;
  /** Resolves once the first list has been read: only then is the cache the cluster's truth. */
  readonly synced: Promise<void> = new Promise((resolve) => (this.markSynced = resolve));

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly options: WatchedKindOptions<T>,
  ) {}

  start(): void {
    this.stopped = false;
    this.run();
  }

  get isSynced(): boolean {
    return this.hasSynced;
  }

  get(name: string): T | undefined {
    return this.informer?.list().find((object) => object.metadata?.name === name);
  }

  list(): readonly T[] {
    return this.informer?.list() ?? [];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    await this.informer?.stop().catch(() => undefined);
  }

  private listed(): void {
    if (this.failures > 0) this.options.log.info(`watching ${this.options.what} again`);
    this.failures = 0;
    if (!this.hasSynced) {
      this.hasSynced = true;
      this.markSynced();
    }
    this.options.onChange(`${this.options.what} listed`);
  }

  private run(): void {
    const { options } = this;
    // The informer fills its cache in the same turn as its list call resolves;
    // a turn later, the cache holds the list and it is the cluster's truth.
    const list = async () => {
      const result = await options.list();
      setImmediate(() => this.listed());
      return result;
    };
    const informer = makeInformer<T>(this.kubeConfig, options.path, list, options.labelSelector);
    this.informer = informer;
    for (const verb of ['add', 'update', 'delete'] as const) {
      informer.on(verb, (object) => options.onChange(`${object.kind ?? 'object'} ${object.metadata?.name ?? '?'} ${verb}`));
    }
    informer.on('error', (error: unknown) => {
      if (this.stopped || this.informer !== informer) return;
      this.failures++;
      const delay = Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** (this.failures - 1));
      // The first failure of a run is worth a line; repeats of it are not.
      if (this.failures === 1) options.log.warn({ reason: describeApiError(error) }, `watch of ${options.what} ended; listing and watching again`);
      this.restartTimer = setTimeout(() => {
        void informer.stop().catch(() => undefined);
        if (!this.stopped) this.run();
      }, delay);
    });
    informer.start().catch((error: unknown) => {
      // A failed first list ends up here too; the 'error' handler restarts it.
      options.log.debug({ reason: describeApiError(error) }, `listing ${options.what} failed`);
    });
  }
}
