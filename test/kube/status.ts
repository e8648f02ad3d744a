// Failures as the real API server reports them: a meta/v1 Status object with
// `reason`, `code`, `message` and `details`. Messages follow apimachinery's
// k8s.io/apimachinery/pkg/api/errors wording, so code that matches on them
// (or on `reason`) behaves the same against the double and a cluster.

import { qualifiedResource, type ResourceType } from './resources.js';

/** One field problem of an Invalid answer (meta/v1 StatusCause). */
export interface FieldCause {
  /** FieldValueInvalid, FieldValueRequired, FieldValueForbidden, FieldValueNotSupported, FieldValueDuplicate. */
  readonly reason: string;
  /** Dotted path from the object root: "spec.ports[0].port". */
  readonly field: string;
  readonly message: string;
}

export interface StatusObject {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: { name?: string; group?: string; kind?: string; uid?: string; causes?: FieldCause[]; retryAfterSeconds?: number };
  code: number;
}

/** A request that fails: thrown inside the double, answered as its `status`. */
export class ApiError extends Error {
  constructor(readonly status: StatusObject) {
    super(status.message);
  }
}

function failure(code: number, reason: string | undefined, message: string, details?: StatusObject['details']): ApiError {
  const status: StatusObject = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, code };
  if (reason !== undefined) status.reason = reason;
  if (details !== undefined) status.details = details;
  return new ApiError(status);
}

function resourceDetails(rt: ResourceType, name: string): NonNullable<StatusObject['details']> {
  return rt.group === '' ? { name, kind: rt.plural } : { name, group: rt.group, kind: rt.plural };
}

export function successStatus(details?: StatusObject['details']): StatusObject {
  const status: StatusObject = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 200 };
  if (details !== undefined) status.details = details;
  return status;
}

export function notFound(rt: ResourceType, name: string): ApiError {
  return failure(404, 'NotFound', `${qualifiedResource(rt)} "${name}" not found`, resourceDetails(rt, name));
}

/** A path the double does not serve: the real server's bare 404. */
export function pathNotFound(): ApiError {
  return failure(404, 'NotFound', 'the server could not find the requested resource', {});
}

export function alreadyExists(rt: ResourceType, name: string): ApiError {
  return failure(409, 'AlreadyExists', `${qualifiedResource(rt)} "${name}" already exists`, resourceDetails(rt, name));
}

/** A stale resourceVersion or failed precondition: 409 Conflict. */
export function conflict(rt: ResourceType, name: string, why: string): ApiError {
  return failure(409, 'Conflict', `Operation cannot be fulfilled on ${qualifiedResource(rt)} "${name}": ${why}`, resourceDetails(rt, name));
}

export const STALE_OBJECT = 'the object has been modified; please apply your changes to the latest version and try again';

export function invalid(rt: ResourceType, name: string, causes: readonly FieldCause[]): ApiError {
  const parts = causes.map((c) => `${c.field}: ${c.message}`);
  const summary = parts.length === 1 ? parts[0] : `[${parts.join(', ')}]`;
  const details = { ...resourceDetails(rt, name), kind: rt.kind, causes: [...causes] };
  return failure(422, 'Invalid', `${rt.kind} "${name}" is invalid: ${summary}`, details);
}

export function badRequest(message: string): ApiError {
  return failure(400, 'BadRequest', message);
}

export function methodNotAllowed(message: string): ApiError {
  return failure(405, 'MethodNotAllowed', message);
}

export function unsupportedMediaType(message: string): ApiError {
  return failure(415, 'UnsupportedMediaType', message);
}

export function unauthorized(): ApiError {
  return failure(401, 'Unauthorized', 'Unauthorized');
}

export function forbidden(message: string, rt: ResourceType | undefined, name: string): ApiError {
  return failure(403, 'Forbidden', message, rt === undefined ? { name } : resourceDetails(rt, name));
}

/** A resourceVersion older than the retained history (the watch cache's "too old resource version"). */
export function expired(message: string): ApiError {
  return failure(410, 'Expired', message);
}

export function internalError(message: string): ApiError {
  return failure(500, undefined, message);
}

export function timeout(message: string): ApiError {
  return failure(504, 'Timeout', message);
}

/** FieldCause builders with apimachinery's field.Error wording. */
export const cause = {
  required(field: string, detail = ''): FieldCause {
    return { reason: 'FieldValueRequired', field, message: detail === '' ? 'Required value' : `Required value: ${detail}` };
  },
  invalid(field: string, value: unknown, detail: string): FieldCause {
    return { reason: 'FieldValueInvalid', field, message: `Invalid value: ${JSON.stringify(value)}: ${detail}` };
  },
  forbidden(field: string, detail: string): FieldCause {
    return { reason: 'FieldValueForbidden', field, message: `Forbidden: ${detail}` };
  },
  notSupported(field: string, value: unknown, supported: readonly string[]): FieldCause {
    const list = supported.map((s) => JSON.stringify(s)).join(', ');
    return { reason: 'FieldValueNotSupported', field, message: `Unsupported value: ${JSON.stringify(value)}: supported values: ${list}` };
  },
  duplicate(field: string, value: unknown): FieldCause {
    return { reason: 'FieldValueDuplicate', field, message: `Duplicate value: ${JSON.stringify(value)}` };
  },
  immutable(field: string, value: unknown): FieldCause {
    return { reason: 'FieldValueInvalid', field, message: `Invalid value: ${JSON.stringify(value)}: field is immutable` };
  },
};
