// Helpers for tests that talk to the Kubernetes API server double
// (test/kube/api-server.ts) through the real @kubernetes/client-node.

import { ApiException, Watch, type KubeConfig } from '@kubernetes/client-node';
import { expect, vi } from 'vitest';

export interface FailedRequest {
  readonly code: number;
  /** The meta/v1 Status the server answered (undefined when client-node drops the body, as it does for 401). */
  readonly status: { kind?: string; reason?: string; message?: string; code?: number; details?: { name?: string; kind?: string; causes?: Array<{ field?: string; reason?: string; message?: string }> } } | undefined;
}

/** Awaits a request that must fail with an ApiException and returns its code and Status. */
export async function failure(request: Promise<unknown>): Promise<FailedRequest> {
  const err: unknown = await request.then(
    (value) => {
      throw new Error(`expected the request to fail, it answered ${JSON.stringify(value).slice(0, 300)}`);
    },
    (e: unknown) => e,
  );
  if (!(err instanceof ApiException)) throw err;
  const body = (err as ApiException<unknown>).body;
  const status = typeof body === 'string' && body !== '' ? (JSON.parse(body) as FailedRequest['status']) : (body as FailedRequest['status']);
  return { code: err.code, status };
}

/** Expects a failure with this HTTP code and Status reason; returns it for further checks. */
export async function expectFailure(request: Promise<unknown>, code: number, reason: string | undefined): Promise<FailedRequest> {
  const f = await failure(request);
  expect({ code: f.code, reason: f.status?.reason }).toEqual({ code, reason });
  if (f.status !== undefined) expect(f.status).toMatchObject({ kind: 'Status', code });
  return f;
}

export interface WatchEvent {
  readonly type: string;
  readonly object: { metadata?: { name?: string; resourceVersion?: string; labels?: Record<string, string> }; code?: number; reason?: string; [key: string]: unknown };
}

export interface CollectedWatch {
  readonly events: WatchEvent[];
  /** Resolves with the error (or null) client-node passes to `done` when the stream ends. */
  readonly ended: Promise<unknown>;
  stop(): void;
  /** Waits until some event satisfies `predicate`. */
  waitFor(predicate: (e: WatchEvent) => boolean, timeoutMs?: number): Promise<WatchEvent>;
}

/** Starts a client-node Watch on `path` and collects its events. */
export async function collectWatch(kc: KubeConfig, path: string, query: Record<string, string | number | boolean>): Promise<CollectedWatch> {
  const events: WatchEvent[] = [];
  let resolveEnded: (err: unknown) => void = () => {};
  const ended = new Promise<unknown>((resolve) => (resolveEnded = resolve));
  const controller = await new Watch(kc).watch(
    path,
    query,
    (type, object) => events.push({ type, object: object as WatchEvent['object'] }),
    (err) => resolveEnded(err),
  );
  return {
    events,
    ended,
    stop: () => controller.abort(),
    waitFor: (predicate, timeoutMs = 5000) =>
      vi.waitFor(
        () => {
          const found = events.find(predicate);
          if (found === undefined) throw new Error(`no such watch event yet; have ${events.map((e) => `${e.type}:${e.object.metadata?.name ?? ''}`).join(' ')}`);
          return found;
        },
        { timeout: timeoutMs, interval: 10 },
      ),
  };
}
