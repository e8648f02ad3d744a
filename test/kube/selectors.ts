// Label and field selectors as the API server parses them
// (k8s.io/apimachinery/pkg/labels and pkg/fields). A selector that does not
// parse is a 400 BadRequest, as on a real server, never "match everything".

import { badRequest } from './status.js';
import type { ResourceType } from './resources.js';

export type LabelOperator = 'exists' | 'doesnotexist' | 'in' | 'notin' | 'gt' | 'lt';

export interface LabelRequirement {
  readonly key: string;
  readonly operator: LabelOperator;
  readonly values: readonly string[];
}

export type LabelSelector = readonly LabelRequirement[];

const NAME_PART = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A label key problem, or undefined: an optional DNS-1123 subdomain prefix and '/', then a name of at most 63 characters. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash === -1 ? undefined : key.slice(0, slash);
  const name = slash === -1 ? key : key.slice(slash + 1);
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return 'prefix part must be a lowercase RFC 1123 subdomain';
  }
  if (name.length === 0) return 'name part must be non-empty';
  if (name.length > 63) return 'name part must be no more than 63 characters';
  if (!NAME_PART.test(name)) {
    return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
  }
  return undefined;
}

/** A label value problem, or undefined: empty, or at most 63 characters of [-A-Za-z0-9_.] starting and ending alphanumeric. */
export function labelValueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63) return 'must be no more than 63 characters';
  if (!NAME_PART.test(value)) {
    return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
  }
  return undefined;
}

type Token = { kind: 'id'; text: string } | { kind: 'op'; text: string };

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (c === ' ' || c === '\t') {
      i++;
    } else if (c === '(' || c === ')' || c === ',') {
      tokens.push({ kind: 'op', text: c });
      i++;
    } else if (c === '=' || c === '!' || c === '<' || c === '>') {
      const two = input.slice(i, i + 2);
      if (two === '==' || two === '!=') {
        tokens.push({ kind: 'op', text: two });
        i += 2;
      } else {
        tokens.push({ kind: 'op', text: c });
        i++;
      }
    } else {
      let j = i;
      while (j < input.length && !' \t(),=!<>'.includes(input[j]!)) j++;
      tokens.push({ kind: 'id', text: input.slice(i, j) });
      i = j;
    }
  }
  return tokens;
}

/**
 * Parses a labelSelector query value: `a=b`, `a==b`, `a!=b`, `a in (x,y)`,
 * `a notin (x)`, `a`, `!a`, `a>1`, `a<1`, comma-separated (all must match).
 * @throws ApiError 400 BadRequest naming the requirement that does not parse.
 */
export function parseLabelSelector(input: string): LabelSelector {
  const tokens = tokenize(input);
  const requirements: LabelRequirement[] = [];
  let pos = 0;
  const fail = (why: string): never => {
    throw badRequest(`unable to parse requirement: ${why} (labelSelector ${JSON.stringify(input)})`);
  };
  const peek = (): Token | undefined => tokens[pos];
  const next = (): Token | undefined => tokens[pos++];
  const key = (): string => {
    const t = next();
    if (t?.kind !== 'id') return fail(`found ${JSON.stringify(t?.text ?? '')}, expected: identifier`);
    const problem = labelKeyProblem(t.text);
    if (problem !== undefined) fail(`key ${JSON.stringify(t.text)}: ${problem}`);
    return t.text;
  };
  const value = (k: string): string => {
    const t = peek();
    if (t === undefined || (t.kind === 'op' && (t.text === ',' || t.text === ')'))) return '';
    if (t.kind !== 'id') return fail(`found ${JSON.stringify(t.text)}, expected: a value for key ${JSON.stringify(k)}`);
    pos++;
    const problem = labelValueProblem(t.text);
    if (problem !== undefined) fail(`values[0][${k}]: Invalid value: ${JSON.stringify(t.text)}: ${problem}`);
    return t.text;
  };
  if (tokens.length === 0) return [];
  for (;;) {
    const first = peek();
    if (first?.kind === 'op' && first.text === '!') {
      pos++;
      requirements.push({ key: key(), operator: 'doesnotexist', values: [] });
    } else {
      const k = key();
      const op = peek();
      if (op === undefined || (op.kind === 'op' && op.text === ',')) {
        requirements.push({ key: k, operator: 'exists', values: [] });
      } else if (op.kind === 'op' && (op.text === '=' || op.text === '==')) {
        pos++;
        requirements.push({ key: k, operator: 'in', values: [value(k)] });
      } else if (op.kind === 'op' && op.text === '!=') {
        pos++;
        requirements.push({ key: k, operator: 'notin', values: [value(k)] });
      } else if (op.kind === 'op' && (op.text === '<' || op.text === '>')) {
        pos++;
        const v = value(k);
        if (!/^-?\d+$/.test(v)) fail(`for 'Gt', 'Lt' operators, the value must be an integer, not ${JSON.stringify(v)}`);
        requirements.push({ key: k, operator: op.text === '>' ? 'gt' : 'lt', values: [v] });
      } else if (op.kind === 'id' && (op.text === 'in' || op.text === 'notin')) {
        pos++;
        const open = next();
        if (open?.kind !== 'op' || open.text !== '(') fail(`found ${JSON.stringify(open?.text ?? '')}, expected: '(' after '${op.text}'`);
        const values: string[] = [];
        for (;;) {
          values.push(value(k));
          const t = next();
          if (t?.kind === 'op' && t.text === ')') break;
          if (t?.kind !== 'op' || t.text !== ',') fail(`found ${JSON.stringify(t?.text ?? '')}, expected: ',' or ')'`);
        }
        if (values.length === 1 && values[0] === '') fail(`for '${op.text}' operator, the values set can't be empty`);
        requirements.push({ key: k, operator: op.text, values });
      } else {
        fail(`found ${JSON.stringify(op.text)}, expected: in, notin, =, ==, !=, gt, lt`);
      }
    }
    const sep = next();
    if (sep === undefined) break;
    if (sep.kind !== 'op' || sep.text !== ',') fail(`found ${JSON.stringify(sep.text)}, expected: ','`);
  }
  return requirements;
}

/** Whether labels (metadata.labels, possibly absent) satisfy every requirement. */
export function matchesLabels(selector: LabelSelector, labels: Readonly<Record<string, string>> | undefined): boolean {
  const l = labels ?? {};
  return selector.every((r) => {
    const has = Object.hasOwn(l, r.key);
    const v = l[r.key];
    switch (r.operator) {
      case 'exists':
        return has;
      case 'doesnotexist':
        return !has;
      case 'in':
        return has && r.values.includes(v!);
      case 'notin':
        return !has || !r.values.includes(v!);
      case 'gt':
      case 'lt': {
        if (!has || !/^-?\d+$/.test(v!)) return false;
        const n = Number(v);
        const bound = Number(r.values[0]);
        return r.operator === 'gt' ? n > bound : n < bound;
      }
    }
  });
}

export interface FieldRequirement {
  readonly field: string;
  readonly equals: boolean;
  readonly value: string;
}

export type FieldSelector = readonly FieldRequirement[];

/** Field labels each type supports beyond metadata.name and metadata.namespace (the real server's per-type field label conversion). */
const EXTRA_FIELDS: Readonly<Record<string, readonly string[]>> = {
  '/secrets': ['type'],
  '/namespaces': ['status.phase'],
  '/pods': ['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'status.phase', 'status.podIP'],
  '/events': [
    'involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid',
    'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath',
    'reason', 'reportingComponent', 'source', 'type',
  ],
};

/** Splits on an unescaped separator; `\,` `\=` `\!` `\\` are escapes as in fields.ParseSelector. */
function splitEscaped(input: string, sep: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < input.length; i++) {
    const c = input[i]!;
    if (c === '\\' && i + 1 < input.length) {
      cur += c + input[i + 1]!;
      i++;
    } else if (c === sep) {
      parts.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  parts.push(cur);
  return parts;
}

function unescape(s: string): string {
  return s.replace(/\\(.)/g, '$1');
}

/**
 * Parses a fieldSelector for one resource type: `field=value`, `field==value`,
 * `field!=value`, comma-separated.
 * @throws ApiError 400 BadRequest for a malformed term or a field the type does not support.
 */
export function parseFieldSelector(input: string, rt: ResourceType): FieldSelector {
  if (input.trim() === '') return [];
  const allowed = ['metadata.name', 'metadata.namespace', ...(EXTRA_FIELDS[`${rt.group}/${rt.plural}`] ?? [])];
  return splitEscaped(input, ',').map((term) => {
    const m = /^([^=!]+)(==|=|!=)(.*)$/.exec(term);
    if (m === null) throw badRequest(`invalid selector: '${input}'; can't understand '${term}'`);
    const field = m[1]!.trim();
    if (!allowed.includes(field)) throw badRequest(`field label not supported: ${field}`);
    return { field, equals: m[2] !== '!=', value: unescape(m[3]!) };
  });
}

function fieldValue(obj: Record<string, unknown>, field: string): string {
  let cur: unknown = obj;
  for (const part of field.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[part];
  }
  if (cur === undefined || cur === null) return '';
  return String(cur);
}

export function matchesFields(selector: FieldSelector, obj: Record<string, unknown>): boolean {
  return selector.every((r) => (fieldValue(obj, r.field) === r.value) === r.equals);
}

/** The single name a field selector pins (`metadata.name=x`), which RBAC resourceNames can then allow for list and watch. */
export function pinnedName(selector: FieldSelector): string | undefined {
  const names = selector.filter((r) => r.field === 'metadata.name' && r.equals);
  return names.length === 1 ? names[0]!.value : undefined;
}
