// One `?watch=true` response: newline-delimited JSON watch events
// ({"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}), as
// kube-apiserver streams them for application/json.
// - From no resourceVersion (or "0"): the current objects as ADDED, then changes.
// - From resourceVersion N: the changes after N; if N is older than the
//   retained history, one ERROR event carrying a 410 Expired Status, then the
//   stream ends (what the real watch cache does).
// - With selectors, an object that starts matching arrives as ADDED and one
//   that stops matching as DELETED (the cacher's filtering).
// - BOOKMARK events (with allowWatchBookmarks) carry only the resourceVersion.
// - A reader so slow that 1 MiB is queued is dropped, as the real server drops
//   a watcher whose buffer fills, instead of buffering without bound.

import type { ServerResponse } from 'node:http';
import { apiVersionOf, storageKind, type ResourceType } from './resources.js';
import { matchesFields, matchesLabels, type FieldSelector, type LabelSelector } from './selectors.js';
import { ApiError } from './status.js';
import type { Change, KubeObject, Store } from './store.js';

export interface WatchRequest {
  readonly rt: ResourceType;
  /** undefined: all namespaces (or a cluster-scoped type). */
  readonly namespace: string | undefined;
  readonly labelSelector: LabelSelector;
  readonly fieldSelector: FieldSelector;
  /** undefined: start with the current state as ADDED events. */
  readonly sinceRv: number | undefined;
  readonly allowBookmarks: boolean;
  /** The stream ends (cleanly) after this long. */
  readonly timeoutMs: number;
  readonly bookmarkIntervalMs: number;
}

const MAX_QUEUED_BYTES = 1024 * 1024;

export class WatchStream {
  private unsubscribe: (() => void) | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private ended = false;

  constructor(
    private readonly store: Store,
    private readonly request: WatchRequest,
    private readonly res: ServerResponse,
    private readonly onEnd: (stream: WatchStream) => void,
  ) {}

  start(): void {
    const { rt, sinceRv } = this.request;
    this.res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
    this.res.flushHeaders();
    this.res.on('close', () => this.end());
    try {
      // Reading the history and subscribing happen in one turn of the event
      // loop, so no change falls between them.
      const backlog = sinceRv === undefined ? undefined : this.store.changesSince(sinceRv);
      if (backlog === undefined) {
        for (const obj of this.store.list(storageKind(rt), this.request.namespace)) if (this.matches(obj)) this.send('ADDED', obj);
      } else {
        for (const change of backlog) this.onChange(change);
      }
      this.unsubscribe = this.store.subscribe((change) => this.onChange(change));
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      this.sendRaw({ type: 'ERROR', object: err.status });
      this.end();
      return;
    }
    this.timers.push(setTimeout(() => this.end(), this.request.timeoutMs));
    if (this.request.allowBookmarks) this.timers.push(setInterval(() => this.bookmark(), this.request.bookmarkIntervalMs));
  }

  /** Sends a BOOKMARK now if the client asked for bookmarks. */
  bookmark(): void {
    if (!this.request.allowBookmarks || this.ended) return;
    const { rt } = this.request;
    this.sendRaw({ type: 'BOOKMARK', object: { kind: rt.kind, apiVersion: apiVersionOf(rt), metadata: { resourceVersion: String(this.store.currentRv()) } } });
  }

  /** Ends the response cleanly, as the server does at timeoutSeconds (the client sees the stream close). */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.unsubscribe?.();
    for (const t of this.timers) clearTimeout(t);
    if (!this.res.writableEnded) this.res.end();
    this.onEnd(this);
  }

  private matches(obj: KubeObject): boolean {
    const { namespace, labelSelector, fieldSelector } = this.request;
    if (namespace !== undefined && (obj.metadata.namespace ?? '') !== namespace) return false;
    return matchesLabels(labelSelector, obj.metadata.labels) && matchesFields(fieldSelector, obj);
  }

  private onChange(change: Change): void {
    if (change.kind !== storageKind(this.request.rt) || this.ended) return;
    const now = change.type !== 'DELETED' && this.matches(change.object);
    const before = change.previous !== undefined && this.matches(change.previous);
    if (change.type === 'DELETED') {
      if (before) this.send('DELETED', change.object);
    } else if (now && before) {
      this.send('MODIFIED', change.object);
    } else if (now) {
      this.send('ADDED', change.object);
    } else if (before) {
      this.send('DELETED', change.object);
    }
  }

  private send(type: string, object: KubeObject): void {
    this.sendRaw({ type, object });
  }

  private sendRaw(event: object): void {
    if (this.ended) return;
    this.res.write(`${JSON.stringify(event)}\n`);
    if (this.res.writableLength > MAX_QUEUED_BYTES) this.end();
  }
}
