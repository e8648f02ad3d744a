// The site process's side of its link to the supervisor (supervisor.ts): an
// IPC channel the supervisor opens when it spawns the process. The process
// loads its modules, says "loaded" and waits for "start" (so the supervisor
// can keep one loaded as a warm standby), says "ready" once the router,
// claims endpoint and controller are up, and learns from the channel closing
// that the supervisor is gone, so that it stops instead of running on
// unsupervised and unrecorded.
//
// This module imports nothing: the entry (cli/site-process-main.ts) loads it
// with the signal handlers, before the site's modules, so a supervisor that
// dies while they load is not missed.

/** The messages on the channel: `loaded` and `ready` from the site process, `start` from the supervisor. */
export type SupervisorMessage = { readonly kind: 'loaded' } | { readonly kind: 'ready' } | { readonly kind: 'start' };

export function isSupervisorMessage(value: unknown, kind: SupervisorMessage['kind']): boolean {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === kind;
}

export interface SupervisorLink {
  /** False when the process was started without the supervisor's channel (by hand). */
  readonly supervised: boolean;
  /** The supervisor's pid (the parent's at start). */
  readonly supervisorPid: number;
  /** Resolves when the supervisor is gone (the channel closed); never when unsupervised. */
  readonly lost: Promise<void>;
  /** Says "loaded" and resolves at the supervisor's "start"; at once when unsupervised. */
  loaded(): Promise<void>;
  /** Tells the supervisor the site is up. */
  ready(): void;
}

export function linkToSupervisor(): SupervisorLink {
  const supervised = typeof process.send === 'function' && process.connected;
  const lost = new Promise<void>((resolve) => {
    if (supervised) process.once('disconnect', () => resolve());
  });
  const started = new Promise<void>((resolve) => {
    if (!supervised) return resolve();
    const onMessage = (message: unknown) => {
      if (!isSupervisorMessage(message, 'start')) return;
      process.off('message', onMessage);
      resolve();
    };
    process.on('message', onMessage);
  });
  const send = (message: SupervisorMessage) => {
    if (!supervised || !process.connected) return;
    // The callback takes the error of a channel closed in between (`lost` says so): without it, it would be an 'error' event on process.
    process.send!(message, undefined, undefined, () => undefined);
  };
  return {
    supervised,
    supervisorPid: process.ppid,
    lost,
    loaded() {
      send({ kind: 'loaded' });
      return started;
    },
    ready: () => send({ kind: 'ready' }),
  };
}
