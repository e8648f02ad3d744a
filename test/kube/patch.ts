// The PATCH bodies the double applies:
// - application/merge-patch+json: RFC 7386 JSON Merge Patch, exactly.
// - application/json-patch+json: RFC 6902 JSON Patch (add, remove, replace,
//   move, copy, test) over RFC 6901 pointers, exactly; an operation that fails
//   fails the whole patch.
// - application/strategic-merge-patch+json: only the subset where it is the
//   same as a merge patch, i.e. a patch with no lists and no `$` directives.
//   Strategic merge of lists depends on per-field merge keys from the Go types
//   (containers by name, ports by port, ...); imitating that wrongly would hide
//   bugs, so such a patch is refused with 415 and the path of the list.
// Server-side apply is refused by the caller (see api-server.ts).

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export class PatchError extends Error {
  constructor(
    message: string,
    /** 'invalid' for a patch that cannot apply (422), 'malformed' for one that does not parse (400), 'unsupported' for a strategic patch outside the subset (415). */
    readonly kind: 'invalid' | 'malformed' | 'unsupported',
  ) {
    super(message);
  }
}

function isObject(v: unknown): v is { [key: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 7386 section 2: null removes a member, objects merge recursively, anything else replaces. */
export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return structuredClone(patch);
  const result: { [key: string]: Json } = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete result[key];
    } else {
      result[key] = mergePatch(result[key] ?? null, value);
    }
  }
  return result;
}

/**
 * A strategic merge patch, accepted only where it equals a merge patch.
 * @throws PatchError 'unsupported' naming the first list or `$` directive found.
 */
export function strategicMergePatch(target: Json, patch: Json): Json {
  const check = (v: Json, path: string): void => {
    if (Array.isArray(v)) {
      throw new PatchError(
        `the kskup API server double applies application/strategic-merge-patch+json only to patches without lists; ${path || '(root)'} is a list, whose strategic merge depends on the field's patch strategy: send application/merge-patch+json or application/json-patch+json`,
        'unsupported',
      );
    }
    if (isObject(v)) {
      for (const [k, child] of Object.entries(v)) {
        if (k.startsWith('$')) {
          throw new PatchError(`the kskup API server double does not implement the strategic merge directive ${k} (at ${path || '(root)'})`, 'unsupported');
        }
        check(child, path === '' ? k : `${path}.${k}`);
      }
    }
  };
  if (!isObject(patch)) throw new PatchError('a strategic merge patch must be a JSON object', 'malformed');
  check(patch, '');
  return mergePatch(target, patch);
}

interface Operation {
  op: string;
  path: string;
  from?: string;
  value?: Json;
}

/** RFC 6901: "/a/b~1c/0" -> ["a", "b/c", "0"]. */
function parsePointer(pointer: string, where: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new PatchError(`${where}: JSON pointer ${JSON.stringify(pointer)} must start with '/'`, 'invalid');
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function arrayIndex(container: Json[], token: string, forAdd: boolean, where: string): number {
  if (forAdd && token === '-') return container.length;
  if (!/^(0|[1-9]\d*)$/.test(token)) throw new PatchError(`${where}: ${JSON.stringify(token)} is not an array index`, 'invalid');
  const i = Number(token);
  const max = forAdd ? container.length : container.length - 1;
  if (i > max) throw new PatchError(`${where}: index ${i} is out of bounds (length ${container.length})`, 'invalid');
  return i;
}

/** The container holding the pointer's last token, and that token. */
function parentOf(doc: Json, tokens: string[], where: string): { parent: Json; last: string } {
  let cur: Json = doc;
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) {
      cur = cur[arrayIndex(cur, t, false, where)]!;
    } else if (isObject(cur) && Object.hasOwn(cur, t)) {
      cur = cur[t]!;
    } else {
      throw new PatchError(`${where}: path does not exist (missing ${JSON.stringify(t)})`, 'invalid');
    }
  }
  return { parent: cur, last: tokens[tokens.length - 1]! };
}

function getAt(doc: Json, pointer: string, where: string): Json {
  const tokens = parsePointer(pointer, where);
  if (tokens.length === 0) return doc;
  const { parent, last } = parentOf(doc, tokens, where);
  if (Array.isArray(parent)) return parent[arrayIndex(parent, last, false, where)]!;
  if (isObject(parent) && Object.hasOwn(parent, last)) return parent[last]!;
  throw new PatchError(`${where}: path ${JSON.stringify(pointer)} does not exist`, 'invalid');
}

function addAt(doc: Json, pointer: string, value: Json, where: string): Json {
  const tokens = parsePointer(pointer, where);
  if (tokens.length === 0) return value;
  const { parent, last } = parentOf(doc, tokens, where);
  if (Array.isArray(parent)) {
    parent.splice(arrayIndex(parent, last, true, where), 0, value);
  } else if (isObject(parent)) {
    parent[last] = value;
  } else {
    throw new PatchError(`${where}: the parent of ${JSON.stringify(pointer)} is not an object or array`, 'invalid');
  }
  return doc;
}

function removeAt(doc: Json, pointer: string, where: string): Json {
  const tokens = parsePointer(pointer, where);
  if (tokens.length === 0) throw new PatchError(`${where}: cannot remove the whole document`, 'invalid');
  const { parent, last } = parentOf(doc, tokens, where);
  if (Array.isArray(parent)) {
    parent.splice(arrayIndex(parent, last, false, where), 1);
  } else if (isObject(parent) && Object.hasOwn(parent, last)) {
    delete parent[last];
  } else {
    throw new PatchError(`${where}: path ${JSON.stringify(pointer)} does not exist`, 'invalid');
  }
  return doc;
}

function deepEqual(a: Json, b: Json): boolean {
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]!));
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k]!, b[k]!));
  }
  return a === b;
}

/**
 * RFC 6902 JSON Patch.
 * @throws PatchError 'malformed' when the body is not an array of operations, 'invalid' when an operation cannot apply or a test fails.
 */
export function jsonPatch(target: Json, patch: Json): Json {
  if (!Array.isArray(patch)) throw new PatchError('a JSON patch must be an array of operations', 'malformed');
  let doc = structuredClone(target);
  patch.forEach((raw, i) => {
    const where = `operation ${i}`;
    if (!isObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') {
      throw new PatchError(`${where}: needs string "op" and "path"`, 'malformed');
    }
    const op = raw as unknown as Operation;
    const needValue = (): Json => {
      if (!Object.hasOwn(raw, 'value')) throw new PatchError(`${where} (${op.op}): missing "value"`, 'malformed');
      return structuredClone(raw.value!);
    };
    const needFrom = (): string => {
      if (typeof raw.from !== 'string') throw new PatchError(`${where} (${op.op}): missing "from"`, 'malformed');
      return raw.from;
    };
    switch (op.op) {
      case 'add':
        doc = addAt(doc, op.path, needValue(), where);
        break;
      case 'remove':
        doc = removeAt(doc, op.path, where);
        break;
      case 'replace':
        getAt(doc, op.path, where); // the target must exist (RFC 6902 4.3)
        doc = op.path === '' ? needValue() : addAt(removeAt(doc, op.path, where), op.path, needValue(), where);
        break;
      case 'move': {
        const from = needFrom();
        if (op.path.startsWith(`${from}/`)) throw new PatchError(`${where}: cannot move ${from} into its own child ${op.path}`, 'invalid');
        const value = getAt(doc, from, where);
        doc = addAt(removeAt(doc, from, where), op.path, value, where);
        break;
      }
      case 'copy':
        doc = addAt(doc, op.path, structuredClone(getAt(doc, needFrom(), where)), where);
        break;
      case 'test':
        if (!deepEqual(getAt(doc, op.path, where), needValue())) {
          throw new PatchError(`${where}: test failed: the value at ${op.path} is not the one given`, 'invalid');
        }
        break;
      default:
        throw new PatchError(`${where}: unknown op ${JSON.stringify(op.op)}`, 'malformed');
    }
  });
  return doc;
}
