// Two rhea containers on one AMQP connection over loopback, in the test's own
// process: for tests of router/peer's changes to rhea (rhea-tuning.ts and the
// modules it installs), which tuneRhea applies to every container.
import type { AddressInfo } from 'node:net';
import rhea, { type Connection, type Container } from 'rhea';
import { tuneRhea } from '../../router/peer/rhea-tuning.js';

export interface RheaPair {
  /** The client side's connection, open. */
  readonly client: Connection;
  /** Closes the client connection and the server's listener. */
  close(): Promise<void>;
}

/**
 * Applies tuneRhea, starts a server container (given to `configure` first, for
 * its handlers) listening on a free loopback port, and connects a client
 * container to it; resolves once the connection is open.
 */
export async function startRheaPair(configure: (server: Container) => void): Promise<RheaPair> {
  tuneRhea();
  const serverSide = rhea.create_container({ id: 'server' });
  configure(serverSide);
  const server = serverSide.listen({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const client = rhea.create_container({ id: 'client' }).connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', reconnect: false });
  await new Promise<void>((resolve) => client.once('connection_open', () => resolve()));
  return {
    client,
    close: async () => {
      client.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
