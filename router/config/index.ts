// The router's configuration model: the schema of every skupper-router entity
// type and attribute (schema), skupper-router's JSON and .conf files parsed
// into frozen, typed entities (source, parse), the difference between two
// configs for live reconfiguration (diff), ConfigError listing every problem
// in a file, and the reference doc generated from the schema (reference).
// It owns that model and imports nothing from the rest of the project, so the
// CLI, the controllers and the router runtime can all depend on it.

export type * from './types.js';
export { parseRouterConfig, loadRouterConfigFile, mechanismsOf, withRouterId, implementedAttributes, TLS_VERSIONS } from './parse.js';
export { ROUTER_SCHEMA, REMOVED_ENTITY_TYPES, SCHEMA_PREFIX, MAX_COST, LOG_MODULES, entityType, longTypeName, baseTypes, attributesWith } from './schema.js';
export type { AttributeSchema, AttributeSupport, EntitySupport, EntityTypeSchema, SchemaType } from './schema.js';
export { renderConfigReference } from './reference.js';
export { servicePort, SERVICES_FILE_VARIABLE } from './named-ports.js';
export type { ParsedRouterConfig } from './parse.js';
export { diffRouterConfig, onlyRevokedSerialsChanged, sameRouterConfig, tlsMaterialChanged } from './diff.js';
export { normaliseSerial, parseSerialList, formatSerialList, type SerialList } from './serials.js';
export { ConfigError, formatProblem } from './errors.js';
export { serialiseRouterConfig, serialiseSslProfile, type EntityList } from './serialise.js';
