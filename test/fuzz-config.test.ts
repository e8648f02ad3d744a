// Property-based tests (fast-check) of the router config reader, in process:
// whatever the text of a config file (JSON or skrouterd's .conf syntax,
// router/config/source.ts and parse.ts), reading it either gives a config or
// throws ConfigError, whose every problem names an entity and says what is
// wrong (with the line when the file has lines), and whose message never
// quotes a secret attribute's value. Never another exception.
//
// Inputs: entity lists built from the schema (every entity type and attribute
// name it knows, with values of every JSON type and numbers written as
// strings) in both syntaxes, the same texts with characters deleted, inserted
// or lines swapped, the repository's example configs mutated the same way,
// and random text.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseRouterConfig, ROUTER_SCHEMA } from '../router/config/index.js';
import { fuzzParameters, fuzzTimeout } from './helpers/fuzz.js';

/** The value every secret attribute gets: no error message may contain it. */
const SECRET = 'S3cr3t-pa55-f0r-fuzz';

const typeNames = ROUTER_SCHEMA.map((type) => type.name);
const attributeNames = [...new Set(ROUTER_SCHEMA.flatMap((type) => Object.keys(type.attributes)))];
const secretNames = new Set(ROUTER_SCHEMA.flatMap((type) => Object.entries(type.attributes).filter(([, attribute]) => (attribute as { secret?: boolean }).secret).map(([name]) => name)));

const scalarArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom('127.0.0.1', '0.0.0.0', 'localhost', 'amqp', 'yes', 'no', 'true', 'interior', 'edge', 'inter-router', 'normal', 'tls', 'x', ''),
  fc.integer({ min: -2, max: 70_000 }).map((n) => (Math.random() < 0.5 ? n : String(n))),
  fc.constantFrom(0, 1, 5672, 65535, 65536, -1, 1.5, 1e300, Number.MAX_SAFE_INTEGER),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 20 }),
);
const valueArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: scalarArb },
  { weight: 1, arbitrary: fc.array(scalarArb, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), scalarArb, { maxKeys: 3 }) },
);
const attributesArb = fc
  .array(fc.tuple(fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...attributeNames) }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) }), valueArb), { maxLength: 8 })
  .map((pairs) => Object.fromEntries(pairs.map(([name, value]) => [name, secretNames.has(name) ? SECRET : value])));
const entityArb = fc.tuple(fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...typeNames) }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) }), attributesArb);
/** An entity list that starts with a router entity most of the time, as a real file does. */
const entitiesArb = fc.tuple(fc.boolean(), fc.array(entityArb, { maxLength: 8 })).map(([withRouter, rest]) => (withRouter ? [['router', { id: 'fuzz', mode: 'interior' }] as [string, Record<string, unknown>], ...rest] : rest));

function asJson(entities: [string, Record<string, unknown>][], pretty: boolean): string {
  return pretty ? `# a comment line\n${JSON.stringify(entities, null, 2)}\n` : JSON.stringify(entities);
}

/** skrouterd.conf: `type {` blocks of `name: value` lines; maps as nested blocks. */
function asConf(entities: [string, Record<string, unknown>][]): string {
  const value = (v: unknown): string => (typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v));
  return entities
    .map(([type, attributes]) => {
      const lines = Object.entries(attributes).map(([name, v]) =>
        typeof v === 'object' && v !== null && !Array.isArray(v)
          ? `    ${name}: {\n${Object.entries(v).map(([key, inner]) => `        ${key}: ${value(inner)}`).join('\n')}\n    }`
          : `    ${name}: ${value(v)}   # comment`,
      );
      return `${type} {\n${lines.join('\n')}\n}\n`;
    })
    .join('\n');
}

const editArb = fc.oneof(
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), text: fc.oneof(fc.constantFrom('{', '}', '[', ']', '"', ',', ':', '#', '\n', '\\', '\u0000', '\uFEFF', ' {', 'x: {'), fc.string({ maxLength: 6 })) }),
  fc.record({ op: fc.constant('swapLines' as const), a: fc.nat(), b: fc.nat() }),
);
type Edit = typeof editArb extends fc.Arbitrary<infer E> ? E : never;

function applyEdit(text: string, edit: Edit): string {
  const at = (n: number) => (text.length === 0 ? 0 : n % (text.length + 1));
  switch (edit.op) {
    case 'delete':
      return text.slice(0, at(edit.at)) + text.slice(at(edit.at) + edit.length);
    case 'insert':
      return text.slice(0, at(edit.at)) + edit.text + text.slice(at(edit.at));
    case 'swapLines': {
      const lines = text.split('\n');
      const [a, b] = [edit.a % lines.length, edit.b % lines.length];
      [lines[a], lines[b]] = [lines[b]!, lines[a]!];
      return lines.join('\n');
    }
  }
}

const EXAMPLES = ['docs/examples/two-routers/router-a.json', 'docs/examples/two-routers/router-b.json'].map((file) => readFileSync(resolve(import.meta.dirname, '..', file), 'utf8'));

const textArb: fc.Arbitrary<string> = fc.oneof(
  entitiesArb.chain((entities) => fc.constantFrom(asJson(entities, true), asJson(entities, false), asConf(entities))),
  fc.tuple(
    fc.oneof(entitiesArb.chain((entities) => fc.constantFrom(asJson(entities, true), asConf(entities))), fc.constantFrom(...EXAMPLES)),
    fc.array(editArb, { minLength: 1, maxLength: 4 }),
  ).map(([text, edits]) => edits.reduce(applyEdit, text)),
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
);

describe('router config files (fast-check)', () => {
  it(
    'any text parses, or throws ConfigError whose problems name an entity (and a line, when there are lines) and never quote a secret',
    () => {
      fc.assert(
        fc.property(textArb, (text) => {
          let error: unknown;
          try {
            parseRouterConfig(text, 'fuzz.conf');
            return;
          } catch (thrown) {
            error = thrown;
          }
          if (!(error instanceof ConfigError)) throw new Error(`not a ConfigError: ${String(error)}\n${(error as Error).stack ?? ''}`);
          expect(error.message.startsWith('fuzz.conf: ')).toBe(true);
          expect(error.problems.length).toBeGreaterThan(0);
          for (const problem of error.problems) {
            expect(problem.entity).toMatch(/\S/);
            expect(problem.message).toMatch(/\S/);
            if (problem.line !== undefined) expect(problem.line).toBeGreaterThan(0);
            // A file of several lines names the line of each problem, but for one about the whole file (not JSON, not a list, no router).
            if (text.trim().includes('\n') && problem.entity !== 'file') expect(problem.line, `no line for "${problem.entity}: ${problem.message}"`).toBeGreaterThan(0);
          }
          expect(error.message).not.toContain(SECRET);
        }),
        fuzzParameters('config files', 5_000),
      );
    },
    fuzzTimeout(30_000),
  );
});

// Faults the property found, kept as plain cases.
describe('config errors found by fuzzing', () => {
  it.each([
    ['a brace in front', `sslProfile {\n{    password: ${SECRET}   # comment\n}\n`],
    ['its colon lost', `sslProfile {\n    password ${SECRET}   # comment\n}\n`],
  ])('a malformed .conf line holding a password (%s) is named by its line, never quoted', (_what, text) => {
    expect(() => parseRouterConfig(text, 'fuzz.conf')).toThrow(ConfigError);
    try {
      parseRouterConfig(text, 'fuzz.conf');
    } catch (error) {
      expect((error as ConfigError).message).toBe('fuzz.conf: 1 problem:\n  line 2: file: cannot read the line: expected "name: value", "name: {", "TYPE {" or "}", each on a line of its own');
    }
  });
});
