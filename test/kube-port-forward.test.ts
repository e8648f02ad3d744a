// pods/portforward of the API server double (test/kube/port-forward.ts), driven
// by the real @kubernetes/client-node PortForward (through kskup's
// forwardPodPort, a local port as `kubectl port-forward` gives) and by a raw
// WebSocket client for the channel protocol itself. The "pod" is a TCP echo
// server on 127.0.0.1, the pod's status.podIP.
//
//   test socket ──> 127.0.0.1:LOCAL ──WebSocket v4.channel.k8s.io──> double ──TCP──> 127.0.0.1:ECHO
import { randomBytes } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { forwardPodPort } from '../site-controller/kubernetes/pod-port-forward.js';
import { KubeApiServer } from './kube/api-server.js';
import { findResourceType } from './kube/resources.js';
import type { KubeObject } from './kube/store.js';

const NS = 'pf';
let api: KubeApiServer;
let echo: Server;
let echoPort: number;
let closedPort: number;

function seedPod(name: string, status: Record<string, unknown>): void {
  const [pod] = api.seed([{ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NS }, spec: { nodeName: 'node', containers: [{ name: 'c', image: 'x' }] } }]);
  api.registry.writeSystem(findResourceType('', 'v1', 'pods')!, { ...(pod as KubeObject), status });
}

beforeAll(async () => {
  api = await KubeApiServer.start();
  echo = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  echoPort = (echo.address() as AddressInfo).port;
  // A port nothing listens on: bound and closed again.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  seedPod('echo', { phase: 'Running', podIP: '127.0.0.1' });
  seedPod('pending', { phase: 'Pending' });
  // What a user of the CLI needs, and one short of it.
  api.seed([
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'forward', namespace: NS }, rules: [{ apiGroups: [''], resources: ['pods/portforward'], verbs: ['get', 'create'] }] },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'forward', namespace: NS }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'forward' }, subjects: [{ kind: 'ServiceAccount', name: 'forwarder', namespace: NS }] },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'get-only', namespace: NS }, rules: [{ apiGroups: [''], resources: ['pods/portforward'], verbs: ['get'] }] },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'get-only', namespace: NS }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'get-only' }, subjects: [{ kind: 'ServiceAccount', name: 'getter', namespace: NS }] },
  ]);
});

afterAll(async () => {
  await api?.stop();
  await new Promise<void>((resolve) => (echo ? echo.close(() => resolve()) : resolve()));
});

/** Sends `data` through a forwarded port, half-closes, and returns all that came back. */
async function through(port: number, data: Buffer): Promise<Buffer> {
  const socket = connect({ host: '127.0.0.1', port });
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    // Echoed in full: end our side (the forward has no half-close: the session ends with the pod's end).
    if (chunks.reduce((n, c) => n + c.length, 0) === data.length) socket.end();
  });
  await new Promise<void>((resolve, reject) => {
    socket.on('close', () => resolve());
    socket.on('error', reject);
    socket.write(data);
  });
  return Buffer.concat(chunks);
}

/** A raw WebSocket to the double's portforward endpoint, as client-node opens it. */
function rawSocket(path: string, token = api.adminToken, protocols = ['v4.channel.k8s.io']): WebSocket {
  return new WebSocket(`${api.url.replace('https', 'wss')}${path}`, protocols, { ca: api.caPem, headers: { Authorization: `Bearer ${token}` } });
}

function refusal(ws: WebSocket): Promise<{ code: number; body: string }> {
  return new Promise((resolve, reject) => {
    ws.on('open', () => reject(new Error('the upgrade was accepted')));
    ws.on('error', () => undefined);
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
    });
  });
}

describe('pods/portforward in the API server double', () => {
  it('client-node PortForward carries bytes both ways, byte for byte, one WebSocket per connection', async () => {
    const forward = await forwardPodPort(api.kubeConfig(NS), NS, 'echo', echoPort);
    try {
      const payloads = [randomBytes(1), randomBytes(64 * 1024), randomBytes(3 * 1024 * 1024 + 7)];
      const results = await Promise.all(payloads.map((payload) => through(forward.port, payload)));
      results.forEach((result, index) => expect(result.equals(payloads[index]!), `payload ${index}`).toBe(true));
      expect(api.requestLog.filter((line) => line.startsWith(`UPGRADE /api/v1/namespaces/${NS}/pods/echo/portforward?ports=${echoPort}`))).toHaveLength(3);
      expect(forward.lastError).toBeUndefined();
    } finally {
      await forward.close();
    }
  });

  it('speaks v4.channel.k8s.io: the port first on the data and error channels, then data on channel 0', async () => {
    const ws = rawSocket(`/api/v1/namespaces/${NS}/pods/echo/portforward?ports=${echoPort}`, api.adminToken, ['v5.channel.k8s.io', 'v4.channel.k8s.io']);
    const messages: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      ws.on('error', reject);
      ws.on('message', (data: Buffer) => {
        messages.push(data);
        if (messages.length === 2) ws.send(Buffer.concat([Buffer.of(0), Buffer.from('hello')]));
        if (messages.length === 3) resolve();
      });
    });
    expect(ws.protocol).toBe('v4.channel.k8s.io');
    const port = Buffer.alloc(2);
    port.writeUInt16LE(echoPort);
    expect(messages).toEqual([Buffer.concat([Buffer.of(0), port]), Buffer.concat([Buffer.of(1), port]), Buffer.concat([Buffer.of(0), Buffer.from('hello')])]);
    ws.close();
  });

  it('a port the pod does not listen on: the reason on the error channel, then the session ends', async () => {
    const forward = await forwardPodPort(api.kubeConfig(NS), NS, 'echo', closedPort);
    try {
      const socket = connect({ host: '127.0.0.1', port: forward.port });
      socket.on('error', () => undefined);
      await new Promise((resolve) => socket.on('close', resolve));
      expect(forward.lastError).toBe(`error forwarding port ${closedPort} to pod ${NS}/echo: dial tcp 127.0.0.1:${closedPort}: connect: connection refused`);
    } finally {
      await forward.close();
    }
  });

  it('refusals are HTTP answers with a Status: RBAC needs get and create on pods/portforward; a missing or pending pod; no ports', async () => {
    const path = (pod: string, query = `?ports=${echoPort}`) => `/api/v1/namespaces/${NS}/pods/${pod}/portforward${query}`;
    const getOnly = await refusal(rawSocket(path('echo'), api.serviceAccountToken(NS, 'getter')));
    expect(getOnly.code).toBe(403);
    expect(JSON.parse(getOnly.body)).toMatchObject({ kind: 'Status', reason: 'Forbidden', message: `pods "echo" is forbidden: User "system:serviceaccount:${NS}:getter" cannot create resource "pods/portforward" in API group "" in the namespace "${NS}"` });
    const missing = await refusal(rawSocket(path('nope')));
    expect([missing.code, JSON.parse(missing.body).message]).toEqual([404, 'pods "nope" not found']);
    const pending = await refusal(rawSocket(path('pending')));
    expect([pending.code, JSON.parse(pending.body).message]).toEqual([400, 'pod pending is not running (phase Pending), so its ports cannot be forwarded']);
    const noPorts = await refusal(rawSocket(path('echo', '')));
    expect([noPorts.code, JSON.parse(noPorts.body).message]).toEqual([400, 'query parameter "ports" is required']);

    // Through client-node: the refusal and what it needs, in the forward's error.
    const denied = await forwardPodPort(api.kubeConfig(NS, api.serviceAccountToken(NS, 'nobody')), NS, 'echo', echoPort);
    try {
      const socket = connect({ host: '127.0.0.1', port: denied.port });
      socket.on('error', () => undefined);
      await new Promise((resolve) => socket.on('close', resolve));
      expect(denied.lastError).toMatch(/^the Kubernetes API refused port-forward to pod echo port \d+: .*403.* \(port-forward needs get and create on pods\/portforward in namespace "pf"\)$/);
    } finally {
      await denied.close();
    }
    // And with both verbs it works.
    const allowed = await forwardPodPort(api.kubeConfig(NS, api.serviceAccountToken(NS, 'forwarder')), NS, 'echo', echoPort);
    try {
      expect((await through(allowed.port, Buffer.from('granted'))).toString()).toBe('granted');
    } finally {
      await allowed.close();
    }
  });

  it('the pod ending the connection ends the local one', async () => {
    const closer = createServer((socket) => socket.end('bye'));
    await new Promise<void>((resolve) => closer.listen(0, '127.0.0.1', resolve));
    const forward = await forwardPodPort(api.kubeConfig(NS), NS, 'echo', (closer.address() as AddressInfo).port);
    try {
      const socket = connect({ host: '127.0.0.1', port: forward.port });
      let received = '';
      socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
      await new Promise((resolve, reject) => {
        socket.on('end', resolve);
        socket.on('error', reject);
      });
      expect(received).toBe('bye');
      socket.destroy();
    } finally {
      await forward.close();
      await new Promise<void>((resolve) => closer.close(() => resolve()));
    }
  });
});
