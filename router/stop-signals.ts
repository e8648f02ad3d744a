// The signals a kskup process answers, caught as the very first thing it does:
// until a process has its own handler, Node's default for SIGTERM and SIGINT
// ends it at once (exit by signal, no clean-up) and SIGHUP kills it. The entry
// points (router/main.ts, cli/site-process-main.ts) call this before
// they load anything else, so a stop that comes while the config is being read
// or the listeners are binding is remembered and carried out as a clean stop
// (exit 0) once the process has something to stop.
//
// This module imports nothing, so that catching the signals costs no module loading.

export type StopSignal = 'SIGTERM' | 'SIGINT';

export interface StopSignals {
  /** The first SIGTERM or SIGINT, once one has come. */
  readonly received: StopSignal | undefined;
  /** Resolves with the first SIGTERM or SIGINT; later ones are ignored (the stop is under way). */
  readonly stopped: Promise<StopSignal>;
  /** What SIGHUP does from now on (before this is called, a SIGHUP is ignored). */
  onHangup(handler: () => void): void;
}

export function catchStopSignals(): StopSignals {
  let received: StopSignal | undefined;
  let resolveStopped: (signal: StopSignal) => void = () => undefined;
  const stopped = new Promise<StopSignal>((resolve) => (resolveStopped = resolve));
  let hangup: () => void = () => undefined;
  const onStop = (signal: StopSignal) => {
    if (received) return;
    received = signal;
    resolveStopped(signal);
  };
  // `on`, not `once`: a second signal during the stop must not fall back to
  // Node's default and kill the process; signal-exit (under proper-lockfile)
  // also re-raises a signal it finds no other listener for.
  process.on('SIGTERM', () => onStop('SIGTERM'));
  process.on('SIGINT', () => onStop('SIGINT'));
  process.on('SIGHUP', () => hangup());
  return {
    get received() {
      return received;
    },
    stopped,
    onHangup(handler) {
      hangup = handler;
    },
  };
}
