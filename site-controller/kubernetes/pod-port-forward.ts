// A local TCP port that reaches a pod's port through the Kubernetes API, as
// `kubectl port-forward pod/NAME LOCAL:PORT` does: each connection accepted on
// 127.0.0.1 becomes one `pods/NAME/portforward` WebSocket (client-node's
// PortForward, the v4.channel.k8s.io protocol). So a CLI reaches a pod's port
// with nothing but API access: no route to the pod network, no Service.
//
// RBAC: `get` and `create` on `pods/portforward` in the pod's namespace
// (kube-apiserver authorizes the WebSocket GET as `get`, and from 1.35 also
// checks `create`, which SPDY's POST always needed).
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { PortForward, type KubeConfig } from '@kubernetes/client-node';
import type { WebSocket } from 'ws';

export interface ForwardedPort {
  /** Always 127.0.0.1: the forward is for this process's own connections. */
  readonly host: string;
  /** The local port, chosen by the system. */
  readonly port: number;
  /** Why the last forwarded connection failed (the API refused, the pod refused), or undefined. */
  readonly lastError: string | undefined;
  /** Stops listening and ends every forwarded connection. */
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 (a free port) and forwards each connection to `pod`'s `port` in `namespace`. */
export async function forwardPodPort(kubeConfig: KubeConfig, namespace: string, pod: string, port: number): Promise<ForwardedPort> {
  const sockets = new Set<Socket>();
  let lastError: string | undefined;
  const fail = (socket: Socket, why: string) => {
    lastError = why;
    socket.destroy();
  };
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    // What the kubelet writes on the error channel: the pod refused the connection, say.
    let errorText = '';
    const errors = new Writable({
      write(chunk: Buffer, _encoding, done) {
        errorText += chunk.toString('utf8');
        done();
      },
    });
    new PortForward(kubeConfig, true)
      .portForward(namespace, pod, [port], socket, errors, socket)
      .then((opened) => {
        // One attempt (no retryCount): a WebSocket, not a restartable handle. isomorphic-ws is ws on Node.
        const ws = opened as unknown as WebSocket;
        ws.on('error', (error: Error) => fail(socket, `port-forward to pod ${pod} port ${port} failed: ${error.message}`));
        // One WebSocket is one connection: when the server ends it, the local side ends too.
        ws.on('close', () => {
          if (errorText !== '') fail(socket, errorText.trim());
          else socket.end();
        });
        socket.on('close', () => ws.close());
      })
      .catch((error: unknown) => fail(socket, refusal(error, namespace, pod, port)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    host: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    get lastError() {
      return lastError;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The API server's refusal of the upgrade, with what a 403 or 404 most likely means. */
function refusal(error: unknown, namespace: string, pod: string, port: number): string {
  const message = error instanceof Error ? error.message : typeof error === 'object' && error !== null && 'message' in error ? String(error.message) : String(error);
  const hint = /\b403\b/.test(message)
    ? ` (port-forward needs get and create on pods/portforward in namespace "${namespace}")`
    : /\b404\b/.test(message)
      ? ` (no pod ${pod} in namespace "${namespace}")`
      : '';
  return `the Kubernetes API refused port-forward to pod ${pod} port ${port}: ${message}${hint}`;
}
