// How many deliveries rhea's sessions on a connection still hold: incoming ones
// not yet settled here (or queued behind one that is not: rhea frees them in
// order), and outgoing ones not yet sent or settled. A number that only grows
// means a delivery nobody settles, which keeps every later one (and its bytes)
// in memory until the session's buffer overflows and the connection fails.
// rhea keeps these in each session's CircularBuffer (lib/session.js); it has no
// public accessor, so this reads the fields it has had since 1.x.
import type { Connection } from 'rhea';

interface SessionInternals {
  readonly incoming?: { readonly deliveries?: { readonly size: number } };
  readonly outgoing?: { readonly deliveries?: { readonly size: number } };
}

/** Deliveries held by every session of `connection`: { incoming, outgoing } counts. */
export function heldDeliveries(connection: Connection): { incoming: number; outgoing: number } {
  const sessions = (connection as unknown as { local_channel_map?: Record<string, SessionInternals> }).local_channel_map ?? {};
  let incoming = 0;
  let outgoing = 0;
  for (const session of Object.values(sessions)) {
    incoming += session.incoming?.deliveries?.size ?? 0;
    outgoing += session.outgoing?.deliveries?.size ?? 0;
  }
  return { incoming, outgoing };
}
