// Picking a port nothing listens on: for a local site's own ports and for
// service listeners alike.
import { createServer } from 'node:net';

/** A port nothing listens on at `host` now, and not one of `taken`; rejects with the bind error if `host` cannot be listened on. */
export async function freePort(host: string, taken: ReadonlySet<number>): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen({ host, port: 0, exclusive: true }, () => {
        const address = server.address();
        server.close(() => (address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port'))));
      });
    });
    if (!taken.has(port)) return port;
  }
}
