// Field validation in the API server double (test/kube/field-validation.ts,
// openapi.ts), driven by the real kubectl 1.31 with its default
// --validate=strict: kubectl reads /openapi/v3, finds that the server takes
// fieldValidation, and sends fieldValidation=Strict; a typo in a field name is
// refused in kube-apiserver's words. Without a fieldValidation parameter
// (client-node's requests) the server warns, as kube-apiserver does by default.
import { request } from 'node:https';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeApiServer } from './kube/api-server.js';
import { runKubeTool } from './helpers/kube-tools.js';
import { useTestFolder } from './helpers/temp-dir.js';

const temp = useTestFolder('kskup-field-validation');
let api: KubeApiServer;
let kubeconfig: string;

beforeAll(async () => {
  api = await KubeApiServer.start();
  api.ensureNamespace('fv');
  kubeconfig = await api.writeKubeconfig('kubeconfig', 'fv');
});

afterAll(async () => {
  await api?.stop();
});

async function apply(name: string, yaml: string): Promise<{ stdout: string; stderr: string }> {
  const file = join(temp.path, name);
  await writeFile(file, yaml);
  return runKubeTool('kubectl', ['apply', '-f', file, '-n', 'fv'], { KUBECONFIG: kubeconfig });
}

/** A raw POST, to see the headers client-node does not show. */
function post(path: string, body: object, query = ''): Promise<{ code: number; warnings: string[]; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${api.url}${path}${query}`, { method: 'POST', ca: api.caPem, headers: { Authorization: `Bearer ${api.adminToken}`, 'Content-Type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => {
        const warning = res.headers.warning;
        resolve({ code: res.statusCode ?? 0, warnings: warning === undefined ? [] : ([] as string[]).concat(warning), body: text });
      });
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('field validation', () => {
  it('kubectl apply with its default validation: a good Secret is created, then changed; one with unknown fields is refused, naming them', async () => {
    const good = 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: good\n  labels: {kskup.io/type: claim}\nstringData:\n  k: v\n';
    expect((await apply('good.yaml', good)).stdout).toBe('secret/good created\n');
    expect((await apply('good.yaml', good.replace('k: v', 'k: w'))).stdout).toBe('secret/good configured\n');
    expect(Buffer.from(String((api.peek('v1', 'Secret', 'fv', 'good')?.data as Record<string, string>).k), 'base64').toString()).toBe('w');
    const bad = 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: bad\n  labls: {a: b}\nstringDta:\n  k: v\n';
    await expect(apply('bad.yaml', bad)).rejects.toThrow(
      /Error from server \(BadRequest\): error when creating ".*bad\.yaml": Secret in version "v1" cannot be handled as a Secret: strict decoding error: unknown field "metadata\.labls", unknown field "stringDta"/,
    );
    expect(api.peek('v1', 'Secret', 'fv', 'bad')).toBeUndefined();
    // kubectl found the fieldValidation parameter in the OpenAPI v3 document and asked for Strict.
    expect(api.requestLog).toContain('POST /api/v1/namespaces/fv/secrets?fieldManager=kubectl-client-side-apply&fieldValidation=Strict');
  });

  it('nested fields are checked through lists; Warn (the default) answers with Warning headers; Ignore is silent; a bad directive is 400', async () => {
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd' },
      spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'x', imagePolicy: 'Always' }] } } },
    };
    const warned = await post('/apis/apps/v1/namespaces/fv/deployments', deployment);
    expect(warned.code).toBe(201);
    expect(warned.warnings).toEqual(['299 - "unknown field \\"spec.template.spec.containers[0].imagePolicy\\""']);
    const ignored = await post('/apis/apps/v1/namespaces/fv/deployments', { ...deployment, metadata: { name: 'e' } }, '?fieldValidation=Ignore');
    expect([ignored.code, ignored.warnings]).toEqual([201, []]);
    const strict = await post('/apis/apps/v1/namespaces/fv/deployments', { ...deployment, metadata: { name: 'f' } }, '?fieldValidation=Strict');
    expect(strict.code).toBe(400);
    expect(JSON.parse(strict.body).message).toBe('Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.template.spec.containers[0].imagePolicy"');
    const wrong = await post('/api/v1/namespaces/fv/configmaps', { metadata: { name: 'c' } }, '?fieldValidation=Loose');
    expect(wrong.code).toBe(400);
    expect(JSON.parse(wrong.body).message).toBe('fieldValidation: Unsupported value: "Loose": supported values: "Ignore", "Strict", "Warn"');
  });
});
