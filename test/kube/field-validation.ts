// Server-side field validation (`?fieldValidation=Ignore|Warn|Strict`, GA in
// Kubernetes 1.27): fields the type does not have are dropped silently
// (Ignore), reported in `Warning` headers (Warn, the default), or refused with
// 400 BadRequest (Strict, what kubectl asks for with its default
// --validate=strict). The double keeps unknown fields in all cases (it does
// not prune); what it adds is the warning or the refusal, in kube-apiserver's
// wording.
//
// The fields a type has come from @kubernetes/client-node's generated models
// (their attributeTypeMap, made from the same OpenAPI schema as the API), so
// the double does not keep a second copy of the schema. Fields typed `any`,
// IntOrString or a free-form map are not looked into.
import * as models from '@kubernetes/client-node';
import type { ResourceType } from './resources.js';
import { ApiError } from './status.js';

export type FieldValidation = 'Ignore' | 'Warn' | 'Strict';

interface Attribute {
  readonly baseName: string;
  readonly type: string;
}

/** The model class of a served type: V1Secret, CoreV1Event, EventsV1Event, ... */
function modelName(rt: ResourceType): string {
  if (rt.kind === 'Event') return rt.group === '' ? 'CoreV1Event' : 'EventsV1Event';
  return `${rt.version.toUpperCase()}${rt.kind}`;
}

function attributesOf(type: string): readonly Attribute[] | undefined {
  const model = (models as unknown as Record<string, { attributeTypeMap?: readonly Attribute[] } | undefined>)[type];
  return model?.attributeTypeMap;
}

const ARRAY = /^Array<(.*)>$/;
const MAP = /^\{ \[key: string\]: (.*); \}$/;

/** Paths of the fields in `value` that type `type` does not have, as the API names them (`spec.template.spec.containers[0].imag`). */
function unknownIn(value: unknown, type: string, path: string, found: string[]): void {
  const array = ARRAY.exec(type);
  if (array) {
    if (Array.isArray(value)) value.forEach((item, index) => unknownIn(item, array[1]!, `${path}[${index}]`, found));
    return;
  }
  const map = MAP.exec(type);
  if (map) {
    if (typeof value === 'object' && value !== null) for (const [key, item] of Object.entries(value)) unknownIn(item, map[1]!, `${path}[${key}]`, found);
    return;
  }
  const attributes = attributesOf(type);
  if (attributes === undefined || typeof value !== 'object' || value === null || Array.isArray(value)) return;
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    const attribute = attributes.find((candidate) => candidate.baseName === key);
    const at = path === '' ? key : `${path}.${key}`;
    if (attribute === undefined) found.push(at);
    else unknownIn(item, attribute.type, at, found);
  }
}

/** The unknown fields of an object (or a merge patch, which has an object's shape) of this type. */
export function unknownFields(rt: ResourceType, body: unknown): string[] {
  const found: string[] = [];
  unknownIn(body, modelName(rt), '', found);
  return found;
}

/** The directive of a request: the `fieldValidation` parameter, Warn when absent (kube-apiserver's default). */
export function fieldValidationOf(query: URLSearchParams): FieldValidation {
  const value = query.get('fieldValidation') ?? 'Warn';
  if (value === 'Ignore' || value === 'Warn' || value === 'Strict') return value;
  throw new ApiError({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `fieldValidation: Unsupported value: "${value}": supported values: "Ignore", "Strict", "Warn"`,
    reason: 'BadRequest',
    code: 400,
  });
}

/**
 * Applies the directive to a create, update or merge-patch body: Strict throws
 * 400 (`Secret in version "v1" cannot be handled as a Secret: strict decoding
 * error: unknown field "stringDta"`); Warn returns the warnings to send; Ignore nothing.
 */
export function checkFields(rt: ResourceType, body: unknown, directive: FieldValidation): string[] {
  if (directive === 'Ignore') return [];
  const unknown = unknownFields(rt, body);
  if (unknown.length === 0) return [];
  const problems = unknown.map((field) => `unknown field "${field}"`);
  if (directive === 'Warn') return problems;
  throw new ApiError({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `${rt.kind} in version "${rt.version}" cannot be handled as a ${rt.kind}: strict decoding error: ${problems.join(', ')}`,
    reason: 'BadRequest',
    code: 400,
  });
}
