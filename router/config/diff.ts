// What live reconfiguration must do to get from one parsed config to the next:
// named entities are matched by name and compared attribute by attribute; the
// router entity, addresses and logs are compared as wholes.

import type { ConfigDiff, EntityDiff, RouterConfig, SslProfileEntity } from './types.js';

export function diffRouterConfig(before: RouterConfig, after: RouterConfig): ConfigDiff {
  const listeners = diffByName(before.listeners, after.listeners);
  const connectors = diffByName(before.connectors, after.connectors);
  const sslProfiles = diffByName(before.sslProfiles, after.sslProfiles);
  const tcpListeners = diffByName(before.tcpListeners, after.tcpListeners);
  const tcpConnectors = diffByName(before.tcpConnectors, after.tcpConnectors);
  const routerChanged = !deepEqual(before.router, after.router);
  const addressesChanged = !deepEqual(before.addresses, after.addresses);
  const logsChanged = !deepEqual(before.logs, after.logs);
  const empty =
    [listeners, connectors, sslProfiles, tcpListeners, tcpConnectors].every(isEmptyEntityDiff) &&
    !routerChanged &&
    !addressesChanged &&
    !logsChanged;
  return Object.freeze({
    listeners,
    connectors,
    sslProfiles,
    tcpListeners,
    tcpConnectors,
    routerChanged,
    addressesChanged,
    logsChanged,
    empty,
  });
}

export function sameRouterConfig(a: RouterConfig, b: RouterConfig): boolean {
  return diffRouterConfig(a, b).empty;
}

/**
 * True when two versions of an sslProfile differ in revokedSerials and nothing
 * else. The router applies such a change to the listeners in place: restarting
 * them, as for any other profile change, would drop every link they carry in
 * order to refuse one.
 */
export function onlyRevokedSerialsChanged(before: SslProfileEntity, after: SslProfileEntity): boolean {
  const withoutRevocations = (profile: SslProfileEntity) => ({ ...profile, revokedSerials: undefined });
  return !deepEqual(before, after) && deepEqual(withoutRevocations(before), withoutRevocations(after));
}

/**
 * True when two versions of an sslProfile differ in what a TLS handshake uses
 * (files, password, protocols, ciphers), not only in revokedSerials or the
 * rotation ordinals, which the router applies to running entities in place.
 */
export function tlsMaterialChanged(before: SslProfileEntity, after: SslProfileEntity): boolean {
  const handshake = (profile: SslProfileEntity) => ({ ...profile, revokedSerials: undefined, ordinal: undefined, oldestValidOrdinal: undefined });
  return !deepEqual(handshake(before), handshake(after));
}

/** added and changed in `after`'s order, removed in `before`'s. */
function diffByName<T>(before: ReadonlyMap<string, T>, after: ReadonlyMap<string, T>): EntityDiff<T> {
  const added: T[] = [];
  const changed: { before: T; after: T }[] = [];
  for (const [name, next] of after) {
    const previous = before.get(name);
    if (previous === undefined) added.push(next);
    else if (!deepEqual(previous, next)) changed.push(Object.freeze({ before: previous, after: next }));
  }
  const removed = [...before].filter(([name]) => !after.has(name)).map(([, entity]) => entity);
  return Object.freeze({
    added: Object.freeze(added),
    removed: Object.freeze(removed),
    changed: Object.freeze(changed),
  });
}

function isEmptyEntityDiff(diff: EntityDiff<unknown>): boolean {
  return diff.added.length === 0 && diff.removed.length === 0 && diff.changed.length === 0;
}

/**
 * Structural equality of plain data. A key whose value is undefined counts as
 * absent, so a hand-built entity with `sslProfile: undefined` equals a parsed
 * one without the key.
 */
function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  }
  const aRecord = a as Record<string, unknown>;
  const bRecord = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(aRecord), ...Object.keys(bRecord)]);
  return [...keys].every((key) => deepEqual(aRecord[key], bRecord[key]));
}
