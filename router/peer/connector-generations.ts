// One `connector` entity across certificate rotations, as skupper-router 3
// runs it (qd_connector.c, handle_connector_ssl_profile_mgmt_update): a
// generation of InterRouterConnector per sslProfile `ordinal`.
//
// - The profile's files change, the ordinal stays: the current connector dials
//   with the new files next time; its open connection carries on.
// - The ordinal is raised: the current connector is retired (its connection
//   carries on, without redialling once it ends) and a new one dials with the
//   new files at once. Both ends then prefer the newer connection for new flows.
// - oldestValidOrdinal is raised: every generation made for a lower ordinal
//   is stopped, its connection closed with the reason.
// Only inter-router and edge connectors rotate, as in skupper-router; a lower
// ordinal or oldestValidOrdinal than before changes nothing but the files.
import type { ConnectorEntity } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { expiredOrdinalReason, type Ordinals } from '../tls/connection-ordinals.js';
import type { TlsMaterial } from '../tls/ssl-profile.js';
import type { ConnectorStatus, InterRouterConnector } from './inter-router-connector.js';

export type MakeConnector = (material: TlsMaterial | undefined, ordinal: number) => InterRouterConnector;

export class ConnectorGenerations {
  readonly entity: ConnectorEntity;
  private current: InterRouterConnector;
  private readonly retired = new Set<InterRouterConnector>();
  private ordinals: Ordinals;
  private readonly make: MakeConnector;
  private readonly log: Logger;

  constructor(entity: ConnectorEntity, material: TlsMaterial | undefined, ordinals: Ordinals, make: MakeConnector, log: Logger) {
    this.entity = entity;
    this.ordinals = ordinals;
    this.make = make;
    this.log = log;
    this.current = make(material, ordinals.ordinal);
  }

  start(): void {
    this.current.start();
  }

  /** The current generation's state: what management shows for the entity. */
  status(): ConnectorStatus {
    return this.current.current();
  }

  /** Generations still running for older ordinals. */
  retiredCount(): number {
    return this.retired.size;
  }

  /** The sslProfile changed: new material and, maybe, new ordinals (see the header). */
  update(material: TlsMaterial | undefined, next: Ordinals): void {
    this.expire(next.oldestValidOrdinal);
    if (this.rotates && next.ordinal > this.ordinals.ordinal) this.rotate(material, next.ordinal);
    else this.current.setMaterial(material);
  }

  /**
   * Stops every generation made for an ordinal below a raised
   * `oldestValidOrdinal`, closing its connection with the reason. Also done
   * when the profile's new files cannot be loaded: expiry only ends things.
   */
  expire(oldestValidOrdinal: number): void {
    if (!this.rotates || oldestValidOrdinal <= this.ordinals.oldestValidOrdinal) return;
    for (const generation of [...this.retired, this.current]) {
      if (generation.ordinal >= oldestValidOrdinal || generation.current().state === 'stopped') continue;
      const description = expiredOrdinalReason(generation.ordinal, oldestValidOrdinal);
      this.log.info({ connector: this.entity.name, ordinal: generation.ordinal, oldestValidOrdinal }, `connector "${this.entity.name}" closes its connection: ${description}`);
      generation.stop({ condition: 'amqp:connection:forced', description });
      this.retired.delete(generation);
    }
    this.ordinals = { ...this.ordinals, oldestValidOrdinal };
  }

  private get rotates(): boolean {
    return this.entity.role === 'inter-router' || this.entity.role === 'edge';
  }

  private rotate(material: TlsMaterial | undefined, ordinal: number): void {
    this.log.info(
      { connector: this.entity.name, ordinal, previous: this.ordinals.ordinal },
      `connector "${this.entity.name}" opens a connection with sslProfile ordinal ${ordinal}; the one made with ordinal ${this.ordinals.ordinal} carries on without reconnecting`,
    );
    const old = this.current;
    // An expired current generation is stopped already; one still running is retired.
    if (old.current().state !== 'stopped') {
      this.retired.add(old);
      old.retire(() => this.retired.delete(old));
    }
    this.ordinals = { ...this.ordinals, ordinal };
    this.current = this.make(material, ordinal);
    this.current.start();
  }

  stop(): void {
    for (const generation of [...this.retired, this.current]) generation.stop();
    this.retired.clear();
  }
}
