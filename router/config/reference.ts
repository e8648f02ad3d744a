// docs/router-config-reference.md, generated from the schema (schema.ts) by
// `npm run docs:router-config`; a test fails when the committed file differs.
import { REMOVED_ENTITY_TYPES, ROUTER_SCHEMA, SCHEMA_PREFIX, type AttributeSchema, type EntityTypeSchema } from './schema.js';

const ENTITY_SUPPORT: Record<EntityTypeSchema['support'], string> = {
  implemented: 'implemented',
  ignored: 'accepted and ignored, with one warning',
  refused: 'refused: a config error',
  operational: 'operational: shown by management, not configurable',
};

const ATTRIBUTE_SUPPORT: Record<AttributeSchema['support'], string> = {
  implemented: 'yes',
  ignored: 'ignored (warning)',
  refused: '**error**',
  status: 'read-only',
};

/** The reference document, Markdown, ending in a newline. */
export function renderConfigReference(): string {
  const lines = [
    '# Router config reference',
    '',
    '<!-- Generated from router/config/schema.ts by `npm run docs:router-config`. Do not edit by hand. -->',
    '',
    'Every entity type and attribute of skupper-router 3.x\'s management schema',
    '(`skrouter.json`, checked against 3.5.1), with what kskup does with it. The',
    'config parser, management (GET-TYPES, GET-ATTRIBUTES, QUERY) and this page',
    'all come from one table, `router/config/schema.ts`. The file syntaxes,',
    'defaults and names are described in [router-config.md](router-config.md);',
    'the attributes that ask for security in',
    '[security-attributes.md](security-attributes.md).',
    '',
    '- **yes**: honoured. **ignored (warning)**: accepted, its value checked',
    '  against the type and range below, one warning naming the entity and',
    '  attribute. **error**: asks for security kskup cannot give, or for',
    '  something it refuses; the entity does not load. **read-only**: a status',
    '  management shows; in a file it is ignored with a warning.',
    '- Types: `string`, `path` (a file name), `integer`, `boolean` (`yes`/`no`,',
    '  `true`/`false`, `on`/`off`, `1`/`0`, in any case, as JSON values or',
    '  strings), `properties` and `map` (a JSON map), `list`, or one of the listed',
    '  values. Numbers may be written as strings.',
    '- *kskup* marks kskup\'s own attributes; *legacy* marks names skupper-router 3',
    '  no longer has but that older files use.',
    '',
    '## Entity types',
    '',
    '| type | management name | kskup |',
    '| --- | --- | --- |',
    ...ROUTER_SCHEMA.map((type) => `| [\`${type.name}\`](#${anchor(type.name)}) | \`${SCHEMA_PREFIX}${type.managementName}\` | ${ENTITY_SUPPORT[type.support]}${type.kskup ? ' (*kskup*)' : ''} |`),
    '',
    'Entity types that skupper-router 3 no longer has are config errors (skupper-router 3.5.1 refuses them too):',
    '',
    ...[...REMOVED_ENTITY_TYPES].map(([name, why]) => `- \`${name}\`: ${why}.`),
    '',
  ];
  for (const type of ROUTER_SCHEMA) {
    lines.push(`## ${type.name}`, '', `${type.description} kskup: ${ENTITY_SUPPORT[type.support]}${type.refusal ? ` (${type.refusal})` : ''}.${type.singleton ? ' At most one.' : ''}`, '');
    lines.push('| attribute | type | default | kskup | description |', '| --- | --- | --- | --- | --- |');
    for (const [name, attribute] of Object.entries(type.attributes)) {
      lines.push(`| \`${name}\`${marks(attribute)} | ${typeOf(attribute)} | ${defaultOf(attribute)} | ${supportOf(attribute)} | ${cell(attribute.description)} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

function anchor(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9-]/g, '');
}

function marks(attribute: AttributeSchema): string {
  return `${attribute.kskup ? ' *kskup*' : ''}${attribute.legacy ? ' *legacy*' : ''}`;
}

function typeOf(attribute: AttributeSchema): string {
  const { type } = attribute;
  if (Array.isArray(type)) return type.map((value) => `\`${value}\``).join(', ');
  const range =
    attribute.min !== undefined && attribute.max !== undefined
      ? ` ${attribute.min}-${attribute.max}`
      : attribute.min !== undefined
        ? ` >= ${attribute.min}`
        : '';
  return `${type as string}${range}`;
}

function defaultOf(attribute: AttributeSchema): string {
  if (attribute.required) return 'required';
  if (attribute.default === undefined) return '';
  return attribute.default === '' ? '`""`' : `\`${String(attribute.default)}\``;
}

function supportOf(attribute: AttributeSchema): string {
  return attribute.support === 'refused' && attribute.refusal !== undefined
    ? `${ATTRIBUTE_SUPPORT.refused}: ${cell(attribute.refusal)}`
    : ATTRIBUTE_SUPPORT[attribute.support];
}

/** Text that stays inside one Markdown table cell. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}
