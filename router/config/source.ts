// The two syntaxes of a router config file, read into one list of raw entities
// with the lines they came from:
// - JSON, `[["router", {...}], ["listener", {...}], ...]`, where skrouterd also
//   allows lines whose first non-blank character is `#` (comment lines);
// - skrouterd.conf / qdrouterd.conf: `type {` ... `}` blocks of `key: value`
//   lines and `#` comments.
// skrouterd picks the syntax by the file's name (`.json`); kskup looks at the
// content, so that a `.conf` written as JSON (or the reverse) loads too: JSON
// starts with `[` (or `{`, an error then) once comment lines and blanks are
// skipped; a .conf file starts with a word.
//
// In both, skrouterd turns entity types and attribute names into camelCase
// (`sasl-mechanisms` -> `saslMechanisms`, separators space, `_`, `-`, `.`);
// the keys of a map value (`groups`, `openProperties`), such as the vhost
// group names `$default` and `$connector`, are kept as written.

/** One entity as written, before validation. */
export interface RawEntity {
  readonly type: unknown;
  readonly attributes: unknown;
  /** 1-based line of the entity's start, when the file has lines worth naming. */
  readonly line?: number;
  /** 1-based line of each attribute (.conf only). */
  readonly attributeLines?: Readonly<Record<string, number>>;
}

export type SourceResult =
  | { readonly ok: true; readonly syntax: 'json' | 'conf'; readonly entities: readonly RawEntity[] }
  | { readonly ok: false; readonly syntax: 'json' | 'conf'; readonly message: string; readonly line?: number };

/** A `#` comment line of skrouterd's JSON reader: only whitespace before the `#`. */
const COMMENT_LINE = /^\s*#/;

export function readSource(text: string): SourceResult {
  const source = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const firstContent = source.split('\n').find((line) => line.trim() !== '' && !COMMENT_LINE.test(line));
  const first = firstContent?.trim().charAt(0);
  return first === '[' || first === '{' ? readJson(source) : readConf(source);
}

/** skrouterd's camelcase(): words split at space, `_`, `-` or `.`, later words capitalised (rest lower case). */
export function camelCase(name: string): string {
  const [first = '', ...rest] = name.split(/[ _.-]/);
  return first + rest.map((word) => (word === '' ? '' : word.charAt(0).toUpperCase() + word.slice(1).toLowerCase())).join('');
}

// ---------------------------------------------------------------------------
// JSON

function readJson(source: string): SourceResult {
  // Comment lines become empty lines, so positions stay those of the file.
  const json = source
    .split('\n')
    .map((line) => (COMMENT_LINE.test(line) ? '' : line))
    .join('\n');
  let document: unknown;
  try {
    document = JSON.parse(json);
  } catch {
    // V8's own message quotes a slice of the file, which may hold a password.
    const { offset, reason } = locateJsonError(json);
    const { line, column } = lineAndColumn(json, offset);
    return { ok: false, syntax: 'json', message: `is not valid JSON: ${reason} at line ${line}, column ${column}` };
  }
  if (!Array.isArray(document)) {
    return { ok: false, syntax: 'json', message: `must be an array of [type, attributes] pairs, not ${describeType(document)}` };
  }
  // A file on one line (a management request, a generated file) has no line worth naming.
  const lines = json.includes('\n') ? topLevelElementLines(json) : [];
  const entities = document.map((element: unknown, i): RawEntity => {
    const line = lines[i];
    if (!Array.isArray(element) || element.length !== 2) return { type: NOT_A_PAIR, attributes: element, ...(line !== undefined && { line }) };
    const [type, attributes] = element as [unknown, unknown];
    return { type: typeof type === 'string' ? camelCase(type) : type, attributes: camelKeys(attributes), ...(line !== undefined && { line }) };
  });
  return { ok: true, syntax: 'json', entities };
}

/** Names a value's type without quoting it: the value could be a secret. */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** Marks an element of the entity list that is not a [type, attributes] pair; `attributes` holds the element. */
export const NOT_A_PAIR = Symbol('not a [type, attributes] pair');

function camelKeys(attributes: unknown): unknown {
  if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) return attributes;
  return Object.fromEntries(Object.entries(attributes).map(([key, value]) => [camelCase(key), value]));
}

/** The line of each element of the top-level array, found by a scan that skips strings. */
function topLevelElementLines(json: string): number[] {
  const lines: number[] = [];
  let line = 1;
  let depth = 0;
  let expectingElement = false;
  for (let at = 0; at < json.length; at++) {
    const char = json.charAt(at);
    if (char === '\n') {
      line++;
      continue;
    }
    if (char === ' ' || char === '\t' || char === '\r') continue;
    if (expectingElement && depth === 1 && char !== ']') {
      lines.push(line);
      expectingElement = false;
    }
    if (char === '"') {
      for (at++; at < json.length && json.charAt(at) !== '"'; at++) if (json.charAt(at) === '\\') at++;
    } else if (char === '[' || char === '{') {
      depth++;
      if (depth === 1) expectingElement = true;
    } else if (char === ']' || char === '}') {
      depth--;
    } else if (char === ',' && depth === 1) {
      expectingElement = true;
    }
  }
  return lines;
}

// ---------------------------------------------------------------------------
// .conf, following skrouterd's reader line by line (its rules, kskup's errors).

const ENTITY_START = /^([\w-]+)[ \t]*\{$/;
const MAP_START = /^(\$*[\w-]+)[ \t]*:[ \t]*\{$/;
const ITEM = /^([\w-]+)[ \t]*:[ \t]*([^ \t{].*)$/;
/** skrouterd keeps `#` in these values (address patterns, vhost names): the value is the first word. */
const HASH_IN_VALUE = new Set(['pattern', 'bindingKey', 'hostname']);
/** skrouterd reads the value of these map attributes as JSON (with `#` comment lines). */
const JSON_MAPS = new Set(['openProperties', 'groups']);

interface OpenMap {
  readonly key: string;
  readonly values: Record<string, unknown>;
  readonly line: number;
}

interface OpenEntity {
  readonly type: string;
  readonly attributes: Record<string, unknown>;
  readonly attributeLines: Record<string, number>;
  readonly line: number;
  /** Nested `key: {` maps inside the entity, innermost last. */
  readonly maps: OpenMap[];
}

class ConfSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

function readConf(source: string): SourceResult {
  try {
    return { ok: true, syntax: 'conf', entities: readConfEntities(source.split('\n')) };
  } catch (error) {
    if (error instanceof ConfSyntaxError) return { ok: false, syntax: 'conf', message: error.message, line: error.line };
    throw error;
  }
}

function readConfEntities(lines: readonly string[]): RawEntity[] {
  const entities: RawEntity[] = [];
  let open: OpenEntity | undefined;
  let json: { key: string; text: string[]; depth: number; line: number } | undefined;
  lines.forEach((rawLine, i) => {
    const line = i + 1;
    const trimmed = rawLine.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    if (json !== undefined && open !== undefined) {
      json.text.push(trimmed);
      json.depth += count(trimmed, '{') - count(trimmed, '}');
      if (json.depth === 0) {
        store(open, json.key, parseJsonValue(json.text.join('\n'), json.key, json.line), json.line);
        json = undefined;
      }
      return;
    }
    const item = ITEM.exec(trimmed);
    if (open !== undefined && item !== null && HASH_IN_VALUE.has(item[1] ?? '')) {
      store(open, item[1] ?? '', (item[2] ?? '').split(/\s/)[0] ?? '', line);
      return;
    }
    const content = (trimmed.split('#')[0] ?? '').trim();
    if (content === '') return;
    const entityStart = ENTITY_START.exec(content);
    const mapStart = MAP_START.exec(content);
    const attribute = ITEM.exec(content);
    if (entityStart !== null && open === undefined) {
      open = { type: camelCase(entityStart[1] ?? ''), attributes: {}, attributeLines: {}, line, maps: [] };
    } else if (entityStart !== null) {
      throw new ConfSyntaxError(line, `"${content}" starts an entity inside ${open?.type} (line ${open?.line}), which has not ended: a "}" is missing`);
    } else if (open === undefined) {
      throw new ConfSyntaxError(line, `cannot read ${shorten(content)} outside an entity: expected "TYPE {" on a line of its own`);
    } else if (mapStart !== null) {
      const key = mapStart[1] ?? '';
      if (open.maps.length === 0 && JSON_MAPS.has(camelCase(key))) {
        json = { key, text: ['{'], depth: 1, line };
      } else {
        open.maps.push({ key, values: {}, line });
      }
    } else if (attribute !== null) {
      store(open, attribute[1] ?? '', (attribute[2] ?? '').trim(), line);
    } else if (content === '}') {
      const map = open.maps.pop();
      if (map !== undefined) {
        store(open, map.key, map.values, map.line);
      } else {
        entities.push({ type: open.type, attributes: open.attributes, attributeLines: open.attributeLines, line: open.line });
        open = undefined;
      }
    } else {
      throw new ConfSyntaxError(line, `cannot read ${shorten(content)}: expected "name: value", "name: {", "TYPE {" or "}", each on a line of its own`);
    }
  });
  if (json !== undefined) throw new ConfSyntaxError(json.line, `the JSON value of ${json.key} does not end: a "}" is missing`);
  if (open !== undefined) throw new ConfSyntaxError(open.line, `${open.type} does not end: a "}" is missing`);
  return entities;
}

/** An attribute of the entity (camelCase, as skrouterd), or a key of the innermost open map (as written). */
function store(open: OpenEntity, key: string, value: unknown, line: number): void {
  const map = open.maps.at(-1);
  if (map !== undefined) {
    map.values[key] = value;
    return;
  }
  const name = camelCase(key);
  open.attributes[name] = value;
  open.attributeLines[name] = line;
}

function parseJsonValue(text: string, key: string, line: number): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ConfSyntaxError(line, `the value of ${key} is not a valid JSON map`);
  }
}

function count(text: string, char: string): number {
  return text.split(char).length - 1;
}

/**
 * A malformed line as an error names it: by its leading name when that is
 * followed by `:` or `{` (`"password: ..."`), else not at all. A value is never
 * quoted, nor is a line whose shape is unknown: either could be a secret
 * (`password: pass:hunter2` with its colon lost).
 */
function shorten(text: string): string {
  const name = /^([\w$.-]{1,40})[ \t]*([:{])/.exec(text);
  return name ? `"${name[1]}${name[2] === ':' ? ':' : ' {'} ..."` : 'the line';
}

// ---------------------------------------------------------------------------
// Locating a JSON syntax error ourselves: V8's messages differ between Node
// versions, often lack a position, and quote file text that may be secret.

class JsonSyntaxError {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {}
}

function locateJsonError(source: string): { offset: number; reason: string } {
  let at = 0;
  const fail = (reason: string, offset = at): never => {
    throw new JsonSyntaxError(offset, reason);
  };
  const skipWhitespace = (): void => {
    while (at < source.length && ' \t\n\r'.includes(source.charAt(at))) at++;
  };
  const unexpected = (): never =>
    at >= source.length ? fail('unexpected end of input') : fail(`unexpected character ${JSON.stringify(source.charAt(at))}`);
  const expect = (char: string, reason: string): void => {
    skipWhitespace();
    if (source.charAt(at) !== char) fail(at >= source.length ? 'unexpected end of input' : reason);
    at++;
  };
  const readString = (): void => {
    const start = at++;
    for (;;) {
      if (at >= source.length) fail('unterminated string', start);
      const char = source.charAt(at);
      if (char === '"') break;
      if (char < ' ') fail('control character in string');
      if (char === '\\') {
        const escape = source.charAt(at + 1);
        if (escape === 'u' && /^[0-9a-fA-F]{4}$/.test(source.slice(at + 2, at + 6))) at += 4;
        else if (!'"\\/bfnrt'.includes(escape) || escape === '') fail('invalid escape in string');
        at++;
      }
      at++;
    }
    at++;
  };
  const readSequence = (close: string, readItem: () => void): void => {
    at++;
    skipWhitespace();
    if (source.charAt(at) === close) {
      at++;
      return;
    }
    for (;;) {
      readItem();
      skipWhitespace();
      if (source.charAt(at) === close) {
        at++;
        return;
      }
      expect(',', `expected "," or "${close}"`);
    }
  };
  const readValue = (): void => {
    skipWhitespace();
    const char = source.charAt(at);
    if (char === '{') {
      readSequence('}', () => {
        skipWhitespace();
        if (source.charAt(at) !== '"') fail(at >= source.length ? 'unexpected end of input' : 'expected a property name in double quotes');
        readString();
        expect(':', 'expected ":" after a property name');
        readValue();
      });
    } else if (char === '[') {
      readSequence(']', readValue);
    } else if (char === '"') {
      readString();
    } else {
      const token = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?|true|false|null/y;
      token.lastIndex = at;
      if (!token.test(source)) unexpected();
      at = token.lastIndex;
    }
  };
  try {
    readValue();
    skipWhitespace();
    if (at < source.length) fail('unexpected text after the JSON value');
  } catch (error) {
    if (error instanceof JsonSyntaxError) return { offset: error.offset, reason: error.reason };
    throw error;
  }
  return { offset: at, reason: 'unexpected input' };
}

function lineAndColumn(source: string, offset: number): { line: number; column: number } {
  const before = source.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}
