// The OpenAPI v3 documents kubectl reads before it writes: `/openapi/v3` (one
// entry per group-version, with a serverRelativeURL) and
// `/openapi/v3/api/v1`, `/openapi/v3/apis/GROUP/VERSION`. kubectl's
// --validate=strict (its default) asks whether the server validates fields
// itself: it looks for the PATCH operation of the object's kind (the
// `x-kubernetes-group-version-kind` extension) and a `fieldValidation` query
// parameter on it (k8s.io/cli-runtime, queryParamVerifierV3). Where it finds
// one, it sends `fieldValidation=Strict` and the server refuses unknown fields
// (field-validation.ts); it then needs no schemas of its own.
//
// So these documents have paths and operations with their parameters, and no
// component schemas: enough for that check, not for client-side validation or
// `kubectl explain`.
import { createHash } from 'node:crypto';
import { RESOURCE_TYPES, type ResourceType } from './resources.js';

/** `api/v1`, `apis/apps/v1`: the keys of the root document, as kube-apiserver names them. */
function gvPath(rt: Pick<ResourceType, 'group' | 'version'>): string {
  return rt.group === '' ? `api/${rt.version}` : `apis/${rt.group}/${rt.version}`;
}

const queryParameter = (name: string) => ({ name, in: 'query', description: name, schema: { type: 'string', uniqueItems: true } });
const WRITE_PARAMETERS = ['dryRun', 'fieldManager', 'fieldValidation'].map(queryParameter);

function operation(rt: ResourceType, action: string, parameters: readonly object[]) {
  return {
    description: `${action} the specified ${rt.kind}`,
    operationId: `${action}${rt.kind}`,
    parameters,
    responses: { '200': { description: 'OK' } },
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': { group: rt.group, version: rt.version, kind: rt.kind },
  };
}

/** The document of one group-version, or undefined when the double serves no type of it. */
export function openApiGroupVersion(path: string): object | undefined {
  const types = RESOURCE_TYPES.filter((rt) => gvPath(rt) === path);
  if (types.length === 0) return undefined;
  const paths: Record<string, object> = {};
  for (const rt of types) {
    const collection = `/${path}${rt.namespaced ? '/namespaces/{namespace}' : ''}/${rt.plural}`;
    paths[collection] = { post: operation(rt, 'post', WRITE_PARAMETERS), get: operation(rt, 'list', []) };
    paths[`${collection}/{name}`] = {
      get: operation(rt, 'get', []),
      put: operation(rt, 'put', WRITE_PARAMETERS),
      patch: operation(rt, 'patch', [...WRITE_PARAMETERS, queryParameter('force')]),
      delete: operation(rt, 'delete', [queryParameter('dryRun')]),
    };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.31.0' }, paths, components: { schemas: {} } };
}

/** GET /openapi/v3: each group-version's document, with a hash of its content as kube-apiserver gives (clients cache by it). */
export function openApiRoot(): object {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const path of new Set(RESOURCE_TYPES.map(gvPath))) {
    const hash = createHash('sha512').update(JSON.stringify(openApiGroupVersion(path))).digest('hex').slice(0, 128).toUpperCase();
    paths[path] = { serverRelativeURL: `/openapi/v3/${path}?hash=${hash}` };
  }
  return { paths };
}
