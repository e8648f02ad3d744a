// The typed model back in skupper-router's JSON form, so that a running config
// can be edited as a file would be (management CREATE/DELETE) and validated by
// the one parser: parseRouterConfig(serialise(config)) gives the same config.
import { formatSerialList } from './serials.js';
import type { LogLevel, RouterConfig, SslProfileEntity } from './types.js';

export type EntityList = [string, Record<string, unknown>][];

const ENABLE_OF_LEVEL: Record<LogLevel, string> = {
  trace: 'trace+',
  debug: 'debug+',
  info: 'info+',
  warn: 'warning+',
  error: 'error+',
  fatal: 'critical+',
  silent: 'none',
};

function definedOnly(entity: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(entity).filter(([, value]) => value !== undefined));
}

export function serialiseRouterConfig(config: RouterConfig): EntityList {
  return [
    // idGenerated is not an attribute: the generated id is written as the id.
    ['router', definedOnly({ ...config.router, idGenerated: undefined })],
    ...[...config.sslProfiles.values()].map((e): [string, Record<string, unknown>] => ['sslProfile', serialiseSslProfile(e)]),
    ...[...config.listeners.values()].map((e): [string, Record<string, unknown>] => ['listener', definedOnly(e)]),
    ...[...config.connectors.values()].map((e): [string, Record<string, unknown>] => ['connector', definedOnly(e)]),
    ...[...config.tcpListeners.values()].map((e): [string, Record<string, unknown>] => ['tcpListener', definedOnly(e)]),
    ...[...config.tcpConnectors.values()].map((e): [string, Record<string, unknown>] => ['tcpConnector', definedOnly(e)]),
    ...config.addresses.map((e): [string, Record<string, unknown>] => ['address', definedOnly(e)]),
    ...config.logs.map((e): [string, Record<string, unknown>] => ['log', { module: e.module, enable: ENABLE_OF_LEVEL[e.level] }]),
  ];
}

/** revokedSerials is held as a list but written as the file writes it: one string. */
export function serialiseSslProfile(profile: SslProfileEntity): Record<string, unknown> {
  const { revokedSerials } = profile;
  return definedOnly({ ...profile, revokedSerials: revokedSerials === undefined ? undefined : formatSerialList(revokedSerials) });
}
