// The client certificates a mutual-TLS listener refuses although its CA signed
// them (its sslProfile's revokedSerials), and the client serial of every
// connection it has accepted, so that a serial revoked later ends just the
// connections that presented it while every other one carries on.
import type { TLSSocket } from 'node:tls';
import { normaliseSerial } from '../config/index.js';
import type { Logger } from '../log/logger.js';
import { REVOKED_CLIENT_CERTIFICATE } from '../peer/socket-errors.js';

/** `C` is whatever the listener hands on for a connection (a socket, a WebSocket stream). */
export class RevocationList<C> {
  private revoked: ReadonlySet<string>;
  private readonly accepted = new Map<C, string>();

  /** `serials` as the config model holds them: already normalised. */
  constructor(serials: readonly string[] = []) {
    this.revoked = new Set(serials);
  }

  isRevoked(socket: TLSSocket): boolean {
    const serial = clientSerial(socket);
    return serial !== undefined && this.revoked.has(serial);
  }

  /** Remembers the serial of an accepted connection's client certificate, if it presented one, until forget(). */
  track(connection: C, socket: TLSSocket): void {
    const serial = clientSerial(socket);
    if (serial !== undefined) this.accepted.set(connection, serial);
  }

  forget(connection: C): void {
    this.accepted.delete(connection);
  }

  /** Takes the new list; returns the accepted connections whose certificate it revokes. */
  replace(serials: readonly string[]): C[] {
    this.revoked = new Set(serials);
    return [...this.accepted].filter(([, serial]) => this.revoked.has(serial)).map(([connection]) => connection);
  }

  /** Takes the new list and drops the connections it revokes, logging them once: what a listener does when revokedSerials changes. */
  /** `listener.entity`: the entity type in the log line (default `listener`; `tcpListener` for the TCP edge). */
  replaceAndDrop(
    serials: readonly string[],
    listener: { name: string; noun: string; log: Logger; entity?: string },
    drop: (connection: C, reason: string) => void,
  ): void {
    const revoked = this.replace(serials);
    if (revoked.length === 0) return;
    const reason = REVOKED_CLIENT_CERTIFICATE;
    listener.log.warn(
      { listener: listener.name, connections: revoked.length, reason },
      `${listener.entity ?? 'listener'} "${listener.name}" dropped ${revoked.length} ${listener.noun}${revoked.length === 1 ? '' : 's'}: ${reason}`,
    );
    for (const connection of revoked) drop(connection, reason);
  }
}

/**
 * The client certificate's serial in the config's normal form. Node gives
 * upper-case hex, with a leading zero byte when the DER INTEGER needs one;
 * an empty object stands for "no certificate".
 */
export function clientSerial(socket: TLSSocket): string | undefined {
  const serial: unknown = socket.getPeerCertificate()?.serialNumber;
  return typeof serial === 'string' && serial !== '' ? normaliseSerial(serial) : undefined;
}
