// skupper-router 3's certificate rotation at a listener: each TLS connection
// it accepts records its sslProfile's `ordinal` of that moment (management
// `connection` rows, `tlsOrdinal`); when the profile's `oldestValidOrdinal`
// is raised, the connections that recorded a lower ordinal are closed and all
// others carry on. As in skupper-router (qd_listener.c), only a raise acts: a
// lower oldestValidOrdinal closes nothing and reopens nothing, and the
// listener keeps the highest one it has seen.

/** Why an expired connection is closed: the text of its AMQP close and of the log line. */
export function expiredOrdinalReason(ordinal: number, oldestValidOrdinal: number): string {
  return `TLS credentials expired: the connection was made with sslProfile ordinal ${ordinal}, below oldestValidOrdinal ${oldestValidOrdinal}`;
}

/** The sslProfile ordinals a listener or connector has applied (types.ts SslProfileEntity). */
export interface Ordinals {
  readonly ordinal: number;
  readonly oldestValidOrdinal: number;
}

/** `C` is whatever the listener hands on for a connection (a socket, a WebSocket stream). */
export class ConnectionOrdinals<C> {
  private current: Ordinals;
  private readonly accepted = new Map<C, number>();

  constructor(initial: Ordinals) {
    this.current = initial;
  }

  /** The ordinal new connections record now. */
  get ordinal(): number {
    return this.current.ordinal;
  }

  /** Records the current ordinal for an accepted connection, until forget(); returns it. */
  record(connection: C): number {
    this.accepted.set(connection, this.current.ordinal);
    return this.current.ordinal;
  }

  forget(connection: C): void {
    this.accepted.delete(connection);
  }

  /**
   * Takes the profile's new ordinals; returns the accepted connections to
   * close (those below a raised oldestValidOrdinal) with each one's ordinal.
   */
  update(next: Ordinals): [C, number][] {
    const raised = next.oldestValidOrdinal > this.current.oldestValidOrdinal;
    const oldestValidOrdinal = Math.max(next.oldestValidOrdinal, this.current.oldestValidOrdinal);
    this.current = { ordinal: next.ordinal, oldestValidOrdinal };
    if (!raised) return [];
    return [...this.accepted].filter(([, ordinal]) => ordinal < oldestValidOrdinal);
  }

  get oldestValidOrdinal(): number {
    return this.current.oldestValidOrdinal;
  }
}

/** A profile's ordinals, 0 where the file gives none. */
export function ordinalsOf(profile: { ordinal?: number; oldestValidOrdinal?: number } | undefined): Ordinals {
  return { ordinal: profile?.ordinal ?? 0, oldestValidOrdinal: profile?.oldestValidOrdinal ?? 0 };
}
