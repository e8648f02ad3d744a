// A TCP proxy to put between two routers, standing in for the network under an
// inter-router link: it can be made slow (a bandwidth limit in each direction),
// silent (it stops forwarding and keeps the connections open, as a dead peer
// or a dropped NAT entry does) or cut (every connection reset). It forwards
// bytes untouched, so TLS runs end to end through it.
import net from 'node:net';

export class LinkProxy {
  private readonly sockets = new Set<net.Socket>();
  private bytesPerSecond: number | undefined;
  private silent = false;

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  /** Listens on 127.0.0.1 and forwards each connection to 127.0.0.1:`targetPort`. */
  static async start(targetPort: number): Promise<LinkProxy> {
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const proxy = new LinkProxy(server, (server.address() as net.AddressInfo).port);
    server.on('connection', (inbound) => proxy.join(inbound, net.connect({ port: targetPort, host: '127.0.0.1', allowHalfOpen: true })));
    return proxy;
  }

  /** Forwards at most this many bytes per second in each direction from now on; undefined: as fast as it can. */
  limit(bytesPerSecond: number | undefined): void {
    this.bytesPerSecond = bytesPerSecond;
  }

  /** Stops forwarding (bytes stay unread in the kernel's buffers) and keeps every connection open. */
  goSilent(): void {
    this.silent = true;
    for (const socket of this.sockets) socket.pause();
  }

  /** Forwards again what goSilent held back, and everything after it. */
  speak(): void {
    this.silent = false;
    for (const socket of this.sockets) socket.resume();
  }

  /** Resets every connection open through the proxy; new ones are forwarded as before. */
  cut(): void {
    this.silent = false;
    for (const socket of this.sockets) socket.resetAndDestroy();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private join(inbound: net.Socket, outbound: net.Socket): void {
    for (const socket of [inbound, outbound]) {
      this.sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', (hadError) => {
        this.sockets.delete(socket);
        // A reset on one side is passed on as a reset.
        const other = socket === inbound ? outbound : inbound;
        if (other.destroyed) return;
        if (hadError) other.resetAndDestroy();
        else other.destroy();
      });
    }
    outbound.once('connect', () => {
      this.pump(inbound, outbound);
      this.pump(outbound, inbound);
    });
  }

  /** Copies `from` to `to` with backpressure, and at the configured rate. */
  private pump(from: net.Socket, to: net.Socket): void {
    from.on('data', (chunk: Buffer) => {
      from.pause();
      const resume = () => {
        if (!this.silent && !from.destroyed) from.resume();
      };
      const delay = this.bytesPerSecond === undefined ? 0 : (chunk.length / this.bytesPerSecond) * 1000;
      const forward = () => {
        if (to.destroyed) return;
        if (to.write(chunk)) resume();
        else to.once('drain', resume);
      };
      if (delay > 0) setTimeout(forward, delay);
      else forward();
    });
    from.on('end', () => to.end());
    from.resume();
  }
}
