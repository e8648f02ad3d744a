// The schema (router/config/schema.ts) drives the parser and the reference
// doc: every attribute skupper-router 3 has is known, each one kskup ignores
// gives exactly one warning naming it, each one it refuses is an error naming
// it, implemented defaults are skupper-router's, and the committed
// docs/router-config-reference.md is what the schema generates.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  ROUTER_SCHEMA,
  entityType,
  formatProblem,
  implementedAttributes,
  parseRouterConfig,
  renderConfigReference,
  type AttributeSchema,
  type EntityTypeSchema,
} from '../router/config/index.js';

const INTERIOR: [string, Record<string, unknown>] = ['router', { id: 'r1', mode: 'interior' }];

/** Entities an entity of `type` needs besides itself (the sslProfile it names, ...): none yet. */
function minimal(type: EntityTypeSchema): Record<string, unknown> {
  const required: Record<string, Record<string, unknown>> = {
    router: {},
    listener: { name: 'l', port: 1 },
    connector: { name: 'c', host: 'h', port: 2 },
    sslProfile: { name: 's' },
    tcpListener: { name: 't', port: 3, address: 'a' },
    tcpConnector: { name: 'u', host: 'h', port: 4, address: 'a' },
    log: { module: 'ROUTER' },
    address: { prefix: 'p' },
  };
  const own = required[type.name] ?? {};
  // Ignored types: their required attributes, with valid values.
  for (const [name, attribute] of Object.entries(type.attributes)) {
    if (attribute.required && !(name in own)) own[name] = validValue(attribute);
  }
  return own;
}

/** A value that fits the attribute's schema type and range. */
function validValue(attribute: AttributeSchema): unknown {
  const { type } = attribute;
  if (Array.isArray(type)) return type[type.length - 1];
  switch (type) {
    case 'integer':
      return String(attribute.min ?? 1);
    case 'boolean':
      return 'yes';
    case 'map':
    case 'properties':
      return { key: 'value' };
    case 'list':
      return [];
    default:
      return 'x';
  }
}

function entitiesWith(type: EntityTypeSchema, extra: Record<string, unknown>): [string, Record<string, unknown>][] {
  const entity: [string, Record<string, unknown>] = [type.name, { ...minimal(type), ...extra }];
  return type.name === 'router' ? [['router', { ...INTERIOR[1], ...extra }]] : [INTERIOR, entity];
}

const configurable = ROUTER_SCHEMA.filter((type) => type.support === 'implemented' || type.support === 'ignored');

describe('the schema drives the parser', () => {
  const ignored = configurable.flatMap((type) =>
    Object.entries(type.attributes)
      .filter(([name, attribute]) => (attribute.support === 'ignored' || attribute.support === 'status') && name !== 'name')
      .map(([name, attribute]) => ({ type, name, attribute })),
  );

  it.each(ignored.map((row) => [`${row.type.name}.${row.name}`, row] as const))('%s is accepted with one warning naming it', (_label, { type, name, attribute }) => {
    const { warnings } = parseRouterConfig(JSON.stringify(entitiesWith(type, { [name]: validValue(attribute) })));
    if (type.support === 'ignored') {
      // The whole entity is ignored: one warning for the type, its attributes checked but not warned about one by one.
      expect(warnings).toEqual([`entity type "${type.name}" is not supported by kskup yet and is ignored`]);
    } else {
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(new RegExp(`^${type.name} .*: attribute "${name}" (is not supported by kskup yet|is a read-only status|is not in skupper-router 3) and is ignored$`));
    }
  });

  const checked = ignored.filter(({ attribute }) => attribute.type !== 'string' && attribute.type !== 'path');
  it.each(checked.map((row) => [`${row.type.name}.${row.name}`, row] as const))('%s outside its schema type is an error naming it', (_label, { type, name }) => {
    const problems = problemsOf(JSON.stringify(entitiesWith(type, { [name]: 'not-a-valid-value' })));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${type.name} .*: ${name} "not-a-valid-value" (must be one of|is not a number|is not a boolean)|^${type.name} .*: ${name} is a string, not a (map|list)`));
  });

  const refused = configurable.flatMap((type) =>
    Object.entries(type.attributes)
      .filter(([, attribute]) => attribute.support === 'refused')
      .map(([name, attribute]) => ({ type, name, attribute })),
  );
  it.each(refused.map((row) => [`${row.type.name}.${row.name}`, row] as const))('%s asks for what kskup cannot give: an error naming it', (_label, { type, name, attribute }) => {
    const problems = problemsOf(JSON.stringify(entitiesWith(type, { [name]: validValue(attribute) })));
    expect(problems).toEqual([expect.stringMatching(new RegExp(`^${type.name} .*: ${name} ${escape(attribute.refusal ?? '')}$`))]);
  });

  it('an integer attribute kskup ignores is still checked against its range', () => {
    expect(problemsOf(JSON.stringify([['router', { id: 'r', unreachableHoldoffSeconds: -1 }]]))).toEqual(['router "r": unreachableHoldoffSeconds -1 must be at least 0']);
    expect(problemsOf(JSON.stringify([INTERIOR, ['listener', { name: 'l', port: 1, cost: 2147483648 }]]))).toEqual(['listener "l": cost 2147483648 is out of range 1-2147483647']);
  });

  it('the parser reads exactly the attributes the schema calls implemented', () => {
    for (const type of ROUTER_SCHEMA.filter((t) => t.support === 'implemented')) {
      const promised = Object.entries(type.attributes).filter(([name, a]) => a.support === 'implemented' && name !== 'name').map(([name]) => name);
      const read = (implementedAttributes(type.name) ?? []).filter((name) => name !== 'name');
      expect([type.name, [...read].sort()]).toEqual([type.name, [...promised].sort()]);
    }
  });

  // skupper-router's defaults, as kskup holds them: host "" (all addresses) is
  // bound as 0.0.0.0, named ports are resolved, raIntervalSeconds is left to
  // the network agent (kskup's 10 s, documented in the schema), and
  // requireSsl/requireEncryption are held absent when false.
  const HELD_AS: Record<string, unknown> = { 'host:': '0.0.0.0', 'port:amqp': 5672 };
  const LEFT_OUT = new Set(['router.raIntervalSeconds', 'router.remoteLsMaxAgeSeconds', 'listener.requireSsl', 'listener.requireEncryption']);
  it.each(ROUTER_SCHEMA.filter((t) => t.support === 'implemented').map((t) => [t.name, t] as const))('%s: absent attributes get skupper-router\'s defaults', (_name, type) => {
    const { config } = parseRouterConfig(JSON.stringify(entitiesWith(type, {})));
    const collections: Record<string, unknown> = {
      router: config.router,
      listener: config.listeners.get('l'),
      connector: config.connectors.get('c'),
      sslProfile: config.sslProfiles.get('s'),
      tcpListener: config.tcpListeners.get('t'),
      tcpConnector: config.tcpConnectors.get('u'),
      log: config.logs[0],
      address: config.addresses[0],
    };
    const parsed = collections[type.name] as Record<string, unknown>;
    for (const [name, attribute] of Object.entries(type.attributes)) {
      if (attribute.support !== 'implemented' || attribute.default === undefined || LEFT_OUT.has(`${type.name}.${name}`)) continue;
      if (name in minimal(type) || (type.name === 'router' && name === 'mode')) continue;
      const held = `${name}:${String(attribute.default)}`;
      const expected = Object.hasOwn(HELD_AS, held) ? HELD_AS[held] : attribute.default;
      expect([name, parsed[name]]).toEqual([name, expected]);
    }
  });
});

describe('docs/router-config-reference.md', () => {
  it('is what the schema generates (npm run docs:router-config)', async () => {
    const committed = await readFile(new URL('../docs/router-config-reference.md', import.meta.url), 'utf8');
    expect(committed).toBe(renderConfigReference());
  });

  it('names every entity type and every attribute', () => {
    const doc = renderConfigReference();
    for (const type of ROUTER_SCHEMA) {
      expect(doc).toContain(`## ${type.name}\n`);
      for (const name of Object.keys(type.attributes)) expect(doc).toContain(`| \`${name}\``);
    }
    expect(entityType('io.skupper.router.router.config.address')?.name).toBe('address');
  });
});

function problemsOf(text: string): string[] {
  try {
    parseRouterConfig(text);
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems.map(formatProblem);
  }
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
