// `pods/portforward` of the API server double: the WebSocket upgrade and the
// channel protocol that kube-apiserver passes on from the kubelet
// (k8s.io/apimachinery wsstream, "v4.channel.k8s.io"), as
// @kubernetes/client-node 1.x's PortForward speaks it:
//
// - The client asks for `GET .../pods/NAME/portforward?ports=P[&ports=Q]`
//   with `Upgrade: websocket` and the subprotocols it knows; the server picks
//   v4.channel.k8s.io (the newest the kubelet's port-forward serves).
// - Port i has channel 2i for data and 2i+1 for errors. Every binary message
//   starts with its channel byte. The server's first message on each channel
//   is the port number (2 bytes, little-endian); then data flows both ways on
//   the data channel, and a failure (the pod refused the connection) is one
//   text message on the error channel, after which the server closes.
// - One WebSocket is one TCP connection per port, so a client opens one per
//   local connection (as client-node's PortForward does).
//
// A kubelet dials localhost:PORT inside the pod's network namespace. So does
// the double when the pod runner gives it a way in (`dial`, pod-dial.ts), so
// a pod process listening on its loopback only is reached, as on a cluster;
// without one (the double alone, whose "pods" are test servers), it dials the
// pod's IP (status.podIP) from the test's process.
import { connect } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

/** The subprotocol served; client-node offers v5 to v1 and takes what the server picks. */
export const PORT_FORWARD_PROTOCOL = 'v4.channel.k8s.io';

/** Largest amount of pod data queued on the WebSocket before the pod side is paused. */
const HIGH_WATER_BYTES = 1024 * 1024;

/** What the double resolved from the request: the pod's address and the ports asked for. */
export interface PortForwardTarget {
  /** `NS/NAME`, for error messages. */
  readonly pod: string;
  readonly podIp: string;
  readonly ports: readonly number[];
  /** A connection to localhost:port inside the pod's network namespace, where the pod runner can make one. */
  readonly dial?: (port: number) => Duplex;
}

/** The ports of a portforward request, as the kubelet parses them: one or more `ports` parameters, each a list of 1-65535. */
export function parseForwardPorts(query: URLSearchParams): number[] | string {
  const values = query.getAll('ports').flatMap((value) => value.split(','));
  if (values.length === 0) return 'query parameter "ports" is required';
  const ports: number[] = [];
  for (const value of values) {
    const port = Number(value.trim());
    if (!/^\d+$/.test(value.trim()) || port < 1 || port > 65535) return `invalid port "${value}": must be a number 1-65535`;
    ports.push(port);
  }
  return ports;
}

export class PortForwarder {
  private readonly wss = new WebSocketServer({
    noServer: true,
    // Only the binary v4 channel protocol; a client that offers none of what is served is refused (no subprotocol chosen).
    handleProtocols: (offered) => (offered.has(PORT_FORWARD_PROTOCOL) ? PORT_FORWARD_PROTOCOL : false),
  });
  private readonly open = new Set<WebSocket>();

  /** Completes the upgrade and forwards each port to a new TCP connection to the pod. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, target: PortForwardTarget): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      if (ws.protocol !== PORT_FORWARD_PROTOCOL) {
        ws.close(1002, `the port-forward subprotocol must be ${PORT_FORWARD_PROTOCOL}`);
        return;
      }
      this.open.add(ws);
      ws.on('close', () => this.open.delete(ws));
      this.forward(ws, target);
    });
  }

  /** Ends every forwarding session (the server is stopping). */
  closeAll(): void {
    for (const ws of this.open) ws.terminate();
    this.open.clear();
  }

  private forward(ws: WebSocket, target: PortForwardTarget): void {
    const sockets = target.ports.map((port, index) => this.dial(ws, target, port, index));
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary || data.length === 0) return;
      const channel = data[0]!;
      // Data from the client goes on the even channels; anything it writes on an error channel is ignored, as by the kubelet.
      if (channel % 2 !== 0) return;
      const socket = sockets[channel / 2];
      if (socket === undefined) return void ws.close(1002, `no port on channel ${channel}`);
      if (!socket.write(data.subarray(1))) {
        ws.pause();
        socket.once('drain', () => ws.resume());
      }
    });
    ws.on('close', () => {
      for (const socket of sockets) socket.destroy();
    });
    ws.on('error', () => undefined);
  }

  private dial(ws: WebSocket, target: PortForwardTarget, port: number, index: number): Duplex {
    const dataChannel = 2 * index;
    const errorChannel = dataChannel + 1;
    const portBytes = Buffer.alloc(2);
    portBytes.writeUInt16LE(port);
    ws.send(Buffer.concat([Buffer.of(dataChannel), portBytes]));
    ws.send(Buffer.concat([Buffer.of(errorChannel), portBytes]));
    const socket: Duplex = target.dial ? target.dial(port) : connect({ host: target.podIp, port });
    const dialed = target.dial ? `tcp4 127.0.0.1:${port}` : `tcp ${target.podIp}:${port}`;
    socket.on('data', (chunk: Buffer) => {
      ws.send(Buffer.concat([Buffer.of(dataChannel), chunk]), () => {
        if (socket.isPaused() && ws.bufferedAmount < HIGH_WATER_BYTES) socket.resume();
      });
      if (ws.bufferedAmount >= HIGH_WATER_BYTES) socket.pause();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // The kubelet's wording: the port, the pod, and the dial error.
      const message = `error forwarding port ${port} to pod ${target.pod}: dial ${dialed}: ${error.code === 'ECONNREFUSED' ? 'connect: connection refused' : error.message}`;
      if (ws.readyState === ws.OPEN) ws.send(Buffer.concat([Buffer.of(errorChannel), Buffer.from(message)]));
      ws.close();
    });
    // The pod ended the connection: so does the session (one WebSocket is one connection).
    socket.on('end', () => ws.close());
    socket.on('close', () => ws.close());
    return socket;
  }
}
