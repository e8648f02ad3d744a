// The router's configuration model: skupper-router's JSON config parsed into
// frozen, typed entities (parse), the difference between two configs for live
// reconfiguration (diff), and ConfigError listing every problem in a file.
// It owns that model and imports nothing from the rest of the project, so the
// CLI, the controllers and the router runtime can all depend on it.

export type * from './types.js';
export { parseRouterConfig, loadRouterConfigFile, mechanismsOf, TLS_VERSIONS } from './parse.js';
export type { ParsedRouterConfig } from './parse.js';
export { diffRouterConfig, onlyRevokedSerialsChanged, sameRouterConfig } from './diff.js';
export { normaliseSerial, parseSerialList, formatSerialList, type SerialList } from './serials.js';
export { ConfigError, formatProblem } from './errors.js';
export { serialiseRouterConfig, serialiseSslProfile, type EntityList } from './serialise.js';
