// What a site knows of the network (network.json on the local platform, the
// kskup-network ConfigMap on Kubernetes): written by the service controller
// on every pass, read by `service status` and `network status`.
import type { SiteAnnouncement } from './sync/announcement.js';
import type { NetworkService } from './sync/network-view.js';
import type { LocalTargetState } from './target-states.js';

export interface NetworkSnapshot {
  readonly updatedAt: string;
  readonly self: SiteAnnouncement;
  readonly sites: readonly { readonly announcement: SiteAnnouncement; readonly heardAt: string }[];
  readonly services: readonly NetworkService[];
  /** This site's listener of each `service:port`, and whether the router has it bound (if not, why). */
  readonly listeners: Readonly<Record<string, SnapshotListener>>;
  /**
   * Kubernetes sites: why the Service for an address (named after it) is not
   * kskup's to keep, by address; absent when every one is in place.
   */
  readonly serviceProblems?: Readonly<Record<string, string>>;
  /**
   * Kubernetes sites: objects whose kskup.io annotations do not expose them,
   * and why, by target (`deployment/backend`); absent when there are none.
   */
  readonly annotationProblems?: Readonly<Record<string, string>>;
  /** The targets of the services exposed here, one row per host target or pod, with each port's state. */
  readonly targets?: readonly LocalTargetState[];
}

export interface SnapshotListener {
  readonly host: string;
  readonly port: number;
  readonly listening: boolean;
  /** Why it is not listening (the bind error), when it is not. */
  readonly reason?: string;
}
